// The device-type half of a virtio device (network, block, ...), driven by a transport that owns
// the registers, the feature negotiation and the virtqueues (see mmio.h).
#ifndef LKL_LIB_VIRTIO_DEVICE_H
#define LKL_LIB_VIRTIO_DEVICE_H

#include <cerrno>
#include <cstdint>

#include <lkl/linux/virtio_config.h>
// The legacy part of the header (vring_init() ...) is C only, and unused here.
#ifndef LKL_VIRTIO_RING_NO_LEGACY
#define LKL_VIRTIO_RING_NO_LEGACY
#endif
#include <lkl/linux/virtio_ring.h>

namespace lkl::virtio {

constexpr std::uint64_t bit(unsigned feature) { return std::uint64_t{1} << feature; }

// Ring and transport features a transport can offer on top of the device's own.
inline constexpr std::uint64_t kFeatureVersion1 = bit(LKL_VIRTIO_F_VERSION_1);
inline constexpr std::uint64_t kFeatureIndirect = bit(LKL_VIRTIO_RING_F_INDIRECT_DESC);
inline constexpr std::uint64_t kFeatureEventIdx = bit(LKL_VIRTIO_RING_F_EVENT_IDX);

class MmioTransport;

// Called by the transport with its lock held, from the thread doing the driver's MMIO access
// (which owns the LKL CPU): calls must be short and must not wait for the kernel.
//
// The methods have harmless defaults instead of being pure virtual: a pure virtual function
// would make the glue depend on the C++ runtime (__cxa_pure_virtual).
class VirtioDevice {
 public:
  // Device type (VIRTIO_ID_*); 0 is a placeholder the driver skips.
  virtual std::uint32_t device_id() const noexcept { return 0; }
  // Device-specific feature bits offered; the transport adds VERSION_1 and the ring features.
  virtual std::uint64_t device_features() const noexcept { return 0; }
  virtual unsigned num_queues() const noexcept { return 0; }
  virtual unsigned queue_max_size(unsigned /*queue*/) const noexcept { return 256; }

  // Device configuration space (size 1, 2, 4 or 8 at offset): 0 or a negative errno.
  virtual int read_config(unsigned /*offset*/, void * /*val*/, int /*size*/) noexcept {
    return -EINVAL;
  }
  virtual int write_config(unsigned /*offset*/, const void * /*val*/, int /*size*/) noexcept {
    return -EINVAL;
  }

  // DRIVER_OK: queues are set up and features negotiated. Returns false if the device cannot
  // run (the transport then sets DEVICE_NEEDS_RESET).
  virtual bool start(MmioTransport * /*transport*/, std::uint64_t /*features*/) noexcept {
    return false;
  }
  // Reset or failure: once this returns the device no longer touches the queues.
  virtual void stop() noexcept {}
  // The driver notified queue (only while started and the queue is ready).
  virtual void notify(unsigned /*queue*/) noexcept {}

 protected:
  ~VirtioDevice() = default;
};

}  // namespace lkl::virtio

#endif  // LKL_LIB_VIRTIO_DEVICE_H
