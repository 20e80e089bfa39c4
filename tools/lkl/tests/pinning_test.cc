// SPDX-License-Identifier: GPL-2.0
//
// Pinning the kernel's host threads to one host CPU: lkl.pin_cpu= at boot and
// lkl_pin_kernel_threads() at run time. The kernel's threads are the ones named
// lkl-*; every other thread of the process must keep its affinity. A process
// boots at most once and each case needs its own command line, so every case
// runs in a forked child (RunInChild); this parent never boots.
#include "test_util.hpp"

#include <dirent.h>
#include <sched.h>

#include <climits>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

namespace {

using namespace lkl_test;

bool Contains(const std::string &haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// The CPUs this process may use, lowest first.
std::vector<int> AllowedCpus() {
  cpu_set_t set;
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  return cpus;
}

// A CPU number the process may not use (there are never CPU_SETSIZE CPUs here).
int ForbiddenCpu() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return -1;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
    if (!CPU_ISSET(cpu, &set)) return cpu;
  return -1;
}

std::string ReadHostFile(const std::string &path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// "Cpus_allowed_list:" of one thread of this process, e.g. "0-1"; empty if it is gone.
std::string CpusAllowed(long tid) {
  std::istringstream status(ReadHostFile("/proc/self/task/" + std::to_string(tid) + "/status"));
  const std::string key = "Cpus_allowed_list:";
  std::string line;
  while (std::getline(status, line)) {
    if (line.compare(0, key.size(), key) != 0) continue;
    const size_t start = line.find_first_not_of(" \t", key.size());
    return start == std::string::npos ? std::string() : line.substr(start);
  }
  return {};
}

long Gettid() { return static_cast<long>(syscall(SYS_gettid)); }

struct HostThread {
  std::string name;
  std::string cpus;
};

// Every thread of this process by tid, with its name and allowed CPUs.
std::map<long, HostThread> Threads() {
  std::map<long, HostThread> threads;
  DIR *dir = opendir("/proc/self/task");
  if (!dir) return threads;
  // A process of this test has a few dozen threads; the bound only guards the loop.
  for (int i = 0; i < 4096; i++) {
    const dirent *entry = readdir(dir);
    if (!entry) break;
    if (entry->d_name[0] == '.') continue;
    const long tid = std::strtol(entry->d_name, nullptr, 10);
    std::string name = ReadHostFile("/proc/self/task/" + std::to_string(tid) + "/comm");
    if (!name.empty() && name.back() == '\n') name.pop_back();
    std::string cpus = CpusAllowed(tid);
    if (!name.empty() && !cpus.empty()) threads[tid] = {name, cpus};
  }
  closedir(dir);
  return threads;
}

bool IsKernelThread(const HostThread &t) { return t.name.compare(0, 4, "lkl-") == 0; }

std::map<long, HostThread> KernelThreads() {
  std::map<long, HostThread> threads = Threads();
  std::erase_if(threads, [](const auto &entry) { return !IsKernelThread(entry.second); });
  return threads;
}

std::string Describe(const std::map<long, HostThread> &threads) {
  std::string s;
  for (const auto &[tid, t] : threads)
    s += "  " + std::to_string(tid) + " " + t.name + " cpus " + t.cpus + "\n";
  return s;
}

// Every kernel thread (at least the boot/idle carrier, kthread carriers and the timer) runs on
// @cpus; every other thread of the process still has @app_cpus.
void ExpectKernelThreadsOn(const std::string &cpus, const std::string &app_cpus) {
  const std::map<long, HostThread> threads = Threads();
  int kernel = 0, timers = 0;
  for (const auto &[tid, t] : threads) {
    if (IsKernelThread(t)) {
      kernel++;
      timers += t.name == "lkl-timer";
      EXPECT_EQ(t.cpus, cpus) << "kernel thread " << tid << " " << t.name;
    } else {
      EXPECT_EQ(t.cpus, app_cpus) << "application thread " << tid << " " << t.name;
    }
  }
  EXPECT_GE(kernel, 3) << Describe(threads);
  EXPECT_GE(timers, 1) << Describe(threads);
}

// A new host thread's first syscall makes a shadow task, with a new kernel thread to carry it:
// returns the kernel threads that appeared, seen while the new thread still lives, and checks
// that the new thread itself kept @app_cpus.
std::map<long, HostThread> KernelThreadsOfNewCaller(const std::string &app_cpus) {
  const std::map<long, HostThread> before = KernelThreads();
  std::map<long, HostThread> added;
  std::thread caller([&] {
    EXPECT_GT(lkl_sys_getpid(), 0);
    EXPECT_EQ(CpusAllowed(Gettid()), app_cpus) << "the calling thread was pinned";
    for (const auto &[tid, t] : KernelThreads())
      if (!before.contains(tid)) added[tid] = t;
  });
  caller.join();
  return added;
}

// The main cases: pin at boot, threads made later, re-pin, bad values, undo.
TEST(PinningTest, KernelThreadsOnlyNowAndLater) {
  ChildResult r = RunInChild([] {
    Watchdog watchdog(120s, "pinning");
    const std::vector<int> allowed = AllowedCpus();
    ASSERT_FALSE(allowed.empty());
    const std::string app_cpus = CpusAllowed(Gettid());
    ASSERT_FALSE(app_cpus.empty());
    const int first = allowed.front(), last = allowed.back();

    // An application thread that exists before boot.
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::thread bystander([&] {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, 100s, [&] { return done; });
    });

    lkl::Kernel kernel("mem=64M loglevel=4 lkl.pin_cpu=" + std::to_string(first));
    ExpectKernelThreadsOn(std::to_string(first), app_cpus);

    std::map<long, HostThread> added = KernelThreadsOfNewCaller(app_cpus);
    EXPECT_FALSE(added.empty()) << "no kernel thread for the new caller's shadow task";
    for (const auto &[tid, t] : added)
      EXPECT_EQ(t.cpus, std::to_string(first)) << "later thread " << tid << " " << t.name;

    // Re-pinned while running: auto is the highest-numbered allowed CPU.
    EXPECT_EQ(lkl_pin_kernel_threads(LKL_PIN_AUTO), last);
    ExpectKernelThreadsOn(std::to_string(last), app_cpus);

    // Bad values change nothing.
    EXPECT_LKL_ERR(lkl_pin_kernel_threads(-3), LKL_EINVAL);
    EXPECT_LKL_ERR(lkl_pin_kernel_threads(INT_MIN), LKL_EINVAL);
    EXPECT_LKL_ERR(lkl_pin_kernel_threads(INT_MAX), LKL_EINVAL);
    EXPECT_LKL_ERR(lkl_pin_kernel_threads(CPU_SETSIZE), LKL_EINVAL);
    const int forbidden = ForbiddenCpu();
    if (forbidden >= 0) {
      EXPECT_LKL_ERR(lkl_pin_kernel_threads(forbidden), LKL_EINVAL);
    }
    ExpectKernelThreadsOn(std::to_string(last), app_cpus);

    // Undone: every kernel thread has the process's mask again, and so do later ones.
    EXPECT_EQ(lkl_pin_kernel_threads(LKL_PIN_OFF), 0);
    ExpectKernelThreadsOn(app_cpus, app_cpus);
    added = KernelThreadsOfNewCaller(app_cpus);
    EXPECT_FALSE(added.empty());
    for (const auto &[tid, t] : added)
      EXPECT_EQ(t.cpus, app_cpus) << "later thread " << tid << " " << t.name;

    // Twice off is harmless; an explicit CPU works as well as auto.
    EXPECT_EQ(lkl_pin_kernel_threads(LKL_PIN_OFF), 0);
    EXPECT_EQ(lkl_pin_kernel_threads(first), first);
    ExpectKernelThreadsOn(std::to_string(first), app_cpus);

    EXPECT_EQ(kernel.halt(), 0);
    {
      std::lock_guard<std::mutex> lock(mu);
      done = true;
    }
    cv.notify_all();
    bystander.join();
  });
  EXPECT_CHILD_OK(r);
}

// Sends the kernel's console (read once, at its first message) to a new temporary file; returns
// its path, empty on error.
std::string ConsoleToFile() {
  char path[] = "/tmp/lkl-pin-console-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return {};
  close(fd);
  setenv("LKL_CONSOLE", path, 1);
  return path;
}

// Boots with @option (lkl.pin_cpu=... or nothing) and the console in a file; checks where the
// kernel threads run (@expect_cpus, empty: the process's own mask) and that the console has
// @message, if any.
ChildResult BootWith(const std::string &option, const std::string &expect_cpus,
                     const std::string &message) {
  return RunInChild([&] {
    Watchdog watchdog(60s, "boot with \"" + option + "\"");
    const std::string path = ConsoleToFile();
    ASSERT_FALSE(path.empty()) << std::strerror(errno);
    const std::string app_cpus = CpusAllowed(Gettid());
    {
      lkl::Kernel kernel("mem=64M loglevel=4 " + option);
      EXPECT_GT(lkl_sys_getpid(), 0);
      ExpectKernelThreadsOn(expect_cpus.empty() ? app_cpus : expect_cpus, app_cpus);
      EXPECT_EQ(kernel.halt(), 0);
    }
    const std::string console = ReadHostFile(path);
    unlink(path.c_str());
    if (!message.empty()) {
      EXPECT_TRUE(Contains(console, message)) << console;
    }
  });
}

TEST(PinningTest, BootParameterValues) {
  const std::vector<int> allowed = AllowedCpus();
  ASSERT_FALSE(allowed.empty());
  const std::string last = std::to_string(allowed.back());
  EXPECT_CHILD_OK(BootWith("lkl.pin_cpu=auto", last, ""));
  EXPECT_CHILD_OK(BootWith("lkl.pin_cpu=" + last, last, ""));
  EXPECT_CHILD_OK(BootWith("lkl.pin_cpu=off", "", ""));
}

// The default, chosen by measurement (Documentation/arch/lkl/architecture.rst), is off.
TEST(PinningTest, DefaultIsOff) { EXPECT_CHILD_OK(BootWith("", "", "")); }

// What the application chose before boot stands when the command line does not say.
TEST(PinningTest, ChoiceBeforeBootStands) {
  const std::vector<int> allowed = AllowedCpus();
  ASSERT_FALSE(allowed.empty());
  for (const int cpu : {LKL_PIN_OFF, allowed.front()}) {
    ChildResult r = RunInChild([cpu] {
      Watchdog watchdog(60s, "pin before boot");
      const std::string app_cpus = CpusAllowed(Gettid());
      ASSERT_EQ(lkl_init(&lkl_host_ops), 0);
      EXPECT_EQ(lkl_pin_kernel_threads(cpu), cpu < 0 ? 0 : cpu);
      ASSERT_EQ(lkl_start_kernel("mem=64M loglevel=4"), 0);
      ExpectKernelThreadsOn(cpu < 0 ? app_cpus : std::to_string(cpu), app_cpus);
      EXPECT_EQ(lkl_sys_halt(), 0);
      lkl_cleanup();
    });
    EXPECT_CHILD_OK(r) << "pinned to " << cpu << " before boot";
  }
}

// A bad value is named on the console and the kernel boots unpinned.
TEST(PinningTest, BadBootParameterBootsUnpinned) {
  const std::string expected = ": expected off, auto or a host CPU";
  EXPECT_CHILD_OK(BootWith("lkl.pin_cpu=bogus", "", "lkl.pin_cpu=bogus" + expected));
  EXPECT_CHILD_OK(BootWith("lkl.pin_cpu=-1", "", "lkl.pin_cpu=-1" + expected));
  EXPECT_CHILD_OK(BootWith("lkl.pin_cpu=", "", "lkl.pin_cpu=" + expected));
  const int forbidden = ForbiddenCpu();
  if (forbidden >= 0) {
    const std::string value = std::to_string(forbidden);
    EXPECT_CHILD_OK(BootWith("lkl.pin_cpu=" + value, "",
                             "lkl.pin_cpu=" + value + ": not a host CPU this process may use"));
  }
}

// Host operations without pin_kernel_threads: -EOPNOTSUPP with one notice; the boot parameter is
// reported and ignored.
TEST(PinningTest, HostWithoutPinning) {
  ChildResult r = RunInChild([] {
    Watchdog watchdog(60s, "boot without pinning");
    EXPECT_LKL_ERR(lkl_pin_kernel_threads(0), LKL_EINVAL) << "before lkl_init()";

    const std::string path = ConsoleToFile();
    ASSERT_FALSE(path.empty()) << std::strerror(errno);
    const std::string app_cpus = CpusAllowed(Gettid());
    static lkl_host_operations ops = lkl_host_ops;
    ops.pin_kernel_threads = nullptr;
    ASSERT_EQ(lkl_init(&ops), 0);
    EXPECT_LKL_ERR(lkl_pin_kernel_threads(0), LKL_EOPNOTSUPP);
    EXPECT_LKL_ERR(lkl_pin_kernel_threads(LKL_PIN_OFF), LKL_EOPNOTSUPP);
    ASSERT_EQ(lkl_start_kernel("mem=64M loglevel=4 lkl.pin_cpu=auto"), 0);
    ExpectKernelThreadsOn(app_cpus, app_cpus);
    EXPECT_EQ(lkl_sys_halt(), 0);
    lkl_cleanup();

    const std::string console = ReadHostFile(path);
    unlink(path.c_str());
    const std::string notice = "lkl: the host operations cannot pin threads";
    const size_t at = console.find(notice);
    EXPECT_NE(at, std::string::npos) << console;
    if (at != std::string::npos) {
      EXPECT_EQ(console.find(notice, at + 1), std::string::npos) << "notice twice:\n" << console;
    }
    EXPECT_TRUE(Contains(console, "lkl.pin_cpu=auto: the host operations cannot pin threads"))
        << console;
  });
  EXPECT_CHILD_OK(r);
}

}  // namespace
