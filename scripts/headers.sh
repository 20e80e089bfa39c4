#!/usr/bin/env bash
# Install the public headers into <out>: the lkl_-prefixed uapi headers that
# arch/lkl/scripts/headers_install.py makes from the kernel's headers_install
# output and syscall_defs.txt, plus a copy of tools/lkl/include.
#
#   scripts/headers.sh <assembled tree> <kernel object dir> <out> [jobs]
#
# Does nothing when no input is newer than the last run, and rewrites only the
# headers whose content changed, so the host build recompiles only what it must.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

[ $# -ge 3 ] || die "usage: $0 <tree> <kobj> <out> [jobs]"
src=$1 kobj=$2 out=$3 jobs=${4:-1}
# One stamp per kernel object dir: build/kobj-<variant> (make FRAGMENT=...) has its own.
kobj_name=$(basename "$kobj")
stamp=$LKL_STATE/headers${kobj_name#kobj}.stamp
script=$src/arch/lkl/scripts/headers_install.py
inputs=("$kobj/syscall_defs.txt" "$kobj/usr/include" "$script" "$src/tools/lkl/include")

for f in "${inputs[@]}"; do
	[ -e "$f" ] || die "$(show_path "$f") is missing (it comes from the kernel build or the overlay)"
done
if [ -d "$out" ] && [ -f "$stamp" ] &&
	[ -z "$(find "${inputs[@]}" -newer "$stamp" -print -quit)" ]; then
	verbose "headers: up to date"
	exit 0
fi

mkdir -p "$LKL_STATE"
: >"$stamp.new" # inputs changed after this point are seen by the next run
stage=$LKL_STATE/include.stage
rm -rf "$stage"
python3 "$script" --uapi "$kobj/usr/include" --defs "$kobj/syscall_defs.txt" \
	--out "$stage" -j "$jobs"
cp -R "$src/tools/lkl/include/." "$stage/"
mkdir -p "$out"
# -c: compare contents; no -t: rewritten headers get the current time.
n=$(rsync -rlc --delete --out-format='%n' "$stage/" "$out/")
n=$(printf '%s' "$n" | grep -cv '/$' || true)
rm -rf "$stage"
mv "$stamp.new" "$stamp"
note "headers: $(show_path "$out"): $n header(s) updated"
