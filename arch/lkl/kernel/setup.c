// SPDX-License-Identifier: GPL-2.0
/*
 * Boot and halt.
 *
 * lkl_start_kernel() runs start_kernel() on a new host thread, which then
 * becomes the idle task, and returns once the host process (pid 1) is
 * ready to serve syscalls. lkl_sys_halt() powers the kernel off through
 * the reboot syscall; machine_power_off() then stops every host thread of
 * the kernel and releases the threads waiting in syscalls.
 *
 * lkl.pin_cpu= and lkl_pin_kernel_threads() pin the kernel's host threads
 * through the host, which alone knows which threads it made for the kernel.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/kstrtox.h>
#include <linux/panic_notifier.h>
#include <linux/pm.h>
#include <linux/notifier.h>
#include <linux/reboot.h>
#include <linux/sched.h>
#include <linux/start_kernel.h>
#include <linux/string.h>
#include <linux/syscalls.h>
#include <asm/setup.h>
#include <asm/host_ops.h>
#include <asm/cpu.h>
#include <asm/unistd.h>

struct lkl_host_operations *lkl_ops;
struct lkl_jmp_buf lkl_boot_jb;

enum lkl_state { LKL_DOWN, LKL_BOOTING, LKL_RUNNING, LKL_HALTING, LKL_HALTED };

static int lkl_state = LKL_DOWN;
static struct lkl_sem *boot_sem;
static int boot_status;
static lkl_thread_t boot_tid;

void lkl_printf(const char *fmt, ...)
{
	char buf[256];
	va_list args;
	int len;

	va_start(args, fmt);
	len = vscnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);
	if (lkl_ops && lkl_ops->print)
		lkl_ops->print(buf, len);
}

/**
 * lkl_init - record the host operations
 * @ops: the host operations
 *
 * Return: 0, -EINVAL if a mandatory operation is missing, -EBUSY if a
 * kernel was already started.
 */
int lkl_init(struct lkl_host_operations *ops)
{
	if (!ops || !ops->print || !ops->panic || !ops->sem_alloc ||
	    !ops->sem_free || !ops->sem_up || !ops->sem_down ||
	    !ops->mutex_alloc || !ops->mutex_free || !ops->mutex_lock ||
	    !ops->mutex_unlock || !ops->thread_create ||
	    !ops->thread_detach || !ops->thread_exit || !ops->thread_join ||
	    !ops->thread_self || !ops->thread_equal || !ops->tls_alloc ||
	    !ops->tls_free || !ops->tls_set || !ops->tls_get ||
	    !ops->mem_alloc || !ops->mem_free || !ops->page_alloc ||
	    !ops->page_free || !ops->time || !ops->timer_alloc ||
	    !ops->timer_set_oneshot || !ops->timer_free ||
	    !ops->jmp_buf_set || !ops->jmp_buf_longjmp)
		return -EINVAL;
	if (READ_ONCE(lkl_state) != LKL_DOWN)
		return -EBUSY;
	lkl_ops = ops;
	return 0;
}

/**
 * lkl_is_running - whether the kernel takes syscalls
 */
int lkl_is_running(void)
{
	int state = __atomic_load_n(&lkl_state, __ATOMIC_ACQUIRE);

	return state == LKL_RUNNING || state == LKL_HALTING;
}

/* The smallest memory the kernel boots with. */
#define LKL_MIN_MEM	(16UL << 20)

/*
 * Refuse malformed mem= values before booting: after boot starts, a bad
 * value could only end in a panic.
 */
static int check_cmdline(const char *cmdline)
{
	const char *p = cmdline;
	unsigned long long size;
	char *end;

	while ((p = strstr(p, "mem="))) {
		if (p != cmdline && p[-1] != ' ') {
			p += 4;
			continue;
		}
		p += 4;
		size = memparse(p, &end);
		if (end == p || (*end && *end != ' ')) {
			lkl_printf("lkl: bad command line: mem=%.*s is not a size\n",
				   (int)strcspn(p, " "), p);
			return -EINVAL;
		}
		if (size < LKL_MIN_MEM) {
			lkl_printf("lkl: bad command line: mem=%llu is below the minimum of %luM\n",
				   size, LKL_MIN_MEM >> 20);
			return -EINVAL;
		}
	}
	return 0;
}

void lkl_boot_done(int status)
{
	boot_status = status;
	lkl_ops->sem_up(boot_sem);
}

static void __ref run_start_kernel(void)
{
	start_kernel();
}

static void boot_thread(void *arg)
{
	if (lkl_threads_init() || lkl_cpu_get()) {
		lkl_boot_done(-ENOMEM);
		return;
	}
	lkl_ops->jmp_buf_set(&lkl_boot_jb, run_start_kernel);
}

/**
 * lkl_start_kernel - boot the kernel
 * @fmt: printf-style kernel command line
 *
 * Return: 0 once the kernel takes syscalls; -EINVAL without lkl_init() or
 * for a bad command line, -EBUSY if already started, -ENOMEM.
 */
int __ref lkl_start_kernel(const char *fmt, ...)
{
	va_list args;
	int ret;

	if (!lkl_ops || !fmt)
		return -EINVAL;
	if (cmpxchg(&lkl_state, LKL_DOWN, LKL_BOOTING) != LKL_DOWN)
		return -EBUSY;

	va_start(args, fmt);
	ret = vsnprintf(boot_command_line, COMMAND_LINE_SIZE, fmt, args);
	va_end(args);
	if (ret >= COMMAND_LINE_SIZE) {
		lkl_printf("lkl: command line longer than %d bytes\n",
			   COMMAND_LINE_SIZE - 1);
		ret = -E2BIG;
		goto fail;
	}
	if (lkl_ops->virtio_devices &&
	    strlcat(boot_command_line, lkl_ops->virtio_devices,
		    COMMAND_LINE_SIZE) >= COMMAND_LINE_SIZE) {
		lkl_printf("lkl: command line too long for the virtio devices\n");
		ret = -E2BIG;
		goto fail;
	}
	ret = check_cmdline(boot_command_line);
	if (ret)
		goto fail;

	ret = -ENOMEM;
	boot_sem = lkl_ops->sem_alloc(0);
	if (!boot_sem)
		goto fail;
	if (lkl_cpu_init())
		goto fail_sem;
	if (lkl_syscalls_init())
		goto fail_cpu;
	boot_tid = lkl_ops->thread_create(boot_thread, NULL);
	if (!boot_tid)
		goto fail_syscalls;

	lkl_ops->sem_down(boot_sem);
	ret = boot_status;
	if (ret) {
		lkl_ops->thread_join(boot_tid);
		goto fail_syscalls;
	}
	__atomic_store_n(&lkl_state, LKL_RUNNING, __ATOMIC_RELEASE);
	return 0;

fail_syscalls:
	lkl_syscalls_cleanup();
fail_cpu:
	lkl_cpu_free();
fail_sem:
	lkl_ops->sem_free(boot_sem);
	boot_sem = NULL;
fail:
	WRITE_ONCE(lkl_state, LKL_DOWN);
	return ret;
}

/**
 * lkl_sys_halt - power the kernel off
 *
 * Threads blocked in syscalls get -EINTR; later syscalls get -ENODEV.
 *
 * Return: 0, or -ENODEV if the kernel was not running.
 */
long lkl_sys_halt(void)
{
	long params[6] = { LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
			   LINUX_REBOOT_CMD_POWER_OFF, 0 };
	long ret;

	if (cmpxchg(&lkl_state, LKL_RUNNING, LKL_HALTING) != LKL_RUNNING)
		return -ENODEV;
	ret = lkl_syscall(__NR_reboot, params);
	if (ret) {
		WRITE_ONCE(lkl_state, LKL_RUNNING);
		return ret;
	}
	__atomic_store_n(&lkl_state, LKL_HALTED, __ATOMIC_RELEASE);
	return 0;
}

/**
 * lkl_cleanup - release the host resources of a halted kernel
 *
 * Halts the kernel first if it is still running.
 */
void lkl_cleanup(void)
{
	if (lkl_is_running())
		lkl_sys_halt();
	if (READ_ONCE(lkl_state) != LKL_HALTED)
		return;
	lkl_syscalls_cleanup();
	lkl_time_free();
	lkl_cpu_free();
	lkl_mem_free();
	if (boot_sem)
		lkl_ops->sem_free(boot_sem);
	boot_sem = NULL;
}

/* The application pinned or unpinned: the boot default no longer applies. */
static bool pin_chosen;

static int pin_kernel_threads(int cpu)
{
	if (!lkl_ops)
		return -EINVAL;
	if (!lkl_ops->pin_kernel_threads)
		return -EOPNOTSUPP;
	if (cpu < LKL_PIN_AUTO)
		return -EINVAL;
	return lkl_ops->pin_kernel_threads(cpu);
}

/**
 * lkl_pin_kernel_threads - pin the kernel's host threads to one host CPU
 * @cpu: a host CPU, LKL_PIN_AUTO or LKL_PIN_OFF
 *
 * Runs on any host thread and never enters the kernel, so it needs neither
 * the CPU nor a running kernel; the notice goes straight to the host.
 *
 * Return: the CPU pinned to (0 for LKL_PIN_OFF) or a negative errno.
 */
int lkl_pin_kernel_threads(int cpu)
{
	static bool noticed;
	int ret = pin_kernel_threads(cpu);

	if (ret >= 0)
		WRITE_ONCE(pin_chosen, true);
	else if (ret == -EOPNOTSUPP && !xchg(&noticed, true))
		lkl_printf("lkl: the host operations cannot pin threads (no pin_kernel_threads)\n");
	return ret;
}

/*
 * Without lkl.pin_cpu=: unpinned. With direct syscalls (the default) the
 * callers run their calls themselves and pinning the kernel's threads
 * gains nothing measurable, while every process pinned to the same last
 * CPU loses (Documentation/arch/lkl/architecture.rst, Pinning).
 */
#define LKL_PIN_DEFAULT	LKL_PIN_OFF

static int pin_cpu __initdata = LKL_PIN_DEFAULT;
static bool pin_cpu_given __initdata;

static int __init parse_pin_cpu(char *arg)
{
	int cpu;

	pin_cpu_given = true;
	if (arg && !strcmp(arg, "off")) {
		pin_cpu = LKL_PIN_OFF;
	} else if (arg && !strcmp(arg, "auto")) {
		pin_cpu = LKL_PIN_AUTO;
	} else if (arg && !kstrtoint(arg, 10, &cpu) && cpu >= 0) {
		pin_cpu = cpu;
	} else {
		pr_err("lkl.pin_cpu=%s: expected off, auto or a host CPU number; kernel threads stay unpinned\n",
		       arg ?: "");
		pin_cpu = LKL_PIN_OFF;
	}
	return 0;
}
early_param("lkl.pin_cpu", parse_pin_cpu);

/*
 * Pin before the timer and the first kthread exist: until then the boot
 * thread is the kernel's only host thread besides device threads.
 */
static void __init pin_at_boot(void)
{
	char val[12] = "auto";
	int ret;

	if (!pin_cpu_given && (READ_ONCE(pin_chosen) || pin_cpu == LKL_PIN_OFF))
		return;
	ret = pin_kernel_threads(pin_cpu);
	if (ret >= 0) {
		if (pin_cpu != LKL_PIN_OFF)
			pr_info("lkl: kernel threads pinned to host CPU %d\n",
				ret);
		return;
	}
	/* Off needs nothing, and a default must not complain. */
	if (pin_cpu == LKL_PIN_OFF || !pin_cpu_given) {
		pr_info("lkl: kernel threads not pinned (%d)\n", ret);
		return;
	}
	if (pin_cpu != LKL_PIN_AUTO)
		snprintf(val, sizeof(val), "%d", pin_cpu);
	if (ret == -EOPNOTSUPP)
		pr_err("lkl.pin_cpu=%s: the host operations cannot pin threads; kernel threads stay unpinned\n",
		       val);
	else if (ret == -EINVAL)
		pr_err("lkl.pin_cpu=%s: not a host CPU this process may use; kernel threads stay unpinned\n",
		       val);
	else
		pr_err("lkl.pin_cpu=%s: pinning failed (%d); kernel threads stay unpinned\n",
		       val, ret);
}

/* Runs in the task that asked for power off; never returns. */
static void __noreturn lkl_halt_machine(void)
{
	lkl_cpu_shutdown();
	lkl_time_free();
	lkl_syscalls_release_waiters(-EINTR);
	lkl_threads_kill_all();
	lkl_syscalls_finish_halt();
}

static void lkl_power_off(void)
{
	lkl_halt_machine();
}

void machine_halt(void)
{
	lkl_halt_machine();
}

void machine_power_off(void)
{
	lkl_halt_machine();
}

void machine_restart(char *cmd)
{
	lkl_halt_machine();
}

static int lkl_panic(struct notifier_block *nb, unsigned long event,
		     void *msg)
{
	lkl_ops->panic();
	return NOTIFY_DONE;
}

static struct notifier_block lkl_panic_notifier = {
	.notifier_call = lkl_panic,
	.priority = INT_MIN,
};

void __init setup_arch(char **cmdline_p)
{
	lkl_clock_init();
	*cmdline_p = boot_command_line;
	parse_early_param();
	pin_at_boot();
	atomic_notifier_chain_register(&panic_notifier_list,
				       &lkl_panic_notifier);
	pm_power_off = lkl_power_off;
	lkl_mem_init();
}
