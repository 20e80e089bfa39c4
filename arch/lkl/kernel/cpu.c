// SPDX-License-Identifier: GPL-2.0
/*
 * Ownership of the single LKL CPU.
 *
 * Exactly one host thread runs kernel code at a time: the owner of the CPU.
 * A task keeps the CPU while it runs and hands it straight to the next task
 * in __switch_to(); the idle task gives it up while the kernel has nothing
 * to do. Host threads that are not tasks (syscall callers, timer and device
 * threads raising interrupts) take it in between, with the idle task as
 * current, much like an interrupt taken while the CPU halts.
 *
 * The fields are protected by a host mutex that is held only briefly; the
 * CPU itself is "held" by being recorded as owner.
 */
#include <linux/errno.h>
#include <linux/sched.h>
#include <linux/irqflags.h>
#include <linux/cpu.h>
#include <linux/tick.h>
#include <asm/host_ops.h>
#include <asm/cpu.h>

static struct {
	struct lkl_mutex *lock;
	lkl_thread_t owner;
	unsigned int count;
	unsigned int sleepers;
	struct lkl_sem *sem;
	struct lkl_sem *idle_sem;
	bool idle_waiting;
	bool shutdown;
} cpu;

/**
 * lkl_cpu_init - prepare the CPU before boot
 *
 * Return: 0 or -ENOMEM.
 */
int lkl_cpu_init(void)
{
	cpu.owner = 0;
	cpu.count = 0;
	cpu.sleepers = 0;
	cpu.idle_waiting = false;
	cpu.shutdown = false;
	cpu.lock = lkl_ops->mutex_alloc(0);
	cpu.sem = lkl_ops->sem_alloc(0);
	cpu.idle_sem = lkl_ops->sem_alloc(0);
	if (!cpu.lock || !cpu.sem || !cpu.idle_sem) {
		lkl_cpu_free();
		return -ENOMEM;
	}
	return 0;
}

/**
 * lkl_cpu_free - release the host objects of the CPU after halt
 */
void lkl_cpu_free(void)
{
	if (cpu.idle_sem)
		lkl_ops->sem_free(cpu.idle_sem);
	if (cpu.sem)
		lkl_ops->sem_free(cpu.sem);
	if (cpu.lock)
		lkl_ops->mutex_free(cpu.lock);
	cpu.idle_sem = NULL;
	cpu.sem = NULL;
	cpu.lock = NULL;
}

static bool cpu_owned_by(lkl_thread_t self)
{
	return cpu.owner && lkl_ops->thread_equal(cpu.owner, self);
}

/**
 * lkl_cpu_get - take the CPU, waiting while another host thread owns it
 *
 * The owner may take it again (the count nests).
 *
 * Return: 0, or -ENODEV once the kernel is shutting down.
 */
int lkl_cpu_get(void)
{
	lkl_thread_t self = lkl_ops->thread_self();
	int ret = 0;

	lkl_ops->mutex_lock(cpu.lock);
	while (cpu.owner && !cpu_owned_by(self) && !cpu.shutdown) {
		cpu.sleepers++;
		lkl_ops->mutex_unlock(cpu.lock);
		lkl_ops->sem_down(cpu.sem);
		lkl_ops->mutex_lock(cpu.lock);
		cpu.sleepers--;
	}
	if (cpu.shutdown && !cpu_owned_by(self)) {
		/* Pass the wake-up on: every sleeper must see the shutdown. */
		if (cpu.sleepers)
			lkl_ops->sem_up(cpu.sem);
		ret = -ENODEV;
	} else {
		cpu.owner = self;
		cpu.count++;
	}
	lkl_ops->mutex_unlock(cpu.lock);
	return ret;
}

/**
 * lkl_cpu_try_get - take the CPU only if nobody owns it
 *
 * Return: true if the caller now owns the CPU.
 */
bool lkl_cpu_try_get(void)
{
	bool taken = false;

	lkl_ops->mutex_lock(cpu.lock);
	if (!cpu.owner && !cpu.shutdown) {
		cpu.owner = lkl_ops->thread_self();
		cpu.count = 1;
		taken = true;
	}
	lkl_ops->mutex_unlock(cpu.lock);
	return taken;
}

/*
 * Called with cpu.lock held by the owner about to let the CPU go. Only the
 * idle task can be current here. Woken tasks go first: host threads that
 * call into the kernel back to back would otherwise keep the CPU among
 * themselves, and tasks (including the ones they wait for) would starve.
 */
static void cpu_release_locked(void)
{
	cpu.owner = 0;
	cpu.count = 0;
	if (cpu.idle_waiting && need_resched()) {
		cpu.idle_waiting = false;
		lkl_ops->sem_up(cpu.idle_sem);
	} else if (cpu.sleepers) {
		lkl_ops->sem_up(cpu.sem);
	}
}

/*
 * A host thread ran kernel code while the idle task waited in
 * arch_cpu_idle(): an interrupt (the tick among them), or a direct
 * syscall. On hardware the interrupt would wake the CPU and the idle loop
 * would go round once more: stop the tick if the tick is what woke it
 * (do_idle() stops it only then), or program the next event again if the
 * tick is stopped and the interrupt queued an earlier timer. Here the idle
 * task sleeps on, so take that decision for it. Without this a NO_HZ_IDLE
 * kernel never stops its tick, and a timer queued by an interrupt while the
 * tick is stopped fires only at the previously programmed event.
 */
static void cpu_idle_retick(void)
{
	unsigned long flags;

	if (!is_idle_task(current))
		return;
	local_irq_save(flags);
	if (!need_resched() &&
	    (tick_nohz_idle_got_tick() || tick_nohz_tick_stopped()))
		tick_nohz_idle_stop_tick();
	local_irq_restore(flags);
}

/**
 * lkl_cpu_put - release the CPU taken with lkl_cpu_get()
 *
 * Interrupts that were raised while the CPU was held run before it is
 * released, provided the caller left interrupts enabled.
 */
void lkl_cpu_put(void)
{
	lkl_ops->mutex_lock(cpu.lock);
	if (WARN_ON_ONCE(!cpu_owned_by(lkl_ops->thread_self()))) {
		lkl_ops->mutex_unlock(cpu.lock);
		return;
	}
	if (cpu.count > 1) {
		cpu.count--;
		lkl_ops->mutex_unlock(cpu.lock);
		return;
	}
	while (!cpu.shutdown && lkl_irqs_pending() && !irqs_disabled()) {
		lkl_ops->mutex_unlock(cpu.lock);
		local_irq_disable();
		lkl_run_pending_irqs();
		local_irq_enable();
		lkl_ops->mutex_lock(cpu.lock);
	}
	/* Only a NO_HZ kernel has a tick decision to take: no extra lock trip. */
	if (IS_ENABLED(CONFIG_NO_HZ_COMMON) && cpu.idle_waiting &&
	    !cpu.shutdown && !irqs_disabled()) {
		lkl_ops->mutex_unlock(cpu.lock);
		cpu_idle_retick();
		lkl_ops->mutex_lock(cpu.lock);
	}
	cpu_release_locked();
	lkl_ops->mutex_unlock(cpu.lock);
}

/**
 * lkl_cpu_relax - cpu_relax(): the kernel spins until another thread acts
 *
 * What the kernel waits for in a spin loop is done by another host thread
 * (a device thread filling a ring that a busy-polling syscall reads), which
 * may need the very host CPU the spinner runs on: offer it, as a hypervisor
 * takes a vCPU that spins on PAUSE off its CPU.
 */
void lkl_cpu_relax(void)
{
	if (lkl_ops->relax)
		lkl_ops->relax();
	else
		barrier();
}

/**
 * lkl_cpu_change_owner - hand the CPU to the host thread of the next task
 * @owner: that host thread
 */
void lkl_cpu_change_owner(lkl_thread_t owner)
{
	lkl_ops->mutex_lock(cpu.lock);
	cpu.owner = owner;
	cpu.count = 1;
	lkl_ops->mutex_unlock(cpu.lock);
}

/**
 * lkl_cpu_shutdown - refuse the CPU to everybody but its current owner
 *
 * Host threads waiting for the CPU return -ENODEV from lkl_cpu_get().
 */
void lkl_cpu_shutdown(void)
{
	lkl_ops->mutex_lock(cpu.lock);
	cpu.shutdown = true;
	if (cpu.sleepers)
		lkl_ops->sem_up(cpu.sem);
	lkl_ops->mutex_unlock(cpu.lock);
}

/**
 * lkl_cpu_kick_idle - let the idle task run pending interrupts
 *
 * If the idle task waits in arch_cpu_idle(), wake it; otherwise the CPU is
 * busy and its owner runs them before it lets the CPU go.
 */
void lkl_cpu_kick_idle(void)
{
	lkl_ops->mutex_lock(cpu.lock);
	if (cpu.idle_waiting) {
		cpu.idle_waiting = false;
		lkl_ops->sem_up(cpu.idle_sem);
	}
	lkl_ops->mutex_unlock(cpu.lock);
}

/**
 * lkl_cpu_wake_idle - make the idle task leave lkl_cpu_idle() (at halt)
 */
void lkl_cpu_wake_idle(void)
{
	lkl_ops->sem_up(cpu.idle_sem);
}

/*
 * The idle task has nothing to run: give the CPU away and wait until a
 * host thread makes work for it (a woken task) or the kernel halts.
 * Called with interrupts disabled; returns with them enabled.
 */
void arch_cpu_idle(void)
{
	struct task_struct *self = current;

	local_irq_enable();
	lkl_ops->mutex_lock(cpu.lock);
	if (need_resched() || cpu.shutdown || lkl_irqs_pending()) {
		lkl_ops->mutex_unlock(cpu.lock);
		return;
	}
	cpu.idle_waiting = true;
	cpu_release_locked();
	lkl_ops->mutex_unlock(cpu.lock);

	lkl_ops->sem_down(cpu.idle_sem);

	if (self->thread.dead || lkl_cpu_get() < 0)
		lkl_thread_leave(self);
	local_irq_disable();
	lkl_run_pending_irqs();
	local_irq_enable();
}
