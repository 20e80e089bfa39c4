// SPDX-License-Identifier: GPL-2.0
//
// Linked into every test binary that boots the kernel: LKL_SYSCALL_MODE=shadow|direct in the
// environment selects how the test's threads enter the kernel (lkl_set_syscall_mode(), the same
// as the boot parameter lkl.syscall=), so that scripts/run-tests.sh runs the whole suite once per
// mode. Unset: the kernel's default. Anything else stops the binary before any test runs.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <lkl_host.h>

namespace {

int ApplySyscallMode() {
  const char *mode = std::getenv("LKL_SYSCALL_MODE");
  if (!mode || !*mode) return -1;
  int value;
  if (std::strcmp(mode, "shadow") == 0) {
    value = LKL_SYSCALL_SHADOW;
  } else if (std::strcmp(mode, "direct") == 0) {
    value = LKL_SYSCALL_DIRECT;
  } else {
    std::fprintf(stderr, "LKL_SYSCALL_MODE=%s: expected shadow or direct\n", mode);
    std::exit(2);
  }
  lkl_set_syscall_mode(value);
  return value;
}

[[maybe_unused]] const int kSyscallMode = ApplySyscallMode();

}  // namespace
