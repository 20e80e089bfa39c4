// SPDX-License-Identifier: GPL-2.0
/*
 * A plain C program that uses the library the way an LKL application does:
 * boot, a few syscalls through the lkl_sys_*() wrappers, halt. It proves
 * that C code links against liblkl.a and runs; each step is a TAP result.
 */
#include <lkl.h>
#include <lkl_host.h>

#include "../kselftest.h"

#define TEST_PATH "/lkl_boot_selftest"

static const char *err_str(long err)
{
	return lkl_strerror((int)(err < 0 ? -err : err));
}

static void test_getpid(void)
{
	long pid = lkl_sys_getpid();

	if (pid <= 0) {
		ksft_test_result_fail("getpid returned %ld\n", pid);
		return;
	}
	ksft_test_result(lkl_sys_getpid() == pid, "getpid\n");
}

static void test_uname(void)
{
	struct lkl_new_utsname uts;
	long ret;

	memset(&uts, 0, sizeof(uts));
	ret = lkl_sys_uname(&uts);
	if (ret < 0) {
		ksft_test_result_fail("uname: %s\n", err_str(ret));
		return;
	}
	ksft_print_msg("%s %s %s\n", uts.sysname, uts.release, uts.machine);
	ksft_test_result(!strcmp(uts.sysname, "Linux") &&
			 !strncmp(uts.release, "6.12.", 5), "uname\n");
}

/* Write a file in the kernel's root file system and read it back. */
static int file_round_trip(void)
{
	char msg[] = "written through lkl_sys_write";
	char buf[sizeof(msg)];
	long fd, ret;
	int ok;

	fd = lkl_sys_open(TEST_PATH, LKL_O_CREAT | LKL_O_RDWR | LKL_O_TRUNC,
			  0644);
	if (fd < 0) {
		ksft_print_msg("open: %s\n", err_str(fd));
		return 0;
	}
	ret = lkl_sys_write(fd, msg, sizeof(msg));
	if (ret != sizeof(msg)) {
		ksft_print_msg("write: %ld\n", ret);
		lkl_sys_close(fd);
		return 0;
	}
	ret = lkl_sys_lseek(fd, 0, LKL_SEEK_SET);
	if (ret != 0) {
		ksft_print_msg("lseek: %ld\n", ret);
		lkl_sys_close(fd);
		return 0;
	}
	memset(buf, 0, sizeof(buf));
	ret = lkl_sys_read(fd, buf, sizeof(buf));
	ok = ret == sizeof(msg) && !memcmp(buf, msg, sizeof(msg));
	if (!ok)
		ksft_print_msg("read: %ld\n", ret);
	if (lkl_sys_close(fd) < 0 || lkl_sys_unlink(TEST_PATH) < 0)
		ok = 0;
	return ok;
}

static void test_file(void)
{
	ksft_test_result(file_round_trip(), "open/write/lseek/read/unlink\n");
}

int main(void)
{
	long ret;

	ksft_print_header();
	ksft_set_plan(5);

	ret = lkl_init(&lkl_host_ops);
	if (ret < 0)
		ksft_exit_fail_msg("lkl_init: %s\n", err_str(ret));
	ret = lkl_start_kernel("mem=32M loglevel=4");
	if (ret < 0)
		ksft_exit_fail_msg("lkl_start_kernel: %s\n", err_str(ret));
	ksft_test_result(lkl_is_running(), "boot\n");

	test_getpid();
	test_uname();
	test_file();

	ret = lkl_sys_halt();
	ksft_test_result(ret == 0 && !lkl_is_running(), "halt\n");
	lkl_cleanup();

	ksft_finished();
}
