/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
#ifndef _ASM_UAPI_LKL_BYTEORDER_H
#define _ASM_UAPI_LKL_BYTEORDER_H

/* LKL runs on little-endian 64-bit hosts. */
#include <linux/byteorder/little_endian.h>

#endif /* _ASM_UAPI_LKL_BYTEORDER_H */
