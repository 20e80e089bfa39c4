/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmlinux is linked with -r: a relocatable object for the host linker.
 * The script only groups sections and defines the symbols generic code
 * needs; addresses are assigned when the host program is linked.
 */
#include <asm/vmlinux.lds.h>
#include <asm/thread_info.h>
#include <asm/page.h>
#include <asm/cache.h>

OUTPUT_FORMAT(CONFIG_OUTPUT_FORMAT)

jiffies = jiffies_64;

SECTIONS
{
	/*
	 * The host linker moves each output section as a whole, so only
	 * symbols inside one section keep their distance.  All code, init
	 * code included, is in .text and its bounds are defined in it:
	 * kallsyms records text symbols as offsets from _text.
	 */
	.text : {
		_text = .;
		_stext = .;
		TEXT_TEXT
		SCHED_TEXT
		LOCK_TEXT
		KPROBES_TEXT
		IRQENTRY_TEXT
		SOFTIRQENTRY_TEXT
		_etext = .;
		_sinittext = .;
		INIT_TEXT
		_einittext = .;
	}

	_sdata = .;
	/*
	 * RO_DATA() without its writable parts, so that the host program keeps
	 * a read-only .rodata.  Constants: only position-independent references
	 * may leave them, so the host linker never needs a text relocation.
	 */
	. = ALIGN(PAGE_SIZE);
	.rodata : {
		__start_rodata = .;
		*(.rodata) *(.rodata.*)
		*(__tracepoints_strings)
		__end_rodata = .;
	}
	/*
	 * Constants that hold addresses: relocated by the host's dynamic
	 * linker, read-only after that in a program linked with -z relro.
	 */
	.data.rel.ro : {
		*(.data.rel.ro .data.rel.ro.*)
	}
	/* Read-only once the kernel has booted, which nothing enforces here. */
	.data..ro_after_init : {
		SCHED_DATA
		RO_AFTER_INIT_DATA
		. = ALIGN(8);
		BOUNDED_SECTION_BY(__tracepoints_ptrs, ___tracepoints_ptrs)
	}
	.rodata1 : {
		*(.rodata1)
	}
	TRACEDATA
	PRINTK_INDEX
	__ksymtab_strings : {
		*(__ksymtab_strings)
	}
	__init_rodata : {
		*(.ref.rodata)
	}
	__param : {
		BOUNDED_SECTION_BY(__param, ___param)
	}
	__modver : {
		BOUNDED_SECTION_BY(__modver, ___modver)
	}
	NOTES
	RW_DATA(L1_CACHE_BYTES, PAGE_SIZE, THREAD_SIZE)
	_edata = .;

	EXCEPTION_TABLE(16)

	__init_begin = .;
	INIT_DATA_SECTION(16)
	PERCPU_SECTION(L1_CACHE_BYTES)
	__init_end = .;

	BSS_SECTION(0, 0, 0)
	_end = .;

	STABS_DEBUG
	DWARF_DEBUG
	ELF_DETAILS

	DISCARDS
}
