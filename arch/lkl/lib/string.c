// SPDX-License-Identifier: GPL-2.0
/*
 * memcpy() and memset() for LKL.
 *
 * Every byte the network stack moves between sockets and packet buffers goes
 * through memcpy() (copy_{to,from}_user() are plain copies without an MMU), and
 * the generic versions in lib/string.c move one byte per iteration.  The host
 * C library's versions are vectorised, so they are used when the host offers
 * them; otherwise a word-at-a-time copy serves.
 */
#include <linux/compiler.h>
#include <linux/export.h>
#include <linux/string.h>
#include <linux/types.h>
#include <asm/host_ops.h>

static void *words_memcpy(void *dest, const void *src, size_t count)
{
	unsigned char *d = dest;
	const unsigned char *s = src;

	if (!(((unsigned long)d | (unsigned long)s) & (sizeof(long) - 1))) {
		for (; count >= sizeof(long); count -= sizeof(long)) {
			*(unsigned long *)d = *(const unsigned long *)s;
			d += sizeof(long);
			s += sizeof(long);
		}
	}
	while (count--)
		*d++ = *s++;
	return dest;
}

static void *words_memset(void *s, int c, size_t count)
{
	unsigned char *p = s;
	unsigned long word = (unsigned char)c * (~0UL / 0xff);

	if (!((unsigned long)p & (sizeof(long) - 1))) {
		for (; count >= sizeof(long); count -= sizeof(long)) {
			*(unsigned long *)p = word;
			p += sizeof(long);
		}
	}
	while (count--)
		*p++ = c;
	return s;
}

/**
 * memcpy - copy @count bytes from @src to @dest, which must not overlap
 * @dest: destination
 * @src: source
 * @count: number of bytes
 *
 * Return: @dest.
 */
void *memcpy(void *dest, const void *src, size_t count)
{
	if (likely(lkl_ops->memcpy))
		return lkl_ops->memcpy(dest, src, count);
	return words_memcpy(dest, src, count);
}
EXPORT_SYMBOL(memcpy);

/**
 * memset - fill @count bytes at @s with the byte @c
 * @s: start of the area
 * @c: byte value
 * @count: number of bytes
 *
 * Return: @s.
 */
void *memset(void *s, int c, size_t count)
{
	if (likely(lkl_ops->memset))
		return lkl_ops->memset(s, c, count);
	return words_memset(s, c, count);
}
EXPORT_SYMBOL(memset);
