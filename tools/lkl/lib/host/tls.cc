// Thread-local keys are pthread keys. The handle is the key number plus one, so that it is never
// NULL and needs no allocation; tls_get sits on the kernel's "current task" path.
#include <pthread.h>

#include <cerrno>
#include <cstdint>

#include "host/host.h"

namespace lkl::host {
namespace {

pthread_key_t to_key(lkl_tls_key *key) {
  return static_cast<pthread_key_t>(reinterpret_cast<std::uintptr_t>(key) - 1);
}

}  // namespace

// pthread runs the destructor with the thread's value when the thread exits, if the value is not
// NULL, which is exactly the contract of tls_alloc.
lkl_tls_key *tls_alloc(void (*destructor)(void *)) noexcept {
  pthread_key_t key;
  if (pthread_key_create(&key, destructor) != 0) return nullptr;
  return reinterpret_cast<lkl_tls_key *>(static_cast<std::uintptr_t>(key) + 1);
}

void tls_free(lkl_tls_key *key) noexcept {
  if (key) pthread_key_delete(to_key(key));
}

int tls_set(lkl_tls_key *key, void *data) noexcept {
  if (!key) return -EINVAL;
  return -pthread_setspecific(to_key(key), data);
}

void *tls_get(lkl_tls_key *key) noexcept {
  return key ? pthread_getspecific(to_key(key)) : nullptr;
}

}  // namespace lkl::host
