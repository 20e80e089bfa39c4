/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The host operations liblkl.a provides for Linux/POSIX hosts:
 *
 *   lkl_init(&lkl_host_ops);
 *
 * Threads are pthreads, semaphores and mutexes are futex based, timers run on host threads. The
 * kernel console goes to stderr; set LKL_CONSOLE=stdout|none|<file> to redirect or silence it.
 * Set lkl_host_ops.virtio_devices before lkl_start_kernel() to hand devices to the kernel.
 */
#ifndef _LKL_HOST_H
#define _LKL_HOST_H

#include <lkl.h>

#ifdef __cplusplus
extern "C" {
#endif

extern struct lkl_host_operations lkl_host_ops;

#ifdef __cplusplus
}
#endif

#endif /* _LKL_HOST_H */
