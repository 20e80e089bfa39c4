// SPDX-License-Identifier: GPL-2.0
/*
 * The syscall table: every entry is called with six longs.
 */
#include <linux/linkage.h>
#include <linux/syscalls.h>
#include <asm/cpu.h>
#include <asm/unistd.h>

#define __SYSCALL_WITH_COMPAT(nr, native, compat) __SYSCALL(nr, native)

#undef __SYSCALL
#define __SYSCALL(nr, sym) \
	asmlinkage long sym(long, long, long, long, long, long);
#include <asm/syscall_table_64.h>

#undef __SYSCALL
#define __SYSCALL(nr, sym) [nr] = (lkl_syscall_fn_t)sym,

const lkl_syscall_fn_t lkl_syscall_table[__NR_syscalls] = {
	[0 ... __NR_syscalls - 1] = (lkl_syscall_fn_t)sys_ni_syscall,
#include <asm/syscall_table_64.h>
};
