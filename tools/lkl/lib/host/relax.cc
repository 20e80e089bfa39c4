// The relax host operation: what the kernel's cpu_relax() calls while it spins until another
// host thread acts. Pollers registered here (a device's receive path) run first, on the spinning
// thread: when the kernel busy-polls a socket, the frame it waits for can then reach the ring
// without a hand-off to the device's own thread. Only if none made progress is the host CPU
// offered to other threads.
#include <pthread.h>
#include <sched.h>

#include <cstddef>

#include "host/host.h"

namespace lkl::host {
namespace {

struct Poller {
  RelaxPoller fn;
  void *arg;
};

// A fixed table: relax() never allocates. Its lock is only tried by relax(), so a spinner never
// waits for a thread adding or removing a poller (which may itself wait for the kernel's CPU).
constexpr std::size_t kMaxPollers = 64;
pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
Poller pollers[kMaxPollers];
std::size_t count = 0;

}  // namespace

bool add_relax_poller(RelaxPoller fn, void *arg) noexcept {
  pthread_mutex_lock(&lock);
  const bool added = count < kMaxPollers;
  if (added) pollers[count++] = {fn, arg};
  pthread_mutex_unlock(&lock);
  return added;
}

void remove_relax_poller(void *arg) noexcept {
  pthread_mutex_lock(&lock);
  for (std::size_t i = 0; i < count;) {
    if (pollers[i].arg == arg)
      pollers[i] = pollers[--count];
    else
      i++;
  }
  pthread_mutex_unlock(&lock);
}

void relax() noexcept {
  bool progress = false;
  if (pthread_mutex_trylock(&lock) == 0) {
    for (std::size_t i = 0; i < count; i++) progress |= pollers[i].fn(pollers[i].arg);
    pthread_mutex_unlock(&lock);
  }
  if (!progress) sched_yield();
}

}  // namespace lkl::host
