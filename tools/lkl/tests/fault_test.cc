// SPDX-License-Identifier: GPL-2.0
//
// Bad user pointers. There is no MMU: user and kernel share the host address
// space and the kernel cannot tell a wild pointer from a valid one, so a
// random bad pointer (or a huge length with a small buffer) is undefined
// behaviour exactly as in any library. What the kernel can and must catch is
// NULL and the lowest page, which no valid buffer overlaps: those give
// -EFAULT. Each case runs in its own child (a regression here is a host
// SIGSEGV, which must fail one case, not the whole binary).
#include "test_util.hpp"

namespace {

using namespace lkl_test;

// Boots a small kernel in a fresh child, runs @body, halts.
void InBootedChild(const std::function<void()> &body) {
  ChildResult r = RunInChild([&body] {
    ASSERT_EQ(lkl_init(&lkl_host_ops), 0);
    ASSERT_EQ(lkl_start_kernel("mem=32M loglevel=4"), 0);
    body();
    EXPECT_EQ(lkl_sys_halt(), 0);
    lkl_cleanup();
  });
  EXPECT_CHILD_OK(r);
}

char *LowPage() { return reinterpret_cast<char *>(16); }

TEST(FaultTest, WriteFromNullOrLowPage) {
  InBootedChild([] {
    int fds[2];
    ASSERT_LKL_OK(lkl_sys_pipe2(fds, 0));
    EXPECT_LKL_ERR(lkl_sys_write(fds[1], nullptr, 100), LKL_EFAULT);
    EXPECT_LKL_ERR(lkl_sys_write(fds[1], LowPage(), 100), LKL_EFAULT);
    // Nothing was queued by the failed writes.
    char c = 'x';
    ASSERT_EQ(lkl_sys_write(fds[1], &c, 1), 1);
    char buf[8] = {};
    EXPECT_EQ(lkl_sys_read(fds[0], buf, sizeof(buf)), 1);
    EXPECT_EQ(buf[0], 'x');
  });
}

TEST(FaultTest, ReadIntoNullKeepsData) {
  InBootedChild([] {
    int fds[2];
    ASSERT_LKL_OK(lkl_sys_pipe2(fds, 0));
    char msg[] = "payload";
    ASSERT_EQ(lkl_sys_write(fds[1], msg, sizeof(msg)), static_cast<long>(sizeof(msg)));
    EXPECT_LKL_ERR(lkl_sys_read(fds[0], nullptr, 100), LKL_EFAULT);
    EXPECT_LKL_ERR(lkl_sys_read(fds[0], LowPage(), 100), LKL_EFAULT);
    char buf[sizeof(msg)] = {};
    EXPECT_EQ(lkl_sys_read(fds[0], buf, sizeof(buf)), static_cast<long>(sizeof(msg)));
    EXPECT_STREQ(buf, msg);
  });
}

// A length that runs past the end of the user half is caught whatever the
// buffer (a merely too long one is not: see the top of this file).
TEST(FaultTest, LengthBeyondUserAddressSpace) {
  InBootedChild([] {
    int fds[2];
    ASSERT_LKL_OK(lkl_sys_pipe2(fds, 0));
    char buf[16] = "0123456789";
    EXPECT_LKL_ERR(lkl_sys_write(fds[1], buf, ~0UL), LKL_EFAULT);
    EXPECT_LKL_ERR(lkl_sys_write(fds[1], buf, 1UL << 60), LKL_EFAULT);
    ASSERT_EQ(lkl_sys_write(fds[1], buf, 4), 4);
    EXPECT_LKL_ERR(lkl_sys_read(fds[0], buf, ~0UL), LKL_EFAULT);
    EXPECT_EQ(lkl_sys_read(fds[0], buf, sizeof(buf)), 4) << "data lost by the failed read";
  });
}

TEST(FaultTest, StructOutputToNull) {
  InBootedChild([] {
    EXPECT_LKL_ERR(lkl_sys_uname(nullptr), LKL_EFAULT);
    EXPECT_LKL_ERR(lkl_sys_clock_gettime(LKL_CLOCK_MONOTONIC, nullptr), LKL_EFAULT);
    EXPECT_LKL_ERR(lkl_sys_pipe2(nullptr, 0), LKL_EFAULT);
    EXPECT_LKL_ERR(lkl_sys_sysinfo(nullptr), LKL_EFAULT);
  });
}

TEST(FaultTest, PathFromNullOrLowPage) {
  InBootedChild([] {
    EXPECT_LKL_ERR(lkl_sys_openat(LKL_AT_FDCWD, nullptr, LKL_O_RDONLY, 0), LKL_EFAULT);
    EXPECT_LKL_ERR(lkl_sys_mkdirat(LKL_AT_FDCWD, LowPage(), 0755), LKL_EFAULT);
  });
}

}  // namespace
