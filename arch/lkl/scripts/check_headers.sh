#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Check the headers installed by headers_install.py.
#
# usage: check_headers.sh OUTDIR [UAPIDIR]
#
# OUTDIR is the --out directory of headers_install.py (it holds lkl/).
#  1. <lkl/asm/syscalls.h> compiles on its own, and the headers a
#     socket/file program needs, with <lkl/asm/syscalls.h>, compile
#     together with glibc's (and some of the host's <linux/*.h>) in one
#     file, lkl first and libc first, as C (gcc -std=gnu11) and C++
#     (g++ -std=c++20), -Wall -Wextra -Werror.  The file checks ABI facts
#     against glibc and the names LKL programs use (struct lkl_utsname,
#     __lkl__NR_*, ...); run, it checks that lkl_sys_*() hand their
#     arguments to lkl_syscall() unchanged (a stub stands in for liblkl).
#  2. The same headers define no macro outside the lkl namespace.
#  3. No name was prefixed twice.
# With UAPIDIR (the input of headers_install.py), also:
#  4. Every header that compiles on its own as installed by the kernel
#     also compiles on its own as installed under lkl/.
#
# Environment: CC (default gcc), CXX (default g++), JOBS (default nproc).

set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 OUTDIR [UAPIDIR]" >&2
	exit 2
fi
out=$(cd "$1" && pwd)
uapi=${2:+$(cd "$2" && pwd)}
CC=${CC:-gcc}
CXX=${CXX:-g++}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 1)}
CFLAGS="-std=gnu11 -Wall -Wextra -Werror"
CXXFLAGS="-std=c++20 -Wall -Wextra -Werror"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

fail() {
	echo "FAIL: $*"
	failed=1
}

LKL_HEADERS="linux/socket.h linux/in.h linux/in6.h linux/if.h linux/fcntl.h
	linux/stat.h linux/time.h linux/eventfd.h linux/eventpoll.h
	linux/errno.h linux/net.h linux/uio.h linux/utsname.h linux/sockios.h
	linux/if_tun.h linux/virtio_net.h linux/rtnetlink.h linux/reboot.h
	linux/mount.h linux/poll.h linux/tcp.h asm/syscalls.h
	linux/ioctl.h asm/stat.h"
LIBC_HEADERS="stdio.h stdlib.h sys/socket.h netinet/in.h fcntl.h sys/stat.h
	sys/epoll.h errno.h"
# More of libc and of the host's own kernel headers, all at once.
HOST_HEADERS="string.h unistd.h signal.h poll.h time.h sys/time.h sys/uio.h
	sys/utsname.h sys/mount.h sys/eventfd.h sys/ioctl.h netinet/tcp.h
	arpa/inet.h net/if.h linux/if_tun.h linux/if_ether.h linux/rtnetlink.h
	linux/reboot.h"

includes() {
	prefix=$1
	shift
	for h in "$@"; do
		echo "#include <$prefix$h>"
	done
}

# The body: what LKL programs expect, and ABI facts shared with the host.
cat > "$tmp/body.h" <<'EOF'
#ifdef __cplusplus
#define CHECK(e) static_assert(e, #e)
#else
#define CHECK(e) _Static_assert(e, #e)
#endif

CHECK(sizeof(__lkl__u32) == 4 && sizeof(__lkl__s64) == 8);
CHECK(sizeof(__lkl__kernel_size_t) == sizeof(size_t));
CHECK(__LKL__BITS_PER_LONG == 8 * sizeof(long));
CHECK(sizeof(struct lkl_sockaddr_in) == sizeof(struct sockaddr_in));
CHECK(sizeof(struct lkl_in_addr) == sizeof(struct in_addr));
CHECK(sizeof(struct lkl_in6_addr) == 16);
CHECK(sizeof(struct lkl_iovec) == 2 * sizeof(void *));
CHECK(sizeof(struct lkl_timespec) == 16);
CHECK(sizeof(struct lkl_epoll_event) == sizeof(struct epoll_event));
CHECK(sizeof(struct lkl_utsname) == 6 * 65);
CHECK(sizeof(struct lkl_stat) > 0 && sizeof(struct lkl_pollfd) == 8);
CHECK(LKL_EINVAL == EINVAL && LKL_EAGAIN == EAGAIN && LKL_ENOSYS == ENOSYS);
CHECK(LKL_O_RDONLY == O_RDONLY && LKL_O_CREAT == O_CREAT);
CHECK(LKL_AT_FDCWD == AT_FDCWD && LKL_EPOLLIN == EPOLLIN);
CHECK((int)LKL_IPPROTO_TCP == (int)IPPROTO_TCP);
CHECK(LKL_INADDR_ANY == INADDR_ANY);
CHECK(LKL_S_IFDIR == S_IFDIR && LKL_S_ISDIR(LKL_S_IFDIR));
CHECK(LKL_TUNSETIFF > 0 && LKL_SIOCGIFFLAGS == 0x8913);
CHECK(LKL_IFF_UP == 1 && LKL_EFD_CLOEXEC == LKL_O_CLOEXEC);
CHECK(LKL_LINUX_REBOOT_CMD_POWER_OFF != 0 && LKL_MS_RDONLY == 1);
CHECK(__lkl__NR_read == 63 && __lkl__NR_uname == 160);

/* Stands in for liblkl: records what the wrappers pass. */
static long last_no, last_params[6];

#ifdef __cplusplus
extern "C"
#endif
long lkl_syscall(long no, long *params)
{
	last_no = no;
	memcpy(last_params, params, sizeof(last_params));
	return 0;
}

static int passed(long no, long p0, long p1, long p2, long p3)
{
	return last_no == no && last_params[0] == p0 &&
	       last_params[1] == p1 && last_params[2] == p2 &&
	       last_params[3] == p3 && last_params[4] == 0 &&
	       last_params[5] == 0;
}

int main(void)
{
	struct lkl_utsname uts;
	struct lkl_new_utsname *new_uts = &uts;
	struct lkl_stat st;
	struct lkl_sockaddr_in sin;
	struct lkl_ifreq ifr;
	struct lkl_epoll_event ev;
	struct lkl_pollfd pfd;
	char buf[16];
	int bad = 0;

	memset(&sin, 0, sizeof(sin));
	memset(&ifr, 0, sizeof(ifr));
	memset(&st, 0, sizeof(st));
	sin.sin_family = AF_INET;	/* kernel-internal: no LKL_AF_INET */
	sin.sin_addr.s_addr = LKL_INADDR_ANY;
	ifr.lkl_ifr_flags = LKL_IFF_UP;
	ev.events = LKL_EPOLLIN;
	pfd.fd = 0;
	pfd.events = LKL_POLLIN;

	lkl_sys_uname(new_uts);
	bad |= !passed(__lkl__NR_uname, (long)&uts, 0, 0, 0);
	lkl_sys_fstat(7, &st);
	bad |= !passed(__lkl__NR_fstat, 7, (long)&st, 0, 0);
	lkl_sys_read(3, buf, (1UL << 33) | sizeof(buf));
	bad |= !passed(__lkl__NR_read, 3, (long)buf, (1L << 33) | 16, 0);
	lkl_sys_pread64(3, buf, 1, 1LL << 40);
	bad |= !passed(__lkl__NR_pread64, 3, (long)buf, 1, 1L << 40);
	lkl_sys_openat(LKL_AT_FDCWD, "/", LKL_O_RDONLY, 0);
	bad |= !(last_no == __lkl__NR_openat && last_params[0] == -100);
	lkl_sys_epoll_ctl(5, LKL_EPOLL_CTL_ADD, 1, &ev);
	bad |= !passed(__lkl__NR_epoll_ctl, 5, 1, 1, (long)&ev);
	lkl_sys_ppoll(&pfd, 1, NULL, NULL, 0);
	bad |= !passed(__lkl__NR_ppoll, (long)&pfd, 1, 0, 0);
	lkl_sys_ioctl(4, LKL_SIOCGIFFLAGS, (unsigned long)&ifr);
	bad |= !passed(__lkl__NR_ioctl, 4, 0x8913, (long)&ifr, 0);
	lkl_sys_getpid();
	bad |= !passed(__lkl__NR_getpid, 0, 0, 0, 0);
	bad |= st.lkl_st_atime != 0 || sizeof(struct stat) == 0;
	if (bad)
		printf("lkl_sys_*() passed wrong arguments\n");
	return bad;
}
EOF

# compile NAME: build and run NAME.c (includes on stdin, then body.h)
compile() {
	name=$1
	{
		cat
		echo "#include <string.h>"
		echo '#include "body.h"'
	} > "$tmp/$name.c"
	cp "$tmp/$name.c" "$tmp/$name.cc"
	# shellcheck disable=SC2086 # CC="ccache gcc", flags: word splitting
	$CC $CFLAGS -I"$out" -I"$tmp" -o "$tmp/$name-c" "$tmp/$name.c" ||
		fail "$name: C"
	# shellcheck disable=SC2086
	$CXX $CXXFLAGS -I"$out" -I"$tmp" -o "$tmp/$name-cxx" "$tmp/$name.cc" ||
		fail "$name: C++"
	for prog in "$tmp/$name-c" "$tmp/$name-cxx"; do
		[ ! -x "$prog" ] || "$prog" || fail "$name: ${prog##*/} run"
	done
}

# 1. everything in one file
# shellcheck disable=SC2086
{ includes lkl/ $LKL_HEADERS; includes "" $LIBC_HEADERS; } > "$tmp/order1"
# shellcheck disable=SC2086
{ includes "" $LIBC_HEADERS; includes lkl/ $LKL_HEADERS; } > "$tmp/order2"
# shellcheck disable=SC2086
{ includes "" $LIBC_HEADERS $HOST_HEADERS; includes lkl/ $LKL_HEADERS; } \
	> "$tmp/order3"
# shellcheck disable=SC2086
{ includes lkl/ $LKL_HEADERS; includes "" $LIBC_HEADERS $HOST_HEADERS; } \
	> "$tmp/order4"
echo '#include <lkl/asm/syscalls.h>' > "$tmp/alone.c"
cp "$tmp/alone.c" "$tmp/alone.cc"
# shellcheck disable=SC2086
$CC $CFLAGS -fsyntax-only -I"$out" "$tmp/alone.c" ||
	fail "<lkl/asm/syscalls.h> alone: C"
# shellcheck disable=SC2086
$CXX $CXXFLAGS -fsyntax-only -I"$out" "$tmp/alone.cc" ||
	fail "<lkl/asm/syscalls.h> alone: C++"
compile lkl-first < "$tmp/order1"
compile libc-first < "$tmp/order2"
compile host-first < "$tmp/order3"
compile host-last < "$tmp/order4"

# 2. macros outside the lkl namespace (but host_ops.h's own guard); the
# libc headers that uapi headers include are in the baseline.
# shellcheck disable=SC2086
includes "" $LIBC_HEADERS stdint.h stddef.h limits.h string.h unistd.h \
	endian.h time.h sys/time.h sys/types.h sys/ioctl.h netinet/if_ether.h \
	> "$tmp/libc.c"
# shellcheck disable=SC2086
{ cat "$tmp/libc.c"; includes lkl/ $LKL_HEADERS; } > "$tmp/both.c"
$CC -std=gnu11 -dM -E -I"$out" "$tmp/libc.c" | awk '{print $2}' |
	sed 's/(.*//' | sort -u > "$tmp/libc.macros"
$CC -std=gnu11 -dM -E -I"$out" "$tmp/both.c" | awk '{print $2}' |
	sed 's/(.*//' | sort -u > "$tmp/both.macros"
echo '#include <lkl/asm/host_ops.h>' |
	$CC -std=gnu11 -dM -E -I"$out" -x c - | awk '{print $2}' |
	sed 's/(.*//' | sort -u | comm -13 "$tmp/libc.macros" - \
	> "$tmp/host_ops.macros"
comm -13 "$tmp/libc.macros" "$tmp/both.macros" |
	comm -23 - "$tmp/host_ops.macros" |
	grep -Ev '^_*(lkl|LKL)' > "$tmp/leaks" || true
if [ -s "$tmp/leaks" ]; then
	fail "macros outside the lkl namespace: $(tr '\n' ' ' < "$tmp/leaks")"
fi

# 3. double prefixes
if grep -rEl '\b_*(lkl|LKL)_+(lkl|LKL)_' "$out/lkl" --include='*.h' \
		> "$tmp/double"; then
	fail "names prefixed twice in: $(tr '\n' ' ' < "$tmp/double")"
fi

# 4. each header on its own, before and after
if [ -n "$uapi" ]; then
	(cd "$uapi" && find . -name '*.h' | sed 's|^\./||' | sort) \
		> "$tmp/all"
	xargs -P "$JOBS" -I{} sh -c "printf '#include <{}>\n' |
		$CC -std=gnu11 -Werror -fsyntax-only -I'$uapi' -x c - \
		2>/dev/null && echo {}" < "$tmp/all" | sort > "$tmp/ok.uapi"
	xargs -P "$JOBS" -I{} sh -c "printf '#include <lkl/{}>\n' |
		$CC -std=gnu11 -Werror -fsyntax-only -I'$out' -x c - \
		2>/dev/null && echo {}" < "$tmp/all" | sort > "$tmp/ok.lkl"
	# Headers including one the uapi lacks (linux/kvm.h without asm/kvm.h)
	# only compiled against the host's copy: not a regression.
	comm -23 "$tmp/ok.uapi" "$tmp/ok.lkl" | while read -r h; do
		printf '#include <lkl/%s>\n' "$h" |
			$CC -std=gnu11 -fsyntax-only -I"$out" -x c - 2>&1 |
			grep -q "lkl/.*: No such file" || echo "$h"
	done > "$tmp/broken"
	if [ -s "$tmp/broken" ]; then
		fail "compile as installed but not under lkl/:" \
			"$(tr '\n' ' ' < "$tmp/broken")"
	fi
	echo "standalone: $(wc -l < "$tmp/ok.lkl") of $(wc -l < "$tmp/all")" \
		"headers compile on their own" \
		"($(wc -l < "$tmp/ok.uapi") before renaming)"
fi

if [ $failed -ne 0 ]; then
	echo "check_headers: FAILED"
	exit 1
fi
echo "check_headers: OK"
