// The POSIX host: the operations of lib/host/ and lib/iomem.cc gathered into the C-ABI struct
// that programs hand to lkl_init(&lkl_host_ops).
#include <cerrno>
#include <cstring>

#include "host/host.h"

// Operations return negative host errno values; the kernel reads them as LKL errnos. Both use the
// asm-generic numbering on the Linux hosts we support (x86-64, arm64, riscv64).
static_assert(EINVAL == 22 && EFAULT == 14 && ENOSPC == 28 && EAGAIN == 11,
              "host errno numbering differs from the kernel's asm-generic numbering");

namespace host = lkl::host;

extern "C" {

struct lkl_host_operations lkl_host_ops = {
    .virtio_devices = nullptr,
    .print = host::print,
    .panic = host::panic,
    .sem_alloc = host::sem_alloc,
    .sem_free = host::sem_free,
    .sem_up = host::sem_up,
    .sem_down = host::sem_down,
    .mutex_alloc = host::mutex_alloc,
    .mutex_free = host::mutex_free,
    .mutex_lock = host::mutex_lock,
    .mutex_unlock = host::mutex_unlock,
    .thread_create = host::thread_create,
    .thread_detach = host::thread_detach,
    .thread_exit = host::thread_exit,
    .thread_join = host::thread_join,
    .thread_self = host::thread_self,
    .thread_equal = host::thread_equal,
    .thread_stack = host::thread_stack,
    .tls_alloc = host::tls_alloc,
    .tls_free = host::tls_free,
    .tls_set = host::tls_set,
    .tls_get = host::tls_get,
    .mem_alloc = host::mem_alloc,
    .mem_free = host::mem_free,
    .page_alloc = host::page_alloc,
    .page_free = host::page_free,
    .time = host::time_ns,
    .timer_alloc = host::timer_alloc,
    .timer_set_oneshot = host::timer_set_oneshot,
    .timer_free = host::timer_free,
    .ioremap = host::ioremap,
    .iomem_access = host::iomem_access,
    .gettid = host::gettid,
    .jmp_buf_set = host::jmp_buf_set,
    .jmp_buf_longjmp = host::jmp_buf_longjmp,
    // The C library's vectorised versions: the kernel's own move a word at a time.
    .memcpy = ::memcpy,
    .memset = ::memset,
    .pin_kernel_threads = host::pin_kernel_threads,
    .relax = host::relax,
};

}  // extern "C"
