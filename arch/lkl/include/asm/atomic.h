/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_ATOMIC_H
#define _ASM_LKL_ATOMIC_H

#include <linux/types.h>
#include <asm/cmpxchg.h>
#include <asm/barrier.h>

/* atomic_t and atomic64_t on the compiler's atomics (see asm/cmpxchg.h). */

#define ATOMIC64_INIT(i)	{ (i) }

#define arch_atomic_read(v)	__atomic_load_n(&(v)->counter, __ATOMIC_RELAXED)
#define arch_atomic_set(v, i)	__atomic_store_n(&(v)->counter, (i), __ATOMIC_RELAXED)
#define arch_atomic64_read(v)	__atomic_load_n(&(v)->counter, __ATOMIC_RELAXED)
#define arch_atomic64_set(v, i)	__atomic_store_n(&(v)->counter, (i), __ATOMIC_RELAXED)

#define LKL_ATOMIC_OP(pfx, type, op, builtin)				\
static __always_inline void arch_##pfx##_##op(type i, pfx##_t *v)	\
{									\
	__atomic_##builtin(&v->counter, i, __ATOMIC_RELAXED);		\
}									\
static __always_inline type arch_##pfx##_fetch_##op(type i, pfx##_t *v)	\
{									\
	return __atomic_##builtin(&v->counter, i, __ATOMIC_SEQ_CST);	\
}

#define LKL_ATOMIC_RETURN_OP(pfx, type, op, builtin)			\
static __always_inline type arch_##pfx##_##op##_return(type i, pfx##_t *v)\
{									\
	return __atomic_##builtin(&v->counter, i, __ATOMIC_SEQ_CST);	\
}

#define LKL_ATOMIC_OPS(pfx, type)					\
	LKL_ATOMIC_OP(pfx, type, add, fetch_add)			\
	LKL_ATOMIC_OP(pfx, type, sub, fetch_sub)			\
	LKL_ATOMIC_OP(pfx, type, and, fetch_and)			\
	LKL_ATOMIC_OP(pfx, type, or, fetch_or)				\
	LKL_ATOMIC_OP(pfx, type, xor, fetch_xor)			\
	LKL_ATOMIC_RETURN_OP(pfx, type, add, add_fetch)			\
	LKL_ATOMIC_RETURN_OP(pfx, type, sub, sub_fetch)

LKL_ATOMIC_OPS(atomic, int)
LKL_ATOMIC_OPS(atomic64, s64)

#define arch_atomic_add			arch_atomic_add
#define arch_atomic_sub			arch_atomic_sub
#define arch_atomic_and			arch_atomic_and
#define arch_atomic_or			arch_atomic_or
#define arch_atomic_xor			arch_atomic_xor
#define arch_atomic_fetch_add		arch_atomic_fetch_add
#define arch_atomic_fetch_sub		arch_atomic_fetch_sub
#define arch_atomic_fetch_and		arch_atomic_fetch_and
#define arch_atomic_fetch_or		arch_atomic_fetch_or
#define arch_atomic_fetch_xor		arch_atomic_fetch_xor
#define arch_atomic_add_return		arch_atomic_add_return
#define arch_atomic_sub_return		arch_atomic_sub_return

#define arch_atomic64_add		arch_atomic64_add
#define arch_atomic64_sub		arch_atomic64_sub
#define arch_atomic64_and		arch_atomic64_and
#define arch_atomic64_or		arch_atomic64_or
#define arch_atomic64_xor		arch_atomic64_xor
#define arch_atomic64_fetch_add		arch_atomic64_fetch_add
#define arch_atomic64_fetch_sub		arch_atomic64_fetch_sub
#define arch_atomic64_fetch_and		arch_atomic64_fetch_and
#define arch_atomic64_fetch_or		arch_atomic64_fetch_or
#define arch_atomic64_fetch_xor		arch_atomic64_fetch_xor
#define arch_atomic64_add_return	arch_atomic64_add_return
#define arch_atomic64_sub_return	arch_atomic64_sub_return

#endif /* _ASM_LKL_ATOMIC_H */
