/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_PTRACE_H
#define _ASM_LKL_PTRACE_H

#include <uapi/asm/ptrace.h>

/* No user mode: a register frame only says whether it came from an irq. */
struct pt_regs {
	unsigned long irq;
};

#define user_mode(regs)			0
#define kernel_mode(regs)		1
#define instruction_pointer(regs)	0
#define user_stack_pointer(regs)	0
#define profile_pc(regs)		instruction_pointer(regs)
#define current_pt_regs()		task_pt_regs(current)

static inline long regs_return_value(struct pt_regs *regs)
{
	return 0;
}

#endif /* _ASM_LKL_PTRACE_H */
