// SPDX-License-Identifier: GPL-2.0
/*
 * Syscall entry in shadow-thread mode.
 *
 * Each host thread that makes syscalls gets a shadow task, a thread of the
 * host process (pid 1), created on its first syscall and ended when the
 * host thread exits. lkl_syscall() hands the call to the shadow task and
 * waits on a host semaphore; the shadow task runs it like any other task,
 * so it may block, and posts the result back.
 */
#include <linux/errno.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/syscalls.h>
#include <linux/task_work.h>
#include <linux/resume_user_mode.h>
#include <linux/init.h>
#include <asm/host_ops.h>
#include <asm/cpu.h>
#include <asm/unistd.h>

/* The table's filler entry (kernel/sys_ni.c). */
asmlinkage long sys_ni_syscall(void);

/**
 * struct lkl_shadow - a host thread's shadow task
 * @task: the shadow task, NULL until it has started
 * @done: the host thread waits here for the result
 * @no: syscall number of the request
 * @params: its arguments
 * @ret: its result
 * @pending: a request waits for the shadow task
 * @busy: the host thread waits for a result
 * @exit: the host thread has exited: end the shadow task
 * @node: entry in the list of all shadows
 * @queue: entry in the queue of shadows to create
 */
struct lkl_shadow {
	struct task_struct *task;
	struct lkl_sem *done;
	long no;
	long params[6];
	long ret;
	bool pending;
	bool busy;
	bool exit;
	struct list_head node;
	struct list_head queue;
};

/* All protected by ownership of the CPU. */
static LIST_HEAD(shadows);
static LIST_HEAD(create_queue);
static struct task_struct *host_process;
static struct lkl_tls_key *shadow_key;
/* Set at halt; read by host threads without the CPU. */
static int halted;

/* After halt a host thread drops its shadow's host semaphore itself. */
static void shadow_drop(struct lkl_shadow *sh)
{
	if (sh->done)
		lkl_ops->sem_free(sh->done);
	sh->done = NULL;
	lkl_ops->tls_set(shadow_key, NULL);
}

static long run_syscall(long no, long *p)
{
	long ret;

	if (no < 0 || no >= __NR_syscalls)
		return sys_ni_syscall();
	ret = lkl_syscall_table[no](p[0], p[1], p[2], p[3], p[4], p[5]);

	/* What a return to user mode would do. */
	if (test_thread_flag(TIF_NOTIFY_SIGNAL))
		clear_notify_signal();
	if (test_thread_flag(TIF_NOTIFY_RESUME) || task_work_pending(current))
		resume_user_mode_work(current_pt_regs());
	if (signal_pending(current))
		flush_signals(current);

	switch (ret) {
	case -ERESTARTSYS:
	case -ERESTARTNOINTR:
	case -ERESTARTNOHAND:
	case -ERESTART_RESTARTBLOCK:
		return -EINTR;
	}
	return ret;
}

static int shadow_main(void *arg)
{
	struct lkl_shadow *sh = arg;

	sh->task = current;
	list_add(&sh->node, &shadows);
	for (;;) {
		set_current_state(TASK_IDLE);
		if (!sh->pending && !sh->exit) {
			schedule();
			continue;
		}
		__set_current_state(TASK_RUNNING);
		if (sh->exit)
			break;
		sh->pending = false;
		sh->ret = run_syscall(sh->no, sh->params);
		sh->busy = false;
		lkl_ops->sem_up(sh->done);
	}
	list_del(&sh->node);
	lkl_ops->sem_free(sh->done);
	kfree(sh);
	return 0;
}

/**
 * lkl_host_process_serve - the host process creates shadow tasks
 *
 * Runs as pid 1 once it has run /init; never returns.
 */
void lkl_host_process_serve(void)
{
	const unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES |
				    CLONE_SIGHAND | CLONE_THREAD |
				    CLONE_SYSVSEM;
	struct lkl_shadow *sh;
	pid_t pid;

	host_process = current;
	lkl_boot_done(0);
	for (;;) {
		set_current_state(TASK_IDLE);
		if (list_empty(&create_queue)) {
			schedule();
			continue;
		}
		__set_current_state(TASK_RUNNING);
		sh = list_first_entry(&create_queue, struct lkl_shadow, queue);
		list_del_init(&sh->queue);
		pid = user_mode_thread(shadow_main, sh, flags);
		if (pid < 0) {
			sh->pending = false;
			sh->busy = false;
			sh->ret = pid;
			lkl_ops->sem_up(sh->done);
		}
	}
}

static struct lkl_shadow *shadow_alloc(void)
{
	struct lkl_shadow *sh = kzalloc(sizeof(*sh), GFP_ATOMIC);

	if (!sh)
		return NULL;
	sh->done = lkl_ops->sem_alloc(0);
	if (!sh->done) {
		kfree(sh);
		return NULL;
	}
	INIT_LIST_HEAD(&sh->node);
	INIT_LIST_HEAD(&sh->queue);
	if (lkl_ops->tls_set(shadow_key, sh)) {
		lkl_ops->sem_free(sh->done);
		kfree(sh);
		return NULL;
	}
	return sh;
}

/* The host thread has exited: let its shadow task end. */
static void shadow_destructor(void *data)
{
	struct lkl_shadow *sh = data;

	if (lkl_cpu_get() < 0) {
		/* Halted: only the host semaphore is left to free. */
		if (__atomic_load_n(&halted, __ATOMIC_ACQUIRE))
			shadow_drop(sh);
		return;
	}
	if (sh->task) {
		sh->exit = true;
		wake_up_process(sh->task);
	} else {
		list_del(&sh->queue);
		lkl_ops->sem_free(sh->done);
		kfree(sh);
	}
	lkl_cpu_put();
}

/**
 * lkl_syscall - run a syscall on behalf of the calling host thread
 * @no: syscall number
 * @params: six arguments (NULL if the syscall takes none)
 *
 * Return: the syscall's result, or -ENODEV if the kernel is not running,
 * -ENOMEM if the shadow task could not be made.
 */
long lkl_syscall(long no, long *params)
{
	static long no_params[6];
	struct lkl_shadow *sh;
	unsigned long flags;
	long ret;

	if (!lkl_is_running())
		return -ENODEV;
	ret = lkl_cpu_get();
	if (ret < 0)
		return ret;

	sh = lkl_ops->tls_get(shadow_key);
	if (!sh) {
		sh = shadow_alloc();
		if (!sh) {
			lkl_cpu_put();
			return -ENOMEM;
		}
	}
	sh->no = no;
	memcpy(sh->params, params ? params : no_params, sizeof(sh->params));
	sh->pending = true;
	sh->busy = true;

	local_irq_save(flags);
	if (sh->task) {
		wake_up_process(sh->task);
	} else {
		list_add_tail(&sh->queue, &create_queue);
		wake_up_process(host_process);
	}
	local_irq_restore(flags);
	lkl_cpu_put();

	lkl_ops->sem_down(sh->done);
	ret = sh->ret;
	if (__atomic_load_n(&halted, __ATOMIC_ACQUIRE))
		shadow_drop(sh);
	return ret;
}

/**
 * lkl_syscalls_release_waiters - fail the syscalls in flight (at halt)
 * @err: the result they get
 *
 * The calling task's own host thread is left waiting: it is released when
 * the halt is complete.
 */
void lkl_syscalls_release_waiters(long err)
{
	struct lkl_shadow *sh;

	__atomic_store_n(&halted, 1, __ATOMIC_RELEASE);

	list_for_each_entry(sh, &shadows, node) {
		if (sh->task == current || !sh->busy)
			continue;
		sh->busy = false;
		sh->ret = err;
		lkl_ops->sem_up(sh->done);
	}
	list_for_each_entry(sh, &create_queue, queue) {
		sh->busy = false;
		sh->ret = err;
		lkl_ops->sem_up(sh->done);
	}
}

/**
 * lkl_syscalls_finish_halt - release the host thread that asked for halt
 *
 * Return: never; the calling task's host thread leaves.
 */
void lkl_syscalls_finish_halt(void)
{
	/* Kernel memory may be gone once the waiter runs: read it first. */
	struct lkl_jmp_buf *exit_jb = current->thread.exit_jb;
	struct lkl_sem *sched_sem = current->thread.sched_sem;
	struct lkl_sem *waiter = NULL;
	struct lkl_shadow *sh;

	list_for_each_entry(sh, &shadows, node) {
		if (sh->task == current) {
			sh->busy = false;
			sh->ret = 0;
			waiter = sh->done;
			break;
		}
	}
	current->thread.tid = 0;
	current->thread.sched_sem = NULL;
	lkl_ops->sem_free(sched_sem);
	lkl_ops->thread_detach();
	if (waiter)
		lkl_ops->sem_up(waiter);
	lkl_ops->jmp_buf_longjmp(exit_jb, 1);
	unreachable();
}

/**
 * lkl_syscalls_init - set up syscall entry before boot
 *
 * Return: 0 or -ENOMEM.
 */
int lkl_syscalls_init(void)
{
	shadow_key = lkl_ops->tls_alloc(shadow_destructor);
	return shadow_key ? 0 : -ENOMEM;
}

/**
 * lkl_syscalls_cleanup - drop the thread-local key after halt
 */
void lkl_syscalls_cleanup(void)
{
	struct lkl_shadow *sh;

	/* The caller's own shadow: no exit will drop it after the key goes. */
	if (shadow_key) {
		sh = lkl_ops->tls_get(shadow_key);
		if (sh)
			shadow_drop(sh);
	}
	if (shadow_key)
		lkl_ops->tls_free(shadow_key);
	shadow_key = NULL;
}

SYSCALL_DEFINE6(mmap, unsigned long, addr, unsigned long, len,
		unsigned long, prot, unsigned long, flags,
		unsigned long, fd, off_t, off)
{
	if (offset_in_page(off))
		return -EINVAL;
	return ksys_mmap_pgoff(addr, len, prot, flags, fd, off >> PAGE_SHIFT);
}
