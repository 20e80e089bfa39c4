// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel memory: one block from the host, sized by mem= on the command line.
 */
#include <linux/init.h>
#include <linux/memblock.h>
#include <linux/mm.h>
#include <linux/pfn.h>
#include <linux/sizes.h>
#include <asm/host_ops.h>
#include <asm/cpu.h>

unsigned long memory_start, memory_end;
void *empty_zero_page;

static unsigned long mem_size = (unsigned long)CONFIG_LKL_DEFAULT_MEM_SIZE * SZ_1M;
static void *host_block;
static unsigned long host_block_size;

static int __init lkl_mem_param(char *p)
{
	/* lkl_start_kernel() has checked the value already. */
	mem_size = memparse(p, &p);
	return 0;
}
early_param("mem", lkl_mem_param);

/* Block alignment that keeps the FLATMEM page map offset-free. */
#define LKL_MEM_ALIGN	(PAGE_SIZE << MAX_PAGE_ORDER)

void __init lkl_mem_init(void)
{
	unsigned long max_zone_pfn[MAX_NR_ZONES] = { 0 };

	mem_size = PAGE_ALIGN(mem_size);
	host_block_size = mem_size + LKL_MEM_ALIGN;
	host_block = lkl_ops->page_alloc(host_block_size);
	if (!host_block)
		panic("lkl: the host has no %lu bytes for kernel memory\n",
		      mem_size);

	memory_start = ALIGN((unsigned long)host_block, LKL_MEM_ALIGN);
	memory_end = memory_start + mem_size;
	memblock_add(memory_start, mem_size);

	min_low_pfn = PFN_UP(memory_start);
	max_low_pfn = PFN_DOWN(memory_end);
	max_pfn = max_low_pfn;
	set_max_mapnr(max_low_pfn - min_low_pfn);
	high_memory = (void *)memory_end;

	empty_zero_page = memblock_alloc(PAGE_SIZE, PAGE_SIZE);
	if (!empty_zero_page)
		panic("lkl: no memory for the zero page\n");

	max_zone_pfn[ZONE_NORMAL] = max_pfn;
	free_area_init(max_zone_pfn);
}

void __init mem_init(void)
{
	memblock_free_all();
}

/**
 * lkl_mem_free - give kernel memory back to the host after halt
 */
void lkl_mem_free(void)
{
	if (host_block)
		lkl_ops->page_free(host_block, host_block_size);
	host_block = NULL;
}
