// Jump buffers for the kernel's thread start and exit paths. _setjmp/_longjmp leave the signal
// mask alone: saving it would cost a system call per use and the kernel never changes it.
#include <setjmp.h>

#include "host/host.h"

namespace lkl::host {
namespace {

static_assert(sizeof(jmp_buf) <= sizeof(lkl_jmp_buf), "host jmp_buf does not fit lkl_jmp_buf");
static_assert(alignof(jmp_buf) <= alignof(lkl_jmp_buf), "host jmp_buf is over-aligned");

jmp_buf &host_jmp_buf(lkl_jmp_buf *jmpb) { return *reinterpret_cast<jmp_buf *>(jmpb->buf); }

}  // namespace

void jmp_buf_set(lkl_jmp_buf *jmpb, void (*fn)()) noexcept {
  if (!_setjmp(host_jmp_buf(jmpb))) fn();
}

void jmp_buf_longjmp(lkl_jmp_buf *jmpb, int val) noexcept { _longjmp(host_jmp_buf(jmpb), val); }

}  // namespace lkl::host
