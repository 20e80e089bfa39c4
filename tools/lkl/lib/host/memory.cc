// Host memory: malloc for the kernel's small host-side objects, private anonymous mappings for
// kernel RAM (page aligned and zeroed, as page_alloc promises).
//
// The blocks page_alloc hands out are recorded so that devices can check that a buffer address a
// driver gives them really is kernel memory (memory_contains). The kernel takes one block at boot,
// so the table is tiny; lookups are lock-free because they sit on every virtqueue descriptor.
#include <pthread.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>

#include "host/host.h"

namespace lkl::host {
namespace {

struct Block {
  std::atomic<std::uintptr_t> start;  // 0: free slot
  std::atomic<std::uintptr_t> end;
};

constexpr int kMaxBlocks = 16;
Block blocks[kMaxBlocks];
pthread_mutex_t blocks_lock = PTHREAD_MUTEX_INITIALIZER;

// A block that does not fit in the table is still handed out, just never vouched for.
void record(void *mem, unsigned long size) {
  const auto start = reinterpret_cast<std::uintptr_t>(mem);
  pthread_mutex_lock(&blocks_lock);
  for (Block &b : blocks) {
    if (b.start.load(std::memory_order_relaxed) == 0) {
      b.end.store(start + size, std::memory_order_relaxed);
      b.start.store(start, std::memory_order_release);
      break;
    }
  }
  pthread_mutex_unlock(&blocks_lock);
}

void forget(void *mem) {
  const auto start = reinterpret_cast<std::uintptr_t>(mem);
  pthread_mutex_lock(&blocks_lock);
  for (Block &b : blocks) {
    if (b.start.load(std::memory_order_relaxed) == start) {
      b.start.store(0, std::memory_order_release);
      b.end.store(0, std::memory_order_relaxed);
      break;
    }
  }
  pthread_mutex_unlock(&blocks_lock);
}

}  // namespace

void *mem_alloc(unsigned long size) noexcept { return std::malloc(size); }

void mem_free(void *addr) noexcept { std::free(addr); }

void *page_alloc(unsigned long size) noexcept {
  if (size == 0) return nullptr;
  void *mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return nullptr;
  record(mem, size);
  return mem;
}

void page_free(void *addr, unsigned long size) noexcept {
  if (!addr || !size) return;
  forget(addr);
  munmap(addr, size);
}

bool memory_contains(const void *addr, unsigned long size) noexcept {
  const auto start = reinterpret_cast<std::uintptr_t>(addr);
  if (start + size < start) return false;
  for (const Block &b : blocks) {
    const std::uintptr_t s = b.start.load(std::memory_order_acquire);
    if (s != 0 && start >= s && start + size <= b.end.load(std::memory_order_relaxed)) return true;
  }
  return false;
}

}  // namespace lkl::host
