/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_CPU_H
#define _ASM_LKL_CPU_H

#include <linux/linkage.h>
#include <linux/types.h>

/* Ownership of the single LKL CPU by host threads (kernel/cpu.c). */
int lkl_cpu_init(void);
void lkl_cpu_free(void);
int lkl_cpu_get(void);
bool lkl_cpu_try_get(void);
void lkl_cpu_put(void);
void lkl_cpu_change_owner(lkl_thread_t owner);
void lkl_cpu_shutdown(void);
void lkl_cpu_wake_idle(void);
void lkl_cpu_kick_idle(void);

/* Interrupts raised by host threads (kernel/irq.c). */
void lkl_run_pending_irqs(void);
bool lkl_irqs_pending(void);

/* Host threads that carry tasks (kernel/threads.c). */
int lkl_threads_init(void);
void lkl_threads_kill_all(void);
struct task_struct;
void __noreturn lkl_thread_leave(struct task_struct *task);

/* Syscall entry (kernel/syscalls.c, kernel/syscall_table.c). */

/* What a host thread's shadow task is doing for it. */
enum lkl_shadow_state {
	SHADOW_IDLE,		/* asleep in shadow_main(), or running a request */
	SHADOW_BORROWED,	/* current on the caller's thread, not rq->curr */
	SHADOW_PARKED,		/* blocked in a direct call, the caller waits */
	SHADOW_ADOPTED,		/* switched to on the caller: rq->curr there */
};

typedef long (*lkl_syscall_fn_t)(long, long, long, long, long, long);
extern const lkl_syscall_fn_t lkl_syscall_table[];

int lkl_syscalls_init(void);
void lkl_syscalls_cleanup(void);
void lkl_syscalls_release_waiters(long err);
void __noreturn lkl_syscalls_finish_halt(void);
void lkl_syscalls_release_borrower(struct task_struct *task);

/* For the direct syscall KUnit suite (kernel/direct_kunit.c). */
struct lkl_shadow;
struct lkl_shadow *lkl_direct_test_shadow(struct task_struct **task);
int lkl_direct_test_attach(struct lkl_shadow *sh);
long lkl_direct_test_call(long (*fn)(void *), void *arg);
int lkl_direct_test_state(struct lkl_shadow *sh);
void __noreturn lkl_host_process_serve(void);

/* Boot and halt (kernel/setup.c). */
extern struct lkl_jmp_buf lkl_boot_jb;
void lkl_boot_done(int status);

/* Kernel memory (kernel/mem.c). */
void lkl_mem_init(void);
void lkl_mem_free(void);

/* Timer (kernel/time.c). */
void lkl_clock_init(void);
void lkl_time_free(void);

#endif /* _ASM_LKL_CPU_H */
