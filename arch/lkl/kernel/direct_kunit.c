// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of direct syscalls and of the scheduler hook they rely on
 * (arch_schedule_borrowed(), ARCH_BORROWS_CURRENT): host threads that are
 * not tasks borrow a shadow task, block in it, are resumed when the
 * scheduler picks it, and wake each other and kernel threads without
 * losing a wake-up.
 *
 * The "foreign" threads are host threads made with lkl_ops->thread_create
 * that take a shadow task of their own, as an application thread does on
 * its first syscall; they call a test function through the syscall entry.
 * The test task never blocks on a host object while it holds the CPU: it
 * sleeps in the kernel and polls what the foreign threads report.
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/iopoll.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/wait.h>
#include <asm/cpu.h>
#include <asm/host_ops.h>

/* Bound of every wait of the test task, in milliseconds. */
#define WAIT_MS		10000

struct foreign {
	struct lkl_shadow *sh;
	struct task_struct *task;
	long (*fn)(void *arg);
	void *arg;
	int calls;
	long ret;
	int attach_err;
	int end_state;
	int returned;
};

static void foreign_main(void *arg)
{
	struct foreign *f = arg;
	int i;

	lkl_ops->thread_detach();
	f->attach_err = lkl_direct_test_attach(f->sh);
	for (i = 0; !f->attach_err && i < f->calls; i++)
		f->ret = lkl_direct_test_call(f->fn, f->arg);
	f->end_state = lkl_direct_test_state(f->sh);
	__atomic_store_n(&f->returned, 1, __ATOMIC_RELEASE);
	/* Exiting ends the shadow task (its TLS destructor). */
}

static void foreign_start(struct kunit *test, struct foreign *f,
			  long (*fn)(void *), void *arg, int calls)
{
	f->fn = fn;
	f->arg = arg;
	f->calls = calls;
	f->sh = lkl_direct_test_shadow(&f->task);
	KUNIT_ASSERT_NOT_NULL(test, f->sh);
	KUNIT_ASSERT_NE(test, lkl_ops->thread_create(foreign_main, f), 0);
}

/* Sleep-poll @op(@args) into @val until @cond holds or WAIT_MS pass. */
#define poll_until(op, val, cond, args...)				\
	(read_poll_timeout(op, val, cond, 1000, WAIT_MS * 1000, false,	\
			   args) == 0)

static int foreign_returned(struct foreign *f)
{
	return __atomic_load_n(&f->returned, __ATOMIC_ACQUIRE);
}

static int task_exited(struct task_struct *t)
{
	return READ_ONCE(t->exit_state) != 0;
}

/* Wait for the foreign thread to return and its shadow task to end. */
static void foreign_wait(struct kunit *test, struct foreign *f)
{
	int v;

	KUNIT_ASSERT_TRUE(test, poll_until(foreign_returned, v, v, f));
	KUNIT_EXPECT_EQ(test, f->attach_err, 0);
	KUNIT_EXPECT_EQ(test, f->end_state, SHADOW_IDLE);
	KUNIT_EXPECT_TRUE(test, poll_until(task_exited, v, v, f->task));
	put_task_struct(f->task);
}

struct probe {
	struct task_struct *cur;
	bool on_cpu;
	int on_rq;
	int state;
};

static long probe_fn(void *arg)
{
	struct probe *p = arg;

	p->cur = current;
	p->on_cpu = task_curr(current);
	p->on_rq = current->on_rq;
	p->state = lkl_direct_test_state(current->thread.shadow);
	return 7;
}

/* The caller runs the call as its shadow task, which rq->curr is not. */
static void lkl_direct_borrow(struct kunit *test)
{
	struct foreign f = {};
	struct probe p = {};

	foreign_start(test, &f, probe_fn, &p, 1);
	foreign_wait(test, &f);
	KUNIT_EXPECT_EQ(test, f.ret, 7);
	KUNIT_EXPECT_PTR_EQ(test, p.cur, f.task);
	KUNIT_EXPECT_FALSE(test, p.on_cpu);
	KUNIT_EXPECT_EQ(test, p.on_rq, 0);
	KUNIT_EXPECT_EQ(test, p.state, SHADOW_BORROWED);
}

struct block {
	struct completion go;
	struct completion fin;
	bool on_cpu;
	int state;
};

static long block_fn(void *arg)
{
	struct block *b = arg;

	wait_for_completion(&b->go);
	b->on_cpu = task_curr(current);
	b->state = lkl_direct_test_state(current->thread.shadow);
	complete(&b->fin);
	return 42;
}

/* A call that blocks parks its thread; the scheduler's pick resumes it. */
static void lkl_direct_block_resume(struct kunit *test)
{
	struct foreign f = {};
	struct block b = {};
	int state;

	init_completion(&b.go);
	init_completion(&b.fin);
	foreign_start(test, &f, block_fn, &b, 1);
	KUNIT_EXPECT_TRUE(test, poll_until(lkl_direct_test_state, state,
					   state == SHADOW_PARKED, f.sh));
	KUNIT_EXPECT_EQ(test, f.task->on_rq, 0);
	KUNIT_EXPECT_NE(test, READ_ONCE(f.task->__state), TASK_RUNNING);
	complete(&b.go);
	KUNIT_EXPECT_GT(test,
			wait_for_completion_timeout(&b.fin,
						    msecs_to_jiffies(WAIT_MS)),
			0);
	foreign_wait(test, &f);
	KUNIT_EXPECT_EQ(test, f.ret, 42);
	/* Resumed as rq->curr, on the caller's thread. */
	KUNIT_EXPECT_TRUE(test, b.on_cpu);
	KUNIT_EXPECT_EQ(test, b.state, SHADOW_ADOPTED);
}

#define PINGPONG_ROUNDS	2000

struct pingpong {
	wait_queue_head_t wq;
	int turn;
	int done[2];
};

struct side {
	struct pingpong *pp;
	int me;
};

static long pingpong_fn(void *arg)
{
	struct side *s = arg;
	struct pingpong *pp = s->pp;

	wait_event(pp->wq, READ_ONCE(pp->turn) == s->me);
	pp->done[s->me]++;
	WRITE_ONCE(pp->turn, !s->me);
	wake_up(&pp->wq);
	return 0;
}

/*
 * Two foreign threads hand a token back and forth, one direct call per
 * move: each waits for the other's wake-up, which may come while it is
 * still borrowed, parked, being switched to or handing its task back. A lost
 * wake-up stops both.
 */
static void lkl_direct_no_lost_wakeup(struct kunit *test)
{
	struct pingpong pp = {};
	struct side s[2] = { { &pp, 0 }, { &pp, 1 } };
	struct foreign f[2] = {};

	init_waitqueue_head(&pp.wq);
	foreign_start(test, &f[0], pingpong_fn, &s[0], PINGPONG_ROUNDS);
	foreign_start(test, &f[1], pingpong_fn, &s[1], PINGPONG_ROUNDS);
	foreign_wait(test, &f[0]);
	foreign_wait(test, &f[1]);
	KUNIT_EXPECT_EQ(test, pp.done[0], PINGPONG_ROUNDS);
	KUNIT_EXPECT_EQ(test, pp.done[1], PINGPONG_ROUNDS);
}

struct kick {
	int kicked;
	int ran;
	int seen;
	int state;
	struct task_struct *k;
};

static int kick_thread(void *arg)
{
	struct kick *o = arg;

	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (kthread_should_stop())
			break;
		if (READ_ONCE(o->kicked)) {
			WRITE_ONCE(o->kicked, 0);
			WRITE_ONCE(o->ran, o->ran + 1);
		}
		schedule();
	}
	__set_current_state(TASK_RUNNING);
	return 0;
}

static long wake_fn(void *arg)
{
	struct kick *o = arg;

	WRITE_ONCE(o->kicked, 1);
	wake_up_process(o->k);
	/* Nothing preempts a call: the kernel thread runs after it. */
	o->seen = READ_ONCE(o->ran);
	return 0;
}

static long yield_fn(void *arg)
{
	struct kick *o = arg;
	int i;

	WRITE_ONCE(o->kicked, 1);
	wake_up_process(o->k);
	/*
	 * schedule() while running and borrowed: the caller lets the CPU go
	 * with the task queued instead of spinning with it, and resumes as
	 * rq->curr. Which of the two queued tasks the scheduler runs first is
	 * its choice; then sleep a tick at a time until the other has run.
	 */
	schedule();
	o->state = lkl_direct_test_state(current->thread.shadow);
	for (i = 0; i < 100 && !READ_ONCE(o->ran); i++)
		schedule_timeout_uninterruptible(1);
	o->seen = READ_ONCE(o->ran);
	return 0;
}

static int kick_ran(struct kick *o)
{
	return READ_ONCE(o->ran);
}

static void kick_start(struct kunit *test, struct kick *o)
{
	o->k = kthread_run(kick_thread, o, "lkl-direct-kick");
	KUNIT_ASSERT_FALSE(test, IS_ERR(o->k));
	get_task_struct(o->k);
}

static void kick_stop(struct kick *o)
{
	kthread_stop(o->k);
	put_task_struct(o->k);
}

/* A kernel thread woken by a call runs once the call has given the CPU up. */
static void lkl_direct_wakeup_order(struct kunit *test)
{
	struct foreign f = {};
	struct kick o = {};
	int ran;

	kick_start(test, &o);
	foreign_start(test, &f, wake_fn, &o, 1);
	foreign_wait(test, &f);
	KUNIT_EXPECT_EQ(test, o.seen, 0);
	KUNIT_EXPECT_TRUE(test, poll_until(kick_ran, ran, ran == 1, &o));
	kick_stop(&o);
}

/* Scheduling while running parks the caller with its task queued. */
static void lkl_direct_yield(struct kunit *test)
{
	struct foreign f = {};
	struct kick o = {};

	kick_start(test, &o);
	foreign_start(test, &f, yield_fn, &o, 1);
	foreign_wait(test, &f);
	KUNIT_EXPECT_EQ(test, f.ret, 0);
	/* It was parked, queued, picked and resumed. */
	KUNIT_EXPECT_EQ(test, o.state, SHADOW_ADOPTED);
	KUNIT_EXPECT_EQ(test, o.seen, 1);
	kick_stop(&o);
}

struct sleeper {
	bool pending_first;
	int state;
};

static long sleep_fn(void *arg)
{
	struct sleeper *sl = arg;
	long left;

	if (sl->pending_first)
		set_thread_flag(TIF_SIGPENDING);
	left = schedule_timeout_interruptible(msecs_to_jiffies(WAIT_MS));
	sl->state = lkl_direct_test_state(current->thread.shadow);
	clear_thread_flag(TIF_SIGPENDING);
	return left;
}

/* A pending signal keeps an interruptible wait from parking at all. */
static void lkl_direct_signal_pending(struct kunit *test)
{
	struct sleeper sl = { .pending_first = true };
	struct foreign f = {};

	foreign_start(test, &f, sleep_fn, &sl, 1);
	foreign_wait(test, &f);
	KUNIT_EXPECT_GE(test, f.ret, msecs_to_jiffies(WAIT_MS) - 1);
	KUNIT_EXPECT_EQ(test, sl.state, SHADOW_BORROWED);
}

/* A signal to a parked task resumes its interruptible wait early. */
static void lkl_direct_signal_parked(struct kunit *test)
{
	struct sleeper sl = {};
	struct foreign f = {};
	int state;

	foreign_start(test, &f, sleep_fn, &sl, 1);
	KUNIT_EXPECT_TRUE(test, poll_until(lkl_direct_test_state, state,
					   state == SHADOW_PARKED, f.sh));
	set_tsk_thread_flag(f.task, TIF_SIGPENDING);
	wake_up_state(f.task, TASK_INTERRUPTIBLE);
	foreign_wait(test, &f);
	KUNIT_EXPECT_GT(test, f.ret, msecs_to_jiffies(WAIT_MS) / 2);
	KUNIT_EXPECT_EQ(test, sl.state, SHADOW_ADOPTED);
}

static int saved_mode;

static int lkl_direct_suite_init(struct kunit_suite *suite)
{
	saved_mode = lkl_set_syscall_mode(LKL_SYSCALL_DIRECT);
	return 0;
}

static void lkl_direct_suite_exit(struct kunit_suite *suite)
{
	lkl_set_syscall_mode(saved_mode);
}

static struct kunit_case lkl_direct_cases[] = {
	KUNIT_CASE(lkl_direct_borrow),
	KUNIT_CASE(lkl_direct_block_resume),
	KUNIT_CASE(lkl_direct_no_lost_wakeup),
	KUNIT_CASE(lkl_direct_wakeup_order),
	KUNIT_CASE(lkl_direct_yield),
	KUNIT_CASE(lkl_direct_signal_pending),
	KUNIT_CASE(lkl_direct_signal_parked),
	{}
};

static struct kunit_suite lkl_direct_suite = {
	.name = "lkl_direct",
	.suite_init = lkl_direct_suite_init,
	.suite_exit = lkl_direct_suite_exit,
	.test_cases = lkl_direct_cases,
};

kunit_test_suite(lkl_direct_suite);

MODULE_DESCRIPTION("KUnit tests of LKL direct syscalls and the scheduler hook");
MODULE_LICENSE("GPL");
