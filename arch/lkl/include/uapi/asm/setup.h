/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
#ifndef _UAPI_ASM_LKL_SETUP_H
#define _UAPI_ASM_LKL_SETUP_H

/*
 * The host registers its virtio-mmio devices on the command line before boot
 * ("virtio_mmio.device=<size>@<addr>:<irq>" each), so allow far more than the
 * generic 512 bytes.
 */
#define COMMAND_LINE_SIZE	4096

#endif /* _UAPI_ASM_LKL_SETUP_H */
