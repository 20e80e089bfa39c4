// MMIO regions of host-emulated devices (virtio-mmio), as seen by the kernel's ioremap() and
// readl()/writel().
//
// A device registers a region object and gets a base address to put on the kernel command line
// (virtio_mmio.device=<size>@<base>:<irq>). The kernel never dereferences that address: every
// access arrives through the iomem_access host operation and is dispatched here. Base addresses
// come from a reserved PROT_NONE window of the host address space, so they can never collide with
// kernel RAM or any other mapping, and a stray direct dereference faults at once.
#ifndef LKL_LIB_IOMEM_H
#define LKL_LIB_IOMEM_H

namespace lkl {

class IomemRegion {
 public:
  // offset is within the region; size is 1, 2, 4 or 8. Return 0 or a negative errno. Called from
  // any host thread the kernel runs on; must not unregister a region.
  virtual int read(unsigned long offset, void *val, int size) = 0;
  virtual int write(unsigned long offset, const void *val, int size) = 0;

 protected:
  // The registry never owns or deletes a region.
  ~IomemRegion() = default;
};

// Largest region iomem_register() accepts.
inline constexpr unsigned long kIomemRegionMaxSize = 1UL << 20;

// Returns the region's base address (positive, page aligned) or -EINVAL (no region, size 0 or
// above kIomemRegionMaxSize), -ENOSPC (all slots taken) or -ENOMEM (no address space).
long iomem_register(IomemRegion *region, unsigned long size) noexcept;

// Removes the region registered at base, after waiting for accesses in progress. 0 or -EINVAL.
int iomem_unregister(long base) noexcept;

}  // namespace lkl

#endif  // LKL_LIB_IOMEM_H
