// SPDX-License-Identifier: GPL-2.0
//
// The kernel's own tests, run inside the library: the KUnit suites of arch/lkl (lkl_*) run while
// it boots, and their KTAP results are read back from the console: the stack walker and direct
// syscalls with the scheduler hook (host threads that block in a borrowed task and are resumed).
// Also symbolised kernel stack traces (CONFIG_KALLSYMS, frame-pointer walker of arch/lkl):
// /proc/<pid>/stack of the calling thread's own task and of parked kernel threads, and dump_stack()
// output.
#include "test_util.hpp"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

using namespace lkl_test;

// The kernel runs the KUnit suites of arch/lkl (lkl_*, arch/lkl/kernel/*_kunit.c) while it boots;
// its console goes to a file so that the tests below can read the results.
class StackEnvironment : public KernelEnvironment {
 public:
  StackEnvironment()
      : KernelEnvironment("mem=64M loglevel=7 kunit.enable=1 kunit.filter_glob=lkl_*") {}

  static std::string console_path;

  void SetUp() override {
    char path[] = "/tmp/lkl-kunit-console-XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    close(fd);
    console_path = path;
    // Read once, at the kernel's first message.
    setenv("LKL_CONSOLE", path, 1);
    KernelEnvironment::SetUp();
    if (::testing::Test::HasFatalFailure()) return;
    ASSERT_LKL_OK(lkl_mount_fs("proc"));
  }

  void TearDown() override {
    KernelEnvironment::TearDown();
    if (!console_path.empty()) unlink(console_path.c_str());
  }
};

std::string StackEnvironment::console_path;

[[maybe_unused]] const auto *const kEnv = ::testing::AddGlobalTestEnvironment(new StackEnvironment);

std::string Console() {
  std::ifstream in(StackEnvironment::console_path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool IsHex(const std::string &s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The function name of one /proc/<pid>/stack line, "[<0>] name+0x1a/0x40"; empty if the line
// has another form (an address without a name, for one).
std::string FrameName(const std::string &line) {
  const size_t close = line.find(">] ");
  if (line.compare(0, 2, "[<") != 0 || close == std::string::npos ||
      !IsHex(line.substr(2, close - 2)))
    return {};
  const std::string sym = line.substr(close + 3);
  const size_t plus = sym.find("+0x"), slash = sym.find("/0x");
  if (plus == 0 || plus == std::string::npos || slash == std::string::npos || slash < plus ||
      !IsHex(sym.substr(plus + 3, slash - plus - 3)) || !IsHex(sym.substr(slash + 3)))
    return {};
  const std::string name = sym.substr(0, plus);
  const bool ident = name.find_first_not_of(
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789_.") == std::string::npos;
  return ident && !std::isdigit(static_cast<unsigned char>(name[0])) ? name : std::string();
}

std::vector<std::string> Frames(const std::string &text) {
  std::vector<std::string> names;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) names.push_back(FrameName(line));
  return names;
}

bool Contains(const std::vector<std::string> &names, const std::string &name) {
  for (const auto &n : names)
    if (n == name) return true;
  return false;
}

TEST(StackTraceTest, OwnTaskShowsTheReadPath) {
  long err = 0;
  // thread-self: this host thread's shadow task (self would be pid 1, the process).
  const std::string text = ReadFile("/proc/thread-self/stack", &err);
  ASSERT_FALSE(text.empty()) << DescribeRet(err);
  std::printf("/proc/thread-self/stack of a host thread's task:\n%s", text.c_str());
  const auto names = Frames(text);
  ASSERT_GE(names.size(), 3U) << text;
  for (const auto &n : names) EXPECT_FALSE(n.empty()) << "unsymbolised frame in:\n" << text;
  // The trace is taken inside this very read().
  EXPECT_TRUE(Contains(names, "proc_pid_stack")) << text;
  EXPECT_TRUE(Contains(names, "vfs_read")) << text;
}

TEST(StackTraceTest, ParkedKernelThreadShowsWhereItSleeps) {
  // kthreadd (pid 2) sleeps in its loop until someone asks for a kernel thread. The trace
  // leaves out the scheduler's own functions, so it starts at the caller of schedule().
  long err = 0;
  const std::string text = ReadFile("/proc/2/stack", &err);
  ASSERT_FALSE(text.empty()) << DescribeRet(err);
  std::printf("/proc/2/stack (kthreadd):\n%s", text.c_str());
  const auto names = Frames(text);
  ASSERT_GE(names.size(), 2U) << text;
  for (const auto &n : names) EXPECT_FALSE(n.empty()) << "unsymbolised frame in:\n" << text;
  EXPECT_EQ(names[0], "kthreadd") << text;
}

// Whether a console line reports KTAP "ok <n> <name>" (timestamp and indentation before it).
bool KtapOk(const std::string &console, const std::string &name) {
  std::istringstream lines(console);
  std::string line;
  while (std::getline(lines, line)) {
    const size_t at = line.find(" ok ");
    if (at == std::string::npos || line.find("not ok") != std::string::npos) continue;
    const size_t num = at + 4, end = line.find(' ', num);
    if (end == std::string::npos || end == num) continue;
    if (line.substr(num, end - num).find_first_not_of("0123456789") != std::string::npos) continue;
    if (line.substr(end + 1) == name) return true;
  }
  return false;
}

// Every suite and case of arch/lkl ran at boot and passed: KTAP "ok", no "not ok".
TEST(KunitTest, ArchSuitesPassedAtBoot) {
  const std::string console = Console();
  for (const char *name :
       {"lkl_stacktrace_current", "lkl_stacktrace_parked_task", "lkl_stacktrace_dump",
        "lkl_stacktrace", "lkl_direct_borrow", "lkl_direct_block_resume",
        "lkl_direct_no_lost_wakeup", "lkl_direct_wakeup_order", "lkl_direct_yield",
        "lkl_direct_signal_pending", "lkl_direct_signal_parked", "lkl_direct"})
    EXPECT_TRUE(KtapOk(console, name)) << name << " missing or failed; console:\n" << console;
  EXPECT_EQ(console.find("not ok"), std::string::npos) << console;
}

// dump_stack() from the suite printed "Call Trace:" and, below it, the calling function by name.
TEST(StackTraceTest, DumpStackNamesItsCaller) {
  const std::string console = Console();
  const size_t trace = console.find("Call Trace:");
  ASSERT_NE(trace, std::string::npos) << console;
  const size_t caller = console.find(" lkl_stacktrace_dump+0x", trace);
  EXPECT_NE(caller, std::string::npos) << console.substr(trace, 2000);
  if (caller != std::string::npos)
    std::printf("dump_stack() output:\n%s\n", console.substr(trace, caller - trace + 60).c_str());
}

}  // namespace
