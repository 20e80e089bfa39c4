/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
#ifndef _ASM_UAPI_LKL_UNISTD_H
#define _ASM_UAPI_LKL_UNISTD_H

#include <asm/unistd_64.h>

#endif /* _ASM_UAPI_LKL_UNISTD_H */
