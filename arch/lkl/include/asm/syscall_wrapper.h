/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_SYSCALL_WRAPPER_H
#define _ASM_LKL_SYSCALL_WRAPPER_H

/*
 * Syscalls are plain C functions taking longs, called through
 * sys_call_table by lkl_syscall(). Each definition also records its
 * prototype as text in the non-allocated section .lkl_syscall_defs; the
 * build extracts it to generate the host's typed lkl_sys_*() wrappers.
 */
#define __LKL_SYSCALL_RECORD(text)					\
	asm(".pushsection .lkl_syscall_defs,\"a\",@progbits\n\t"	\
	    ".ascii \"" text "\\n\"\n\t"				\
	    ".popsection")

#define __SYSCALL_DEFINEx(x, name, ...)					\
	__LKL_SYSCALL_RECORD(#x " " #name " " #__VA_ARGS__);		\
	asmlinkage long sys##name(__MAP(x, __SC_LONG, __VA_ARGS__));	\
	static inline long __do_sys##name(__MAP(x, __SC_DECL, __VA_ARGS__));\
	asmlinkage long sys##name(__MAP(x, __SC_LONG, __VA_ARGS__))	\
	{								\
		long ret = __do_sys##name(__MAP(x, __SC_CAST, __VA_ARGS__));\
		__MAP(x, __SC_TEST, __VA_ARGS__);			\
		return ret;						\
	}								\
	static inline long __do_sys##name(__MAP(x, __SC_DECL, __VA_ARGS__))

#define SYSCALL_DEFINE0(sname)						\
	__LKL_SYSCALL_RECORD("0 _" #sname);				\
	asmlinkage long sys_##sname(void);				\
	asmlinkage long sys_##sname(void)

#endif /* _ASM_LKL_SYSCALL_WRAPPER_H */
