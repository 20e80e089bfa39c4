// SPDX-License-Identifier: GPL-2.0
//
// Helpers shared by the GoogleTest suites: assertions on syscall results,
// a booted kernel per test binary, watchdogs, and fork-isolated runs for
// cases that need a fresh (never booted) process.
#ifndef LKL_TESTS_TEST_UTIL_HPP
#define LKL_TESTS_TEST_UTIL_HPP

#include <lkl.h>
#include <lkl_host.h>
#include <lkl/kernel.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace lkl_test {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// "-2 (No such file or directory)" for failure messages.
inline std::string DescribeRet(long ret) {
  std::string s = std::to_string(ret);
  if (ret < 0) {
    const char *msg = lkl_strerror(static_cast<int>(-ret));
    s += " (";
    s += msg ? msg : "?";
    s += ")";
  }
  return s;
}

inline ::testing::AssertionResult SyscallOk(const char *expr, long ret) {
  if (ret >= 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << expr << " failed: " << DescribeRet(ret);
}

inline ::testing::AssertionResult SyscallFailsWith(const char *expr, const char *err_expr, long ret,
                                                   long err) {
  if (ret == -err) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << expr << " returned " << DescribeRet(ret) << ", expected -"
                                       << err_expr << " (" << DescribeRet(-err) << ")";
}

#define EXPECT_LKL_OK(expr) EXPECT_PRED_FORMAT1(::lkl_test::SyscallOk, (expr))
#define ASSERT_LKL_OK(expr) ASSERT_PRED_FORMAT1(::lkl_test::SyscallOk, (expr))
#define EXPECT_LKL_ERR(expr, err) EXPECT_PRED_FORMAT2(::lkl_test::SyscallFailsWith, (expr), (err))
#define ASSERT_LKL_ERR(expr, err) ASSERT_PRED_FORMAT2(::lkl_test::SyscallFailsWith, (expr), (err))

// Boots one kernel for the whole test binary (kernel state is static, so a
// process boots at most once) and halts it after the last test.
class KernelEnvironment : public ::testing::Environment {
 public:
  explicit KernelEnvironment(std::string cmdline) : cmdline_(std::move(cmdline)) {}

  // GoogleTest does not catch exceptions from environments: report a failed
  // boot as a fatal failure, which skips every test of the binary.
  void SetUp() override {
    try {
      kernel_ = std::make_unique<lkl::Kernel>(cmdline_);
    } catch (const std::exception &e) {
      FAIL() << "boot with \"" << cmdline_ << "\" failed: " << e.what();
    }
    ASSERT_NE(lkl_is_running(), 0);
  }

  void TearDown() override {
    if (!kernel_) return;
    EXPECT_EQ(kernel_->halt(), 0);
    EXPECT_EQ(lkl_is_running(), 0);
    kernel_.reset();
  }

 private:
  std::string cmdline_;
  std::unique_ptr<lkl::Kernel> kernel_;
};

// Aborts the process with a message if not destroyed within @limit: a hung
// syscall must fail the run, not stall it.
class Watchdog {
 public:
  Watchdog(std::chrono::seconds limit, std::string what)
      : what_(std::move(what)), thread_([this, limit] { Run(limit); }) {}

  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  Watchdog(const Watchdog &) = delete;
  Watchdog &operator=(const Watchdog &) = delete;

 private:
  void Run(std::chrono::seconds limit) {
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, limit, [this] { return done_; })) return;
    std::fprintf(stderr, "WATCHDOG: '%s' did not finish within %lld s, aborting\n", what_.c_str(),
                 static_cast<long long>(limit.count()));
    std::fflush(stderr);
    std::abort();
  }

  std::string what_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

struct ChildResult {
  bool exited = false;  // exited normally (see exit_code)
  int exit_code = -1;
  int signal = 0;  // killed by this signal
  bool timed_out = false;
  std::string output;  // stdout + stderr of the child
};

inline std::string Describe(const ChildResult &r) {
  std::string s;
  if (r.timed_out)
    s = "child timed out (killed)";
  else if (r.exited)
    s = "child exited with " + std::to_string(r.exit_code);
  else
    s = "child killed by signal " + std::to_string(r.signal) + " (" + strsignal(r.signal) + ")";
  return s + "; its output:\n" + r.output;
}

// Runs @body in a forked child, a fresh process that can boot its own
// kernel. GoogleTest assertions work inside @body: the child prints them
// (captured in output) and exits 1 if any failed. Call only from a process
// that has not booted a kernel.
inline ChildResult RunInChild(const std::function<void()> &body, std::chrono::seconds limit = 60s) {
  ChildResult r;
  int fds[2];

  if (pipe2(fds, O_CLOEXEC) != 0) {
    r.output = "pipe2 failed";
    return r;
  }
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    r.output = "fork failed";
    return r;
  }
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    setvbuf(stdout, nullptr, _IONBF, 0);
    body();
    std::fflush(nullptr);
    _exit(::testing::Test::HasFailure() ? 1 : 0);
  }
  close(fds[1]);

  const auto deadline = Clock::now() + limit;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms) {
      r.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    struct pollfd pfd = {fds[0], POLLIN, 0};
    int n = poll(&pfd, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    char buf[4096];
    ssize_t got = read(fds[0], buf, sizeof(buf));
    if (got <= 0) break;
    r.output.append(buf, static_cast<size_t>(got));
  }
  close(fds[0]);

  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (WIFEXITED(status)) {
    r.exited = true;
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
  }
  return r;
}

#define EXPECT_CHILD_OK(result)                                                  \
  EXPECT_TRUE((result).exited && (result).exit_code == 0 && !(result).timed_out) \
      << ::lkl_test::Describe(result)

// mkdir (tolerating an existing directory) + mount.
inline long MkdirMount(const char *source, const char *target, const char *fstype,
                       const char *data = nullptr) {
  long ret = lkl_sys_mkdirat(LKL_AT_FDCWD, target, 0755);
  if (ret < 0 && ret != -LKL_EEXIST) return ret;
  return lkl_sys_mount(const_cast<char *>(source), const_cast<char *>(target),
                       const_cast<char *>(fstype), 0, const_cast<char *>(data));
}

// Reads a whole (small) file of a pseudo filesystem; empty on error.
inline std::string ReadFile(const char *path, long *err = nullptr) {
  std::string out;
  long fd = lkl_sys_openat(LKL_AT_FDCWD, path, LKL_O_RDONLY, 0);
  if (fd < 0) {
    if (err) *err = fd;
    return out;
  }
  char buf[4096];
  for (int i = 0; i < 1024; i++) {
    long n = lkl_sys_read(static_cast<unsigned int>(fd), buf, sizeof(buf));
    if (n <= 0) {
      if (err) *err = n;
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  lkl_sys_close(static_cast<unsigned int>(fd));
  return out;
}

// Writes all of @len bytes unless an error occurs; returns bytes written or
// the negative errno of the failing call.
inline long WriteAll(int fd, const void *data, size_t len) {
  const char *p = static_cast<const char *>(data);
  size_t done = 0;

  while (done < len) {
    long n = lkl_sys_write(static_cast<unsigned int>(fd), const_cast<char *>(p + done), len - done);
    if (n < 0) return n;
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return static_cast<long>(done);
}

// Reads exactly @len bytes unless EOF or an error comes first.
inline long ReadFull(int fd, void *data, size_t len) {
  char *p = static_cast<char *>(data);
  size_t done = 0;

  while (done < len) {
    long n = lkl_sys_read(static_cast<unsigned int>(fd), p + done, len - done);
    if (n < 0) return n;
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return static_cast<long>(done);
}

// Sets IFF_UP on "lo" with the raw ioctls (no helper library needed).
inline long LoopbackUp() {
  long sock = lkl_sys_socket(LKL_AF_INET, LKL_SOCK_DGRAM, 0);
  if (sock < 0) return sock;

  struct lkl_ifreq ifr;
  std::memset(&ifr, 0, sizeof(ifr));
  std::strncpy(ifr.ifr_ifrn.ifrn_name, "lo", sizeof(ifr.ifr_ifrn.ifrn_name) - 1);
  long ret = lkl_sys_ioctl(static_cast<unsigned int>(sock), LKL_SIOCGIFFLAGS,
                           reinterpret_cast<unsigned long>(&ifr));
  if (ret >= 0) {
    ifr.ifr_ifru.ifru_flags |= LKL_IFF_UP;
    ret = lkl_sys_ioctl(static_cast<unsigned int>(sock), LKL_SIOCSIFFLAGS,
                        reinterpret_cast<unsigned long>(&ifr));
  }
  lkl_sys_close(static_cast<unsigned int>(sock));
  return ret;
}

inline struct lkl_sockaddr_in LoopbackAddr(uint16_t port) {
  struct lkl_sockaddr_in sin;
  std::memset(&sin, 0, sizeof(sin));
  sin.sin_family = LKL_AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(LKL_INADDR_LOOPBACK);
  return sin;
}

inline struct lkl_sockaddr *SockAddr(struct lkl_sockaddr_in *sin) {
  return reinterpret_cast<struct lkl_sockaddr *>(sin);
}

// Deterministic byte stream (xorshift64*), identical on both ends.
class ByteStream {
 public:
  explicit ByteStream(uint64_t seed) : state_(seed ? seed : 1) {}

  void Fill(unsigned char *buf, size_t len) {
    for (size_t i = 0; i < len; i += 8) {
      uint64_t v = Next();
      size_t n = len - i < 8 ? len - i : 8;
      std::memcpy(buf + i, &v, n);
    }
  }

 private:
  uint64_t Next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1DULL;
  }

  uint64_t state_;
};

// Order-sensitive 64-bit checksum (FNV-1a) over a byte stream.
class Checksum {
 public:
  void Update(const unsigned char *buf, size_t len) {
    for (size_t i = 0; i < len; i++) {
      hash_ ^= buf[i];
      hash_ *= 0x100000001b3ULL;
    }
  }

  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = 0xcbf29ce484222325ULL;
};

}  // namespace lkl_test

#endif  // LKL_TESTS_TEST_UTIL_HPP
