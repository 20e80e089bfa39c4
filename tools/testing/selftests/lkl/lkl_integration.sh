#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Shell-level checks of a built LKL: the demo application boots and reports,
# rejects a bad command line clearly, and the installed headers and library
# are usable from plain C and C++ programs next to libc.
#
# Needs LKL_BUILD_DIR (absolute path of build/lkl); SKIP without it.

DIR=$(dirname "$(readlink -f "$0")")
if [ -r "$DIR/../kselftest/ktap_helpers.sh" ]; then
	# shellcheck source=../kselftest/ktap_helpers.sh
	. "$DIR/../kselftest/ktap_helpers.sh"
else
	echo "ktap_helpers.sh not found next to $DIR" >&2
	exit 1
fi

ktap_print_header

if [ -z "$LKL_BUILD_DIR" ] || [ ! -d "$LKL_BUILD_DIR" ]; then
	ktap_skip_all "LKL_BUILD_DIR is not set to the build/lkl directory"
	exit "$KSFT_SKIP"
fi

DEMO="$LKL_BUILD_DIR/bin/lkl-demo"
INC="$LKL_BUILD_DIR/include"
LIB="$LKL_BUILD_DIR/lib/liblkl.a"
CC=${CC:-cc}
CXX=${CXX:-c++}
# Link flags the library asks for beyond the archive (the sanitizer runtime
# of an LKL_SANITIZE=ON build).
LKL_LDFLAGS=
if [ -r "$LKL_BUILD_DIR/lib/pkgconfig/lkl.pc" ] && command -v pkg-config >/dev/null; then
	LKL_LDFLAGS=$(PKG_CONFIG_PATH="$LKL_BUILD_DIR/lib/pkgconfig" \
		pkg-config --libs-only-other lkl)
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

ktap_set_plan 8

# Prints the end of a command's saved output (where the reason is) as TAP
# diagnostics; $2 lines, 40 by default.
show() {
	tail -n "${2:-40}" "$1" | sed -e 's/^/# /'
}

# 1-2: the demo boots the kernel and reports the version and a latency.
demo_runs() {
	[ -x "$DEMO" ] || { echo "# $DEMO missing"; return 1; }
	timeout 120 "$DEMO" -n 10000 >"$TMP/demo.out" 2>&1
	local rc=$?
	if [ $rc -ne 0 ]; then
		echo "# lkl-demo exited with $rc"
		show "$TMP/demo.out"
		return 1
	fi
	if ! grep -q "Linux version 6\.12" "$TMP/demo.out"; then
		echo "# no 'Linux version 6.12' in the output"
		show "$TMP/demo.out"
		return 1
	fi
}
ktap_test_result "lkl-demo boots and prints the kernel version" demo_runs

demo_latency() {
	[ -s "$TMP/demo.out" ] || return 1
	# e.g. "getpid latency: host 80 ns, lkl 120 ns": a number with a unit.
	if ! grep -Eiq 'latency.*[0-9]+(\.[0-9]+)? *(ns|us|ms)' \
			"$TMP/demo.out"; then
		echo "# no latency line (latency ... <number> ns|us|ms)"
		show "$TMP/demo.out" 5
		return 1
	fi
}
ktap_test_result "lkl-demo reports a syscall latency" demo_latency

# Runs the demo with bad arguments; it must fail (not crash, not hang) and
# its output must match the regex $1.
demo_fails_with() {
	local pattern=$1
	shift
	[ -x "$DEMO" ] || return 1
	timeout 60 "$DEMO" "$@" >"$TMP/bad.out" 2>&1
	local rc=$?
	if [ $rc -eq 0 ] || [ $rc -ge 124 ]; then
		echo "# lkl-demo $*: expected a failure exit status, got $rc"
		show "$TMP/bad.out"
		return 1
	fi
	if ! grep -Eq "$pattern" "$TMP/bad.out"; then
		echo "# lkl-demo $*: no message matching '$pattern'"
		show "$TMP/bad.out"
		return 1
	fi
}

# 3: a malformed option of the demo itself.
ktap_test_result "lkl-demo rejects a bad option with its usage" \
	demo_fails_with '[Uu]sage' -n not-a-number

# 4: a malformed kernel command line is reported, naming the option.
ktap_test_result "lkl-demo reports a malformed kernel command line" \
	demo_fails_with 'mem=abc' 'mem=abc'

# 5: the prefixed uapi headers coexist with libc's in one C file.
c_headers_with_libc() {
	cat >"$TMP/hdr.c" <<-'EOF'
	#include <sys/socket.h>
	#include <sys/stat.h>
	#include <sys/epoll.h>
	#include <netinet/in.h>
	#include <fcntl.h>
	#include <time.h>
	#include <lkl.h>
	#include <lkl_host.h>

	int main(void)
	{
		struct lkl_sockaddr_in lsin = { .sin_family = LKL_AF_INET };
		struct sockaddr_in sin = { .sin_family = AF_INET };
		struct lkl_linux_dirent64 *dent = 0;
		struct lkl_epoll_event lev;
		struct epoll_event ev;
		struct lkl_stat lst;
		struct stat st;

		(void)lst;
		(void)st;
		(void)dent;
		/* Same ABI as the host's: the kernel is Linux too. */
		if (sizeof(lev) != sizeof(ev) || LKL_SOCK_STREAM != SOCK_STREAM)
			return 1;
		return lsin.sin_family == sin.sin_family ? 0 : 1;
	}
	EOF
	if ! $CC -std=gnu11 -Wall -Wextra -Werror -I"$INC" -c "$TMP/hdr.c" \
			-o "$TMP/hdr.o" >"$TMP/hdr.out" 2>&1; then
		show "$TMP/hdr.out"
		return 1
	fi
}
ktap_test_result "lkl.h compiles with libc headers in C (-Werror)" \
	c_headers_with_libc

# 6: the same from C++20, with the C++ layer.
cxx_headers() {
	cat >"$TMP/hdr.cc" <<-'EOF'
	#include <sys/socket.h>
	#include <netinet/in.h>
	#include <lkl.h>
	#include <lkl_host.h>
	#include <lkl/kernel.hpp>

	int main()
	{
		return sizeof(lkl::Fd) > 0 ? 0 : 1;
	}
	EOF
	if ! $CXX -std=c++20 -Wall -Wextra -Werror -I"$INC" -c "$TMP/hdr.cc" \
			-o "$TMP/hdrxx.o" >"$TMP/hdrxx.out" 2>&1; then
		show "$TMP/hdrxx.out"
		return 1
	fi
}
ktap_test_result "lkl.h and lkl/kernel.hpp compile in C++20 (-Werror)" \
	cxx_headers

# 7: kernel symbols do not leak: an application may define its own
# 'schedule', 'printk' or 'jiffies' and still link.
no_symbol_clash() {
	cat >"$TMP/clash.c" <<-'EOF'
	#include <lkl.h>
	#include <lkl_host.h>

	int schedule(void) { return 1; }
	int printk(const char *fmt, ...) { return fmt != 0; }
	unsigned long jiffies;
	int init_task;

	int main(void)
	{
		return lkl_init(&lkl_host_ops) == 0 ? 0 : 1;
	}
	EOF
	# shellcheck disable=SC2086 # LKL_LDFLAGS is a list of flags
	if ! $CC -I"$INC" "$TMP/clash.c" "$LIB" -lstdc++ -lpthread $LKL_LDFLAGS \
			-o "$TMP/clash" >"$TMP/clash.out" 2>&1; then
		grep -m 20 -E 'multiple definition|cannot find|undefined' \
			"$TMP/clash.out" |
			sed -e 's/^/# /'
		return 1
	fi
}
ktap_test_result "application symbols do not clash with kernel symbols" \
	no_symbol_clash

# 8: a plain C program boots, makes syscalls and halts (lkl_boot logic,
# here built by hand the way a user would).
user_c_program() {
	cat >"$TMP/user.c" <<-'EOF'
	#include <stdio.h>
	#include <string.h>
	#include <lkl.h>
	#include <lkl_host.h>

	int main(void)
	{
		struct lkl_new_utsname uts;
		long ret;

		if (lkl_init(&lkl_host_ops) < 0)
			return 2;
		ret = lkl_start_kernel("mem=32M loglevel=4");
		if (ret < 0) {
			fprintf(stderr, "boot: %s\n", lkl_strerror(-ret));
			return 3;
		}
		if (lkl_sys_uname(&uts) < 0 || strcmp(uts.sysname, "Linux"))
			return 4;
		printf("pid %ld release %s\n", lkl_sys_getpid(), uts.release);
		if (lkl_sys_halt() != 0)
			return 5;
		lkl_cleanup();
		return 0;
	}
	EOF
	# shellcheck disable=SC2086 # LKL_LDFLAGS is a list of flags
	if ! $CC -I"$INC" "$TMP/user.c" "$LIB" -lstdc++ -lpthread $LKL_LDFLAGS \
			-o "$TMP/user" >"$TMP/user.out" 2>&1; then
		show "$TMP/user.out"
		return 1
	fi
	timeout 60 "$TMP/user" >"$TMP/user.run" 2>&1
	local rc=$?
	if [ $rc -ne 0 ] || ! grep -Eq '^pid [1-9][0-9]* release 6\.12\.' \
			"$TMP/user.run"; then
		echo "# exit status $rc"
		show "$TMP/user.run"
		return 1
	fi
}
ktap_test_result "a user's C program links with -lstdc++ -lpthread and runs" \
	user_c_program

ktap_finished
