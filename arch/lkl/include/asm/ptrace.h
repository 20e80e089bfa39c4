/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_PTRACE_H
#define _ASM_LKL_PTRACE_H

#include <uapi/asm/ptrace.h>

/* No user mode: a register frame only says whether it came from an irq. */
struct pt_regs {
	unsigned long irq;
};

static inline int user_mode(struct pt_regs *regs)
{
	return 0;
}

static inline unsigned long instruction_pointer(struct pt_regs *regs)
{
	return 0;
}

static inline unsigned long user_stack_pointer(struct pt_regs *regs)
{
	return 0;
}

#define profile_pc(regs)		instruction_pointer(regs)
#define current_pt_regs()		task_pt_regs(current)

static inline long regs_return_value(struct pt_regs *regs)
{
	return 0;
}

#endif /* _ASM_LKL_PTRACE_H */
