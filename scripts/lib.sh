# shellcheck shell=bash
# Shared helpers for the build scripts. Sourced, never run.
#
# Environment read here (the top-level Makefile sets all of them):
#   LKL_ROOT   the project checkout (default: parent of this directory)
#   LKL_BUILD  the build directory (default: $LKL_ROOT/build)
#   LKL_CACHE  the cache outside the work tree (default: ~/.cache/lkl)
#   LKL_VERBOSE=1 for more output

LKL_ROOT=${LKL_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
LKL_BUILD=${LKL_BUILD:-$LKL_ROOT/build}
LKL_CACHE=${LKL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lkl}
LKL_VERBOSE=${LKL_VERBOSE:-0}
# shellcheck disable=SC2034 # used by the scripts that source this file
LKL_STATE=$LKL_BUILD/.lkl

# Project directories that are copied into the kernel tree as they are.
# shellcheck disable=SC2034
LKL_OVERLAY_DIRS=(arch/lkl tools/lkl tools/testing/selftests/lkl Documentation/arch/lkl)

# Every commit the assembly makes carries this identity, so the assembled
# history is the same on every machine and needs no git configuration.
export GIT_AUTHOR_NAME="LKL assembly" GIT_AUTHOR_EMAIL="lkl-assembly@localhost"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"

die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

note() {
	printf '%s\n' "$*"
}

warn() {
	printf 'warning: %s\n' "$*" >&2
}

verbose() {
	if [ "$LKL_VERBOSE" = 1 ]; then
		printf '  %s\n' "$*"
	fi
	return 0
}

# Print a path relative to the project root when it is inside it.
show_path() {
	case $1 in
	"$LKL_ROOT"/*) printf '%s' "${1#"$LKL_ROOT"/}" ;;
	*) printf '%s' "$1" ;;
	esac
}

# Value of KEY from a key=value file ('#' comments allowed), empty if absent.
kv_get() {
	sed -n "s/^$2=//p" "$1" 2>/dev/null | tail -n 1
}

# Milliseconds since the epoch, and the time elapsed since such a stamp ("1.2s").
now_ms() {
	date +%s%3N
}

elapsed() {
	local ms=$(($(now_ms) - $1))
	printf '%d.%ds' $((ms / 1000)) $((ms % 1000 / 100))
}
