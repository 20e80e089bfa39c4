// SPDX-License-Identifier: GPL-2.0
/*
 * Time from the host: a clocksource reading the host's monotonic clock and
 * a one-shot clockevent backed by a host timer that raises an interrupt.
 */
#include <linux/clockchips.h>
#include <linux/clocksource.h>
#include <linux/delay.h>
#include <linux/interrupt.h>
#include <linux/irq.h>
#include <linux/sched/clock.h>
#include <linux/init.h>
#include <asm/host_ops.h>
#include <asm/cpu.h>

static u64 boot_time;
static int timer_irq;
static struct lkl_timer *timer;

unsigned long long sched_clock(void)
{
	return lkl_ops->time() - boot_time;
}

static u64 lkl_clock_read(struct clocksource *cs)
{
	return lkl_ops->time();
}

static struct clocksource lkl_clocksource = {
	.name	= "lkl",
	.rating	= 499,
	.read	= lkl_clock_read,
	.flags	= CLOCK_SOURCE_IS_CONTINUOUS | CLOCK_SOURCE_VALID_FOR_HRES,
	.mask	= CLOCKSOURCE_MASK(64),
};

static int lkl_timer_next(unsigned long delta, struct clock_event_device *evt)
{
	return lkl_ops->timer_set_oneshot(timer, delta);
}

static struct clock_event_device lkl_clockevent = {
	.name		= "lkl",
	.features	= CLOCK_EVT_FEAT_ONESHOT,
	.set_next_event	= lkl_timer_next,
	.rating		= 499,
};

static irqreturn_t lkl_timer_interrupt(int irq, void *dev_id)
{
	lkl_clockevent.event_handler(&lkl_clockevent);
	return IRQ_HANDLED;
}

static void lkl_timer_fire(void *arg)
{
	lkl_trigger_irq(timer_irq);
}

/**
 * lkl_clock_init - start the kernel's clocks at zero (early in boot)
 */
void __init lkl_clock_init(void)
{
	boot_time = lkl_ops->time();
}

void __init time_init(void)
{
	int ret;

	timer_irq = lkl_get_free_irq("timer");
	if (timer_irq < 0)
		panic("lkl: no interrupt line for the timer\n");
	ret = request_irq(timer_irq, lkl_timer_interrupt, IRQF_TIMER,
			  "timer", NULL);
	if (ret)
		panic("lkl: cannot request the timer interrupt: %d\n", ret);
	timer = lkl_ops->timer_alloc(lkl_timer_fire, NULL);
	if (!timer)
		panic("lkl: cannot allocate a host timer\n");

	clocksource_register_hz(&lkl_clocksource, NSEC_PER_SEC);
	lkl_clockevent.cpumask = cpumask_of(0);
	clockevents_config_and_register(&lkl_clockevent, NSEC_PER_SEC, 1000,
					ULONG_MAX);
}

/**
 * lkl_time_free - stop and free the host timer (at halt)
 */
void lkl_time_free(void)
{
	struct lkl_timer *t = timer;

	timer = NULL;
	if (t)
		lkl_ops->timer_free(t);
}

void calibrate_delay(void)
{
}

void __ndelay(unsigned long nsecs)
{
	u64 end = lkl_ops->time() + nsecs;

	while (lkl_ops->time() < end)
		cpu_relax();
}
EXPORT_SYMBOL(__ndelay);

void __udelay(unsigned long usecs)
{
	__ndelay(usecs * NSEC_PER_USEC);
}
EXPORT_SYMBOL(__udelay);

void __delay(unsigned long loops)
{
	__ndelay(loops);
}
EXPORT_SYMBOL(__delay);
