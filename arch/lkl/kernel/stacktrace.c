// SPDX-License-Identifier: GPL-2.0
/*
 * Stack traces: kernel code is built with frame pointers, so a trace
 * follows the chain of frame records (saved frame pointer, return address)
 * that x86-64 and arm64 both keep at the frame pointer.  It starts at the
 * caller for the current task and at __switch_to() for a parked one, and
 * stops at the first return address outside kernel text: the host code
 * that called into the kernel need not keep frame pointers, so its frames
 * are never followed.
 */
#include <linux/kallsyms.h>
#include <linux/kernel.h>
#include <linux/printk.h>
#include <linux/sched.h>
#include <linux/sched/debug.h>
#include <linux/sizes.h>
#include <linux/stacktrace.h>
#include <asm/host_ops.h>

#define LKL_MAX_FRAMES		64
/* A larger gap between two frames means the chain went astray. */
#define LKL_MAX_FRAME_SIZE	SZ_1M

struct frame_bounds {
	unsigned long lo, hi;	/* hi == 0: unknown */
};

static bool frame_ok(unsigned long *fp, unsigned long *prev,
		     const struct frame_bounds *b)
{
	unsigned long a = (unsigned long)fp;

	if (!a || (a & (sizeof(long) - 1)))
		return false;
	if (prev && (fp <= prev ||
		     a - (unsigned long)prev > LKL_MAX_FRAME_SIZE))
		return false;
	return !b->hi || (a >= b->lo && a + 2 * sizeof(long) <= b->hi);
}

/*
 * The first frame of @task's trace, and the bounds of its stack when they
 * are known (the caller's own host stack only).  @start is the frame of the
 * function that asks, for the current task.
 */
static unsigned long *first_frame(struct task_struct *task,
				  unsigned long *start,
				  struct frame_bounds *b)
{
	unsigned long size = 0;

	b->lo = 0;
	b->hi = 0;
	if (task && task != current)
		return task->thread.frame;
	if (lkl_ops->thread_stack) {
		b->lo = (unsigned long)lkl_ops->thread_stack(&size);
		b->hi = b->lo ? b->lo + size : 0;
	}
	return start;
}

static void walk_frames(unsigned long *fp, const struct frame_bounds *b,
			stack_trace_consume_fn consume, void *cookie)
{
	unsigned long *prev = NULL;
	int n;

	for (n = 0; n < LKL_MAX_FRAMES && frame_ok(fp, prev, b); n++) {
		unsigned long ret = fp[1];

		if (!__kernel_text_address(ret) || !consume(cookie, ret))
			break;
		prev = fp;
		fp = (unsigned long *)fp[0];
	}
}

noinline void arch_stack_walk(stack_trace_consume_fn consume_entry,
			      void *cookie, struct task_struct *task,
			      struct pt_regs *regs)
{
	struct frame_bounds b;
	unsigned long *fp;

	fp = first_frame(task, __builtin_frame_address(0), &b);
	walk_frames(fp, &b, consume_entry, cookie);
}

static bool print_entry(void *loglvl, unsigned long addr)
{
	printk("%s %pS\n", (const char *)loglvl, (void *)addr);
	return true;
}

noinline void show_stack(struct task_struct *task, unsigned long *sp,
			 const char *loglvl)
{
	struct frame_bounds b;
	unsigned long *fp;

	fp = first_frame(task, __builtin_frame_address(0), &b);
	printk("%sCall Trace:\n", loglvl);
	if (!fp) {
		printk("%s (not started)\n", loglvl);
		return;
	}
	walk_frames(fp, &b, print_entry, (void *)loglvl);
}

void show_regs(struct pt_regs *regs)
{
	show_regs_print_info(KERN_DEFAULT);
	show_stack(NULL, NULL, KERN_DEFAULT);
}
