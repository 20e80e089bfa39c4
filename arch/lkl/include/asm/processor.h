/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_PROCESSOR_H
#define _ASM_LKL_PROCESSOR_H

#include <asm/ptrace.h>
#include <asm/host_ops.h>

struct task_struct;
struct lkl_shadow;

/**
 * struct thread_struct - how a task is carried by a host thread
 * @regs: the (empty) register frame of the task
 * @sched_sem: the host thread waits here while the task is switched out
 * @tid: the host thread made for the task, 0 once it has left
 * @carrier: the host thread that runs the task when it is switched to:
 *	@tid, or the application thread that borrowed a shadow task
 * @switch_sem: where @carrier waits while the task is switched out:
 *	@sched_sem, or the borrower's own semaphore
 * @borrow_jb: while a borrower carries the task: where it leaves the kernel
 *	at halt or when @hand_back is set
 * @hand_back: the borrower gives the task back to @tid at its next switch
 *	out, instead of waiting for the next switch in
 * @shadow: the host thread a shadow task works for, NULL for other tasks
 * @exit_jb: context that returns the host thread to its start routine
 * @dead: the kernel is halting: the host thread must leave, not run
 * @prev_sched: the task that switched to this one (for schedule_tail)
 * @fn: the function the task runs first
 * @fn_arg: its argument
 * @frame: frame pointer of __switch_to() while the task is switched out
 */
struct thread_struct {
	struct pt_regs regs;
	struct lkl_sem *sched_sem;
	lkl_thread_t tid;
	lkl_thread_t carrier;
	struct lkl_sem *switch_sem;
	struct lkl_jmp_buf *borrow_jb;
	bool hand_back;
	struct lkl_shadow *shadow;
	struct lkl_jmp_buf *exit_jb;
	bool dead;
	struct task_struct *prev_sched;
	int (*fn)(void *arg);
	void *fn_arg;
	unsigned long *frame;
};

#define INIT_THREAD { }

#define task_pt_regs(tsk)	(&(tsk)->thread.regs)

void lkl_cpu_relax(void);
#define cpu_relax()		lkl_cpu_relax()

/* Without an MMU every address is the host's; user space has no limit. */
#define TASK_SIZE		(~0UL)
#define TASK_SIZE_MAX		TASK_SIZE
#define TASK_UNMAPPED_BASE	0
#define STACK_TOP		TASK_SIZE
#define STACK_TOP_MAX		STACK_TOP

static inline unsigned long KSTK_EIP(struct task_struct *tsk)
{
	return 0;
}

static inline unsigned long KSTK_ESP(struct task_struct *tsk)
{
	return 0;
}

static inline unsigned long __get_wchan(struct task_struct *p)
{
	return 0;
}

#endif /* _ASM_LKL_PROCESSOR_H */
