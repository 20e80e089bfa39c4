/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_STRING_H
#define _ASM_LKL_STRING_H

#include <linux/types.h>

/* arch/lkl/lib/string.c: the host's memcpy() and memset() when it has them. */
#define __HAVE_ARCH_MEMCPY
void *memcpy(void *dest, const void *src, __kernel_size_t count);

#define __HAVE_ARCH_MEMSET
void *memset(void *s, int c, __kernel_size_t count);

#endif /* _ASM_LKL_STRING_H */
