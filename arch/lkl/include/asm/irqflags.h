/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_IRQFLAGS_H
#define _ASM_LKL_IRQFLAGS_H

#define ARCH_IRQ_ENABLED	1
#define ARCH_IRQ_DISABLED	0

/*
 * The interrupt flag is a plain variable of the single LKL CPU: it travels
 * with CPU ownership. Interrupts raised by host threads while it is clear
 * are queued and replayed when it is set again (see kernel/irq.c).
 */
unsigned long arch_local_save_flags(void);
void arch_local_irq_restore(unsigned long flags);

#include <asm-generic/irqflags.h>

#endif /* _ASM_LKL_IRQFLAGS_H */
