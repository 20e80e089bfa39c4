// Monotonic time and one-shot timers.
//
// Each timer owns a host thread that sleeps on a CLOCK_MONOTONIC condition variable until its
// deadline and then calls fn(arg) without holding any lock, so the callback may re-arm or free
// its own timer. The kernel allocates a handful of timers (its clock event device), so a thread
// per timer keeps every timer independent: no shared queue, no global lifetime to manage.
#include <pthread.h>
#include <time.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

#include "host/host.h"

struct lkl_timer {
  void (*fn)(void *);
  void *arg;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake;  // signalled on re-arm and on free
  // Guarded by lock:
  unsigned long long deadline;  // CLOCK_MONOTONIC ns
  bool armed;
  bool stopping;
  bool free_on_exit;  // freed from its own callback: the thread frees it on the way out
};

namespace lkl::host {
namespace {

constexpr unsigned long long kNsPerSec = 1000000000ULL;

void destroy(lkl_timer *timer) {
  pthread_cond_destroy(&timer->wake);
  pthread_mutex_destroy(&timer->lock);
  std::free(timer);
}

void *timer_main(void *p) {
  auto *timer = static_cast<lkl_timer *>(p);
  pthread_mutex_lock(&timer->lock);
  while (!timer->stopping) {
    if (!timer->armed) {
      pthread_cond_wait(&timer->wake, &timer->lock);
      continue;
    }
    if (time_ns() < timer->deadline) {
      const timespec until = {static_cast<time_t>(timer->deadline / kNsPerSec),
                              static_cast<long>(timer->deadline % kNsPerSec)};
      pthread_cond_timedwait(&timer->wake, &timer->lock, &until);
      continue;
    }
    timer->armed = false;
    pthread_mutex_unlock(&timer->lock);
    timer->fn(timer->arg);
    pthread_mutex_lock(&timer->lock);
  }
  const bool free_self = timer->free_on_exit;
  pthread_mutex_unlock(&timer->lock);
  if (free_self) destroy(timer);
  return nullptr;
}

}  // namespace

unsigned long long time_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<unsigned long long>(ts.tv_sec) * kNsPerSec +
         static_cast<unsigned long long>(ts.tv_nsec);
}

lkl_timer *timer_alloc(void (*fn)(void *), void *arg) noexcept {
  if (!fn) return nullptr;
  auto *timer = static_cast<lkl_timer *>(std::calloc(1, sizeof(lkl_timer)));
  if (!timer) return nullptr;
  timer->fn = fn;
  timer->arg = arg;

  pthread_condattr_t attr;
  bool ok = pthread_condattr_init(&attr) == 0;
  if (ok) {
    ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
         pthread_cond_init(&timer->wake, &attr) == 0;
    pthread_condattr_destroy(&attr);
  }
  if (!ok) {
    std::free(timer);
    return nullptr;
  }
  if (pthread_mutex_init(&timer->lock, nullptr) != 0) {
    pthread_cond_destroy(&timer->wake);
    std::free(timer);
    return nullptr;
  }
  if (spawn_thread(&timer->thread, timer_main, timer, "lkl-timer") != 0) {
    destroy(timer);
    return nullptr;
  }
  return timer;
}

int timer_set_oneshot(lkl_timer *timer, unsigned long delta_ns) noexcept {
  if (!timer) return -EINVAL;
  const unsigned long long now = time_ns();
  const unsigned long long deadline = delta_ns > ULLONG_MAX - now ? ULLONG_MAX : now + delta_ns;
  pthread_mutex_lock(&timer->lock);
  timer->deadline = deadline;
  timer->armed = true;
  pthread_cond_signal(&timer->wake);
  pthread_mutex_unlock(&timer->lock);
  return 0;
}

void timer_free(lkl_timer *timer) noexcept {
  if (!timer) return;
  pthread_mutex_lock(&timer->lock);
  timer->stopping = true;
  timer->armed = false;
  if (pthread_equal(pthread_self(), timer->thread)) {
    // Called from the callback: joining ourselves would deadlock, so let the timer thread free
    // the timer once the callback returns.
    timer->free_on_exit = true;
    pthread_detach(timer->thread);
    pthread_mutex_unlock(&timer->lock);
    return;
  }
  pthread_cond_signal(&timer->wake);
  pthread_mutex_unlock(&timer->lock);
  // Joining waits for a callback that is running right now.
  pthread_join(timer->thread, nullptr);
  destroy(timer);
}

}  // namespace lkl::host
