#!/usr/bin/env bash
# Find, verify and cache the base tree (Linux 6.12.y).
#
#   scripts/base.sh          verify the base tarball, extract it once into
#                            $LKL_CACHE/base/<sha256>/ (a git repository whose single
#                            commit, tagged "base", is the pristine tree) and write
#                            $LKL_BUILD/.lkl/base for scripts/assemble.sh
#   scripts/base.sh record   record the base in use (version, sha256) in BASE
#
# The tarball is $BASE_TARBALL, or the Debian one named in BASE. A tarball whose
# sha256 is the one in BASE is used as is; any other is accepted if it is a 6.12.y
# tree, and the version and sha256 used are printed.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

BASE_FILE=$LKL_ROOT/BASE
[ -f "$BASE_FILE" ] || die "$(show_path "$BASE_FILE") is missing"
known_sha=$(kv_get "$BASE_FILE" sha256)
known_version=$(kv_get "$BASE_FILE" version)
debian_tarball=$(kv_get "$BASE_FILE" tarball)
debian_package=$(kv_get "$BASE_FILE" package)
state=$LKL_STATE/base

record() {
	[ -f "$state" ] || die "no base prepared yet: run 'make tree' first"
	local version sha
	version=$(kv_get "$state" version)
	sha=$(kv_get "$state" sha256)
	sed -i -e "s/^version=.*/version=$version/" -e "s/^sha256=.*/sha256=$sha/" "$BASE_FILE"
	note "BASE: recorded Linux $version, sha256 $sha"
}

# Read VERSION/PATCHLEVEL/SUBLEVEL/EXTRAVERSION of the tree in $1.
tree_version() {
	awk -F' *= *' '
		$1 == "VERSION" { v = $2 } $1 == "PATCHLEVEL" { p = $2 }
		$1 == "SUBLEVEL" { s = $2 } $1 == "EXTRAVERSION" { e = $2 }
		/^NAME/ { exit }
		END { if (v != "") print v "." p "." s e }' "$1/Makefile" 2>/dev/null
}

# Extract tarball $1 (sha256 $2) into $LKL_CACHE/base/$2, atomically.
create_cache() {
	local tarball=$1 sha=$2 dest=$LKL_CACHE/base/$2 tmp version date t0
	mkdir -p "$LKL_CACHE/base"
	exec 9>"$LKL_CACHE/base/.lock"
	if command -v flock >/dev/null; then
		flock 9
	fi
	if [ -d "$dest/.git" ]; then
		return 0 # another make got here first
	fi
	if [ "$sha" != "$known_sha" ] && [ "$tarball" = "$debian_tarball" ] &&
		command -v dpkg >/dev/null; then
		# Not the known tarball: at least make sure it is the package's own.
		if dpkg --verify "$debian_package" 2>/dev/null | grep -qF "$tarball"; then
			die "$tarball does not match the md5sum of the installed $debian_package package: run 'apt-get install --reinstall $debian_package'"
		fi
	fi
	t0=$(now_ms)
	tmp=$LKL_CACHE/base/.tmp.$sha.$$
	rm -rf "$LKL_CACHE/base"/.tmp.*
	trap 'rm -rf "$tmp"' EXIT
	mkdir "$tmp"
	note "base: extracting $tarball into $(show_path "$dest") (once per tarball)"
	case $tarball in
	*.xz) xz -dc -T0 "$tarball" | tar -x -C "$tmp" --strip-components=1 --no-same-owner ;;
	*) tar -x -f "$tarball" -C "$tmp" --strip-components=1 --no-same-owner ;;
	esac || die "cannot extract $tarball"
	version=$(tree_version "$tmp")
	case $version in
	6.12.*) ;;
	"") die "$tarball is not a Linux source tarball (no Makefile with VERSION at its top)" ;;
	*) die "$tarball is Linux $version; the base must be a 6.12.y release" ;;
	esac
	note "base: extracted Linux $version in $(elapsed "$t0"); committing it as the base repository"
	date="@$(stat -c %Y "$tmp/Makefile") +0000"
	(
		cd "$tmp"
		git init -q -b lkl-base .
		git config gc.auto 0
		# -f: Debian's .gitignore ignores everything at the top level.
		git -c core.looseCompression=1 add -A -f .
		GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date \
			git commit -q --no-verify -m "Linux $version" \
			-m "Pristine base tree, sha256 $sha ($(basename "$tarball"))."
		git tag base
		# The ~90k objects stay loose: packing them costs minutes of I/O on a
		# busy disk, and a local clone hardlinks them in seconds anyway.
		printf 'version=%s\nsha256=%s\ntarball=%s\n' "$version" "$sha" "$tarball" >.git/lkl-base
	)
	mv -T "$tmp" "$dest"
	trap - EXIT
	note "base: cached in $(elapsed "$t0")"
}

prepare() {
	local tarball sha id version repo how
	if [ -n "${BASE_TARBALL:-}" ]; then
		tarball=$BASE_TARBALL
		[ -f "$tarball" ] || die "base tarball not found: $tarball (BASE_TARBALL)"
	else
		tarball=$debian_tarball
		[ -f "$tarball" ] || die "base tarball not found: run 'apt-get install $debian_package' or pass BASE_TARBALL=/path/linux-6.12.y.tar.xz"
	fi
	tarball=$(realpath "$tarball")
	# Hashing 150 MB on every make is wasted time: remember it per file identity.
	id=$(stat -L -c '%s:%Y:%i' "$tarball")
	if [ "$(kv_get "$state" tarball)" = "$tarball" ] && [ "$(kv_get "$state" id)" = "$id" ]; then
		sha=$(kv_get "$state" sha256)
	else
		sha=$(sha256sum "$tarball" | cut -d' ' -f1)
	fi
	repo=$LKL_CACHE/base/$sha
	if [ ! -d "$repo/.git" ]; then
		create_cache "$tarball" "$sha"
	fi
	version=$(kv_get "$repo/.git/lkl-base" version)
	[ -n "$version" ] || die "$(show_path "$repo") is damaged: run 'make distclean-cache'"
	if [ "$sha" = "$known_sha" ]; then
		note "base: Linux $version from $tarball (sha256 ${sha:0:16}..., as recorded in BASE)"
	else
		note "base: Linux $version from $tarball, sha256 $sha"
		how="accepted as a 6.12.y tree; 'scripts/base.sh record' records it"
		note "base: note: BASE records Linux $known_version, sha256 $known_sha; $how"
	fi
	mkdir -p "$LKL_STATE"
	printf 'version=%s\nsha256=%s\nrepo=%s\ntarball=%s\nid=%s\n' \
		"$version" "$sha" "$repo" "$tarball" "$id" >"$state.tmp"
	mv "$state.tmp" "$state"
}

case ${1:-prepare} in
prepare) prepare ;;
record) record ;;
*) die "usage: $0 [prepare|record]" ;;
esac
