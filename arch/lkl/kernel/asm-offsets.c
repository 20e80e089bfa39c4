// SPDX-License-Identifier: GPL-2.0
/* LKL has no assembly code: there are no offsets to export. */
#include <linux/kbuild.h>

int main(void)
{
	return 0;
}
