/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_THREAD_INFO_H
#define _ASM_LKL_THREAD_INFO_H

#include <linux/bits.h>
#include <asm/page.h>

/*
 * A task's "stack" only holds its thread_info: the code of every task
 * runs on the stack of the host thread that carries it.
 */
#define THREAD_SIZE_ORDER	0
#define THREAD_SIZE		(PAGE_SIZE << THREAD_SIZE_ORDER)

#ifndef __ASSEMBLY__
#include <asm/processor.h>

/**
 * struct thread_info - per-task state of the LKL architecture
 * @task: the task this belongs to
 * @flags: TIF_* flags
 * @preempt_count: the generic preemption counter
 *
 * How the task is carried by a host thread is in struct thread_struct,
 * which lives as long as the task_struct itself.
 */
struct thread_info {
	struct task_struct *task;
	unsigned long flags;
	int preempt_count;
};

#define INIT_THREAD_INFO(tsk)				\
{							\
	.task		= &(tsk),			\
	.flags		= 0,				\
	.preempt_count	= INIT_PREEMPT_COUNT,		\
}

/* The thread_info of the task that owns the LKL CPU right now. */
extern struct thread_info *lkl_current_ti;

static inline struct thread_info *current_thread_info(void)
{
	return lkl_current_ti;
}

#endif /* __ASSEMBLY__ */

#define TIF_SYSCALL_TRACE	0
#define TIF_NOTIFY_RESUME	1
#define TIF_SIGPENDING		2
#define TIF_NEED_RESCHED	3
#define TIF_RESTORE_SIGMASK	4
#define TIF_MEMDIE		5
#define TIF_NOTIFY_SIGNAL	6
#define TIF_POLLING_NRFLAG	7

#define _TIF_SYSCALL_TRACE	BIT(TIF_SYSCALL_TRACE)
#define _TIF_NOTIFY_RESUME	BIT(TIF_NOTIFY_RESUME)
#define _TIF_SIGPENDING		BIT(TIF_SIGPENDING)
#define _TIF_NEED_RESCHED	BIT(TIF_NEED_RESCHED)
#define _TIF_RESTORE_SIGMASK	BIT(TIF_RESTORE_SIGMASK)
#define _TIF_MEMDIE		BIT(TIF_MEMDIE)
#define _TIF_NOTIFY_SIGNAL	BIT(TIF_NOTIFY_SIGNAL)
#define _TIF_POLLING_NRFLAG	BIT(TIF_POLLING_NRFLAG)

#endif /* _ASM_LKL_THREAD_INFO_H */
