/*
 * A program outside the LKL tree: boots the library's kernel, asks it for its name and version,
 * halts. Built by the Makefile next to it from an installed LKL, with pkg-config only.
 */
#include <lkl.h>
#include <lkl_host.h>
#include <stdio.h>

int main(void) {
  struct lkl_new_utsname uts;
  long ret = lkl_init(&lkl_host_ops);

  if (ret == 0) ret = lkl_start_kernel("mem=32M loglevel=4");
  if (ret < 0) {
    lkl_perror("boot", (int)ret);
    return 1;
  }
  ret = lkl_sys_uname(&uts);
  if (ret < 0) {
    lkl_perror("uname", (int)ret);
  } else {
    printf("hello from %s %s, pid %ld\n", uts.sysname, uts.release, lkl_sys_getpid());
  }
  lkl_sys_halt();
  lkl_cleanup();
  return ret == 0 ? 0 : 1;
}
