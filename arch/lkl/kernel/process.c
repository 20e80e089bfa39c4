// SPDX-License-Identifier: GPL-2.0
/*
 * The host process.
 *
 * The host program's threads act as the threads of one process, pid 1.
 * The init task becomes that process by executing "/init", an empty file
 * that a format of this file alone accepts: the exec gives the task a
 * fresh mm and credentials like any init. kernel_init() then returns to
 * "user mode", which for LKL means serving host threads
 * (see lkl_host_process_serve()).
 */
#include <linux/binfmts.h>
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/task_work.h>
#include <asm/cpu.h>

#define LKL_INIT_PATH "/init"

static bool host_process_started;

static int load_host_process(struct linux_binprm *bprm)
{
	int ret;

	if (host_process_started || current->pid != 1 ||
	    strcmp(bprm->filename, LKL_INIT_PATH))
		return -ENOEXEC;

	ret = begin_new_exec(bprm);
	if (ret)
		return ret;
	setup_new_exec(bprm);
	finalize_exec(bprm);
	host_process_started = true;
	return 0;
}

static struct linux_binfmt host_process_format = {
	.load_binary = load_host_process,
};

static int __init host_process_init(void)
{
	struct file *file;

	register_binfmt(&host_process_format);

	file = filp_open(LKL_INIT_PATH, O_CREAT | O_WRONLY | O_TRUNC, 0700);
	if (IS_ERR(file)) {
		pr_err("lkl: cannot create %s: %ld\n", LKL_INIT_PATH,
		       PTR_ERR(file));
		return PTR_ERR(file);
	}
	filp_close(file, NULL);
	/* The final fput() is deferred to us: finish it before the exec. */
	task_work_run();
	return 0;
}
late_initcall(host_process_init);
