/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_STRING_H
#define _ASM_LKL_STRING_H

/* The generic C string functions in lib/string.c serve LKL. */

#endif /* _ASM_LKL_STRING_H */
