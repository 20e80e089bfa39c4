/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_VMALLOC_H
#define _ASM_LKL_VMALLOC_H

/* No MMU: vmalloc() is kmalloc() and there are no huge vmap mappings. */

#endif /* _ASM_LKL_VMALLOC_H */
