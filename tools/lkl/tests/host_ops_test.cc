// The POSIX host operations, exercised through lkl_host_ops exactly as the kernel calls them.
// Needs no kernel: this binary also builds in host-only mode.
#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "host/host.h"
#include "iomem.h"

extern "C" {
#include <lkl/asm/host_ops.h>
extern struct lkl_host_operations lkl_host_ops;
}

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const lkl_host_operations &ops = lkl_host_ops;

// Polls cond for up to timeout; true once it holds.
template <typename Cond>
bool eventually(Cond cond, std::chrono::milliseconds timeout = 5s) {
  const auto until = Clock::now() + timeout;
  while (!cond()) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// ---- semaphores -------------------------------------------------------------------------------

TEST(Semaphore, RejectsNegativeCount) { EXPECT_EQ(ops.sem_alloc(-1), nullptr); }

TEST(Semaphore, InitialCountThenBlocks) {
  lkl_sem *sem = ops.sem_alloc(2);
  ASSERT_NE(sem, nullptr);
  ops.sem_down(sem);
  ops.sem_down(sem);
  std::atomic<bool> passed{false};
  std::thread waiter([&] {
    ops.sem_down(sem);
    passed = true;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(passed);
  ops.sem_up(sem);
  waiter.join();
  EXPECT_TRUE(passed);
  ops.sem_free(sem);
}

TEST(Semaphore, PingPong) {
  constexpr int kRounds = 100000;
  lkl_sem *ping = ops.sem_alloc(0);
  lkl_sem *pong = ops.sem_alloc(0);
  ASSERT_TRUE(ping && pong);
  int shared = 0;  // handed back and forth, never accessed concurrently
  std::thread other([&] {
    for (int i = 0; i < kRounds; i++) {
      ops.sem_down(ping);
      shared++;
      ops.sem_up(pong);
    }
  });
  for (int i = 0; i < kRounds; i++) {
    ops.sem_up(ping);
    ops.sem_down(pong);
    shared++;
  }
  other.join();
  EXPECT_EQ(shared, 2 * kRounds);
  ops.sem_free(ping);
  ops.sem_free(pong);
}

TEST(Semaphore, ManyProducersAndConsumers) {
  constexpr int kThreads = 4, kPosts = 20000;
  lkl_sem *sem = ops.sem_alloc(0);
  ASSERT_NE(sem, nullptr);
  std::atomic<int> consumed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPosts; i++) {
        ops.sem_down(sem);
        consumed++;
      }
    });
    threads.emplace_back([&] {
      for (int i = 0; i < kPosts; i++) ops.sem_up(sem);
    });
  }
  for (auto &t : threads) t.join();
  EXPECT_EQ(consumed, kThreads * kPosts);
  ops.sem_free(sem);
}

// A woken waiter may free the semaphore at once while the poster is still returning from sem_up
// (the kernel does this when a thread exits). AddressSanitizer builds catch a late access.
TEST(Semaphore, FreeRightAfterWakeUp) {
  for (int i = 0; i < 2000; i++) {
    lkl_sem *sem = ops.sem_alloc(0);
    ASSERT_NE(sem, nullptr);
    std::thread poster([sem] { ops.sem_up(sem); });
    ops.sem_down(sem);
    ops.sem_free(sem);
    poster.join();
  }
}

void ignore_signal(int) {}

TEST(Semaphore, DownSurvivesSignals) {
  struct sigaction sa = {}, old = {};
  sa.sa_handler = ignore_signal;  // no SA_RESTART: the futex wait returns EINTR
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
  lkl_sem *sem = ops.sem_alloc(0);
  ASSERT_NE(sem, nullptr);
  std::atomic<bool> passed{false};
  std::thread waiter([&] {
    ops.sem_down(sem);
    passed = true;
  });
  for (int i = 0; i < 20; i++) {
    pthread_kill(waiter.native_handle(), SIGUSR1);
    std::this_thread::sleep_for(2ms);
  }
  EXPECT_FALSE(passed);
  ops.sem_up(sem);
  waiter.join();
  EXPECT_TRUE(passed);
  ops.sem_free(sem);
  sigaction(SIGUSR1, &old, nullptr);
}

// ---- mutexes ----------------------------------------------------------------------------------

class MutexTest : public ::testing::TestWithParam<int> {};

TEST_P(MutexTest, MutualExclusion) {
  constexpr int kThreads = 4, kIncrements = 100000;
  lkl_mutex *mutex = ops.mutex_alloc(GetParam());
  ASSERT_NE(mutex, nullptr);
  long counter = 0;  // plain: only the mutex protects it
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; i++) {
        ops.mutex_lock(mutex);
        counter++;
        ops.mutex_unlock(mutex);
      }
    });
  }
  for (auto &t : threads) t.join();
  EXPECT_EQ(counter, long{kThreads} * kIncrements);
  ops.mutex_free(mutex);
}

INSTANTIATE_TEST_SUITE_P(PlainAndRecursive, MutexTest, ::testing::Values(0, 1));

TEST(Mutex, RecursiveNeedsEveryUnlock) {
  lkl_mutex *mutex = ops.mutex_alloc(1);
  ASSERT_NE(mutex, nullptr);
  ops.mutex_lock(mutex);
  ops.mutex_lock(mutex);
  ops.mutex_lock(mutex);
  std::atomic<bool> locked{false};
  std::thread other([&] {
    ops.mutex_lock(mutex);
    locked = true;
    ops.mutex_unlock(mutex);
  });
  ops.mutex_unlock(mutex);
  ops.mutex_unlock(mutex);
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(locked);
  ops.mutex_unlock(mutex);
  other.join();
  EXPECT_TRUE(locked);
  // Still usable, recursively, by another owner.
  std::thread again([&] {
    ops.mutex_lock(mutex);
    ops.mutex_lock(mutex);
    ops.mutex_unlock(mutex);
    ops.mutex_unlock(mutex);
  });
  again.join();
  ops.mutex_free(mutex);
}

TEST(Mutex, BlocksOtherThread) {
  lkl_mutex *mutex = ops.mutex_alloc(0);
  ASSERT_NE(mutex, nullptr);
  ops.mutex_lock(mutex);
  std::atomic<bool> locked{false};
  std::thread other([&] {
    ops.mutex_lock(mutex);
    locked = true;
    ops.mutex_unlock(mutex);
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(locked);
  ops.mutex_unlock(mutex);
  other.join();
  EXPECT_TRUE(locked);
  ops.mutex_free(mutex);
}

// ---- threads ----------------------------------------------------------------------------------

struct ThreadProbe {
  std::atomic<int> runs{0};
  std::atomic<bool> after_exit{false};
  std::atomic<bool> usr1_blocked{false};
  lkl_thread_t self = 0;
};

void probe_thread(void *arg) {
  auto *probe = static_cast<ThreadProbe *>(arg);
  probe->self = ops.thread_self();
  sigset_t mask;
  pthread_sigmask(SIG_SETMASK, nullptr, &mask);
  probe->usr1_blocked = sigismember(&mask, SIGUSR1) == 1;
  probe->runs++;
}

TEST(Thread, CreateAndJoin) {
  ThreadProbe probe;
  const lkl_thread_t tid = ops.thread_create(probe_thread, &probe);
  ASSERT_NE(tid, 0UL);
  EXPECT_EQ(ops.thread_join(tid), 0);
  EXPECT_EQ(probe.runs, 1);
  EXPECT_TRUE(ops.thread_equal(probe.self, tid));
  EXPECT_FALSE(ops.thread_equal(ops.thread_self(), tid));
  EXPECT_TRUE(ops.thread_equal(ops.thread_self(), ops.thread_self()));
}

TEST(Thread, BlocksAsynchronousSignals) {
  ThreadProbe probe;
  const lkl_thread_t tid = ops.thread_create(probe_thread, &probe);
  ASSERT_NE(tid, 0UL);
  ASSERT_EQ(ops.thread_join(tid), 0);
  EXPECT_TRUE(probe.usr1_blocked);
}

TEST(Thread, CreateRejectsNullFunction) { EXPECT_EQ(ops.thread_create(nullptr, nullptr), 0UL); }

TEST(Thread, ExitEndsTheThread) {
  ThreadProbe probe;
  const lkl_thread_t tid = ops.thread_create(
      [](void *arg) {
        auto *probe = static_cast<ThreadProbe *>(arg);
        probe->runs++;
        ops.thread_exit();
        probe->after_exit = true;
      },
      &probe);
  ASSERT_NE(tid, 0UL);
  EXPECT_EQ(ops.thread_join(tid), 0);
  EXPECT_EQ(probe.runs, 1);
  EXPECT_FALSE(probe.after_exit);
}

TEST(Thread, DetachedThreadRuns) {
  ThreadProbe probe;
  const lkl_thread_t tid = ops.thread_create(
      [](void *arg) {
        ops.thread_detach();
        static_cast<ThreadProbe *>(arg)->runs++;
      },
      &probe);
  ASSERT_NE(tid, 0UL);
  EXPECT_TRUE(eventually([&] { return probe.runs == 1; }));
}

TEST(Thread, JoinOfInvalidHandleFails) { EXPECT_LT(ops.thread_join(0), 0); }

TEST(Thread, StackContainsLocals) {
  unsigned long size = 0;
  auto *base = static_cast<char *>(ops.thread_stack(&size));
  ASSERT_NE(base, nullptr);
  ASSERT_GT(size, 0UL);
  int local;
  auto *p = reinterpret_cast<char *>(&local);
  EXPECT_GE(p, base);
  EXPECT_LT(p, base + size);
}

TEST(Thread, GettidIsTheHostTid) { EXPECT_EQ(ops.gettid(), syscall(SYS_gettid)); }

// A kernel thread that reports its host tid, then waits (up to 30 s) to be released.
struct ParkedThread {
  std::atomic<long> tid{0};
  std::atomic<bool> release{false};
  lkl_thread_t handle = 0;

  ParkedThread() {
    handle = ops.thread_create(
        [](void *arg) {
          auto *self = static_cast<ParkedThread *>(arg);
          self->tid = syscall(SYS_gettid);
          const auto until = Clock::now() + 30s;
          while (!self->release && Clock::now() < until) std::this_thread::sleep_for(1ms);
        },
        this);
  }
  ~ParkedThread() {
    release = true;
    if (handle) ops.thread_join(handle);
  }
  ParkedThread(const ParkedThread &) = delete;
  ParkedThread &operator=(const ParkedThread &) = delete;

  bool started() {
    return handle && eventually([this] { return tid != 0; });
  }
};

std::string thread_name(long tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

bool affinity_is(long tid, const cpu_set_t &want) {
  cpu_set_t now;
  return sched_getaffinity(static_cast<pid_t>(tid), sizeof(now), &now) == 0 &&
         CPU_EQUAL(&now, &want);
}

cpu_set_t only(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return set;
}

TEST(Thread, KernelThreadsAreNamed) {
  ParkedThread task;
  ASSERT_TRUE(task.started());
  EXPECT_EQ(thread_name(task.tid), "lkl-task");
  EXPECT_EQ(thread_name(syscall(SYS_gettid)).rfind("lkl-", 0), std::string::npos);
}

TEST(Thread, PinKernelThreadsLeavesOtherThreadsAlone) {
  ASSERT_NE(ops.pin_kernel_threads, nullptr);
  cpu_set_t allowed;
  ASSERT_EQ(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
  int lowest = -1, highest = -1, forbidden = -1;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (!CPU_ISSET(cpu, &allowed)) {
      if (forbidden < 0) forbidden = cpu;
      continue;
    }
    if (lowest < 0) lowest = cpu;
    highest = cpu;
  }
  ASSERT_GE(lowest, 0);
  const long self = syscall(SYS_gettid);

  ParkedThread before;
  ASSERT_TRUE(before.started());
  EXPECT_EQ(ops.pin_kernel_threads(LKL_PIN_AUTO), highest);
  EXPECT_TRUE(affinity_is(before.tid, only(highest)));
  EXPECT_TRUE(affinity_is(self, allowed)) << "the calling thread was pinned";

  // Threads made later start pinned, even when their creator is not.
  ParkedThread after;
  ASSERT_TRUE(after.started());
  EXPECT_TRUE(affinity_is(after.tid, only(highest)));

  EXPECT_EQ(ops.pin_kernel_threads(lowest), lowest);
  EXPECT_TRUE(affinity_is(before.tid, only(lowest)));
  EXPECT_TRUE(affinity_is(after.tid, only(lowest)));

  // Bad values change nothing.
  EXPECT_EQ(ops.pin_kernel_threads(-3), -EINVAL);
  EXPECT_EQ(ops.pin_kernel_threads(CPU_SETSIZE), -EINVAL);
  if (forbidden >= 0) {
    EXPECT_EQ(ops.pin_kernel_threads(forbidden), -EINVAL);
  }
  EXPECT_TRUE(affinity_is(before.tid, only(lowest)));

  // Off restores the mask the process had, for live and later threads.
  EXPECT_EQ(ops.pin_kernel_threads(LKL_PIN_OFF), 0);
  EXPECT_TRUE(affinity_is(before.tid, allowed));
  EXPECT_TRUE(affinity_is(after.tid, allowed));
  ParkedThread unpinned;
  ASSERT_TRUE(unpinned.started());
  EXPECT_TRUE(affinity_is(unpinned.tid, allowed));
  EXPECT_TRUE(affinity_is(self, allowed));
}

TEST(Thread, PinKernelThreadsAfterThreadsEnded) {
  {
    ParkedThread gone;
    ASSERT_TRUE(gone.started());
  }
  // Exited threads left the registry: pinning touches only live ones.
  const lkl_thread_t exited = ops.thread_create([](void *) { ops.thread_exit(); }, nullptr);
  ASSERT_NE(exited, 0UL);
  ASSERT_EQ(ops.thread_join(exited), 0);
  EXPECT_GE(ops.pin_kernel_threads(LKL_PIN_AUTO), 0);
  EXPECT_EQ(ops.pin_kernel_threads(LKL_PIN_OFF), 0);
}

// A spinner that yields lets another thread of its CPU run: here one (created on the same single
// CPU) that must set a flag before the spinner gives up after 100,000 yields.
TEST(Thread, RelaxLetsAThreadOfTheSameCpuRun) {
  ASSERT_NE(ops.relax, nullptr);
  cpu_set_t allowed;
  ASSERT_EQ(pthread_getaffinity_np(pthread_self(), sizeof(allowed), &allowed), 0);
  int cpu = 0;
  while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &allowed)) cpu++;
  ASSERT_LT(cpu, CPU_SETSIZE);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  ASSERT_EQ(pthread_setaffinity_np(pthread_self(), sizeof(one), &one), 0);
  std::atomic<bool> ran{false};
  std::thread other([&] { ran = true; });  // inherits the single CPU
  int rounds = 0;
  for (; rounds < 100000 && !ran; rounds++) ops.relax();
  other.join();
  pthread_setaffinity_np(pthread_self(), sizeof(allowed), &allowed);
  EXPECT_TRUE(ran) << "the other thread did not run during " << rounds << " yields";
}

// The relax operation runs the registered pollers on the spinning thread (a device's receive
// path) until their registration is removed; the table is bounded and says so.
TEST(Thread, RelaxRunsRegisteredPollers) {
  struct Counter {
    int calls = 0;
    bool progress = false;
  } a, b;
  const auto poll = [](void *arg) {
    auto *c = static_cast<Counter *>(arg);
    c->calls++;
    return c->progress;
  };
  ASSERT_TRUE(lkl::host::add_relax_poller(poll, &a));
  ASSERT_TRUE(lkl::host::add_relax_poller(poll, &b));
  b.progress = true;
  ops.relax();
  ops.relax();
  EXPECT_EQ(a.calls, 2);
  EXPECT_EQ(b.calls, 2);
  lkl::host::remove_relax_poller(&a);
  ops.relax();
  EXPECT_EQ(a.calls, 2);
  EXPECT_EQ(b.calls, 3);
  lkl::host::remove_relax_poller(&b);
  ops.relax();
  EXPECT_EQ(b.calls, 3);

  std::vector<Counter> many(65);
  int added = 0;
  for (auto &c : many) added += lkl::host::add_relax_poller(poll, &c);
  EXPECT_EQ(added, 64) << "the table holds 64 pollers";
  for (auto &c : many) lkl::host::remove_relax_poller(&c);
  ops.relax();
  for (const auto &c : many) EXPECT_LE(c.calls, 0);
}

// ---- thread-local storage ---------------------------------------------------------------------

std::atomic<int> destructor_calls{0};
std::atomic<std::intptr_t> destructor_value{0};

void tls_destructor(void *value) {
  destructor_calls++;
  destructor_value = reinterpret_cast<std::intptr_t>(value);
}

struct TlsProbe {
  lkl_tls_key *key;
  void *value;
  void *seen_before = reinterpret_cast<void *>(1);
  void *seen_after = nullptr;
};

TEST(Tls, PerThreadValuesAndDestructor) {
  destructor_calls = 0;
  lkl_tls_key *key = ops.tls_alloc(tls_destructor);
  ASSERT_NE(key, nullptr);
  ASSERT_EQ(ops.tls_set(key, reinterpret_cast<void *>(0x1234)), 0);

  TlsProbe probe{key, reinterpret_cast<void *>(0x5678)};
  const lkl_thread_t tid = ops.thread_create(
      [](void *arg) {
        auto *probe = static_cast<TlsProbe *>(arg);
        probe->seen_before = ops.tls_get(probe->key);
        ops.tls_set(probe->key, probe->value);
        probe->seen_after = ops.tls_get(probe->key);
      },
      &probe);
  ASSERT_NE(tid, 0UL);
  ASSERT_EQ(ops.thread_join(tid), 0);
  EXPECT_EQ(probe.seen_before, nullptr);
  EXPECT_EQ(probe.seen_after, probe.value);
  EXPECT_EQ(destructor_calls, 1);
  EXPECT_EQ(destructor_value, 0x5678);
  EXPECT_EQ(ops.tls_get(key), reinterpret_cast<void *>(0x1234));

  // A thread that never sets a value gets no destructor call.
  const lkl_thread_t idle = ops.thread_create([](void *) {}, nullptr);
  ASSERT_NE(idle, 0UL);
  ASSERT_EQ(ops.thread_join(idle), 0);
  EXPECT_EQ(destructor_calls, 1);

  ASSERT_EQ(ops.tls_set(key, nullptr), 0);
  ops.tls_free(key);
}

TEST(Tls, DestructorRunsOnThreadExit) {
  destructor_calls = 0;
  lkl_tls_key *key = ops.tls_alloc(tls_destructor);
  ASSERT_NE(key, nullptr);
  const lkl_thread_t tid = ops.thread_create(
      [](void *arg) {
        ops.tls_set(static_cast<lkl_tls_key *>(arg), reinterpret_cast<void *>(0x99));
        ops.thread_exit();
      },
      key);
  ASSERT_NE(tid, 0UL);
  ASSERT_EQ(ops.thread_join(tid), 0);
  EXPECT_EQ(destructor_calls, 1);
  EXPECT_EQ(destructor_value, 0x99);
  ops.tls_free(key);
}

TEST(Tls, KeyWithoutDestructor) {
  lkl_tls_key *key = ops.tls_alloc(nullptr);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(ops.tls_get(key), nullptr);
  int value;
  EXPECT_EQ(ops.tls_set(key, &value), 0);
  EXPECT_EQ(ops.tls_get(key), &value);
  ops.tls_free(key);
}

// ---- memory -----------------------------------------------------------------------------------

TEST(Memory, PagesAreAlignedZeroedAndWritable) {
  constexpr unsigned long kSize = 1UL << 20;
  auto *mem = static_cast<unsigned char *>(ops.page_alloc(kSize));
  ASSERT_NE(mem, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(mem) % static_cast<std::uintptr_t>(getpagesize()), 0U);
  for (unsigned long i = 0; i < kSize; i += 4096) EXPECT_EQ(mem[i], 0);
  std::memset(mem, 0xa5, kSize);
  ops.page_free(mem, kSize);
  EXPECT_EQ(ops.page_alloc(0), nullptr);
}

TEST(Memory, MemAlloc) {
  void *mem = ops.mem_alloc(100);
  ASSERT_NE(mem, nullptr);
  std::memset(mem, 1, 100);
  ops.mem_free(mem);
  ops.mem_free(nullptr);
}

// ---- time and timers --------------------------------------------------------------------------

TEST(Time, MonotonicNanoseconds) {
  const unsigned long long a = ops.time();
  std::this_thread::sleep_for(10ms);
  const unsigned long long b = ops.time();
  EXPECT_GE(b - a, 10000000ULL);
  EXPECT_LT(b - a, 5000000000ULL);
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const unsigned long long now = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
  EXPECT_LE(b, now);
}

struct TimerProbe {
  std::atomic<int> fired{0};
  std::atomic<unsigned long long> at{0};
  lkl_timer *timer = nullptr;
  int rearm = 0;  // re-arms itself from the callback this many times
  std::chrono::milliseconds sleep{0};
  std::atomic<bool> done{false};
};

void timer_fn(void *arg) {
  auto *probe = static_cast<TimerProbe *>(arg);
  probe->at = ops.time();
  if (probe->sleep.count()) std::this_thread::sleep_for(probe->sleep);
  if (probe->rearm > 0) {
    probe->rearm--;
    ops.timer_set_oneshot(probe->timer, 1000000);
  }
  probe->fired++;
  probe->done = true;
}

TEST(Timer, FiresOnceAfterDelay) {
  TimerProbe probe;
  lkl_timer *timer = ops.timer_alloc(timer_fn, &probe);
  ASSERT_NE(timer, nullptr);
  const unsigned long long armed = ops.time();
  ASSERT_EQ(ops.timer_set_oneshot(timer, 20000000), 0);
  ASSERT_TRUE(eventually([&] { return probe.fired == 1; }));
  EXPECT_GE(probe.at - armed, 20000000ULL);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(probe.fired, 1);
  ops.timer_free(timer);
}

TEST(Timer, RearmReplacesTheExpiry) {
  TimerProbe probe;
  lkl_timer *timer = ops.timer_alloc(timer_fn, &probe);
  ASSERT_NE(timer, nullptr);
  // Later expiry replaced by an earlier one...
  ASSERT_EQ(ops.timer_set_oneshot(timer, 60000000000UL), 0);
  ASSERT_EQ(ops.timer_set_oneshot(timer, 5000000), 0);
  ASSERT_TRUE(eventually([&] { return probe.fired == 1; }, 2s));
  // ...and an earlier one replaced by a later one.
  ASSERT_EQ(ops.timer_set_oneshot(timer, 5000000), 0);
  ASSERT_EQ(ops.timer_set_oneshot(timer, 60000000000UL), 0);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(probe.fired, 1);
  ops.timer_free(timer);
}

TEST(Timer, RearmFromCallback) {
  TimerProbe probe;
  probe.rearm = 4;
  lkl_timer *timer = ops.timer_alloc(timer_fn, &probe);
  ASSERT_NE(timer, nullptr);
  probe.timer = timer;
  ASSERT_EQ(ops.timer_set_oneshot(timer, 0), 0);
  EXPECT_TRUE(eventually([&] { return probe.fired == 5; }));
  ops.timer_free(timer);
}

TEST(Timer, FreeDisarms) {
  TimerProbe probe;
  lkl_timer *timer = ops.timer_alloc(timer_fn, &probe);
  ASSERT_NE(timer, nullptr);
  ASSERT_EQ(ops.timer_set_oneshot(timer, 30000000), 0);
  ops.timer_free(timer);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(probe.fired, 0);
}

TEST(Timer, FreeWaitsForRunningCallback) {
  TimerProbe probe;
  probe.sleep = 200ms;
  lkl_timer *timer = ops.timer_alloc(timer_fn, &probe);
  ASSERT_NE(timer, nullptr);
  ASSERT_EQ(ops.timer_set_oneshot(timer, 0), 0);
  ASSERT_TRUE(eventually([&] { return probe.at != 0; }));
  ops.timer_free(timer);
  EXPECT_TRUE(probe.done);
}

TEST(Timer, FreeFromOwnCallback) {
  struct Self {
    lkl_timer *timer;
    std::atomic<bool> freed{false};
  } self;
  self.timer = ops.timer_alloc(
      [](void *arg) {
        auto *self = static_cast<Self *>(arg);
        ops.timer_free(self->timer);
        self->freed = true;
      },
      &self);
  ASSERT_NE(self.timer, nullptr);
  ASSERT_EQ(ops.timer_set_oneshot(self.timer, 0), 0);
  EXPECT_TRUE(eventually([&] { return self.freed.load(); }));
}

TEST(Timer, InvalidArguments) {
  EXPECT_EQ(ops.timer_alloc(nullptr, nullptr), nullptr);
  EXPECT_EQ(ops.timer_set_oneshot(nullptr, 1), -EINVAL);
  ops.timer_free(nullptr);
}

// ---- jump buffers -----------------------------------------------------------------------------

lkl_jmp_buf jump;
int jump_steps;

TEST(JmpBuf, LongjmpReturnsFromSet) {
  jump_steps = 0;
  ops.jmp_buf_set(&jump, [] {
    jump_steps++;
    ops.jmp_buf_longjmp(&jump, 1);
    jump_steps += 100;  // never reached
  });
  EXPECT_EQ(jump_steps, 1);
}

TEST(JmpBuf, PlainReturnFromFunction) {
  jump_steps = 0;
  ops.jmp_buf_set(&jump, [] { jump_steps++; });
  EXPECT_EQ(jump_steps, 1);
}

// ---- MMIO -------------------------------------------------------------------------------------

// A 256-byte register file.
class Registers final : public lkl::IomemRegion {
 public:
  int read(unsigned long offset, void *val, int size) override {
    std::memcpy(val, regs + offset, static_cast<size_t>(size));
    reads++;
    return 0;
  }
  int write(unsigned long offset, const void *val, int size) override {
    std::memcpy(regs + offset, val, static_cast<size_t>(size));
    writes++;
    return 0;
  }
  unsigned char regs[256] = {};
  int reads = 0, writes = 0;
};

TEST(Iomem, UnknownAddressFailsWithoutCrashing) {
  std::uint32_t val = 0;
  int local = 0;
  EXPECT_EQ(ops.iomem_access(nullptr, &val, 4, 0), -EFAULT);
  EXPECT_EQ(val, 0xffffffffU);  // like a read from a missing bus device
  EXPECT_EQ(ops.iomem_access(&local, &val, 4, 1), -EFAULT);
  EXPECT_EQ(ops.iomem_access(reinterpret_cast<void *>(-1L), &val, 4, 0), -EFAULT);
  EXPECT_EQ(ops.ioremap(0x10000000, 0x200), nullptr);
  EXPECT_EQ(ops.ioremap(-1, 4), nullptr);
}

TEST(Iomem, DispatchesToRegisteredRegion) {
  Registers dev;
  const long base = lkl::iomem_register(&dev, sizeof(dev.regs));
  ASSERT_GT(base, 0);
  EXPECT_EQ(base % getpagesize(), 0);
  auto *io = static_cast<char *>(ops.ioremap(base, sizeof(dev.regs)));
  ASSERT_EQ(io, reinterpret_cast<char *>(base));
  EXPECT_EQ(ops.ioremap(base + 0x10, 0x10), io + 0x10);
  EXPECT_EQ(ops.ioremap(base, sizeof(dev.regs) + 1), nullptr);

  const std::uint32_t magic = 0x74726976;
  EXPECT_EQ(ops.iomem_access(io + 0x70, const_cast<std::uint32_t *>(&magic), 4, 1), 0);
  EXPECT_EQ(std::memcmp(dev.regs + 0x70, &magic, 4), 0);
  std::uint32_t val = 0;
  EXPECT_EQ(ops.iomem_access(io + 0x70, &val, 4, 0), 0);
  EXPECT_EQ(val, magic);
  std::uint8_t byte = 0;
  EXPECT_EQ(ops.iomem_access(io + 0x70, &byte, 1, 0), 0);
  EXPECT_EQ(byte, 0x76);
  std::uint64_t wide = 0;
  EXPECT_EQ(ops.iomem_access(io + 0xf8, &wide, 8, 0), 0);
  EXPECT_EQ(dev.reads, 3);
  EXPECT_EQ(dev.writes, 1);

  // Past the end of the region, bad sizes.
  EXPECT_EQ(ops.iomem_access(io + 0xfe, &val, 4, 0), -EFAULT);
  EXPECT_EQ(ops.iomem_access(io + 0x100, &val, 4, 0), -EFAULT);
  EXPECT_EQ(ops.iomem_access(io, &val, 3, 0), -EINVAL);
  EXPECT_EQ(ops.iomem_access(io, nullptr, 4, 0), -EINVAL);
  EXPECT_EQ(dev.reads, 3);

  EXPECT_EQ(lkl::iomem_unregister(base), 0);
  EXPECT_EQ(lkl::iomem_unregister(base), -EINVAL);
  EXPECT_EQ(ops.iomem_access(io + 0x70, &val, 4, 0), -EFAULT);
  EXPECT_EQ(ops.ioremap(base, 4), nullptr);
}

TEST(Iomem, RegistrationLimits) {
  Registers dev;
  EXPECT_EQ(lkl::iomem_register(nullptr, 16), -EINVAL);
  EXPECT_EQ(lkl::iomem_register(&dev, 0), -EINVAL);
  EXPECT_EQ(lkl::iomem_register(&dev, lkl::kIomemRegionMaxSize + 1), -EINVAL);
  std::vector<long> bases;
  long base;
  while ((base = lkl::iomem_register(&dev, 16)) > 0) bases.push_back(base);
  EXPECT_EQ(base, -ENOSPC);
  EXPECT_GE(bases.size(), 16U);
  for (long b : bases) EXPECT_EQ(lkl::iomem_unregister(b), 0);
  EXPECT_EQ(lkl::iomem_unregister(0), -EINVAL);
}

// ---- console and panic ------------------------------------------------------------------------
// The console target is read once per process, so each case runs in a fresh re-executed child.

class Console : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

void print_and_exit(const char *console) {
  if (console)
    setenv("LKL_CONSOLE", console, 1);
  else
    unsetenv("LKL_CONSOLE");
  static const char kLine[] = "console line\n";
  ops.print(kLine, sizeof(kLine) - 1);
  std::exit(0);
}

TEST_F(Console, DefaultsToStderr) {
  EXPECT_EXIT(print_and_exit(nullptr), ::testing::ExitedWithCode(0), "console line");
}

TEST_F(Console, NoneIsSilent) {
  EXPECT_EXIT(print_and_exit("none"), ::testing::ExitedWithCode(0), "^$");
}

TEST_F(Console, FileTarget) {
  // The re-executed child inherits the parent's choice of path through the environment.
  if (!std::getenv("LKL_TEST_CONSOLE_FILE")) {
    const std::string name = ::testing::TempDir() + "lkl_console_" + std::to_string(getpid());
    setenv("LKL_TEST_CONSOLE_FILE", name.c_str(), 1);
    std::remove(name.c_str());
  }
  const std::string path = std::getenv("LKL_TEST_CONSOLE_FILE");
  EXPECT_EXIT(print_and_exit(path.c_str()), ::testing::ExitedWithCode(0), "^$");
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  EXPECT_EQ(content.str(), "console line\n");
  std::remove(path.c_str());
}

TEST_F(Console, UnopenableFileFallsBackToStderr) {
  EXPECT_EXIT(print_and_exit("/nonexistent/dir/console"), ::testing::ExitedWithCode(0),
              "cannot open LKL_CONSOLE=/nonexistent/dir/console.*\n.*console line");
}

TEST_F(Console, PanicIsReportedEvenWhenSilenced) {
  EXPECT_DEATH(
      {
        setenv("LKL_CONSOLE", "none", 1);
        ops.panic();
      },
      "lkl: kernel panic");
}

}  // namespace
