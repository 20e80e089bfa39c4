/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The only interface between the LKL kernel and its host.
 *
 * The kernel reaches the host exclusively through the function pointers in
 * struct lkl_host_operations; the host reaches the kernel through the
 * lkl_*() entry points declared at the end of this file. No host type
 * crosses this boundary: handles are opaque and sizes are unsigned long.
 */
#ifndef _ASM_UAPI_LKL_HOST_OPS_H
#define _ASM_UAPI_LKL_HOST_OPS_H

struct lkl_mutex;
struct lkl_sem;
struct lkl_tls_key;
struct lkl_timer;

/* A host thread handle; 0 is never a valid thread. */
typedef unsigned long lkl_thread_t;

/* Storage for a host jmp_buf; the host checks that its jmp_buf fits. */
struct lkl_jmp_buf {
	unsigned long buf[64];
};

/**
 * struct lkl_host_operations - services the host provides to the kernel
 *
 * @virtio_devices: virtio-mmio device list appended to the command line by
 *	the host before boot ("virtio_mmio.device=..." entries), or NULL
 * @print: write @len bytes of kernel console output
 * @panic: the kernel panicked; the host must not return to the kernel
 * @sem_alloc: counting semaphore with initial value @count, NULL on failure
 * @sem_free: free a semaphore nobody waits on
 * @sem_up: post a semaphore
 * @sem_down: wait on a semaphore
 * @mutex_alloc: mutex, recursive if @recursive is non-zero; NULL on failure
 * @mutex_free: free an unlocked mutex
 * @mutex_lock: lock a mutex
 * @mutex_unlock: unlock a mutex
 * @thread_create: start a joinable host thread running @f(@arg); 0 on failure
 * @thread_detach: detach the calling thread
 * @thread_exit: terminate the calling thread
 * @thread_join: wait for @tid to end; 0 on success, negative errno otherwise
 * @thread_self: handle of the calling thread
 * @thread_equal: non-zero if @a and @b name the same thread
 * @thread_stack: lowest address of the calling thread's stack, its size
 *	in @size
 * @tls_alloc: thread-local key whose @destructor (if any) runs with the
 *	thread's non-NULL value when a thread exits; NULL on failure
 * @tls_free: free a key
 * @tls_set: set the calling thread's value for @key; 0 on success,
 *	negative errno otherwise
 * @tls_get: the calling thread's value for @key
 * @mem_alloc: general host memory
 * @mem_free: free memory from @mem_alloc
 * @page_alloc: page-aligned, zeroed memory of @size bytes (kernel RAM)
 * @page_free: free memory from @page_alloc
 * @time: monotonic time in nanoseconds
 * @timer_alloc: one-shot timer that calls @fn(@arg) from a host thread
 * @timer_set_oneshot: arm @timer to fire once after @delta nanoseconds
 * @timer_free: disarm and free a timer; waits for a running callback
 * @ioremap: map device memory at @addr of @size bytes for MMIO access
 * @iomem_access: read or write (@write non-zero) @size (1, 2, 4 or 8) bytes
 *	of MMIO at @addr; 0 on success, -EFAULT for an address no device
 *	claims (a read then yields all ones), -EINVAL for a bad size
 * @gettid: host thread id of the caller, for diagnostics
 * @jmp_buf_set: save the context in @jmpb, then call @f; returns when @f
 *	returns or when @jmp_buf_longjmp is called on @jmpb
 * @jmp_buf_longjmp: return to the context saved in @jmpb
 * @memcpy: optional host memcpy (NULL: the kernel's own)
 * @memset: optional host memset (NULL: the kernel's own)
 * @pin_kernel_threads: optional: restrict every host thread the host made
 *	for the kernel (task carriers, timer threads, device threads), now
 *	and later, to host CPU @cpu, or to the highest-numbered CPU the
 *	process may use for %LKL_PIN_AUTO; %LKL_PIN_OFF gives them back the
 *	affinity mask the process had when the host first made or pinned
 *	such a thread. Never touches other threads. Returns the CPU pinned
 *	to (0 for %LKL_PIN_OFF), -EINVAL for a CPU the process may not use,
 *	another negative errno on failure; NULL: pinning is unsupported
 * @relax: optional: let other runnable host threads have the calling
 *	thread's host CPU for a while (POSIX: sched_yield()). The kernel calls
 *	it in cpu_relax(), i.e. while it spins until another host thread makes
 *	progress (a device thread filling a ring the kernel busy-polls);
 *	NULL: spin
 */
struct lkl_host_operations {
	const char *virtio_devices;

	void (*print)(const char *str, int len);
	void (*panic)(void);

	struct lkl_sem *(*sem_alloc)(int count);
	void (*sem_free)(struct lkl_sem *sem);
	void (*sem_up)(struct lkl_sem *sem);
	void (*sem_down)(struct lkl_sem *sem);

	struct lkl_mutex *(*mutex_alloc)(int recursive);
	void (*mutex_free)(struct lkl_mutex *mutex);
	void (*mutex_lock)(struct lkl_mutex *mutex);
	void (*mutex_unlock)(struct lkl_mutex *mutex);

	lkl_thread_t (*thread_create)(void (*f)(void *), void *arg);
	void (*thread_detach)(void);
	void (*thread_exit)(void);
	int (*thread_join)(lkl_thread_t tid);
	lkl_thread_t (*thread_self)(void);
	int (*thread_equal)(lkl_thread_t a, lkl_thread_t b);
	void *(*thread_stack)(unsigned long *size);

	struct lkl_tls_key *(*tls_alloc)(void (*destructor)(void *));
	void (*tls_free)(struct lkl_tls_key *key);
	int (*tls_set)(struct lkl_tls_key *key, void *data);
	void *(*tls_get)(struct lkl_tls_key *key);

	void *(*mem_alloc)(unsigned long size);
	void (*mem_free)(void *addr);
	void *(*page_alloc)(unsigned long size);
	void (*page_free)(void *addr, unsigned long size);

	unsigned long long (*time)(void);

	struct lkl_timer *(*timer_alloc)(void (*fn)(void *), void *arg);
	int (*timer_set_oneshot)(struct lkl_timer *timer, unsigned long delta);
	void (*timer_free)(struct lkl_timer *timer);

	void *(*ioremap)(long addr, int size);
	int (*iomem_access)(const volatile void *addr, void *val, int size,
			    int write);

	long (*gettid)(void);

	void (*jmp_buf_set)(struct lkl_jmp_buf *jmpb, void (*f)(void));
	void (*jmp_buf_longjmp)(struct lkl_jmp_buf *jmpb, int val);

	void *(*memcpy)(void *dest, const void *src, unsigned long count);
	void *(*memset)(void *s, int c, unsigned long count);

	int (*pin_kernel_threads)(int cpu);
	void (*relax)(void);
};

/* Values of lkl_pin_kernel_threads() and pin_kernel_threads besides a CPU. */
#define LKL_PIN_OFF	(-1)
#define LKL_PIN_AUTO	(-2)

/**
 * lkl_init - record the host operations; call once before lkl_start_kernel
 * @ops: the host operations, which must outlive the kernel
 *
 * Return: 0, or a negative errno if @ops lacks a mandatory operation.
 */
int lkl_init(struct lkl_host_operations *ops);

/**
 * lkl_start_kernel - boot the kernel and return once it can take syscalls
 * @cmd_line: printf-style kernel command line, e.g. "mem=64M loglevel=4"
 *
 * Return: 0, or a negative errno (bad command line, no memory, not
 * initialised, already running).
 */
int lkl_start_kernel(const char *cmd_line, ...)
	__attribute__((format(printf, 1, 2)));

/**
 * lkl_is_running - non-zero between a successful boot and halt
 */
int lkl_is_running(void);

/**
 * lkl_sys_halt - stop the kernel; threads blocked in syscalls return an error
 *
 * Return: 0, or a negative errno if the kernel was not running.
 */
long lkl_sys_halt(void);

#define LKL_SYSCALL_SHADOW	0
#define LKL_SYSCALL_DIRECT	1

/**
 * lkl_set_syscall_mode - choose how host threads run syscalls
 * @mode: LKL_SYSCALL_SHADOW: each host thread's calls run on a kernel
 *	thread of its own (a shadow task), two host context switches per call;
 *	LKL_SYSCALL_DIRECT (the default): the calling thread runs the call
 *	itself and waits on a host semaphore only when the call blocks
 *
 * Same as the boot parameter lkl.syscall=shadow|direct; may be called at
 * any time after lkl_init(). Each thread switches at its next call.
 *
 * Return: the previous mode, or -EINVAL for an unknown @mode.
 */
int lkl_set_syscall_mode(int mode);

/**
 * lkl_cleanup - release what lkl_init() and a halted kernel still hold
 */
void lkl_cleanup(void);

/**
 * lkl_pin_kernel_threads - pin the kernel's host threads to one host CPU
 * @cpu: a host CPU number, %LKL_PIN_AUTO for the highest-numbered CPU the
 *	process may use, or %LKL_PIN_OFF to undo
 *
 * Applies to every host thread of the kernel, those that exist and those
 * made later; application threads keep their affinity. Callable from any
 * thread after lkl_init(), before or after boot. The boot parameter
 * lkl.pin_cpu=off|auto|N does the same at boot.
 *
 * Return: the host CPU the threads are pinned to (0 for %LKL_PIN_OFF),
 * -LKL_EINVAL for a value that is not a CPU the process may use or without
 * lkl_init(), -LKL_EOPNOTSUPP if the host operations cannot pin.
 */
int lkl_pin_kernel_threads(int cpu);

/**
 * lkl_syscall - run syscall @no with up to six @params in the kernel
 *
 * Return: the syscall's result; -LKL_ENOSYS for an unknown number and a
 * negative errno if the kernel is not running.
 */
long lkl_syscall(long no, long *params);

/**
 * lkl_trigger_irq - raise interrupt @irq from any host thread
 *
 * Return: 0, or -LKL_EINVAL for an invalid irq.
 */
int lkl_trigger_irq(int irq);

/**
 * lkl_get_free_irq - reserve an interrupt line for a host device
 * @user: name shown in /proc/interrupts
 *
 * Return: the irq number, or a negative errno.
 */
int lkl_get_free_irq(const char *user);

/**
 * lkl_put_irq - release an interrupt line from lkl_get_free_irq()
 */
void lkl_put_irq(int irq, const char *name);

#endif /* _ASM_UAPI_LKL_HOST_OPS_H */
