// SPDX-License-Identifier: GPL-2.0
/*
 * Syscall entry: shadow tasks, and direct syscalls that borrow them.
 *
 * Each host thread that makes syscalls gets a shadow task, a thread of the
 * host process (pid 1), created on its first syscall and ended when the
 * host thread exits. The shadow task has a host thread of its own.
 *
 * Shadow mode: lkl_syscall() hands the call to the shadow task and waits on
 * a host semaphore; the shadow task runs it like any other task, so it may
 * block, and posts the result back. Four host thread wake-ups per call.
 *
 * Direct mode: the calling host thread takes the CPU, makes its shadow task
 * current and runs the call on its own stack, while the scheduler still
 * sees the idle task as rq->curr. This is sound because the shadow task is
 * borrowed only while it is asleep off the run queue, every wake-up of it
 * during the borrow is a wake-up of current (which only sets TASK_RUNNING)
 * and nothing can be picked while the CPU is borrowed. If the call must
 * block, __schedule() calls arch_schedule_borrowed(): the task is left
 * asleep where its own host thread last slept, the caller becomes the
 * task's carrier, gives the CPU back and waits. When the scheduler picks
 * the task, __switch_to() posts the caller, which finishes that switch
 * (schedule_tail()) and from then on runs the task as an ordinary task.
 * At the end of the call it puts the task to sleep again with a switch
 * that hands it back to its own host thread, still waiting where it was.
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
#include <linux/kthread.h>
#include <linux/moduleparam.h>
#include <linux/tick.h>
#include <linux/sched/stat.h>
#include <asm/host_ops.h>
#include <asm/cpu.h>
#include <asm/unistd.h>

/* The table's filler entry (kernel/sys_ni.c). */
asmlinkage long sys_ni_syscall(void);

/**
 * struct lkl_shadow - a host thread's shadow task
 * @task: the shadow task, NULL until it has started
 * @done: the host thread waits here for a result or for its task
 * @host: the host thread
 * @call_jb: where a direct call of the host thread lands at halt
 * @saved_ti: thread_info that a direct call replaced (the idle task's)
 * @stack_lo: lowest address of the host thread's stack, 0 if unknown
 * @state: see enum lkl_shadow_state
 * @no: syscall number of the request
 * @params: its arguments
 * @ret: its result
 * @released: halt has released the host thread from a direct call
 * @pending: a request waits for the shadow task
 * @busy: the host thread waits for a result
 * @exit: the host thread has exited: end the shadow task
 * @node: entry in the list of all shadows
 * @queue: entry in the queue of shadows to create
 * @test_fn: KUnit only: run this instead of the syscall
 * @test_arg: its argument
 */
struct lkl_shadow {
	struct task_struct *task;
	struct lkl_sem *done;
	lkl_thread_t host;
	struct lkl_jmp_buf *call_jb;
	struct thread_info *saved_ti;
	unsigned long stack_lo;
	enum lkl_shadow_state state;
	long no;
	long params[6];
	long ret;
	bool released;
	bool pending;
	bool busy;
	bool exit;
	struct list_head node;
	struct list_head queue;
	long (*test_fn)(void *arg);
	void *test_arg;
};

/* All protected by ownership of the CPU. */
static LIST_HEAD(shadows);
static LIST_HEAD(create_queue);
static struct task_struct *host_process;
static struct lkl_tls_key *shadow_key;
/* Set at halt; read by host threads without the CPU. */
static int halted;
/* Direct callers released at halt post this once they are off kernel data. */
static struct lkl_sem *halt_ack;

/* Stack a direct call needs below the caller's frame (softirqs included). */
#define DIRECT_STACK_MIN	(64 * 1024)

static int syscall_mode = LKL_SYSCALL_DIRECT;

static int syscall_mode_set(const char *val, const struct kernel_param *kp)
{
	if (sysfs_streq(val, "shadow"))
		WRITE_ONCE(syscall_mode, LKL_SYSCALL_SHADOW);
	else if (sysfs_streq(val, "direct"))
		WRITE_ONCE(syscall_mode, LKL_SYSCALL_DIRECT);
	else
		return -EINVAL;
	return 0;
}

static int syscall_mode_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n", READ_ONCE(syscall_mode) ==
			  LKL_SYSCALL_DIRECT ? "direct" : "shadow");
}

static const struct kernel_param_ops syscall_mode_ops = {
	.set = syscall_mode_set,
	.get = syscall_mode_get,
};

#undef MODULE_PARAM_PREFIX
#define MODULE_PARAM_PREFIX "lkl."
module_param_cb(syscall, &syscall_mode_ops, NULL, 0644);
MODULE_PARM_DESC(syscall, "how host threads enter the kernel: shadow or direct");

/**
 * lkl_set_syscall_mode - choose how host threads enter the kernel
 * @mode: LKL_SYSCALL_SHADOW or LKL_SYSCALL_DIRECT
 *
 * Takes effect at each host thread's next syscall; calls in flight finish
 * in the mode they started in. Same as the boot parameter lkl.syscall=.
 *
 * Return: the previous mode, or -EINVAL for an unknown mode.
 */
int lkl_set_syscall_mode(int mode)
{
	if (mode != LKL_SYSCALL_SHADOW && mode != LKL_SYSCALL_DIRECT)
		return -EINVAL;
	return __atomic_exchange_n(&syscall_mode, mode, __ATOMIC_RELAXED);
}

/* After halt a host thread drops its shadow's host semaphore itself. */
static void shadow_drop(struct lkl_shadow *sh)
{
	if (sh->done)
		lkl_ops->sem_free(sh->done);
	sh->done = NULL;
	lkl_ops->tls_set(shadow_key, NULL);
}

static long run_syscall(struct lkl_shadow *sh)
{
	long no = sh->no, *p = sh->params;
	long ret;

	if (IS_ENABLED(CONFIG_LKL_DIRECT_KUNIT_TEST) && sh->test_fn)
		ret = sh->test_fn(sh->test_arg);
	else if (no < 0 || no >= __NR_syscalls)
		ret = sys_ni_syscall();
	else
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
	current->thread.shadow = sh;
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
		sh->ret = run_syscall(sh);
		sh->busy = false;
		lkl_ops->sem_up(sh->done);
	}
	list_del(&sh->node);
	current->thread.shadow = NULL;
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
		/* Listed from now on, so that halt finds its waiting caller. */
		list_add(&sh->node, &shadows);
		pid = user_mode_thread(shadow_main, sh, flags);
		if (pid < 0) {
			list_del_init(&sh->node);
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
	unsigned long size;

	if (!sh)
		return NULL;
	sh->done = lkl_ops->sem_alloc(0);
	if (!sh->done)
		goto fail;
	sh->host = lkl_ops->thread_self();
	if (lkl_ops->thread_stack)
		sh->stack_lo = (unsigned long)lkl_ops->thread_stack(&size);
	INIT_LIST_HEAD(&sh->node);
	INIT_LIST_HEAD(&sh->queue);
	if (lkl_ops->tls_set(shadow_key, sh))
		goto fail;
	return sh;
fail:
	if (sh->done)
		lkl_ops->sem_free(sh->done);
	kfree(sh);
	return NULL;
}

/* The host thread has exited: let its shadow task end. */
static void shadow_destructor(void *data)
{
	struct lkl_shadow *sh = data;

	if (lkl_cpu_get() < 0) {
		/*
		 * Halting or halted (the CPU is refused before halted is set):
		 * only host semaphores are left to free; this thread is in no
		 * call, so nobody posts done.
		 */
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

/* Syscalls that must run on the shadow task's own host thread. */
static bool direct_allowed(long no)
{
	switch (no) {
	case __NR_reboot:	/* halt ends the task's host thread */
	case __NR_exit:
	case __NR_exit_group:
	case __NR_clone:
#ifdef __NR_clone3
	case __NR_clone3:
#endif
	case __NR_execve:
	case __NR_execveat:
		return false;
	}
	return true;
}

/* A direct call ends like an interrupt of the idle loop (NO_HZ only). */
#ifdef CONFIG_NO_HZ_COMMON
static void direct_tick_exit(void)
{
	tick_nohz_irq_exit();
}
#else
static void direct_tick_exit(void)
{
}
#endif

/* Give the CPU back after a direct call, current being the idle task. */
static void direct_release(void)
{
	local_irq_disable();
	direct_tick_exit();
	local_irq_enable();
	lkl_cpu_put();
}

static void direct_body(void)
{
	struct lkl_shadow *sh = lkl_ops->tls_get(shadow_key);
	struct task_struct *task = sh->task;

	sh->saved_ti = lkl_current_ti;
	/* Like an interrupt of the idle loop: fresh jiffies, idle time ends. */
	local_irq_disable();
	tick_irq_enter();
	local_irq_enable();

	WRITE_ONCE(task->__state, TASK_RUNNING);
	sh->state = SHADOW_BORROWED;
	lkl_current_ti = task_thread_info(task);
	sh->ret = run_syscall(sh);

	if (sh->state == SHADOW_ADOPTED) {
		/*
		 * The task is rq->curr on this thread: put it to sleep. The
		 * switch hands it back to its own host thread and returns
		 * this one to direct_call(). A wake-up that comes before the
		 * task is dequeued makes schedule() return: try again.
		 */
		sh->state = SHADOW_IDLE;
		for (;;) {
			set_current_state(TASK_IDLE);
			task->thread.hand_back = true;
			schedule();
			task->thread.hand_back = false;
		}
	}
	/* Asleep in shadow_main() again, where its host thread waits. */
	clear_tsk_need_resched(task);
	WRITE_ONCE(task->__state, TASK_IDLE);
	sh->state = SHADOW_IDLE;
	lkl_current_ti = sh->saved_ti;
	direct_release();
}

/*
 * Run the call on the calling thread. Returns false, with the CPU still
 * held, if the shadow task cannot be borrowed now.
 */
static bool direct_call(struct lkl_shadow *sh, long no, long *params,
			long *ret)
{
	struct task_struct *task = sh->task;
	struct lkl_jmp_buf jb;
	unsigned long sp = (unsigned long)__builtin_frame_address(0);
	struct lkl_sem *done;

	/*
	 * Asleep and dequeued; a task that went to sleep while others were
	 * runnable may still be queued (delayed dequeue): let the scheduler
	 * settle it through the shadow path.
	 */
	if (!task || task->on_rq || !direct_allowed(no) ||
	    (sh->stack_lo && sp - sh->stack_lo < DIRECT_STACK_MIN))
		return false;
	if (WARN_ON_ONCE(!is_idle_task(current) || irqs_disabled()))
		return false;

	sh->no = no;
	memcpy(sh->params, params, sizeof(sh->params));
	sh->call_jb = &jb;
	lkl_ops->jmp_buf_set(&jb, direct_body);
	/* Only a call cut short by halt leaves its task parked or carried. */
	if (READ_ONCE(sh->state) == SHADOW_IDLE) {
		*ret = sh->ret;
		return true;
	}
	/*
	 * Released at halt from arch_schedule_borrowed() or from a switch of
	 * the task it carries: this thread has no CPU and the kernel is going away.
	 * Drop what is ours, then let the halting thread go on.
	 */
	done = sh->done;
	sh->done = NULL;
	lkl_ops->tls_set(shadow_key, NULL);
	lkl_ops->sem_free(done);
	lkl_ops->sem_up(halt_ack);
	*ret = -EINTR;
	return true;
}

/*
 * __schedule() found current borrowed (see the top of this file). Called
 * with interrupts disabled; returns with them enabled, with current still
 * running on this thread: either at once, or once the scheduler picked it
 * and switched to it, which posted us.
 */
void arch_schedule_borrowed(bool preempt)
{
	struct task_struct *task = current;
	struct lkl_shadow *sh = task->thread.shadow;
	unsigned int state = READ_ONCE(task->__state);
	bool requeue = false;

	if (WARN_ON_ONCE(!sh || sh->state != SHADOW_BORROWED ||
			 (state & TASK_DEAD))) {
		local_irq_enable();
		return;
	}
	clear_tsk_need_resched(task);
	if (preempt || state == TASK_RUNNING) {
		/* cond_resched() or yield(): others first, if there are any. */
		if (!nr_running()) {
			local_irq_enable();
			return;
		}
		requeue = true;
	} else if (signal_pending_state(state, task)) {
		WRITE_ONCE(task->__state, TASK_RUNNING);
		local_irq_enable();
		return;
	}

	sh->state = SHADOW_PARKED;
	task->thread.frame = __builtin_frame_address(0);
	/* The next switch to the task posts us, not its own host thread. */
	task->thread.carrier = sh->host;
	task->thread.switch_sem = sh->done;
	task->thread.borrow_jb = sh->call_jb;
	lkl_current_ti = sh->saved_ti;
	if (requeue) {
		/* Only now: woken as current it would not be queued. */
		WRITE_ONCE(task->__state, TASK_UNINTERRUPTIBLE);
		wake_up_process(task);
	}
	direct_tick_exit();
	local_irq_enable();
	lkl_cpu_put();

	lkl_ops->sem_down(sh->done);
	if (__atomic_load_n(&halted, __ATOMIC_ACQUIRE))
		lkl_ops->jmp_buf_longjmp(sh->call_jb, 1);
	/*
	 * __switch_to() switched to the task and made us the CPU's owner:
	 * finish that switch, as a task's first run does. preempt_disable()
	 * balances the enable in schedule_tail(): __schedule_loop() has its
	 * own.
	 */
	sh->state = SHADOW_ADOPTED;
	preempt_disable();
	schedule_tail(task->thread.prev_sched);
}

/**
 * lkl_syscall - run a syscall on behalf of the calling host thread
 * @no: syscall number
 * @params: six arguments (NULL if the syscall takes none)
 *
 * Return: the syscall's result, or -ENODEV if the kernel is not running,
 * -ENOMEM if the shadow task could not be made, -EDEADLK if the thread is
 * already inside a syscall (a host signal handler or callback calling in).
 */
static long syscall_entry(long no, long *params, long (*test_fn)(void *),
			  void *test_arg)
{
	static long no_params[6];
	struct lkl_shadow *sh;
	unsigned long flags;
	long ret;

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
	if (sh->busy || sh->state != SHADOW_IDLE) {
		lkl_cpu_put();
		return -EDEADLK;
	}
	sh->test_fn = test_fn;
	sh->test_arg = test_arg;
	if (READ_ONCE(syscall_mode) == LKL_SYSCALL_DIRECT &&
	    direct_call(sh, no, params ? params : no_params, &ret))
		return ret;

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

long lkl_syscall(long no, long *params)
{
	if (!lkl_is_running())
		return -ENODEV;
	return syscall_entry(no, params, NULL, NULL);
}

#if IS_ENABLED(CONFIG_LKL_DIRECT_KUNIT_TEST)
/*
 * For the KUnit suite, which runs before pid 1 creates shadow tasks: a
 * shadow whose task is a kernel thread made by the calling task, a host
 * thread taking it as its own, and calls of a function instead of a
 * syscall through the same entry.
 */
struct lkl_shadow *lkl_direct_test_shadow(struct task_struct **task)
{
	struct lkl_shadow *sh = kzalloc(sizeof(*sh), GFP_KERNEL);
	struct task_struct *t;
	int i;

	if (!sh)
		return NULL;
	sh->done = lkl_ops->sem_alloc(0);
	INIT_LIST_HEAD(&sh->node);
	INIT_LIST_HEAD(&sh->queue);
	t = sh->done ? kthread_run(shadow_main, sh, "lkl-direct-test") : NULL;
	if (IS_ERR_OR_NULL(t)) {
		if (sh->done)
			lkl_ops->sem_free(sh->done);
		kfree(sh);
		return NULL;
	}
	list_add(&sh->node, &shadows);
	get_task_struct(t);
	/* Until it sleeps in shadow_main(), it cannot be borrowed. */
	for (i = 0; i < 500; i++) {
		if (READ_ONCE(sh->task) && !t->on_rq &&
		    READ_ONCE(t->__state) == TASK_IDLE)
			break;
		schedule_timeout_uninterruptible(1);
	}
	*task = t;
	return sh;
}
EXPORT_SYMBOL_GPL(lkl_direct_test_shadow);

int lkl_direct_test_attach(struct lkl_shadow *sh)
{
	unsigned long size;

	sh->host = lkl_ops->thread_self();
	if (lkl_ops->thread_stack)
		sh->stack_lo = (unsigned long)lkl_ops->thread_stack(&size);
	return lkl_ops->tls_set(shadow_key, sh);
}
EXPORT_SYMBOL_GPL(lkl_direct_test_attach);

long lkl_direct_test_call(long (*fn)(void *), void *arg)
{
	return syscall_entry(-1, NULL, fn, arg);
}
EXPORT_SYMBOL_GPL(lkl_direct_test_call);

int lkl_direct_test_state(struct lkl_shadow *sh)
{
	return READ_ONCE(sh->state);
}
EXPORT_SYMBOL_GPL(lkl_direct_test_state);
#endif

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
		if (sh->task == current)
			continue;
		if (sh->state == SHADOW_PARKED) {
			/* It leaves arch_schedule_borrowed() for its call_jb. */
			sh->released = true;
			lkl_ops->sem_up(sh->done);
			lkl_ops->sem_down(halt_ack);
			continue;
		}
		if (!sh->busy)
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
 * lkl_syscalls_release_borrower - release a shadow task's borrower (at halt)
 * @task: the shadow task, marked dead, its own host thread's semaphore
 *	posted
 *
 * The borrower waits in __switch_to() on its own semaphore and leaves for
 * the call_jb of its direct call. Returns once it is off that semaphore.
 */
void lkl_syscalls_release_borrower(struct task_struct *task)
{
	struct lkl_shadow *sh = task->thread.shadow;

	if (!sh || sh->released)
		return;
	sh->released = true;
	lkl_ops->sem_up(task->thread.switch_sem);
	lkl_ops->sem_down(halt_ack);
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
	/* Its host thread exited before its shadow task could end. */
	list_for_each_entry(sh, &shadows, node) {
		if (sh->exit && sh->done)
			lkl_ops->sem_free(sh->done);
		if (sh->exit)
			sh->done = NULL;
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
	halt_ack = lkl_ops->sem_alloc(0);
	shadow_key = lkl_ops->tls_alloc(shadow_destructor);
	if (!halt_ack || !shadow_key) {
		lkl_syscalls_cleanup();
		return -ENOMEM;
	}
	return 0;
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
	if (halt_ack)
		lkl_ops->sem_free(halt_ack);
	halt_ack = NULL;
}

SYSCALL_DEFINE6(mmap, unsigned long, addr, unsigned long, len,
		unsigned long, prot, unsigned long, flags,
		unsigned long, fd, off_t, off)
{
	if (offset_in_page(off))
		return -EINVAL;
	return ksys_mmap_pgoff(addr, len, prot, flags, fd, off >> PAGE_SHIFT);
}
