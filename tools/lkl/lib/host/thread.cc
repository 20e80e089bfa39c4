// Kernel threads are joinable pthreads; handles are the pthread_t itself.
//
// Every host thread made for the kernel (task carriers, timer threads, device threads) starts
// through spawn_thread() and is listed in a registry for as long as it runs. Pinning acts on that
// list only, so the application's own threads never change affinity.
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>

#include "host/host.h"

namespace lkl::host {
namespace {

static_assert(sizeof(pthread_t) == sizeof(lkl_thread_t), "pthread_t must fit lkl_thread_t");

struct FreeDeleter {
  void operator()(void *p) const noexcept { std::free(p); }
};

template <typename T>
using MallocPtr = std::unique_ptr<T, FreeDeleter>;

// Zeroed, plain-data T from malloc: the glue never uses operator new (see host.h).
template <typename T>
MallocPtr<T> malloc_zeroed() noexcept {
  return MallocPtr<T>(static_cast<T *>(std::calloc(1, sizeof(T))));
}

// One live kernel thread. spawn_thread allocates it; once the thread has entered the registry, the
// thread owns it through exit_key, whose destructor also runs when it leaves by pthread_exit.
struct KernelThread {
  void *(*start)(void *);
  void *arg;
  const char *name;
  pthread_t self;
  KernelThread *prev;
  KernelThread *next;
};

class Lock {
 public:
  explicit Lock(pthread_mutex_t &mutex) noexcept : mutex_(mutex) { pthread_mutex_lock(&mutex_); }
  ~Lock() { pthread_mutex_unlock(&mutex_); }
  Lock(const Lock &) = delete;
  Lock &operator=(const Lock &) = delete;

 private:
  pthread_mutex_t &mutex_;
};

cpu_set_t single_cpu(int cpu) noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return set;
}

// The live kernel threads and the pin they all share. Trivially destructible, so a kernel thread
// still running while the process exits never sees it destroyed.
class KernelThreads {
 public:
  // Called by each new kernel thread before it runs anything else; false if it could not be
  // listed (it then runs unlisted, never pinned).
  bool enter(KernelThread *thread) noexcept;
  // The exit_key destructor: the thread is about to end.
  void leave(KernelThread *thread) noexcept;
  // The pin_kernel_threads host operation.
  int pin(int cpu) noexcept;

 private:
  bool capture_base() noexcept;

  pthread_mutex_t lock_ = PTHREAD_MUTEX_INITIALIZER;
  KernelThread *head_ = nullptr;
  int cpu_ = LKL_PIN_OFF;  // the CPU every listed thread is pinned to
  bool touched_ = false;   // some thread's affinity was ever changed here
  bool have_base_ = false;
  cpu_set_t base_;  // the affinity LKL_PIN_OFF restores
};

KernelThreads threads;

// Its destructor runs with the thread's KernelThread as the thread ends, however it ends.
pthread_key_t exit_key;
pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
int exit_key_err = 0;

void on_thread_exit(void *p) {
  MallocPtr<KernelThread> thread(static_cast<KernelThread *>(p));
  threads.leave(thread.get());
}

void make_exit_key() { exit_key_err = pthread_key_create(&exit_key, on_thread_exit); }

// The mask the kernel's threads go back to: the creator's, taken when the first kernel thread
// starts or the first pin is asked for, whichever comes first; normally in lkl_start_kernel.
bool KernelThreads::capture_base() noexcept {
  if (!have_base_) have_base_ = sched_getaffinity(0, sizeof(base_), &base_) == 0;
  return have_base_;
}

bool KernelThreads::enter(KernelThread *thread) noexcept {
  Lock lock(lock_);
  capture_base();
  if (pthread_setspecific(exit_key, thread) != 0) return false;
  thread->next = head_;
  if (head_) head_->prev = thread;
  head_ = thread;
  // The creator may have been pinned differently, or the pin may have changed since.
  if (cpu_ >= 0) {
    const cpu_set_t set = single_cpu(cpu_);
    sched_setaffinity(0, sizeof(set), &set);
  } else if (touched_ && have_base_) {
    sched_setaffinity(0, sizeof(base_), &base_);
  }
  return true;
}

void KernelThreads::leave(KernelThread *thread) noexcept {
  Lock lock(lock_);
  if (thread->prev)
    thread->prev->next = thread->next;
  else
    head_ = thread->next;
  if (thread->next) thread->next->prev = thread->prev;
}

int KernelThreads::pin(int cpu) noexcept {
  if (cpu < LKL_PIN_AUTO || cpu >= CPU_SETSIZE) return -EINVAL;
  Lock lock(lock_);
  if (!capture_base()) return -errno;
  if (cpu == LKL_PIN_AUTO) {
    for (int c = CPU_SETSIZE - 1; c >= 0 && cpu < 0; c--)
      if (CPU_ISSET(c, &base_)) cpu = c;
    if (cpu < 0) return -EINVAL;
  } else if (cpu >= 0 && !CPU_ISSET(cpu, &base_)) {
    return -EINVAL;
  }
  if (cpu == LKL_PIN_OFF && !touched_) return 0;

  const cpu_set_t set = cpu >= 0 ? single_cpu(cpu) : base_;
  int err = 0;
  for (KernelThread *t = head_; t; t = t->next) {
    const int ret = pthread_setaffinity_np(t->self, sizeof(set), &set);
    if (ret && !err) err = ret;
  }
  touched_ = true;
  if (err && cpu >= 0) {
    // All or nothing: a thread left on another CPU would defeat the point.
    for (KernelThread *t = head_; t; t = t->next)
      pthread_setaffinity_np(t->self, sizeof(base_), &base_);
    cpu = LKL_PIN_OFF;
  }
  cpu_ = cpu;
  if (err) return -err;
  return cpu >= 0 ? cpu : 0;
}

void *kernel_thread_main(void *p) {
  MallocPtr<KernelThread> thread(static_cast<KernelThread *>(p));
  thread->self = pthread_self();
  pthread_setname_np(thread->self, thread->name);
  void *(*start)(void *) = thread->start;
  void *arg = thread->arg;
  if (threads.enter(thread.get()))
    thread.release();  // owned by exit_key from now on
  else
    thread.reset();
  return start(arg);
}

struct ThreadStart {
  void (*fn)(void *);
  void *arg;
};

void *task_main(void *p) {
  const ThreadStart start = *static_cast<ThreadStart *>(p);
  std::free(p);
  start.fn(start.arg);
  return nullptr;
}

pthread_t to_pthread(lkl_thread_t tid) { return static_cast<pthread_t>(tid); }

}  // namespace

int spawn_thread(pthread_t *thread, void *(*start)(void *), void *arg, const char *name) noexcept {
  pthread_once(&exit_key_once, make_exit_key);
  if (exit_key_err) return exit_key_err;
  auto kthread = malloc_zeroed<KernelThread>();
  if (!kthread) return ENOMEM;
  *kthread = {start, arg, name, {}, nullptr, nullptr};

  // A new thread inherits the creator's mask; glibc keeps its internal signals out of the set.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  const int err = pthread_create(thread, nullptr, kernel_thread_main, kthread.get());
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (err == 0) kthread.release();  // kernel_thread_main owns it
  return err;
}

lkl_thread_t thread_create(void (*fn)(void *), void *arg) noexcept {
  if (!fn) return 0;
  auto start = malloc_zeroed<ThreadStart>();
  if (!start) return 0;
  *start = {fn, arg};
  pthread_t thread;
  if (spawn_thread(&thread, task_main, start.get(), "lkl-task") != 0) return 0;
  start.release();  // task_main frees it
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

int pin_kernel_threads(int cpu) noexcept { return threads.pin(cpu); }

void yield() noexcept { sched_yield(); }

}  // namespace lkl::host
