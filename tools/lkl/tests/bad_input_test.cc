// SPDX-License-Identifier: GPL-2.0
//
// Misuse of the entry points and bad command lines. A process boots at most
// once and a failed boot cannot be retried, so every case runs in its own
// forked child (RunInChild); this parent never boots.
#include "test_util.hpp"

namespace {

using namespace lkl_test;

bool Contains(const std::string &haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// Errno values as documented by the entry points' kernel-doc: -EINVAL for
// bad arguments, -ENODEV while no kernel runs, -EBUSY once one was started.
TEST(BadInputTest, EntryPointsBeforeInit) {
  ChildResult r = RunInChild([] {
    EXPECT_EQ(lkl_is_running(), 0);
    EXPECT_LKL_ERR(lkl_init(nullptr), LKL_EINVAL);

    // A table without the mandatory operations is refused.
    struct lkl_host_operations empty;
    std::memset(&empty, 0, sizeof(empty));
    EXPECT_LKL_ERR(lkl_init(&empty), LKL_EINVAL);

    long params[6] = {};
    EXPECT_LKL_ERR(lkl_syscall(__lkl__NR_getpid, params), LKL_ENODEV);
    EXPECT_LKL_ERR(lkl_syscall(__lkl__NR_getpid, nullptr), LKL_ENODEV);
    EXPECT_LKL_ERR(lkl_sys_getpid(), LKL_ENODEV);
    EXPECT_LKL_ERR(lkl_sys_halt(), LKL_ENODEV);
    EXPECT_LKL_ERR(lkl_start_kernel("mem=32M"), LKL_EINVAL) << "boot without lkl_init()";
    EXPECT_EQ(lkl_is_running(), 0);
    lkl_cleanup();  // harmless without a kernel
  });
  EXPECT_CHILD_OK(r);
}

TEST(BadInputTest, SyscallBeforeBootThenStartTwice) {
  ChildResult r = RunInChild([] {
    ASSERT_EQ(lkl_init(&lkl_host_ops), 0);
    long params[6] = {};
    EXPECT_LKL_ERR(lkl_syscall(__lkl__NR_getpid, params), LKL_ENODEV);
    EXPECT_LKL_ERR(lkl_sys_getpid(), LKL_ENODEV);
    EXPECT_EQ(lkl_is_running(), 0);

    ASSERT_EQ(lkl_start_kernel("mem=32M loglevel=4"), 0);
    EXPECT_NE(lkl_is_running(), 0);
    long pid = lkl_sys_getpid();
    EXPECT_GT(pid, 0);

    EXPECT_LKL_ERR(lkl_start_kernel("mem=32M loglevel=4"), LKL_EBUSY);
    EXPECT_LKL_ERR(lkl_init(&lkl_host_ops), LKL_EBUSY);
    // ... and the running kernel is left alone.
    EXPECT_NE(lkl_is_running(), 0);
    EXPECT_EQ(lkl_sys_getpid(), pid);

    EXPECT_EQ(lkl_sys_halt(), 0);
    EXPECT_EQ(lkl_is_running(), 0);
    lkl_cleanup();
  });
  EXPECT_CHILD_OK(r);
}

// A bad command line makes lkl_start_kernel() fail with -EINVAL and a
// console message naming the option, without killing the process.
void ExpectBootFails(const char *cmdline, const char *message) {
  ChildResult r = RunInChild([cmdline] {
    ASSERT_EQ(lkl_init(&lkl_host_ops), 0);
    EXPECT_LKL_ERR(lkl_start_kernel("%s", cmdline), LKL_EINVAL) << "cmdline \"" << cmdline << "\"";
    EXPECT_EQ(lkl_is_running(), 0);
    EXPECT_LKL_ERR(lkl_sys_getpid(), LKL_ENODEV);
    lkl_cleanup();
    std::printf("CHILD-DONE\n");
  });
  EXPECT_CHILD_OK(r);
  EXPECT_TRUE(Contains(r.output, "CHILD-DONE")) << r.output;
  EXPECT_TRUE(Contains(r.output, message))
      << "no message containing \"" << message << "\"; output:\n"
      << r.output;
}

TEST(BadInputTest, MalformedMemFails) { ExpectBootFails("mem=abc loglevel=4", "mem=abc"); }

TEST(BadInputTest, TooLittleMemFails) { ExpectBootFails("loglevel=4 mem=1K", "mem="); }

TEST(BadInputTest, MemWithTrailingGarbageFails) { ExpectBootFails("mem=64Mx", "mem=64Mx"); }

// A rejected command line leaves no state behind: the same process can
// boot with a corrected one.
TEST(BadInputTest, BootSucceedsAfterRejectedCommandLine) {
  ChildResult r = RunInChild([] {
    ASSERT_EQ(lkl_init(&lkl_host_ops), 0);
    EXPECT_LKL_ERR(lkl_start_kernel("mem=abc"), LKL_EINVAL);
    EXPECT_LKL_ERR(lkl_start_kernel("mem=1K"), LKL_EINVAL);
    ASSERT_EQ(lkl_start_kernel("mem=32M loglevel=4"), 0);
    EXPECT_GT(lkl_sys_getpid(), 0);
    EXPECT_EQ(lkl_sys_halt(), 0);
    lkl_cleanup();
  });
  EXPECT_CHILD_OK(r);
}

TEST(BadInputTest, OverlongCommandLineFails) {
  ChildResult r = RunInChild([] {
    ASSERT_EQ(lkl_init(&lkl_host_ops), 0);
    std::string huge = "mem=32M lkl_padding=" + std::string(8192, 'x');
    EXPECT_LT(lkl_start_kernel("%s", huge.c_str()), 0);
    EXPECT_EQ(lkl_is_running(), 0);
    lkl_cleanup();
  });
  EXPECT_CHILD_OK(r);
}

// Unknown options are not an error in Linux: they go to init, and the kernel
// says so at notice level (hence loglevel=8 to see it).
TEST(BadInputTest, UnknownOptionIsLoggedNotFatal) {
  ChildResult r = RunInChild([] {
    ASSERT_EQ(lkl_init(&lkl_host_ops), 0);
    ASSERT_EQ(lkl_start_kernel("mem=32M loglevel=8 lkl_no_such_option"), 0);
    EXPECT_GT(lkl_sys_getpid(), 0);
    EXPECT_EQ(lkl_sys_halt(), 0);
    lkl_cleanup();
  });
  EXPECT_CHILD_OK(r);
  EXPECT_TRUE(Contains(r.output, "Unknown kernel command line parameters")) << r.output;
  EXPECT_TRUE(Contains(r.output, "lkl_no_such_option")) << r.output;
}

// The command line is printf-style.
TEST(BadInputTest, FormattedCommandLine) {
  ChildResult r = RunInChild([] {
    ASSERT_EQ(lkl_init(&lkl_host_ops), 0);
    ASSERT_EQ(lkl_start_kernel("mem=%dM loglevel=%d", 48, 4), 0);
    ASSERT_LKL_OK(MkdirMount("proc", "/proc", "proc"));
    std::string cmdline = ReadFile("/proc/cmdline");
    EXPECT_TRUE(Contains(cmdline, "mem=48M")) << cmdline;
    EXPECT_TRUE(Contains(cmdline, "loglevel=4")) << cmdline;
    EXPECT_EQ(lkl_sys_halt(), 0);
    lkl_cleanup();
  });
  EXPECT_CHILD_OK(r);
}

}  // namespace
