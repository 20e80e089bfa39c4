/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
#ifndef _ASM_UAPI_LKL_PTRACE_H
#define _ASM_UAPI_LKL_PTRACE_H

/* There is no user mode to trace: the register set is empty. */

#endif /* _ASM_UAPI_LKL_PTRACE_H */
