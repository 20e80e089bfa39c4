// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the LKL stack walker (stacktrace.c): traces of the
 * current task and of a parked one resolve to the functions they pass
 * through, and dump_stack() prints a named trace (checked by the host
 * test that boots the kernel with this suite enabled).
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/kallsyms.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/stacktrace.h>

#define TRACE_DEPTH	32

/* Whether one of @n entries lies in the function named @name. */
static bool trace_has(const unsigned long *entries, unsigned int n,
		      const char *name)
{
	char sym[KSYM_SYMBOL_LEN];
	unsigned int i;

	for (i = 0; i < n; i++) {
		sprint_symbol_no_offset(sym, entries[i]);
		if (!strcmp(sym, name))
			return true;
	}
	return false;
}

static noinline unsigned int save_here(unsigned long *entries)
{
	return stack_trace_save(entries, TRACE_DEPTH, 0);
}

static void lkl_stacktrace_current(struct kunit *test)
{
	unsigned long entries[TRACE_DEPTH];
	unsigned int n = save_here(entries);

	KUNIT_ASSERT_GE(test, n, 2U);
	KUNIT_EXPECT_TRUE(test, trace_has(entries, n, "save_here"));
	KUNIT_EXPECT_TRUE(test, trace_has(entries, n, __func__));
}

struct parked {
	struct completion started;
	struct completion release;
};

static noinline int parked_thread(void *arg)
{
	struct parked *p = arg;

	complete(&p->started);
	wait_for_completion(&p->release);
	return 0;
}

static void lkl_stacktrace_parked_task(struct kunit *test)
{
	unsigned long entries[TRACE_DEPTH];
	struct task_struct *task;
	struct parked p;
	unsigned int n;
	int i;

	init_completion(&p.started);
	init_completion(&p.release);
	task = kthread_run(parked_thread, &p, "lkl-stack-kunit");
	KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	get_task_struct(task);
	wait_for_completion(&p.started);
	/* Until it sleeps in wait_for_completion(), its trace is not stable. */
	for (i = 0; i < 100 && READ_ONCE(task->__state) == TASK_RUNNING; i++)
		schedule_timeout_uninterruptible(1);
	KUNIT_EXPECT_NE(test, READ_ONCE(task->__state), TASK_RUNNING);

	n = stack_trace_save_tsk(task, entries, TRACE_DEPTH, 0);
	complete(&p.release);
	kthread_stop(task);
	put_task_struct(task);

	KUNIT_ASSERT_GE(test, n, 1U);
	KUNIT_EXPECT_TRUE(test, trace_has(entries, n, "parked_thread"));
}

static noinline void lkl_stacktrace_dump(struct kunit *test)
{
	/* The host test looks for this function's name after "Call Trace:". */
	dump_stack();
}

static struct kunit_case lkl_stacktrace_cases[] = {
	KUNIT_CASE(lkl_stacktrace_current),
	KUNIT_CASE(lkl_stacktrace_parked_task),
	KUNIT_CASE(lkl_stacktrace_dump),
	{}
};

static struct kunit_suite lkl_stacktrace_suite = {
	.name = "lkl_stacktrace",
	.test_cases = lkl_stacktrace_cases,
};

kunit_test_suite(lkl_stacktrace_suite);

MODULE_DESCRIPTION("KUnit tests of the LKL stack walker");
MODULE_LICENSE("GPL");
