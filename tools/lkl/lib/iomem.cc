// Registry behind the ioremap and iomem_access host operations; see iomem.h.
//
// Regions occupy fixed slots of a reserved window, so finding the region of an address is a
// subtraction and a division. Accesses hold a read lock while they run, which lets unregistering
// wait for them and lets device threads access different regions in parallel.
#include "iomem.h"

#include <pthread.h>
#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "host/host.h"

namespace lkl {
namespace {

constexpr unsigned long kSlots = 64;
constexpr unsigned long kSlotSize = kIomemRegionMaxSize;

struct Slot {
  IomemRegion *region;
  unsigned long size;
};

pthread_once_t window_once = PTHREAD_ONCE_INIT;
std::atomic<std::uintptr_t> window{0};
pthread_rwlock_t slots_lock = PTHREAD_RWLOCK_INITIALIZER;
Slot slots[kSlots];

void reserve_window() {
  void *mem = mmap(nullptr, kSlots * kSlotSize, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem != MAP_FAILED) window.store(reinterpret_cast<std::uintptr_t>(mem));
}

// A registered-or-not slot index and offset for [addr, addr + size), or false if the range is
// outside the window or straddles two slots.
bool locate(std::uintptr_t addr, unsigned long size, unsigned long *slot, unsigned long *offset) {
  const std::uintptr_t base = window.load(std::memory_order_acquire);
  if (base == 0 || addr < base || addr - base >= kSlots * kSlotSize) return false;
  *slot = (addr - base) / kSlotSize;
  *offset = (addr - base) % kSlotSize;
  return size <= kSlotSize - *offset;
}

class ReadLock {
 public:
  ReadLock() { pthread_rwlock_rdlock(&slots_lock); }
  ~ReadLock() { pthread_rwlock_unlock(&slots_lock); }
  ReadLock(const ReadLock &) = delete;
  ReadLock &operator=(const ReadLock &) = delete;
};

class WriteLock {
 public:
  WriteLock() { pthread_rwlock_wrlock(&slots_lock); }
  ~WriteLock() { pthread_rwlock_unlock(&slots_lock); }
  WriteLock(const WriteLock &) = delete;
  WriteLock &operator=(const WriteLock &) = delete;
};

}  // namespace

long iomem_register(IomemRegion *region, unsigned long size) noexcept {
  if (!region || size == 0 || size > kIomemRegionMaxSize) return -EINVAL;
  pthread_once(&window_once, reserve_window);
  const std::uintptr_t base = window.load(std::memory_order_acquire);
  if (base == 0) return -ENOMEM;
  WriteLock lock;
  for (unsigned long i = 0; i < kSlots; i++) {
    if (!slots[i].region) {
      slots[i] = {region, size};
      return static_cast<long>(base + i * kSlotSize);
    }
  }
  return -ENOSPC;
}

int iomem_unregister(long base) noexcept {
  unsigned long slot, offset;
  if (!locate(static_cast<std::uintptr_t>(base), 1, &slot, &offset) || offset != 0) return -EINVAL;
  WriteLock lock;
  if (!slots[slot].region) return -EINVAL;
  slots[slot] = {};
  return 0;
}

namespace host {

void *ioremap(long addr, int size) noexcept {
  unsigned long slot, offset;
  if (size <= 0 ||
      !locate(static_cast<std::uintptr_t>(addr), static_cast<unsigned long>(size), &slot, &offset))
    return nullptr;
  ReadLock lock;
  const Slot &s = slots[slot];
  if (!s.region || offset + static_cast<unsigned long>(size) > s.size) return nullptr;
  return reinterpret_cast<void *>(addr);
}

// An access to an address no region claims fails with -EFAULT and, like a read from a missing
// bus device, reads all ones.
int iomem_access(const volatile void *addr, void *val, int size, int write) noexcept {
  if (!val || (size != 1 && size != 2 && size != 4 && size != 8)) return -EINVAL;
  unsigned long slot, offset;
  int ret = -EFAULT;
  if (locate(reinterpret_cast<std::uintptr_t>(addr), static_cast<unsigned long>(size), &slot,
             &offset)) {
    ReadLock lock;
    const Slot &s = slots[slot];
    if (s.region && offset + static_cast<unsigned long>(size) <= s.size)
      ret = write ? s.region->write(offset, val, size) : s.region->read(offset, val, size);
  }
  if (ret != 0 && !write) std::memset(val, 0xff, static_cast<size_t>(size));
  return ret;
}

}  // namespace host
}  // namespace lkl
