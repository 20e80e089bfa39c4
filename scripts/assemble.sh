#!/usr/bin/env bash
# Assemble $LKL_BUILD/linux, a git repository:
#   base      the pristine 6.12.y tree (tag "base", from scripts/base.sh's cache)
#   patches   one commit per entry of patches/series (tag "patched" on the last)
#   overlay   the project's own directories and MAINTAINERS entries (tag "overlay")
# so `git -C build/linux diff base` is the whole change against upstream.
#
#   scripts/assemble.sh                assemble; when base and patches are unchanged,
#                                      only re-sync overlay files that changed
#   scripts/assemble.sh --check-clean  fail if build/linux holds work found nowhere
#                                      else (make distclean runs this)
#
# Overlay files edited inside build/linux are never overwritten silently: the
# re-sync stops and says so, unless FORCE=1. Before a re-assembly (patches/series,
# a patch or the base changed), local commits and changes in build/linux are kept
# on a branch saved/<date>.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

SRC=$LKL_BUILD/linux
PATCHES=$LKL_ROOT/patches
FORCE=${FORCE:-0}
base_state=$LKL_STATE/base
key_file=$LKL_STATE/assembly.key
list_file=$LKL_STATE/overlay.list
sums_file=$LKL_STATE/overlay.sums
# Bump when the assembly procedure changes, so that existing trees are re-assembled.
ASSEMBLY_VERSION=1

g() {
	git -C "$SRC" "$@"
}

# patches/series in quilt layout: one patch name per line, '#' comments, -p1 only.
read_series() {
	patches=()
	[ -f "$PATCHES/series" ] || return 0
	local name opt
	while read -r name opt _; do
		[ -n "$name" ] || continue
		case $opt in
		"" | -p1) ;;
		*) die "patches/series: $name: only -p1 patches are supported" ;;
		esac
		[ -f "$PATCHES/$name" ] || die "patches/series lists $name, which is not in patches/"
		patches+=("$name")
	done < <(sed -e 's/#.*//' "$PATCHES/series")
}

assembly_key() {
	local p
	{
		echo "assembly $ASSEMBLY_VERSION"
		kv_get "$base_state" sha256
		for p in "${patches[@]}"; do
			printf '%s ' "$p"
			sha256sum <"$PATCHES/$p"
		done
	} | sha256sum | cut -d' ' -f1
}

# The overlay as the repository would commit it: tracked and untracked files that
# .gitignore does not exclude. NUL-separated, sorted, relative to the root.
overlay_files() {
	local top
	top=$(git -C "$LKL_ROOT" rev-parse --show-toplevel 2>/dev/null || true)
	if [ -n "$top" ] && [ "$(realpath "$top")" = "$(realpath "$LKL_ROOT")" ]; then
		git -C "$LKL_ROOT" ls-files -z -c -o --exclude-standard -- "${LKL_OVERLAY_DIRS[@]}"
	else
		# Not a git checkout (an exported tarball): skip the usual droppings.
		local d dirs=()
		for d in "${LKL_OVERLAY_DIRS[@]}"; do
			if [ -d "$LKL_ROOT/$d" ]; then
				dirs+=("$d")
			fi
		done
		if [ "${#dirs[@]}" != 0 ]; then
			(cd "$LKL_ROOT" && find "${dirs[@]}" \( -name __pycache__ -o -name '.*.sw?' \) -prune \
				-o \( -type f -o -type l \) ! -name '*~' ! -name '*.pyc' ! -name '*.o' -print0)
		fi
	fi | (cd "$LKL_ROOT" && while IFS= read -r -d '' f; do
		# ls-files -c also lists files deleted but not yet committed.
		if [ -e "$f" ] || [ -L "$f" ]; then
			printf '%s\0' "$f"
		fi
	done) | LC_ALL=C sort -zu
}

# MAINTAINERS of the patched tree with the project's entries inserted where they
# sort (upstream's order has local slips, so: the place with the fewest entries
# out of order around it), never after THE REST, which stays last.
merged_maintainers() {
	local project=$LKL_ROOT/MAINTAINERS
	if [ ! -f "$project" ]; then
		g show patched:MAINTAINERS
		return
	fi
	g show patched:MAINTAINERS | LC_ALL=C awk -v project="$project" '
		BEGIN {
			RS = ""
			while ((getline e < project) > 0) {
				sub(/\n+$/, "", e)
				if (e ~ /^#/ || e == "")
					continue
				np++
				pentry[np] = e
				t = e
				sub(/\n.*/, "", t)
				ptitle[np] = toupper(t)
			}
			RS = "\n"
		}
		{ line[NR] = $0 }
		END {
			for (i = 1; i <= NR; i++) {
				if (line[i] == "Maintainers List")
					inlist = 1
				if (inlist && line[i] != "" && line[i - 1] == "" && line[i + 1] ~ /^[A-Z]:\t/) {
					m++
					eline[m] = i
					etitle[m] = toupper(line[i])
					if (line[i] == "THE REST")
						rest = m
				}
			}
			limit = rest ? rest : m + 1
			for (p = 1; p <= np; p++) {
				t = ptitle[p]
				less = 0
				for (k = 1; k <= m; k++)
					if (k != rest && etitle[k] < t)
						less++
				best = 0
				gb = lb = 0
				for (k = 1; k <= limit; k++) {
					cost = gb + less - lb
					if (!best || cost < bestcost) {
						best = k
						bestcost = cost
					}
					if (k <= m && etitle[k] > t)
						gb++
					else if (k <= m && etitle[k] < t)
						lb++
				}
				at[p] = best <= m ? eline[best] : NR + 1
			}
			for (i = 1; i <= NR + 1; i++) {
				# Project entries due here, in title order.
				for (;;) {
					q = 0
					for (p = 1; p <= np; p++)
						if (!done[p] && at[p] == i && (!q || ptitle[p] < ptitle[q]))
							q = p
					if (!q)
						break
					if (i > NR)
						print ""
					print pentry[q]
					if (i <= NR)
						print ""
					done[q] = 1
				}
				if (i <= NR)
					print line[i]
			}
		}'
}

# Build the overlay commit on top of "patched" from the work tree. Nothing the
# user staged elsewhere may leak into it: if there is such a thing, use a
# private index (slower: it starts without stat data).
commit_overlay() {
	local gitdir index="" tree d excludes=() commit
	with_index() {
		if [ -n "$index" ]; then
			GIT_INDEX_FILE=$index g "$@"
		else
			g "$@"
		fi
	}
	for d in "${LKL_OVERLAY_DIRS[@]}"; do
		excludes+=(":(exclude)$d")
	done
	if ! g diff-index --cached --quiet HEAD -- "${excludes[@]}" ":(exclude)MAINTAINERS"; then
		gitdir=$(cd "$SRC" && realpath "$(git rev-parse --git-dir)")
		index=$gitdir/lkl-overlay.index
		GIT_INDEX_FILE=$index g read-tree patched
	fi
	# Exactly the synced files: not what builds leave in the tree (kselftest
	# builds in place), and -f because Debian's .gitignore ignores it all.
	with_index rm -r -q --cached --ignore-unmatch -- "${LKL_OVERLAY_DIRS[@]}"
	with_index add -f -- MAINTAINERS
	if [ -s "$list_file" ]; then
		GIT_LITERAL_PATHSPECS=1 with_index add -f --pathspec-from-file="$list_file" --pathspec-file-nul
	fi
	tree=$(with_index write-tree)
	if [ "$tree" = "$(g rev-parse -q --verify 'overlay^{tree}' || true)" ] &&
		[ "$(g rev-parse HEAD)" = "$(g rev-parse overlay)" ]; then
		rm -f "$index"
		return 0
	fi
	commit=$(printf 'overlay\n\nThe project'\''s own files (%s) and its MAINTAINERS entries.\n' \
		"${LKL_OVERLAY_DIRS[*]}" | g commit-tree "$tree" -p patched)
	g update-ref -m "assemble: overlay" HEAD "$commit"
	g tag -f overlay "$commit" >/dev/null
	if [ -n "$index" ]; then
		rm -f "$index"
		# The user's index: take the overlay paths from the new HEAD.
		g reset -q HEAD -- "${LKL_OVERLAY_DIRS[@]}" MAINTAINERS
	fi
}

# Copy changed overlay files into the tree. Unchanged files keep their
# timestamps; changed ones get the current time, so kbuild rebuilds exactly what
# changed (even when the new content is older, as after a git checkout).
sync_overlay() {
	local new=$list_file.new edited changed=0 removed=0 f merged=$LKL_STATE/MAINTAINERS.merged
	overlay_files >"$new"
	if [ -f "$sums_file" ] && [ "$FORCE" != 1 ]; then
		if ! edited=$(cd "$SRC" && sha1sum --quiet -c "$sums_file" 2>/dev/null); then
			printf '%s\n' "$edited" | sed -n "s|^\(.*\): FAILED.*|  $(show_path "$SRC")/\1|p" >&2
			die "these overlay files were changed inside $(show_path "$SRC"); copy them to the repository (or run with FORCE=1 to overwrite them)"
		fi
	fi
	# rsync -c: compare contents, not times; no -t: written files get "now".
	f=$(rsync -lpc --from0 --files-from="$new" --out-format='%n' "$LKL_ROOT/" "$SRC/")
	changed=$(printf '%s' "$f" | grep -cv '/$' || true)
	if [ -f "$list_file" ]; then
		while IFS= read -r -d '' f; do
			rm -f "$SRC/$f"
			removed=$((removed + 1))
		done < <(LC_ALL=C comm -z -23 "$list_file" "$new")
		if [ "$removed" != 0 ]; then
			for f in "${LKL_OVERLAY_DIRS[@]}"; do
				if [ -d "$SRC/$f" ]; then
					find "$SRC/$f" -depth -type d -empty -delete
				fi
			done
		fi
	fi
	merged_maintainers >"$merged"
	if ! cmp -s "$merged" "$SRC/MAINTAINERS"; then
		cp "$merged" "$SRC/MAINTAINERS"
		changed=$((changed + 1))
	fi
	mv "$new" "$list_file"
	(cd "$SRC" && sha1sum MAINTAINERS &&
		tr '\0' '\n' <"$list_file" | grep -v '[\]' | xargs -r -d '\n' sha1sum --) >"$sums_file.tmp"
	mv "$sums_file.tmp" "$sums_file"
	synced=$changed
	deleted=$removed
	return 0
}

# Keep what a re-assembly would discard: commits not made by the assembly, and
# uncommitted changes to tracked files.
save_local_work() {
	local dirty ours ref gitdir index tree commit
	dirty=$(g status --porcelain -uno)
	ours=$(g log -1 --format=%cn HEAD)
	if [ -z "$dirty" ] && [ "$ours" = "$GIT_COMMITTER_NAME" ]; then
		return 0
	fi
	commit=$(g rev-parse HEAD)
	if [ -n "$dirty" ]; then
		gitdir=$(cd "$SRC" && realpath "$(git rev-parse --git-dir)")
		index=$gitdir/lkl-save.index
		cp "$gitdir/index" "$index"
		GIT_INDEX_FILE=$index g add -u
		tree=$(GIT_INDEX_FILE=$index g write-tree)
		rm -f "$index"
		commit=$(g commit-tree "$tree" -p HEAD -m "Uncommitted changes saved before re-assembly")
	fi
	ref=saved/$(date +%Y%m%d-%H%M%S)
	g branch -f "$ref" "$commit"
	note "tree: local work in $(show_path "$SRC") saved as branch $ref"
}

apply_patches() {
	local p f out version
	version=$(kv_get "$base_state" version)
	for p in "${patches[@]}"; do
		f=$PATCHES/$p
		verbose "applying $p"
		if sed -n '1,/^$/p' "$f" | grep -q '^Subject:'; then
			# -3: a patch made on another 6.12.y still applies where context moved.
			if ! out=$(g am -q -3 --committer-date-is-author-date "$f" 2>&1); then
				printf '%s\n' "$out" >&2
				g am --abort >/dev/null 2>&1 || true
				die "patches/$p does not apply to Linux $version (tree left at the previous patch; try: git -C $(show_path "$SRC") am -3 $f)"
			fi
		else
			# A plain diff: commit it under its file name.
			if ! out=$(g apply --index "$f" 2>&1); then
				printf '%s\n' "$out" >&2
				die "patches/$p does not apply to Linux $version"
			fi
			g commit -q --no-verify -m "${p%.patch}"
		fi
	done
	g tag -f patched >/dev/null
}

assemble() {
	local repo base tmp
	repo=$(kv_get "$base_state" repo)
	base=$(git -C "$repo" rev-parse base)
	# From here until the end the tree is not the assembly of any key.
	rm -f "$key_file" "$list_file" "$sums_file" "$LKL_STATE/overlay.uncommitted"
	if [ ! -d "$SRC/.git" ]; then
		if [ -e "$SRC" ]; then
			die "$(show_path "$SRC") exists but is not an assembled tree: remove it"
		fi
		note "tree: cloning the base into $(show_path "$SRC")"
		mkdir -p "$LKL_BUILD"
		rm -rf "$SRC".tmp.*
		tmp=$SRC.tmp.$$
		trap 'rm -rf "$tmp"' EXIT
		# A local clone hardlinks the base's objects: only the checkout costs.
		git clone -q --no-checkout "$repo" "$tmp"
		git -C "$tmp" config gc.auto 0
		git -C "$tmp" config feature.manyFiles true
		git -C "$tmp" checkout -q -B lkl base
		git -C "$tmp" branch -q -D "$(git -C "$repo" symbolic-ref --short HEAD)"
		git -C "$tmp" remote remove origin # the cache path: not a place to push to
		mv -T "$tmp" "$SRC"
		trap - EXIT
	else
		note "tree: re-assembling $(show_path "$SRC") (base or patches changed)"
		g am --quit >/dev/null 2>&1 || true
		save_local_work
		if [ "$(g rev-parse -q --verify 'base^{commit}' || true)" != "$base" ]; then
			g fetch -q --no-tags "$repo" "+refs/tags/base:refs/tags/base"
		fi
		# Only files that differ from the current state are rewritten.
		g checkout -q -f -B lkl base
	fi
	apply_patches
	sync_overlay
	commit_overlay
	printf '%s\n' "$key" >"$key_file"
}

resync() {
	local pending=$LKL_STATE/overlay.uncommitted
	sync_overlay
	if [ "$synced" != 0 ] || [ "$deleted" != 0 ] || [ "$FORCE" = 1 ]; then
		: >"$pending"
	fi
	[ -f "$pending" ] || return 0
	if [ "$(g rev-parse HEAD)" = "$(g rev-parse overlay)" ]; then
		commit_overlay
		rm -f "$pending"
	else
		note "tree: note: HEAD of $(show_path "$SRC") is not the overlay commit; re-synced files are left uncommitted"
	fi
}

check_clean() {
	[ -d "$SRC/.git" ] || return 0
	local problems=() joined
	if [ -n "$(g status --porcelain -uno)" ]; then
		problems+=("uncommitted changes")
	fi
	if [ "$(g rev-parse HEAD)" != "$(g rev-parse -q --verify overlay || true)" ]; then
		problems+=("commits on top of the overlay")
	fi
	if [ -n "$(g branch --list 'saved/*')" ]; then
		problems+=("saved/* branches")
	fi
	if [ "${#problems[@]}" != 0 ]; then
		joined=$(printf '%s, ' "${problems[@]}")
		die "$(show_path "$SRC") has ${joined%, }; export it to patches/ or use FORCE=1 to delete it anyway"
	fi
}

main() {
	local t0 what
	t0=$(now_ms)
	[ -f "$base_state" ] || die "the base is not prepared: run scripts/base.sh first"
	mkdir -p "$LKL_STATE"
	read_series
	key=$(assembly_key)
	synced=0
	deleted=0
	if [ -d "$SRC/.git" ] && [ "$(cat "$key_file" 2>/dev/null)" = "$key" ] &&
		g rev-parse -q --verify overlay >/dev/null; then
		resync
		what="$synced overlay file(s) re-synced, $deleted removed"
	else
		assemble
		what="assembled: base + ${#patches[@]} patch(es) + overlay of $(tr -cd '\0' <"$list_file" | wc -c) files"
	fi
	note "tree: $(show_path "$SRC"): Linux $(kv_get "$base_state" version), $what ($(elapsed "$t0"))"
}

case ${1:-} in
"") main ;;
--check-clean)
	if [ "$FORCE" != 1 ]; then
		check_clean
	fi
	;;
*) die "usage: $0 [--check-clean]" ;;
esac
