// SPDX-License-Identifier: GPL-2.0
//
// lkl_sys_halt() while other host threads are blocked in syscalls: halt must
// return in bounded time and every blocked call must come back with a
// negative errno. Uses the raw C entry points; one boot per process.
#include "test_util.hpp"

#include <array>
#include <atomic>

namespace {

using namespace lkl_test;

// Scheduler state letter of thread @tid ('S' = sleeping in the kernel).
char TaskState(long pid, long tid) {
  std::string path = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/stat";
  std::string stat = ReadFile(path.c_str());
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return '?';
  return stat[paren + 2];
}

struct Blocked {
  const char *what;
  std::atomic<long> tid{0};
  std::atomic<bool> returned{false};
  long ret = 0;
  std::thread thread;
};

TEST(HaltTest, HaltWhileThreadsAreBlockedInSyscalls) {
  Watchdog watchdog(60s, "halt with threads blocked in syscalls");

  ASSERT_EQ(lkl_init(&lkl_host_ops), 0);
  ASSERT_EQ(lkl_start_kernel("mem=32M loglevel=4"), 0);
  ASSERT_LKL_OK(MkdirMount("proc", "/proc", "proc"));
  const long pid = lkl_sys_getpid();
  ASSERT_GT(pid, 0);

  int pipefd[2];
  ASSERT_LKL_OK(lkl_sys_pipe2(pipefd, 0));
  long lsock = lkl_sys_socket(LKL_AF_INET, LKL_SOCK_STREAM, 0);
  ASSERT_LKL_OK(lsock);
  struct lkl_sockaddr_in any;
  std::memset(&any, 0, sizeof(any));
  any.sin_family = LKL_AF_INET;
  ASSERT_LKL_OK(lkl_sys_bind(static_cast<int>(lsock), SockAddr(&any), sizeof(any)));
  ASSERT_LKL_OK(lkl_sys_listen(static_cast<int>(lsock), 1));

  int pair[2];
  ASSERT_LKL_OK(lkl_sys_socketpair(LKL_AF_UNIX, LKL_SOCK_STREAM, 0, pair));
  long ep = lkl_sys_epoll_create1(0);
  ASSERT_LKL_OK(ep);
  long evfd = lkl_sys_eventfd2(0, 0);
  ASSERT_LKL_OK(evfd);
  struct lkl_epoll_event ev;
  std::memset(&ev, 0, sizeof(ev));
  ev.events = LKL_EPOLLIN;
  ASSERT_LKL_OK(
      lkl_sys_epoll_ctl(static_cast<int>(ep), LKL_EPOLL_CTL_ADD, static_cast<int>(evfd), &ev));

  std::array<Blocked, 6> blocked;
  blocked[0].what = "read on an empty pipe";
  blocked[1].what = "accept with no client";
  blocked[2].what = "nanosleep(600 s)";
  // Woken once (one of two bytes) and blocked again: with direct syscalls the thread now
  // carries its task, where the others wait for the scheduler to pick theirs.
  blocked[3].what = "recv(MSG_WAITALL) of 2 bytes after 1 arrived";
  blocked[4].what = "epoll_wait on an idle eventfd";
  blocked[5].what = "poll on an empty pipe";
  auto start = [](Blocked *b, std::function<long()> call) {
    b->thread = std::thread([b, call] {
      b->tid = lkl_sys_gettid();
      b->ret = call();
      b->returned = true;
    });
  };
  start(&blocked[0], [&] {
    char c;
    return lkl_sys_read(static_cast<unsigned int>(pipefd[0]), &c, 1);
  });
  start(&blocked[1], [&] { return lkl_sys_accept(static_cast<int>(lsock), nullptr, nullptr); });
  start(&blocked[2], [] {
    struct __lkl__kernel_timespec ts = {600, 0};
    return lkl_sys_nanosleep(&ts, nullptr);
  });
  start(&blocked[3], [&] {
    char buf[2];
    return lkl_sys_recvfrom(pair[0], buf, sizeof(buf), LKL_MSG_WAITALL, nullptr, nullptr);
  });
  start(&blocked[4], [&] {
    struct lkl_epoll_event out;
    return lkl_sys_epoll_wait(static_cast<int>(ep), &out, 1, -1);
  });
  start(&blocked[5], [&] {
    struct lkl_pollfd pfd = {pipefd[0], LKL_POLLIN, 0};
    return lkl_sys_poll(&pfd, 1, -1);
  });
  // Threads that call in back to back while the kernel halts: their calls fail from then on.
  std::array<std::atomic<long>, 2> spin_ret{};
  std::array<std::thread, 2> spinners;
  for (size_t i = 0; i < spinners.size(); i++) {
    spinners[i] = std::thread([&, i] {
      long ret = 0;
      for (long n = 0; n < 100000000 && ret >= 0; n++) ret = lkl_sys_getpid();
      spin_ret[i] = ret;
    });
  }

  // Wait (bounded) until all three sleep inside the kernel.
  const auto deadline = Clock::now() + 10s;
  for (auto &b : blocked) {
    char state = '?';
    while (Clock::now() < deadline) {
      long tid = b.tid.load();
      if (tid > 0 && (state = TaskState(pid, tid)) == 'S') break;
      std::this_thread::sleep_for(10ms);
    }
    // No ASSERT while the threads run: halting is what releases them.
    EXPECT_EQ(state, 'S') << b.what << " is not blocked (tid " << b.tid.load() << ")";
    EXPECT_FALSE(b.returned.load()) << b.what << " returned early: " << DescribeRet(b.ret);
  }
  // One of the two bytes: the receiver wakes, takes it and waits for the second.
  char one = '1';
  EXPECT_EQ(WriteAll(pair[1], &one, 1), 1);
  std::this_thread::sleep_for(50ms);
  for (int i = 0; i < 200 && TaskState(pid, blocked[3].tid.load()) != 'S'; i++)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(TaskState(pid, blocked[3].tid.load()), 'S') << blocked[3].what;
  EXPECT_FALSE(blocked[3].returned.load()) << DescribeRet(blocked[3].ret);

  auto halt_start = Clock::now();
  long halt_ret = lkl_sys_halt();
  auto halt_time = Clock::now() - halt_start;
  EXPECT_EQ(halt_ret, 0) << DescribeRet(halt_ret);
  EXPECT_LT(halt_time, 20s);
  EXPECT_EQ(lkl_is_running(), 0);

  const auto join_deadline = Clock::now() + 15s;
  for (auto &b : blocked) {
    while (!b.returned.load() && Clock::now() < join_deadline) std::this_thread::sleep_for(10ms);
    if (!b.returned.load()) {
      // Cannot join a thread stuck forever: fail loudly.
      std::fprintf(stderr, "FAIL: %s never returned after halt\n", b.what);
      std::fflush(stderr);
      std::abort();
    }
    b.thread.join();
    // Documented: threads blocked in syscalls get -EINTR.
    EXPECT_LKL_ERR(b.ret, LKL_EINTR) << b.what;
  }
  for (size_t i = 0; i < spinners.size(); i++) {
    spinners[i].join();
    // -EINTR if its last call was in flight when the kernel halted, else -ENODEV.
    const long ret = spin_ret[i].load();
    EXPECT_TRUE(ret == -LKL_ENODEV || ret == -LKL_EINTR)
        << "spinner " << i << ": " << DescribeRet(ret);
  }
  // Syscalls after halt fail too, from any thread.
  EXPECT_LKL_ERR(lkl_sys_getpid(), LKL_ENODEV);
  lkl_cleanup();
}

}  // namespace
