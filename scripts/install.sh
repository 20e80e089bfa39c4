#!/usr/bin/env bash
# `make install` and `make uninstall`: the CMake install rules of tools/lkl (liblkl.a, liblkl.so
# and its links, the public headers, lkl.pc) plus a manifest, so that uninstall removes exactly
# what install put there.
#
#   scripts/install.sh install <cmake build dir> <prefix> [destdir]
#   scripts/install.sh uninstall <prefix> [destdir]
#
# The manifest, <prefix>/share/lkl/install_manifest.txt, lists the absolute path (without
# destdir) of every installed file, and of every directory the install created, with a trailing
# '/'. Installing again into the same prefix adds to it. Uninstall removes the files, then those
# directories if they are empty; it refuses a manifest that names anything outside the prefix.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

MANIFEST=share/lkl/install_manifest.txt

usage() {
	die "usage: $0 install <cmake build dir> <prefix> [destdir] | uninstall <prefix> [destdir]"
}

# An absolute path without '.', '..', '//' or a trailing '/' ("" for /); symlinks are kept.
normalize() {
	case $2 in
	/*) ;;
	*) die "$1 must be an absolute path, not '$2'" ;;
	esac
	local p
	p=$(realpath -ms -- "$2")
	printf '%s' "${p%/}"
}

# The deepest existing directory on the way to $1 must be writable.
check_writable() {
	local d=$1
	while [ ! -d "$d" ]; do
		d=$(dirname "$d")
	done
	[ -w "$d" ] || die "cannot write to $d: run as root, or choose another PREFIX= (or DESTDIR=)"
}

do_install() {
	[ $# -ge 2 ] || usage
	local build=$1 prefix destdir="" root stage d f n
	prefix=$(normalize PREFIX "$2")
	[ -z "${3:-}" ] || destdir=$(normalize DESTDIR "$3")
	root=$destdir$prefix
	[ -f "$build/cmake_install.cmake" ] ||
		die "no CMake build in $(show_path "$build"): run make first"
	check_writable "$root/${MANIFEST%/*}"

	# A staged install first: it shows which directories the real one creates.
	stage=$(mktemp -d)
	# shellcheck disable=SC2064 # expand now: stage is local
	trap "rm -rf '$stage'" EXIT
	DESTDIR=$stage cmake --install "$build" --prefix "${prefix:-/}" >/dev/null
	local created=()
	while IFS= read -r -d '' d; do
		d=${d#"$stage"}
		[ -d "$destdir${d:-/}" ] || created+=("$d/")
	done < <(find "$stage$prefix" -type d -print0)
	for d in "$prefix/share" "$prefix/share/lkl"; do
		[ -d "$destdir$d" ] || created+=("$d/")
	done

	if [ "$LKL_VERBOSE" = 1 ]; then
		DESTDIR=$destdir cmake --install "$build" --prefix "${prefix:-/}"
	else
		DESTDIR=$destdir cmake --install "$build" --prefix "${prefix:-/}" >/dev/null
	fi
	mkdir -p "$root/${MANIFEST%/*}"
	local files=()
	while IFS= read -r f || [ -n "$f" ]; do
		files+=("${f#"$destdir"}")
	done <"$build/install_manifest.txt"
	[ "${#files[@]}" -gt 0 ] || die "cmake --install installed nothing"

	local manifest=$root/$MANIFEST
	{
		[ ! -f "$manifest" ] || grep -v '^#' "$manifest" || true
		printf '%s\n' "${files[@]}" "${created[@]}" "$prefix/$MANIFEST"
	} | sort -u >"$manifest.new"
	n=$(grep -cv '/$' "$manifest.new")
	{
		printf '# Installed by LKL (make install PREFIX=%s); make uninstall removes these.\n' \
			"${prefix:-/}"
		cat "$manifest.new"
	} >"$manifest"
	rm -f "$manifest.new"
	local shown=()
	for f in "${files[@]}"; do
		case $f in
		"$prefix"/include/*/*) ;;
		*) shown+=("${f#"$prefix"/}") ;;
		esac
	done
	note "install: ${prefix:-/}${destdir:+ (under DESTDIR=$destdir)}: ${shown[*]}, include/lkl/..." \
		"($n files in all)"
	note "install: manifest ${prefix:-/}/$MANIFEST;" \
		"make uninstall PREFIX=${prefix:-/}${destdir:+ DESTDIR=$destdir} removes them"
}

do_uninstall() {
	[ $# -ge 1 ] || usage
	local prefix destdir="" manifest line d
	prefix=$(normalize PREFIX "$1")
	[ -z "${2:-}" ] || destdir=$(normalize DESTDIR "$2")
	manifest=$destdir$prefix/$MANIFEST
	[ -f "$manifest" ] ||
		die "nothing to uninstall: no $manifest (make install PREFIX=${prefix:-/} writes it)"

	# Check every line before removing anything.
	local files=() dirs=()
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in
		'' | '#'*) continue ;;
		*/../* | */.. | */./* | */.)
			die "$manifest: '$line' is not a plain path: not removing anything" ;;
		"$prefix"/*) ;;
		*) die "$manifest: '$line' is outside ${prefix:-/}: not removing anything" ;;
		esac
		case $line in
		*/) dirs+=("${line%/}") ;;
		*) files+=("$line") ;;
		esac
	done <"$manifest"

	local f present=()
	for f in "${files[@]}"; do
		if [ -e "$destdir$f" ] || [ -L "$destdir$f" ]; then
			present+=("$destdir$f")
		fi
	done
	if [ "${#present[@]}" -gt 0 ]; then
		rm -f -- "${present[@]}"
	fi
	# Children sort after their parents: reversed, each directory comes before its parent.
	local kept=()
	while IFS= read -r d; do
		if [ -z "$d" ] || [ ! -d "$destdir$d" ]; then
			continue
		fi
		rmdir -- "$destdir$d" 2>/dev/null || kept+=("${d:-/}")
	done < <(if [ "${#dirs[@]}" -gt 0 ]; then printf '%s\n' "${dirs[@]}" | sort -r; fi)
	note "uninstall: ${prefix:-/}${destdir:+ (under DESTDIR=$destdir)}: removed ${#present[@]} files"
	for d in "${kept[@]}"; do
		warn "uninstall: kept $d: it holds files LKL did not install"
	done
}

case ${1:-} in
install) shift && do_install "$@" ;;
uninstall) shift && do_uninstall "$@" ;;
*) usage ;;
esac
