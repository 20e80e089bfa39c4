#!/usr/bin/env bash
# Check for, and on Debian install, everything the build and the tests need.
#
#   scripts/install-deps.sh            install whatever is missing (root, Debian/apt)
#   scripts/install-deps.sh --bench    the same, plus what only `make bench` needs (its charts)
#   scripts/install-deps.sh --check    only report what is missing (exit 1 if anything)
#   scripts/install-deps.sh --ensure   what `make` runs: nothing to do if all is there;
#                                      otherwise install when root, else one line per
#                                      missing package and the command to run
# Options: --build-only (--check/--ensure: leave out what only the tests need), --bench (add
# what only the benchmarks need: scripts/bench.sh runs without it, leaving out its charts),
# --no-base (a BASE_TARBALL is given: linux-source-6.12 is not needed),
# extra apt package names (installed if dpkg does not know them as installed).
set -euo pipefail

# One line per apt package: the package, then what proves it is there
# (commands on PATH or absolute file paths).
BUILD_DEPS='
build-essential    gcc g++ make
flex               flex
bison              bison
bc                 bc
python3            python3
cmake              cmake
ccache             ccache
git                git
rsync              rsync
xz-utils           xz
libelf-dev         /usr/include/libelf.h
libgtest-dev       /usr/include/gtest/gtest.h
libgmock-dev       /usr/include/gmock/gmock.h
nlohmann-json3-dev /usr/include/nlohmann/json.hpp
linux-source-6.12  /usr/src/linux-source-6.12.tar.xz
'
# What only the tests need (make test, .ci/run): add test tools here.
TEST_DEPS='
pkg-config         pkg-config
iproute2           ip
curl               curl
nginx-light        nginx
sockperf           sockperf
ethtool            ethtool
nftables           nft
'
# What only make bench needs (scripts/bench.sh: its charts), installed with --bench only.
BENCH_DEPS='
python3-matplotlib /usr/lib/python3/dist-packages/matplotlib/__init__.py
'
BASE_PACKAGE=linux-source-6.12

mode=install
need_base=1
need_test=1
need_bench=0
extra=()
for arg in "$@"; do
	case $arg in
	--check) mode=check ;;
	--ensure) mode=ensure ;;
	--no-base) need_base=0 ;;
	--build-only) need_test=0 ;;
	--bench) need_bench=1 ;;
	-h | --help)
		sed -n '2,15s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	-*)
		echo "error: unknown option $arg" >&2
		exit 2
		;;
	*) extra+=("$arg") ;;
	esac
done

have() {
	case $1 in
	/*) [ -e "$1" ] ;;
	# ip and friends live in sbin, which is not on a normal user's PATH.
	*) PATH=$PATH:/usr/sbin:/sbin command -v "$1" >/dev/null 2>&1 ;;
	esac
}

dpkg_installed() {
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()   # apt packages
reasons=()   # what was not found, same order
while read -r pkg probes; do
	[ -n "$pkg" ] || continue
	if [ "$pkg" = "$BASE_PACKAGE" ] && [ "$need_base" = 0 ]; then
		continue
	fi
	for probe in $probes; do
		if ! have "$probe"; then
			missing+=("$pkg")
			reasons+=("$probe")
			break
		fi
	done
done <<<"$BUILD_DEPS$([ "$need_test" = 0 ] || printf '%s' "$TEST_DEPS")$([ "$need_bench" = 0 ] || printf '%s' "$BENCH_DEPS")"
for pkg in "${extra[@]}"; do
	if command -v dpkg-query >/dev/null && ! dpkg_installed "$pkg"; then
		missing+=("$pkg")
		reasons+=("$pkg")
	fi
done

if [ "${#missing[@]}" = 0 ]; then
	[ "$mode" = ensure ] || echo "all build dependencies are installed"
	exit 0
fi

report() {
	local i
	for i in "${!missing[@]}"; do
		if [ "${missing[$i]}" = "$BASE_PACKAGE" ]; then
			echo "error: base tarball not found: run 'apt-get install $BASE_PACKAGE' or pass BASE_TARBALL=/path/linux-6.12.y.tar.xz" >&2
		else
			echo "error: ${reasons[$i]} not found: install the apt package ${missing[$i]}" >&2
		fi
	done
}

can_install() {
	[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null
}

if [ "$mode" = check ] || { [ "$mode" = ensure ] && ! can_install; }; then
	report
	if command -v apt-get >/dev/null; then
		echo "error: missing packages: run 'sudo scripts/install-deps.sh' (it runs: apt-get install ${missing[*]})" >&2
	fi
	exit 1
fi

if ! can_install; then
	report
	echo "error: installing needs root and apt-get: run 'sudo $0'" >&2
	exit 1
fi

echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# One index update per run (the CI script sets LKL_APT_UPDATED after its own).
if [ "${LKL_APT_UPDATED:-0}" != 1 ]; then
	apt-get update -q
fi
# The tests start their own nginx in a namespace: keep package scripts from starting services
# on the host (a policy-rc.d already in place, as in containers, is left alone).
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# installed by lkl scripts/install-deps.sh for one apt-get run\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi
apt-get install -y -q --no-install-recommends "${missing[@]}"
