/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_HOST_OPS_H
#define _ASM_LKL_HOST_OPS_H

#include <uapi/asm/host_ops.h>

/* The host operations given to lkl_init(); never NULL once booting. */
extern struct lkl_host_operations *lkl_ops;

/* Printing that works before the console is registered. */
void lkl_printf(const char *fmt, ...) __printf(1, 2);

#endif /* _ASM_LKL_HOST_OPS_H */
