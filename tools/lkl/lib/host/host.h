// POSIX implementations of the kernel's host operations, one concern per file.
//
// Every function here is called by the kernel through struct lkl_host_operations (see
// posix_host.cc), so each one is noexcept, never throws, never aborts on a recoverable error and
// returns the failure value documented in <lkl/asm/host_ops.h>. The glue is built without
// exceptions and RTTI and never uses operator new, so liblkl.a links into a plain C program with
// only -lpthread.
#ifndef LKL_LIB_HOST_HOST_H
#define LKL_LIB_HOST_HOST_H

#include <pthread.h>

#include <lkl/asm/host_ops.h>

namespace lkl::host {

// console.cc: kernel console and panic; see LKL_CONSOLE in console.cc.
void print(const char *str, int len) noexcept;
[[noreturn]] void panic() noexcept;

// sync.cc: futex-based counting semaphores and (recursive) mutexes.
lkl_sem *sem_alloc(int count) noexcept;
void sem_free(lkl_sem *sem) noexcept;
void sem_up(lkl_sem *sem) noexcept;
void sem_down(lkl_sem *sem) noexcept;
lkl_mutex *mutex_alloc(int recursive) noexcept;
void mutex_free(lkl_mutex *mutex) noexcept;
void mutex_lock(lkl_mutex *mutex) noexcept;
void mutex_unlock(lkl_mutex *mutex) noexcept;

// thread.cc: pthreads, named and listed as kernel threads (see spawn_thread).
lkl_thread_t thread_create(void (*fn)(void *), void *arg) noexcept;
void thread_detach() noexcept;
[[noreturn]] void thread_exit() noexcept;
int thread_join(lkl_thread_t tid) noexcept;
lkl_thread_t thread_self() noexcept;
int thread_equal(lkl_thread_t a, lkl_thread_t b) noexcept;
void *thread_stack(unsigned long *size) noexcept;
long gettid() noexcept;
// Restricts every listed kernel thread, now and later, to one CPU; see pin_kernel_threads in
// <lkl/asm/host_ops.h>.
int pin_kernel_threads(int cpu) noexcept;

// sched_yield(): offers the calling thread's host CPU.
void yield() noexcept;

// relax.cc: the relax host operation. Runs the registered pollers on the spinning thread (each
// returns whether it made progress, e.g. delivered a frame), then yields the host CPU if none did.
// A poller runs with the kernel's CPU held by the spinner, never concurrently with the removal of
// its registration, and must not block.
using RelaxPoller = bool (*)(void *arg);
bool add_relax_poller(RelaxPoller fn, void *arg) noexcept;  // false: table full
void remove_relax_poller(void *arg) noexcept;  // every poller with arg; waits for a running one
void relax() noexcept;

// Starts a host thread for the kernel: named @name (at most 15 characters, e.g. "lkl-timer", seen
// in /proc and top), listed as a kernel thread until it ends so that pin_kernel_threads() applies
// to it, and with every asynchronous signal blocked, so that the application's signal handlers
// never run on (and never interrupt) kernel threads. Every thread the library makes for the
// kernel starts here; application threads never do. Returns 0 or a positive errno.
int spawn_thread(pthread_t *thread, void *(*start)(void *), void *arg, const char *name) noexcept;

// tls.cc: pthread keys.
lkl_tls_key *tls_alloc(void (*destructor)(void *)) noexcept;
void tls_free(lkl_tls_key *key) noexcept;
int tls_set(lkl_tls_key *key, void *data) noexcept;
void *tls_get(lkl_tls_key *key) noexcept;

// memory.cc: malloc for objects, anonymous mappings for kernel RAM.
void *mem_alloc(unsigned long size) noexcept;
void mem_free(void *addr) noexcept;
void *page_alloc(unsigned long size) noexcept;
void page_free(void *addr, unsigned long size) noexcept;
// True if [addr, addr + size) lies inside one block page_alloc handed out and page_free has not
// taken back: the kernel's RAM, which devices may read and write on the driver's behalf.
bool memory_contains(const void *addr, unsigned long size) noexcept;

// timer.cc: CLOCK_MONOTONIC and one-shot timers, one host thread per timer.
unsigned long long time_ns() noexcept;
lkl_timer *timer_alloc(void (*fn)(void *), void *arg) noexcept;
int timer_set_oneshot(lkl_timer *timer, unsigned long delta_ns) noexcept;
void timer_free(lkl_timer *timer) noexcept;

// jmp.cc: setjmp/longjmp without signal masks.
void jmp_buf_set(lkl_jmp_buf *jmpb, void (*fn)()) noexcept;
[[noreturn]] void jmp_buf_longjmp(lkl_jmp_buf *jmpb, int val) noexcept;

// ../iomem.cc: MMIO dispatch to registered device regions.
void *ioremap(long addr, int size) noexcept;
int iomem_access(const volatile void *addr, void *val, int size, int write) noexcept;

}  // namespace lkl::host

#endif  // LKL_LIB_HOST_HOST_H
