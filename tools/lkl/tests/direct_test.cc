// SPDX-License-Identifier: GPL-2.0
//
// Many host threads that block and wake each other through the library: pipes, AF_UNIX and TCP
// loopback ping-pong, epoll fan-in, sleeps, the syscall mode flipped while calls run, a thread
// with a small stack, host signals during calls, and first calls of new threads while others
// are blocked. run-tests.sh runs this binary (like every other) once per syscall mode
// (LKL_SYSCALL_MODE); the mode switch itself is checked here too.
#include "test_util.hpp"

#include <pthread.h>
#include <signal.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace lkl_test;

class DirectEnvironment : public KernelEnvironment {
 public:
  DirectEnvironment() : KernelEnvironment("mem=128M loglevel=4") {}

  void SetUp() override {
    KernelEnvironment::SetUp();
    if (::testing::Test::HasFatalFailure()) return;
    ASSERT_LKL_OK(LoopbackUp());
    ASSERT_LKL_OK(MkdirMount("sysfs", "/sys", "sysfs"));
  }
};

[[maybe_unused]] const auto *const kEnv =
    ::testing::AddGlobalTestEnvironment(new DirectEnvironment);

// The mode this binary runs in (LKL_SYSCALL_MODE, else the built-in default).
int CurrentMode() {
  const int mode = lkl_set_syscall_mode(LKL_SYSCALL_SHADOW);
  lkl_set_syscall_mode(mode);
  return mode;
}

std::string ModeParam() {
  std::string s = ReadFile("/sys/module/lkl/parameters/syscall");
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

long WriteParam(const char *value) {
  long fd = lkl_sys_openat(LKL_AT_FDCWD, "/sys/module/lkl/parameters/syscall", LKL_O_WRONLY, 0);
  if (fd < 0) return fd;
  long ret =
      lkl_sys_write(static_cast<unsigned int>(fd), const_cast<char *>(value), std::strlen(value));
  lkl_sys_close(static_cast<unsigned int>(fd));
  return ret;
}

// A TCP socket listening on 127.0.0.1 at a free port (its address in @addr), or a negative errno.
long ListenOnLoopback(int backlog, struct lkl_sockaddr_in *addr) {
  const long fd = lkl_sys_socket(LKL_AF_INET, LKL_SOCK_STREAM, 0);
  if (fd < 0) return fd;
  *addr = LoopbackAddr(0);
  int len = sizeof(*addr);
  long ret = lkl_sys_bind(static_cast<int>(fd), SockAddr(addr), sizeof(*addr));
  if (ret == 0) ret = lkl_sys_getsockname(static_cast<int>(fd), SockAddr(addr), &len);
  if (ret == 0) ret = lkl_sys_listen(static_cast<int>(fd), backlog);
  if (ret == 0) return fd;
  lkl_sys_close(static_cast<unsigned int>(fd));
  return ret;
}

// Restores the binary's mode when a test that changes it ends.
class ModeGuard {
 public:
  ModeGuard() : mode_(CurrentMode()) {}
  ~ModeGuard() { lkl_set_syscall_mode(mode_); }
  ModeGuard(const ModeGuard &) = delete;
  ModeGuard &operator=(const ModeGuard &) = delete;

 private:
  int mode_;
};

TEST(SyscallModeTest, ApiAndParameterAgree) {
  ModeGuard guard;
  const char *env = std::getenv("LKL_SYSCALL_MODE");
  if (env && *env) {
    EXPECT_EQ(ModeParam(), env);
  }

  const int before = CurrentMode();
  EXPECT_EQ(lkl_set_syscall_mode(LKL_SYSCALL_DIRECT), before);
  EXPECT_EQ(ModeParam(), "direct");
  EXPECT_EQ(lkl_set_syscall_mode(LKL_SYSCALL_SHADOW), LKL_SYSCALL_DIRECT);
  EXPECT_EQ(ModeParam(), "shadow");

  EXPECT_EQ(WriteParam("direct\n"), 7);
  EXPECT_EQ(lkl_set_syscall_mode(LKL_SYSCALL_SHADOW), LKL_SYSCALL_DIRECT);
  EXPECT_LKL_ERR(WriteParam("fast"), LKL_EINVAL);
  EXPECT_EQ(ModeParam(), "shadow");
  EXPECT_EQ(lkl_set_syscall_mode(7), -LKL_EINVAL);
  EXPECT_EQ(lkl_set_syscall_mode(-1), -LKL_EINVAL);
  EXPECT_EQ(ModeParam(), "shadow");
}

// A token goes round a ring of threads connected by pipes; every hop is a blocking read in
// one thread woken by a write in another.
void PipeRing(int threads, int laps, std::atomic<bool> *stop_flipper = nullptr) {
  std::vector<std::array<int, 2>> pipes(static_cast<size_t>(threads));
  for (auto &p : pipes) ASSERT_LKL_OK(lkl_sys_pipe2(p.data(), 0));
  std::vector<long> hops(static_cast<size_t>(threads), 0);
  std::vector<long> errors(static_cast<size_t>(threads), 0);
  std::vector<std::thread> ring;
  for (int i = 0; i < threads; i++) {
    ring.emplace_back([&, i] {
      const auto in = static_cast<unsigned int>(pipes[static_cast<size_t>(i)][0]);
      const int out = pipes[static_cast<size_t>((i + 1) % threads)][1];
      for (int lap = 0; lap < laps; lap++) {
        char token;
        long n = lkl_sys_read(in, &token, 1);
        if (n != 1) {
          errors[static_cast<size_t>(i)] = n;
          return;
        }
        hops[static_cast<size_t>(i)]++;
        n = WriteAll(out, &token, 1);
        if (n != 1) {
          errors[static_cast<size_t>(i)] = n;
          return;
        }
      }
    });
  }
  char token = 'x';
  EXPECT_EQ(WriteAll(pipes[0][1], &token, 1), 1);
  for (auto &t : ring) t.join();
  if (stop_flipper) stop_flipper->store(true);
  for (int i = 0; i < threads; i++) {
    EXPECT_EQ(errors[static_cast<size_t>(i)], 0) << "thread " << i;
    EXPECT_EQ(hops[static_cast<size_t>(i)], laps) << "thread " << i;
  }
  // The token is back in the first pipe.
  EXPECT_EQ(lkl_sys_read(static_cast<unsigned int>(pipes[0][0]), &token, 1), 1);
  for (auto &p : pipes) {
    lkl_sys_close(static_cast<unsigned int>(p[0]));
    lkl_sys_close(static_cast<unsigned int>(p[1]));
  }
}

TEST(DirectTest, PipeRingOf32Threads) {
  Watchdog watchdog(120s, "pipe ring");
  PipeRing(32, 300);
}

// The mode changes every millisecond while the ring runs: calls in flight finish in their mode.
TEST(DirectTest, ModeFlippedWhileCallsRun) {
  Watchdog watchdog(120s, "pipe ring with mode flips");
  ModeGuard guard;
  std::atomic<bool> stop{false};
  long flips = 0;
  std::thread flipper([&] {
    for (int i = 0; i < 100000 && !stop.load(); i++) {
      lkl_set_syscall_mode(i % 2 ? LKL_SYSCALL_DIRECT : LKL_SYSCALL_SHADOW);
      flips++;
      std::this_thread::sleep_for(1ms);
    }
  });
  PipeRing(8, 500, &stop);
  flipper.join();
  std::printf("mode flipped %ld times during the ring\n", flips);
  EXPECT_GT(flips, 1);
}

// Pairs of threads bounce one byte over AF_UNIX socket pairs.
TEST(DirectTest, UnixPingPong) {
  Watchdog watchdog(120s, "AF_UNIX ping-pong");
  constexpr int kPairs = 8, kRounds = 1000;
  std::vector<std::thread> threads;
  std::vector<long> errors(2 * kPairs, 0);
  std::vector<std::array<int, 2>> socks(kPairs);
  for (auto &s : socks)
    ASSERT_LKL_OK(lkl_sys_socketpair(LKL_AF_UNIX, LKL_SOCK_STREAM, 0, s.data()));
  for (int p = 0; p < kPairs; p++) {
    for (int side = 0; side < 2; side++) {
      threads.emplace_back([&, p, side] {
        const int fd = socks[static_cast<size_t>(p)][static_cast<size_t>(side)];
        long &err = errors[static_cast<size_t>(2 * p + side)];
        char c = 'a';
        for (int r = 0; r < kRounds && !err; r++) {
          if (side == 0 && WriteAll(fd, &c, 1) != 1) err = -1;
          long n = ReadFull(fd, &c, 1);
          if (n != 1) err = n ? n : -2;
          if (side == 1 && !err && WriteAll(fd, &c, 1) != 1) err = -3;
        }
      });
    }
  }
  for (auto &t : threads) t.join();
  for (size_t i = 0; i < errors.size(); i++) EXPECT_EQ(errors[i], 0) << "thread " << i;
  for (auto &s : socks) {
    lkl_sys_close(static_cast<unsigned int>(s[0]));
    lkl_sys_close(static_cast<unsigned int>(s[1]));
  }
}

// Four TCP connections over the library's loopback, each with a client and a server thread.
TEST(DirectTest, TcpLoopbackPingPong) {
  Watchdog watchdog(120s, "TCP loopback ping-pong");
  constexpr int kConns = 4, kRounds = 500;
  struct lkl_sockaddr_in addr;
  const long lsock = ListenOnLoopback(kConns, &addr);
  ASSERT_LKL_OK(lsock);

  std::vector<long> errors(2 * kConns, 0);
  std::vector<std::thread> threads;
  // Servers block in accept() before any client exists.
  for (int c = 0; c < kConns; c++) {
    threads.emplace_back([&, c] {
      long &err = errors[static_cast<size_t>(2 * c)];
      long fd = lkl_sys_accept(static_cast<int>(lsock), nullptr, nullptr);
      if (fd < 0) {
        err = fd;
        return;
      }
      char b;
      for (int r = 0; r < kRounds && !err; r++) {
        long n = ReadFull(static_cast<int>(fd), &b, 1);
        if (n != 1)
          err = n ? n : -2;
        else if (WriteAll(static_cast<int>(fd), &b, 1) != 1)
          err = -3;
      }
      lkl_sys_close(static_cast<unsigned int>(fd));
    });
  }
  for (int c = 0; c < kConns; c++) {
    threads.emplace_back([&, c] {
      long &err = errors[static_cast<size_t>(2 * c + 1)];
      long fd = lkl_sys_socket(LKL_AF_INET, LKL_SOCK_STREAM, 0);
      struct lkl_sockaddr_in to = addr;
      if (fd < 0 || (err = lkl_sys_connect(static_cast<int>(fd), SockAddr(&to), sizeof(to))) < 0) {
        if (fd < 0) err = fd;
        return;
      }
      char b = static_cast<char>(c);
      for (int r = 0; r < kRounds && !err; r++) {
        if (WriteAll(static_cast<int>(fd), &b, 1) != 1)
          err = -3;
        else if (ReadFull(static_cast<int>(fd), &b, 1) != 1)
          err = -2;
        else if (b != static_cast<char>(c))
          err = -4;
      }
      lkl_sys_close(static_cast<unsigned int>(fd));
    });
  }
  for (auto &t : threads) t.join();
  for (size_t i = 0; i < errors.size(); i++) EXPECT_EQ(errors[i], 0) << "thread " << i;
  lkl_sys_close(static_cast<unsigned int>(lsock));
}

// One thread waits in epoll_wait() on eventfds and pipes that eight writer threads signal.
TEST(DirectTest, EpollFanIn) {
  Watchdog watchdog(120s, "epoll fan-in");
  constexpr int kWriters = 8, kWrites = 200;
  long ep = lkl_sys_epoll_create1(0);
  ASSERT_LKL_OK(ep);
  std::vector<int> evfds, pipes_r, pipes_w;
  for (int i = 0; i < kWriters / 2; i++) {
    long fd = lkl_sys_eventfd2(0, 0);
    ASSERT_LKL_OK(fd);
    evfds.push_back(static_cast<int>(fd));
    int p[2];
    ASSERT_LKL_OK(lkl_sys_pipe2(p, LKL_O_NONBLOCK));
    pipes_r.push_back(p[0]);
    pipes_w.push_back(p[1]);
  }
  auto add = [&](int fd) {
    struct lkl_epoll_event ev;
    std::memset(&ev, 0, sizeof(ev));
    ev.events = LKL_EPOLLIN;
    ev.data = static_cast<uint64_t>(fd);
    return lkl_sys_epoll_ctl(static_cast<int>(ep), LKL_EPOLL_CTL_ADD, fd, &ev);
  };
  for (int fd : evfds) ASSERT_LKL_OK(add(fd));
  for (int fd : pipes_r) ASSERT_LKL_OK(add(fd));

  std::atomic<long> received{0};
  long collector_err = 0;
  std::thread collector([&] {
    const long want = static_cast<long>(kWriters) * kWrites;
    for (int idle = 0; received.load() < want && idle < 20;) {
      struct lkl_epoll_event evs[16];
      long n = lkl_sys_epoll_wait(static_cast<int>(ep), evs, 16, 500);
      if (n < 0) {
        collector_err = n;
        return;
      }
      idle = n == 0 ? idle + 1 : 0;
      for (long i = 0; i < n; i++) {
        const int fd = static_cast<int>(evs[i].data);
        bool is_event = false;
        for (int e : evfds) is_event |= e == fd;
        if (is_event) {
          uint64_t v = 0;
          if (lkl_sys_read(static_cast<unsigned int>(fd), reinterpret_cast<char *>(&v),
                           sizeof(v)) == sizeof(v))
            received += static_cast<long>(v);
        } else {
          char buf[256];
          long r;
          while ((r = lkl_sys_read(static_cast<unsigned int>(fd), buf, sizeof(buf))) > 0)
            received += r;
        }
      }
    }
  });
  std::vector<std::thread> writers;
  std::vector<long> errors(kWriters, 0);
  for (int w = 0; w < kWriters; w++) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kWrites; i++) {
        long n;
        if (w % 2 == 0) {
          uint64_t one = 1;
          n = lkl_sys_write(static_cast<unsigned int>(evfds[static_cast<size_t>(w / 2)]),
                            reinterpret_cast<const char *>(&one), sizeof(one));
          n = n == sizeof(one) ? 0 : n;
        } else {
          char c = 'e';
          n = WriteAll(pipes_w[static_cast<size_t>(w / 2)], &c, 1);
          n = n == 1 ? 0 : n;
        }
        if (n) {
          errors[static_cast<size_t>(w)] = n;
          return;
        }
        if (i % 16 == 0) std::this_thread::sleep_for(100us);
      }
    });
  }
  for (auto &t : writers) t.join();
  collector.join();
  for (int w = 0; w < kWriters; w++) EXPECT_EQ(errors[static_cast<size_t>(w)], 0) << "writer " << w;
  EXPECT_EQ(collector_err, 0) << DescribeRet(collector_err);
  EXPECT_EQ(received.load(), static_cast<long>(kWriters) * kWrites);
  for (int fd : evfds) lkl_sys_close(static_cast<unsigned int>(fd));
  for (int fd : pipes_r) lkl_sys_close(static_cast<unsigned int>(fd));
  for (int fd : pipes_w) lkl_sys_close(static_cast<unsigned int>(fd));
  lkl_sys_close(static_cast<unsigned int>(ep));
}

// Sixteen threads sleep 1 ms twenty times each: every sleep lasts at least that long and
// returns 0 (the lateness is printed, not asserted).
TEST(DirectTest, NanosleepFromManyThreads) {
  Watchdog watchdog(60s, "nanosleep");
  constexpr int kThreads = 16, kSleeps = 20;
  std::vector<std::thread> threads;
  std::vector<long> errors(kThreads, 0);
  std::vector<double> worst_ms(kThreads, 0);
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kSleeps; i++) {
        struct __lkl__kernel_timespec ts = {0, 1000000};
        const auto start = Clock::now();
        long ret = lkl_sys_nanosleep(&ts, nullptr);
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        if (ret || ms < 1.0) {
          errors[static_cast<size_t>(t)] = ret ? ret : -1;
          return;
        }
        worst_ms[static_cast<size_t>(t)] = std::max(worst_ms[static_cast<size_t>(t)], ms);
      }
    });
  }
  for (auto &t : threads) t.join();
  double worst = 0;
  for (int t = 0; t < kThreads; t++) {
    EXPECT_EQ(errors[static_cast<size_t>(t)], 0) << "thread " << t;
    worst = std::max(worst, worst_ms[static_cast<size_t>(t)]);
  }
  std::printf("longest 1 ms sleep: %.2f ms\n", worst);
}

// A thread whose stack is too small for kernel code runs its calls as shadow calls, in
// either mode, and they work.
TEST(DirectTest, SmallStackThread) {
  Watchdog watchdog(30s, "small-stack thread");
  struct Result {
    long pid = 0, pipe = 0, io = 0;
  } result;
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, 48 * 1024), 0);
  pthread_t thread;
  auto body = [](void *arg) -> void * {
    auto *r = static_cast<Result *>(arg);
    r->pid = lkl_sys_getpid();
    int p[2];
    r->pipe = lkl_sys_pipe2(p, 0);
    if (r->pipe == 0) {
      char c = 's';
      r->io = lkl_sys_write(static_cast<unsigned int>(p[1]), &c, 1) == 1 &&
                      lkl_sys_read(static_cast<unsigned int>(p[0]), &c, 1) == 1 && c == 's'
                  ? 0
                  : -1;
      lkl_sys_close(static_cast<unsigned int>(p[0]));
      lkl_sys_close(static_cast<unsigned int>(p[1]));
    }
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&thread, &attr, body, &result), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
  EXPECT_EQ(result.pid, lkl_sys_getpid());
  EXPECT_LKL_OK(result.pipe);
  EXPECT_EQ(result.io, 0);
}

std::atomic<long> g_handler_calls{0};

void CountingHandler(int) { g_handler_calls++; }

// Signals hit a thread inside its calls (running, blocked, parked or between calls): every
// call still completes with its right result. (The library is not async-signal-safe: a
// handler must not call it, as it must not call malloc.)
TEST(DirectTest, SignalsDuringCalls) {
  Watchdog watchdog(60s, "signals during calls");
  const long pid = lkl_sys_getpid();
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_handler = CountingHandler;
  sa.sa_flags = SA_RESTART;
  struct sigaction old;
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);

  int p[2];
  ASSERT_LKL_OK(lkl_sys_pipe2(p, 0));
  std::atomic<bool> stop{false};
  long worker_err = 0, rounds = 0;
  std::thread worker([&] {
    for (int i = 0; i < 200000 && !stop.load(); i++, rounds++) {
      char c;
      if (lkl_sys_getpid() != pid) worker_err = -1;
      if (i % 8 == 0) {
        // Blocks until the main thread writes.
        long n = lkl_sys_read(static_cast<unsigned int>(p[0]), &c, 1);
        if (n != 1) worker_err = n ? n : -2;
      }
      if (worker_err) return;
    }
  });
  const pthread_t target = worker.native_handle();
  for (int i = 0; i < 2000; i++) {
    pthread_kill(target, SIGUSR1);
    if (i % 4 == 0) {
      char c = 'w';
      EXPECT_EQ(WriteAll(p[1], &c, 1), 1);
    }
    std::this_thread::sleep_for(50us);
  }
  stop = true;
  char c = 'w';
  for (int i = 0; i < 8; i++) WriteAll(p[1], &c, 1);  // whatever read is still waiting
  worker.join();
  sigaction(SIGUSR1, &old, nullptr);
  lkl_sys_close(static_cast<unsigned int>(p[0]));
  lkl_sys_close(static_cast<unsigned int>(p[1]));
  std::printf("%ld worker rounds, %ld signals handled\n", rounds, g_handler_calls.load());
  EXPECT_EQ(worker_err, 0) << DescribeRet(worker_err);
  EXPECT_GT(g_handler_calls.load(), 0);
}

// New threads make their first call (which creates their shadow task) while others are
// blocked: A waits in read(); B, created after that, writes; B then waits in accept() and C,
// created by B's parent while B waits, connects.
TEST(DirectTest, FirstCallsWhileOthersAreBlocked) {
  Watchdog watchdog(60s, "first calls of new threads");
  int p[2];
  ASSERT_LKL_OK(lkl_sys_pipe2(p, 0));
  struct lkl_sockaddr_in addr;
  const long lsock = ListenOnLoopback(1, &addr);
  ASSERT_LKL_OK(lsock);

  std::atomic<int> stage{0};
  long a_ret = 0, b_ret = 0, b_accept = 0, c_ret = 0;
  char got = 0;
  std::thread a([&] {
    stage = 1;
    a_ret = lkl_sys_read(static_cast<unsigned int>(p[0]), &got, 1);
  });
  while (stage.load() < 1) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(20ms);  // A is (most likely) blocked by now
  std::thread b([&] {
    char c = 'b';
    b_ret = WriteAll(p[1], &c, 1);
    stage = 2;
    b_accept = lkl_sys_accept(static_cast<int>(lsock), nullptr, nullptr);
    if (b_accept >= 0) lkl_sys_close(static_cast<unsigned int>(b_accept));
  });
  while (stage.load() < 2) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(20ms);  // B is (most likely) blocked in accept()
  std::thread c([&] {
    long fd = lkl_sys_socket(LKL_AF_INET, LKL_SOCK_STREAM, 0);
    struct lkl_sockaddr_in to = addr;
    c_ret = fd < 0 ? fd : lkl_sys_connect(static_cast<int>(fd), SockAddr(&to), sizeof(to));
    if (fd >= 0) lkl_sys_close(static_cast<unsigned int>(fd));
  });
  a.join();
  b.join();
  c.join();
  EXPECT_EQ(a_ret, 1) << DescribeRet(a_ret);
  EXPECT_EQ(got, 'b');
  EXPECT_EQ(b_ret, 1) << DescribeRet(b_ret);
  EXPECT_LKL_OK(b_accept);
  EXPECT_LKL_OK(c_ret);
  lkl_sys_close(static_cast<unsigned int>(p[0]));
  lkl_sys_close(static_cast<unsigned int>(p[1]));
  lkl_sys_close(static_cast<unsigned int>(lsock));
}

}  // namespace
