// SPDX-License-Identifier: GPL-2.0
/*
 * Tasks on host threads.
 *
 * Every task is carried by its own host thread. A task that is switched
 * out waits on its host semaphore; __switch_to() hands the CPU to the next
 * task's host thread, posts that task's semaphore and parks the current
 * one. A host thread leaves (returns from its start routine through a jump
 * buffer) when its task dies or when the kernel halts.
 */
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/sched/task_stack.h>
#include <linux/sched/signal.h>
#include <linux/sched/debug.h>
#include <linux/printk.h>
#include <asm/host_ops.h>
#include <asm/cpu.h>
#include <asm/switch_to.h>

struct thread_info *lkl_current_ti = &init_thread_info;

int arch_dup_task_struct(struct task_struct *dst, struct task_struct *src)
{
	*dst = *src;
	/* The host thread is the child's own, made in copy_thread(). */
	memset(&dst->thread, 0, sizeof(dst->thread));
	return 0;
}

/* Runs on the task's host thread once the task is first scheduled. */
static void task_body(void)
{
	struct task_struct *self = current;
	int ret;

	schedule_tail(self->thread.prev_sched);
	ret = self->thread.fn(self->thread.fn_arg);
	/*
	 * Returning 0 means "go to user space": only the host process (the
	 * init task once it ran /init) does that, and it then serves host
	 * threads for the life of the kernel.
	 */
	if (!ret && !(self->flags & PF_KTHREAD) && self->pid == 1)
		lkl_host_process_serve();
	do_exit(ret);
}

static void task_thread_start(void *arg)
{
	struct task_struct *task = arg;
	struct lkl_jmp_buf exit_jb;

	lkl_ops->sem_down(task->thread.sched_sem);
	if (task->thread.dead)
		return;
	task->thread.exit_jb = &exit_jb;
	lkl_ops->jmp_buf_set(&exit_jb, task_body);
}

int copy_thread(struct task_struct *p, const struct kernel_clone_args *args)
{
	/* There is no user mode a forked task could return to. */
	if (!args->fn)
		return -EINVAL;

	p->thread.fn = args->fn;
	p->thread.fn_arg = args->fn_arg;
	p->thread.sched_sem = lkl_ops->sem_alloc(0);
	if (!p->thread.sched_sem)
		return -ENOMEM;
	p->thread.tid = lkl_ops->thread_create(task_thread_start, p);
	if (!p->thread.tid) {
		lkl_ops->sem_free(p->thread.sched_sem);
		p->thread.sched_sem = NULL;
		return -EAGAIN;
	}
	p->thread.carrier = p->thread.tid;
	p->thread.switch_sem = p->thread.sched_sem;
	return 0;
}

/* Stop the host thread of a task that will never run again and reap it. */
static void task_thread_kill(struct task_struct *task)
{
	if (task->thread.tid) {
		task->thread.dead = true;
		lkl_ops->sem_up(task->thread.sched_sem);
		/* A borrowed shadow task: release the borrower too. */
		if (task->thread.switch_sem != task->thread.sched_sem)
			lkl_syscalls_release_borrower(task);
		lkl_ops->thread_join(task->thread.tid);
		task->thread.tid = 0;
	}
	if (task->thread.sched_sem) {
		lkl_ops->sem_free(task->thread.sched_sem);
		task->thread.sched_sem = NULL;
		task->thread.switch_sem = NULL;
	}
}

void arch_release_task_struct(struct task_struct *tsk)
{
	/*
	 * A task that ran has left its host thread in __switch_to(); one that
	 * never ran (fork failed late) still has a host thread waiting.
	 */
	task_thread_kill(tsk);
}

/**
 * lkl_thread_leave - return the calling host thread to its start routine
 * @task: the task the host thread carries
 */
void lkl_thread_leave(struct task_struct *task)
{
	lkl_ops->jmp_buf_longjmp(task->thread.exit_jb, 1);
	unreachable();
}

struct task_struct *__switch_to(struct task_struct *prev,
				struct task_struct *next)
{
	struct thread_struct *p = &prev->thread;
	struct lkl_jmp_buf *exit_jb = p->exit_jb;
	struct lkl_sem *wait_sem = p->switch_sem;
	struct lkl_jmp_buf *borrow_jb;

	next->thread.prev_sched = prev;
	lkl_current_ti = task_thread_info(next);
	lkl_cpu_change_owner(next->thread.carrier);

	if (READ_ONCE(prev->__state) == TASK_DEAD) {
		/* The task is gone: its host thread ends without a join. */
		p->tid = 0;
		lkl_ops->thread_detach();
		lkl_ops->sem_up(next->thread.switch_sem);
		lkl_ops->jmp_buf_longjmp(exit_jb, 1);
	}

	/* Where a stack trace of the parked task starts. */
	p->frame = __builtin_frame_address(0);
	if (p->hand_back) {
		/*
		 * A borrower is done with a shadow task: the task's own host
		 * thread waits where the task last switched out and carries it
		 * from its next switch in; the borrower leaves the kernel.
		 */
		borrow_jb = p->borrow_jb;
		p->hand_back = false;
		p->borrow_jb = NULL;
		p->carrier = p->tid;
		p->switch_sem = p->sched_sem;
		lkl_ops->sem_up(next->thread.switch_sem);
		lkl_ops->jmp_buf_longjmp(borrow_jb, 1);
	}
	lkl_ops->sem_up(next->thread.switch_sem);
	lkl_ops->sem_down(wait_sem);
	if (p->dead) {
		/* Halt: a borrower leaves for its call, the own thread ends. */
		if (wait_sem != p->sched_sem)
			lkl_ops->jmp_buf_longjmp(p->borrow_jb, 1);
		lkl_thread_leave(prev);
	}
	return p->prev_sched;
}

/**
 * lkl_threads_init - let the boot thread carry the idle task
 *
 * Return: 0 or -ENOMEM.
 */
int lkl_threads_init(void)
{
	init_task.thread.tid = lkl_ops->thread_self();
	init_task.thread.carrier = init_task.thread.tid;
	init_task.thread.exit_jb = &lkl_boot_jb;
	init_task.thread.sched_sem = lkl_ops->sem_alloc(0);
	init_task.thread.switch_sem = init_task.thread.sched_sem;
	return init_task.thread.sched_sem ? 0 : -ENOMEM;
}

/**
 * lkl_threads_kill_all - stop every host thread but the caller's (at halt)
 *
 * Called by the CPU owner after lkl_cpu_shutdown(): the threads it stops
 * are all parked, and none of them runs kernel code again.
 */
void lkl_threads_kill_all(void)
{
	struct task_struct *g, *t;

	for_each_process_thread(g, t) {
		if (t == current || t->exit_state)
			continue;
		task_thread_kill(t);
	}
	if (current != &init_task) {
		/* The idle task waits either to run or for work. */
		init_task.thread.dead = true;
		lkl_cpu_wake_idle();
		lkl_ops->sem_up(init_task.thread.sched_sem);
		lkl_ops->thread_join(init_task.thread.tid);
		init_task.thread.tid = 0;
		lkl_ops->sem_free(init_task.thread.sched_sem);
		init_task.thread.sched_sem = NULL;
	}
}

void flush_thread(void)
{
}
