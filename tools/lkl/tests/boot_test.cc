// SPDX-License-Identifier: GPL-2.0
//
// Boot with a command line, check that it took effect, halt cleanly, and
// check the entry points' behaviour once the kernel is gone. One boot per
// process, so the whole life cycle is one test.
#include "test_util.hpp"

namespace {

using namespace lkl_test;

TEST(BootTest, BootWithCommandLineAndHaltCleanly) {
  Watchdog watchdog(120s, "boot, syscalls and halt");

  ASSERT_EQ(lkl_is_running(), 0) << "running before any boot";

  lkl::Kernel kernel("mem=64M loglevel=4");
  ASSERT_NE(lkl_is_running(), 0);

  EXPECT_GT(lkl_sys_getpid(), 0);

  // The command line reached the kernel unchanged...
  ASSERT_LKL_OK(MkdirMount("proc", "/proc", "proc"));
  long err = 0;
  std::string cmdline = ReadFile("/proc/cmdline", &err);
  EXPECT_LKL_OK(err);
  EXPECT_NE(cmdline.find("mem=64M"), std::string::npos) << cmdline;
  EXPECT_NE(cmdline.find("loglevel=4"), std::string::npos) << cmdline;

  // ... and was obeyed: RAM is at most 64 MiB (the kernel keeps some).
  struct lkl_sysinfo si;
  std::memset(&si, 0, sizeof(si));
  ASSERT_LKL_OK(lkl_sys_sysinfo(&si));
  unsigned long long unit = si.mem_unit ? si.mem_unit : 1;
  unsigned long long total = si.totalram * unit;
  EXPECT_LE(total, 64ULL << 20);
  EXPECT_GE(total, 32ULL << 20);
  EXPECT_GT(si.freeram * unit, 0ULL);
  EXPECT_LE(si.freeram * unit, total);

  auto start = Clock::now();
  EXPECT_EQ(kernel.halt(), 0);
  EXPECT_LT(Clock::now() - start, 30s) << "halt took too long";
  EXPECT_EQ(lkl_is_running(), 0);

  // After halt every entry point refuses cleanly instead of crashing.
  EXPECT_LKL_ERR(lkl_sys_getpid(), LKL_ENODEV);
  long params[6] = {};
  EXPECT_LKL_ERR(lkl_syscall(__lkl__NR_getpid, params), LKL_ENODEV);
  struct lkl_new_utsname uts;
  EXPECT_LKL_ERR(lkl_sys_uname(&uts), LKL_ENODEV);
  EXPECT_LKL_ERR(lkl_sys_halt(), LKL_ENODEV) << "second halt must report not running";
  EXPECT_LKL_ERR(kernel.halt(), LKL_ENODEV);
  EXPECT_EQ(lkl_is_running(), 0);

  // Other host threads are refused too (no shadow task to wake).
  long from_thread = 0;
  std::thread t([&] { from_thread = lkl_sys_getpid(); });
  t.join();
  EXPECT_LKL_ERR(from_thread, LKL_ENODEV);
  // ~Kernel must cope with an already halted kernel.
}

}  // namespace
