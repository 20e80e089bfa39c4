// Semaphores and mutexes for the kernel. Both sit on the context-switch and syscall paths, so the
// uncontended cases are a single atomic instruction and only real waiting enters the host kernel
// (futex). Objects live on their own cache line: different host threads post different ones.
#include <pthread.h>

#include <atomic>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "host/futex.h"
#include "host/host.h"

// The count lives in the low 32 bits (the futex word) and the number of sleepers in the high 32
// bits of one 64-bit word, so that sem_up is a single atomic add that both publishes the post and
// tells whether anyone needs waking. After that add sem_up touches nothing but the futex address,
// which makes it safe for the woken thread to free the semaphore at once.
struct alignas(64) lkl_sem {
  std::atomic<std::uint64_t> word;
};

// state: 0 unlocked, 1 locked, 2 locked and somebody may sleep on it (Drepper, "Futexes Are
// Tricky", mutex #3). Recursion is tracked on top with the owning pthread and a depth that only
// the owner touches.
struct alignas(64) lkl_mutex {
  std::atomic<std::uint32_t> state;
  bool recursive;
  std::atomic<pthread_t> owner;
  unsigned long depth;
};

namespace lkl::host {
namespace {

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<pthread_t>::is_always_lock_free);

constexpr std::uint64_t kWaiter = std::uint64_t{1} << 32;
constexpr int kMutexSpins = 100;

std::uint32_t count_of(std::uint64_t word) { return static_cast<std::uint32_t>(word); }

const void *futex_word(const lkl_sem *sem) {
  const char *word = reinterpret_cast<const char *>(&sem->word);
  return std::endian::native == std::endian::little ? word : word + 4;
}

template <typename T>
T *allocate() {
  void *mem = std::aligned_alloc(alignof(T), sizeof(T));
  return mem ? new (mem) T{} : nullptr;
}

template <typename T>
void deallocate(T *obj) {
  if (obj) {
    obj->~T();
    std::free(obj);
  }
}

void lock_state(lkl_mutex *mutex) {
  std::uint32_t c = 0;
  if (mutex->state.compare_exchange_strong(c, 1, std::memory_order_acquire,
                                           std::memory_order_relaxed))
    return;
  // The lock is usually held for a short kernel section: a brief spin avoids a sleep/wake pair.
  for (int i = 0; i < kMutexSpins; i++) {
    cpu_relax();
    c = mutex->state.load(std::memory_order_relaxed);
    if (c == 0 && mutex->state.compare_exchange_weak(c, 1, std::memory_order_acquire,
                                                     std::memory_order_relaxed))
      return;
  }
  if (c != 2) c = mutex->state.exchange(2, std::memory_order_acquire);
  while (c != 0) {
    futex_wait(&mutex->state, 2);
    c = mutex->state.exchange(2, std::memory_order_acquire);
  }
}

void unlock_state(lkl_mutex *mutex) {
  if (mutex->state.exchange(0, std::memory_order_release) == 2) futex_wake(&mutex->state, 1);
}

}  // namespace

lkl_sem *sem_alloc(int count) noexcept {
  if (count < 0) return nullptr;
  lkl_sem *sem = allocate<lkl_sem>();
  if (sem) sem->word.store(static_cast<std::uint64_t>(count), std::memory_order_relaxed);
  return sem;
}

void sem_free(lkl_sem *sem) noexcept { deallocate(sem); }

void sem_up(lkl_sem *sem) noexcept {
  const void *addr = futex_word(sem);
  if (sem->word.fetch_add(1, std::memory_order_release) >= kWaiter) futex_wake(addr, 1);
}

void sem_down(lkl_sem *sem) noexcept {
  std::uint64_t v = sem->word.load(std::memory_order_relaxed);
  while (count_of(v) != 0) {
    if (sem->word.compare_exchange_weak(v, v - 1, std::memory_order_acquire,
                                        std::memory_order_relaxed))
      return;
  }
  // Registering as a sleeper and reading the count is one atomic step, so a post either shows up
  // in v or sees the sleeper and wakes it; the futex re-checks the count before sleeping.
  v = sem->word.fetch_add(kWaiter, std::memory_order_relaxed) + kWaiter;
  for (;;) {
    if (count_of(v) != 0) {
      if (sem->word.compare_exchange_weak(v, v - 1 - kWaiter, std::memory_order_acquire,
                                          std::memory_order_relaxed))
        return;
      continue;
    }
    futex_wait(futex_word(sem), 0);  // EINTR and spurious wake-ups just loop
    v = sem->word.load(std::memory_order_relaxed);
  }
}

lkl_mutex *mutex_alloc(int recursive) noexcept {
  lkl_mutex *mutex = allocate<lkl_mutex>();
  if (mutex) mutex->recursive = recursive != 0;
  return mutex;
}

void mutex_free(lkl_mutex *mutex) noexcept { deallocate(mutex); }

void mutex_lock(lkl_mutex *mutex) noexcept {
  if (!mutex->recursive) {
    lock_state(mutex);
    return;
  }
  // Only this thread can have stored its own id, so a relaxed load is enough to see it.
  const pthread_t self = pthread_self();
  if (mutex->owner.load(std::memory_order_relaxed) == self) {
    mutex->depth++;
    return;
  }
  lock_state(mutex);
  mutex->owner.store(self, std::memory_order_relaxed);
  mutex->depth = 1;
}

void mutex_unlock(lkl_mutex *mutex) noexcept {
  if (mutex->recursive) {
    if (--mutex->depth != 0) return;
    mutex->owner.store(pthread_t{}, std::memory_order_relaxed);
  }
  unlock_state(mutex);
}

}  // namespace lkl::host
