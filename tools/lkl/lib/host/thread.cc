// Kernel threads are joinable pthreads; handles are the pthread_t itself.
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "host/host.h"

namespace lkl::host {
namespace {

static_assert(sizeof(pthread_t) == sizeof(lkl_thread_t), "pthread_t must fit lkl_thread_t");

struct ThreadStart {
  void (*fn)(void *);
  void *arg;
};

void *thread_main(void *p) {
  const ThreadStart start = *static_cast<ThreadStart *>(p);
  std::free(p);
  start.fn(start.arg);
  return nullptr;
}

pthread_t to_pthread(lkl_thread_t tid) { return static_cast<pthread_t>(tid); }

}  // namespace

int spawn_thread(pthread_t *thread, void *(*start)(void *), void *arg) noexcept {
  // A new thread inherits the creator's mask; glibc keeps its internal signals out of the set.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  const int err = pthread_create(thread, nullptr, start, arg);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return err;
}

lkl_thread_t thread_create(void (*fn)(void *), void *arg) noexcept {
  if (!fn) return 0;
  auto *start = static_cast<ThreadStart *>(std::malloc(sizeof(ThreadStart)));
  if (!start) return 0;
  *start = {fn, arg};
  pthread_t thread;
  if (spawn_thread(&thread, thread_main, start) != 0) {
    std::free(start);
    return 0;
  }
  return static_cast<lkl_thread_t>(thread);
}

void thread_detach() noexcept { pthread_detach(pthread_self()); }

void thread_exit() noexcept { pthread_exit(nullptr); }

int thread_join(lkl_thread_t tid) noexcept {
  if (tid == 0) return -EINVAL;
  return -pthread_join(to_pthread(tid), nullptr);
}

lkl_thread_t thread_self() noexcept { return static_cast<lkl_thread_t>(pthread_self()); }

int thread_equal(lkl_thread_t a, lkl_thread_t b) noexcept {
  return pthread_equal(to_pthread(a), to_pthread(b));
}

void *thread_stack(unsigned long *size) noexcept {
  pthread_attr_t attr;
  void *base = nullptr;
  size_t len = 0;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    if (pthread_attr_getstack(&attr, &base, &len) != 0) {
      base = nullptr;
      len = 0;
    }
    pthread_attr_destroy(&attr);
  }
  if (size) *size = len;
  return base;
}

long gettid() noexcept { return syscall(SYS_gettid); }

int pin_cpu(int cpu) noexcept {
  if (cpu < 0 || cpu >= CPU_SETSIZE) return -EINVAL;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  // pid 0 is the calling thread, not the whole process.
  return sched_setaffinity(0, sizeof(set), &set) == 0 ? 0 : -errno;
}

}  // namespace lkl::host
