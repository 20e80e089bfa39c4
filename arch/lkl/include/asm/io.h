/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_IO_H
#define _ASM_LKL_IO_H

#include <asm/bug.h>
#include <asm/host_ops.h>

/*
 * Device registers live in the host: every MMIO access is a call into the
 * host device model through lkl_ops->iomem_access().
 */
#define __raw_readb __raw_readb
static inline u8 __raw_readb(const volatile void __iomem *addr)
{
	u8 v = 0xff;

	lkl_ops->iomem_access((const volatile void __force *)addr, &v, 1, 0);
	return v;
}

#define __raw_readw __raw_readw
static inline u16 __raw_readw(const volatile void __iomem *addr)
{
	u16 v = 0xffff;

	lkl_ops->iomem_access((const volatile void __force *)addr, &v, 2, 0);
	return v;
}

#define __raw_readl __raw_readl
static inline u32 __raw_readl(const volatile void __iomem *addr)
{
	u32 v = 0xffffffff;

	lkl_ops->iomem_access((const volatile void __force *)addr, &v, 4, 0);
	return v;
}

#define __raw_readq __raw_readq
static inline u64 __raw_readq(const volatile void __iomem *addr)
{
	u64 v = ~0ULL;

	lkl_ops->iomem_access((const volatile void __force *)addr, &v, 8, 0);
	return v;
}

#define __raw_writeb __raw_writeb
static inline void __raw_writeb(u8 v, volatile void __iomem *addr)
{
	lkl_ops->iomem_access((const volatile void __force *)addr, &v, 1, 1);
}

#define __raw_writew __raw_writew
static inline void __raw_writew(u16 v, volatile void __iomem *addr)
{
	lkl_ops->iomem_access((const volatile void __force *)addr, &v, 2, 1);
}

#define __raw_writel __raw_writel
static inline void __raw_writel(u32 v, volatile void __iomem *addr)
{
	lkl_ops->iomem_access((const volatile void __force *)addr, &v, 4, 1);
}

#define __raw_writeq __raw_writeq
static inline void __raw_writeq(u64 v, volatile void __iomem *addr)
{
	lkl_ops->iomem_access((const volatile void __force *)addr, &v, 8, 1);
}

#define ioremap ioremap
static inline void __iomem *ioremap(phys_addr_t offset, size_t size)
{
	return (void __iomem *)lkl_ops->ioremap(offset, size);
}

#define iounmap iounmap
static inline void iounmap(volatile void __iomem *addr)
{
}

#include <asm-generic/io.h>

#endif /* _ASM_LKL_IO_H */
