/*
 * Links liblkl.a into a C program with only -lpthread: the build fails here if the host glue
 * ever needs the C++ runtime. Never run by the build; running it boots and halts a kernel.
 */
#include <stdio.h>

#ifdef LKL_CHECK_KERNEL
#include <lkl.h>
#endif
#include <lkl/asm/host_ops.h>

extern struct lkl_host_operations lkl_host_ops;

int main(void) {
#ifdef LKL_CHECK_KERNEL
  long ret = lkl_init(&lkl_host_ops);

  /* The network devices are host glue too: pull them in (a TAP made here vanishes when freed). */
  lkl_netdev_free(lkl_netdev_tap_create("lkl-link-check", 0));
  lkl_netdev_free(lkl_netdev_raw_create("lkl-link-check"));
  if (ret == 0) ret = lkl_start_kernel("mem=32M loglevel=4");
  /* So is the network configuration API. */
  if (ret == 0) ret = lkl_if_up(lkl_ifname_to_ifindex("lo"));
  if (ret == 0) ret = lkl_sys_halt();
  printf("%s\n", lkl_strerror((int)ret));
  lkl_cleanup();
  return ret == 0 ? 0 : 1;
#else
  return lkl_host_ops.time() > 0 ? 0 : 1;
#endif
}
