/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_IRQ_H
#define _ASM_LKL_IRQ_H

/* Interrupt lines for the timer and host devices; 0 is never used. */
#define NR_IRQS 64

#include <asm-generic/irq.h>

#endif /* _ASM_LKL_IRQ_H */
