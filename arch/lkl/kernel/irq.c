// SPDX-License-Identifier: GPL-2.0
/*
 * Interrupts raised by host threads.
 *
 * lkl_trigger_irq() may be called from any host thread. If the CPU is free
 * the caller takes it and runs the handler at once; otherwise the irq is
 * marked pending and the owner replays it when it next enables interrupts
 * or releases the CPU. The pending marks are the only state host threads
 * touch without owning the CPU, so they use host-visible atomics.
 */
#include <linux/hardirq.h>
#include <linux/interrupt.h>
#include <linux/moduleparam.h>
#include <linux/irq.h>
#include <linux/init.h>
#include <asm/host_ops.h>
#include <asm/cpu.h>

#define IRQ_WORDS	BITS_TO_LONGS(NR_IRQS)

static unsigned long irq_state = ARCH_IRQ_DISABLED;
static unsigned long irq_pending[IRQ_WORDS];
static unsigned long irq_used[IRQ_WORDS];
static int irq_any_pending;
static struct pt_regs irq_regs;

unsigned long arch_local_save_flags(void)
{
	return irq_state;
}
EXPORT_SYMBOL(arch_local_save_flags);

void arch_local_irq_restore(unsigned long flags)
{
	if (flags == ARCH_IRQ_ENABLED && irq_state == ARCH_IRQ_DISABLED &&
	    !in_interrupt())
		lkl_run_pending_irqs();
	irq_state = flags;
}
EXPORT_SYMBOL(arch_local_irq_restore);

/**
 * lkl_irqs_pending - whether host threads raised interrupts not yet run
 */
bool lkl_irqs_pending(void)
{
	return __atomic_load_n(&irq_any_pending, __ATOMIC_SEQ_CST);
}

static void run_irq(int irq)
{
	struct pt_regs *old_regs = set_irq_regs(&irq_regs);

	irq_enter();
	generic_handle_irq(irq);
	irq_exit();
	set_irq_regs(old_regs);
}

/**
 * lkl_run_pending_irqs - run the handlers of all pending interrupts
 *
 * Called by the CPU owner with interrupts disabled.
 */
void lkl_run_pending_irqs(void)
{
	unsigned long bits;
	int i, bit;

	while (__atomic_exchange_n(&irq_any_pending, 0, __ATOMIC_SEQ_CST)) {
		for (i = 0; i < IRQ_WORDS; i++) {
			bits = __atomic_exchange_n(&irq_pending[i], 0,
						   __ATOMIC_SEQ_CST);
			for_each_set_bit(bit, &bits, BITS_PER_LONG)
				run_irq(i * BITS_PER_LONG + bit);
		}
	}
}

/*
 * Direct delivery: a host thread that raises an interrupt while the CPU is
 * free runs the handler (and the softirqs it raises, e.g. a NAPI poll)
 * itself. Off, it wakes the idle task to do it: one more host thread
 * switch per interrupt, kept as a switch to measure what it saves.
 */
static bool direct_irq = true;
#undef MODULE_PARAM_PREFIX
#define MODULE_PARAM_PREFIX "lkl."
module_param(direct_irq, bool, 0644);
MODULE_PARM_DESC(direct_irq, "run interrupts on the raising host thread when the CPU is free");

/**
 * lkl_trigger_irq - raise an interrupt from any host thread
 * @irq: a line from lkl_get_free_irq()
 *
 * Return: 0, or -EINVAL for a line that is out of range.
 */
int lkl_trigger_irq(int irq)
{
	if (irq <= 0 || irq >= NR_IRQS)
		return -EINVAL;

	__atomic_fetch_or(&irq_pending[BIT_WORD(irq)], BIT_MASK(irq),
			  __ATOMIC_SEQ_CST);
	__atomic_store_n(&irq_any_pending, 1, __ATOMIC_SEQ_CST);

	/*
	 * The owner checks for pending interrupts under the CPU lock before
	 * letting the CPU go, so either it sees this one or we get the CPU
	 * and lkl_cpu_put() runs it. Without direct delivery the idle task
	 * is woken to run it, as on a machine with a real interrupt.
	 */
	if (!READ_ONCE(direct_irq))
		lkl_cpu_kick_idle();
	else if (lkl_cpu_try_get())
		lkl_cpu_put();
	return 0;
}

/**
 * lkl_get_free_irq - reserve an interrupt line for a host device
 * @user: who uses it (informational)
 *
 * Can be called before the kernel boots.
 *
 * Return: the line, or -ENOSPC when all are taken.
 */
int lkl_get_free_irq(const char *user)
{
	unsigned long old;
	int irq;

	for (irq = 1; irq < NR_IRQS; irq++) {
		old = __atomic_fetch_or(&irq_used[BIT_WORD(irq)], BIT_MASK(irq),
					__ATOMIC_SEQ_CST);
		if (!(old & BIT_MASK(irq)))
			return irq;
	}
	return -ENOSPC;
}

/**
 * lkl_put_irq - give back a line from lkl_get_free_irq()
 * @irq: the line
 * @user: who used it (informational)
 */
void lkl_put_irq(int irq, const char *user)
{
	if (irq <= 0 || irq >= NR_IRQS)
		return;
	__atomic_fetch_and(&irq_used[BIT_WORD(irq)], ~BIT_MASK(irq),
			   __ATOMIC_SEQ_CST);
}

void __init init_IRQ(void)
{
	int irq;

	for (irq = 1; irq < NR_IRQS; irq++)
		irq_set_chip_and_handler(irq, &dummy_irq_chip,
					 handle_simple_irq);
}
