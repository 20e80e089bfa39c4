// Thin wrappers around the process-private futex operations used by sync.cc.
#ifndef LKL_LIB_HOST_FUTEX_H
#define LKL_LIB_HOST_FUTEX_H

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace lkl::host {

// Sleeps while the 32-bit word at addr holds expected. Returns early on a wake-up, on a signal
// (EINTR) or when the word already differs (EAGAIN); callers re-check their condition in a loop,
// so the result is deliberately not reported.
inline void futex_wait(const void *addr, std::uint32_t expected) noexcept {
  syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}

// Wakes up to count sleepers on addr. Only the address is used, never the memory behind it, so a
// waker may call this after the object was freed by the thread it released: at worst another
// futex user at a reused address sees a spurious wake-up, which futex users must tolerate anyway.
inline void futex_wake(const void *addr, int count) noexcept {
  syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, count, nullptr, nullptr, 0);
}

// Hint for short spin loops.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace lkl::host

#endif  // LKL_LIB_HOST_FUTEX_H
