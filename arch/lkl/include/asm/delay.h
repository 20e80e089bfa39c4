/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_DELAY_H
#define _ASM_LKL_DELAY_H

/* Busy waits follow the host clock, so no loop calibration is needed. */
void __ndelay(unsigned long nsecs);
void __udelay(unsigned long usecs);
void __delay(unsigned long loops);

#define ndelay(n)	__ndelay(n)
#define udelay(n)	__udelay(n)

#endif /* _ASM_LKL_DELAY_H */
