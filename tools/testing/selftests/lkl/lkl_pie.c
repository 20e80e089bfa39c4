// SPDX-License-Identifier: GPL-2.0
/*
 * A program linked the way hardened distribution builds link: a PIE with
 * -z text (no text relocations allowed), a GNU ifunc of its own and a 16-byte
 * atomic load from libatomic. lkl_packaging.sh builds it against liblkl.a and
 * against liblkl.so. It boots the library, makes syscalls and halts; the last
 * line it prints is "done".
 */
#include <stdio.h>
#include <string.h>

#include <lkl.h>
#include <lkl_host.h>

/* Resolved by the dynamic loader at start-up (an IRELATIVE relocation). */
static long answer_impl(void)
{
	return 42;
}

static long (*resolve_answer(void))(void)
{
	return answer_impl;
}

long answer(void) __attribute__((ifunc("resolve_answer")));

/* 16 bytes: GCC calls __atomic_load_16 in libatomic for this. */
struct pair {
	_Alignas(16) long lo;
	long hi;
};

static struct pair shared_pair = { 1, 2 };

/*
 * A symbolised kernel stack trace (kallsyms and the frame walker of
 * arch/lkl): the kernel stack of this thread's own task, taken inside the
 * read() of /proc/thread-self/stack, printed after "stack dump:".
 */
static void dump_kernel_stack(void)
{
	char buf[4096];
	long fd, ret, len = 0;

	ret = lkl_mount_fs("proc");
	if (ret < 0) {
		printf("stack dump: unavailable (mount proc: %s)\n",
		       lkl_strerror(ret));
		return;
	}
	fd = lkl_sys_open("/proc/thread-self/stack", LKL_O_RDONLY, 0);
	if (fd < 0) {
		printf("stack dump: unavailable (/proc/thread-self/stack: %s)\n",
		       lkl_strerror(fd));
		return;
	}
	while (len < (long)sizeof(buf) - 1) {
		ret = lkl_sys_read(fd, buf + len, sizeof(buf) - 1 - len);
		if (ret <= 0)
			break;
		len += ret;
	}
	lkl_sys_close(fd);
	buf[len] = '\0';
	if (ret < 0)
		printf("stack dump: unavailable (read: %s)\n", lkl_strerror(ret));
	else
		printf("stack dump:\n%s", buf);
}

int main(void)
{
	struct lkl_new_utsname uts;
	struct pair p;
	long ret;

	__atomic_load(&shared_pair, &p, __ATOMIC_SEQ_CST);
	if (answer() != 42 || p.lo != 1 || p.hi != 2) {
		fprintf(stderr, "ifunc or atomic load gave wrong results\n");
		return 2;
	}
	ret = lkl_init(&lkl_host_ops);
	if (ret == 0)
		ret = lkl_start_kernel("mem=32M");
	if (ret < 0) {
		fprintf(stderr, "boot: %s\n", lkl_strerror(ret));
		return 3;
	}
	memset(&uts, 0, sizeof(uts));
	ret = lkl_sys_uname(&uts);
	if (ret < 0 || strcmp(uts.sysname, "Linux")) {
		fprintf(stderr, "uname: %s\n", lkl_strerror(ret));
		return 4;
	}
	printf("pid %ld release %s\n", lkl_sys_getpid(), uts.release);
	dump_kernel_stack();
	ret = lkl_sys_halt();
	if (ret != 0) {
		fprintf(stderr, "halt: %s\n", lkl_strerror(ret));
		return 5;
	}
	lkl_cleanup();
	printf("done\n");
	return 0;
}
