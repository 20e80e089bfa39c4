// Host memory: malloc for the kernel's small host-side objects, private anonymous mappings for
// kernel RAM (page aligned and zeroed, as page_alloc promises).
#include <sys/mman.h>

#include <cstdlib>

#include "host/host.h"

namespace lkl::host {

void *mem_alloc(unsigned long size) noexcept { return std::malloc(size); }

void mem_free(void *addr) noexcept { std::free(addr); }

void *page_alloc(unsigned long size) noexcept {
  if (size == 0) return nullptr;
  void *mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return mem == MAP_FAILED ? nullptr : mem;
}

void page_free(void *addr, unsigned long size) noexcept {
  if (addr && size) munmap(addr, size);
}

}  // namespace lkl::host
