/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_BARRIER_H
#define _ASM_LKL_BARRIER_H

/*
 * The LKL CPU is a single kernel CPU, but the host threads that share memory
 * with it (virtio device threads, the backends, application threads making
 * syscalls) run on any host CPU.  The generic fallbacks would be compiler-only
 * barriers, which lets a host CPU reorder virtqueue index and descriptor
 * accesses and lose notifications, so every barrier is a real host fence.
 *
 * An acquire fence orders earlier loads before later loads and stores (a read
 * barrier); a release fence orders earlier accesses before later stores (a
 * write barrier).  On x86-64 only mb() costs an instruction.  virt_*(), used
 * by the virtio rings, map to these through the generic __smp_*() defaults.
 */
#define __mb()		__atomic_thread_fence(__ATOMIC_SEQ_CST)
#define __rmb()		__atomic_thread_fence(__ATOMIC_ACQUIRE)
#define __wmb()		__atomic_thread_fence(__ATOMIC_RELEASE)

#define __dma_mb()	__mb()
#define __dma_rmb()	__rmb()
#define __dma_wmb()	__wmb()

#include <asm-generic/barrier.h>

#endif /* _ASM_LKL_BARRIER_H */
