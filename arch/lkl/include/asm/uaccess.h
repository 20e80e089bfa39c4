/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_UACCESS_H
#define _ASM_LKL_UACCESS_H

/*
 * "User" memory is the host process' memory. Without an MMU a wild pointer
 * cannot be caught, but the low pages (NULL and small offsets from it) and
 * ranges that wrap around or leave the canonical user half are refused.
 */
#define LKL_USER_ADDR_MIN	0x10000UL
#define LKL_USER_ADDR_MAX	0x0000800000000000UL

#define __access_ok __access_ok
static inline int __access_ok(const void __user *ptr, unsigned long size)
{
	unsigned long addr = (unsigned long)ptr;

	if (!size)
		return 1;
	return addr >= LKL_USER_ADDR_MIN && size <= LKL_USER_ADDR_MAX &&
	       addr <= LKL_USER_ADDR_MAX - size;
}

#include <asm-generic/uaccess.h>

#endif /* _ASM_LKL_UACCESS_H */
