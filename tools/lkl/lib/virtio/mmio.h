// virtio-mmio transport, register layout version 2 (virtio 1.x, 4.2.2): the register file the
// kernel's virtio_mmio driver reads and writes through the iomem_access host operation, feature
// negotiation, device status and reset, queue setup, and the interrupt line.
//
// Register accesses arrive on whichever thread owns the LKL CPU, so they are serialized; a lock
// still guards the state against the application thread that attaches or detaches a device. A
// transport without a device reads as a placeholder (device id 0), which the driver skips: a
// removed device leaves one behind so that its MMIO window and irq can be reused.
#ifndef LKL_LIB_VIRTIO_MMIO_H
#define LKL_LIB_VIRTIO_MMIO_H

#include <pthread.h>

#include <atomic>
#include <cstdint>

#include <lkl/linux/virtio_mmio.h>

#include "iomem.h"
#include "virtio/device.h"
#include "virtio/virtqueue.h"

namespace lkl::virtio {

// Size of the MMIO window: registers plus 3.75 KiB of configuration space.
inline constexpr unsigned long kMmioSize = 0x1000;
inline constexpr unsigned kMaxQueues = 8;

class MmioTransport final : public IomemRegion {
 public:
  // trigger raises interrupt line irq (lkl_trigger_irq; tests pass their own).
  using Trigger = int (*)(int irq);

  MmioTransport(int irq, Trigger trigger) noexcept;
  ~MmioTransport();
  MmioTransport(const MmioTransport &) = delete;
  MmioTransport &operator=(const MmioTransport &) = delete;

  int read(unsigned long offset, void *val, int size) noexcept override;
  int write(unsigned long offset, const void *val, int size) noexcept override;

  // Installs device (nullptr: placeholder) after resetting the transport; the old device is
  // stopped first. Safe while the driver is not bound.
  void set_device(VirtioDevice *device) noexcept;

  int irq() const noexcept { return irq_; }

  // Ring features offered besides VERSION_1 (kFeatureIndirect | kFeatureEventIdx by default).
  void set_ring_features(std::uint64_t features) noexcept { ring_features_ = features; }

  // For the running device. Interrupts may be raised from any thread.
  VirtQueue &queue(unsigned index) noexcept { return queues_[index].vq; }
  void signal_used() noexcept { raise(LKL_VIRTIO_MMIO_INT_VRING); }
  void signal_config() noexcept;
  // The device cannot go on (e.g. a broken queue): DEVICE_NEEDS_RESET plus a config interrupt.
  void fail() noexcept;

  std::uint32_t status() const noexcept { return status_.load(std::memory_order_acquire); }

 private:
  struct Queue {
    std::uint32_t num;
    bool ready;
    std::uint64_t desc, avail, used;
    VirtQueue vq;
  };

  std::uint32_t read_register(unsigned long offset) noexcept;
  void write_register(unsigned long offset, std::uint32_t value) noexcept;
  void write_status(std::uint32_t value) noexcept;
  void write_queue_ready(std::uint32_t value) noexcept;
  void reset() noexcept;
  void stop_device() noexcept;
  std::uint64_t offered_features() const noexcept;
  Queue *selected_queue() noexcept;
  void raise(std::uint32_t cause) noexcept;

  const int irq_;
  const Trigger trigger_;
  pthread_mutex_t lock_ = PTHREAD_MUTEX_INITIALIZER;
  VirtioDevice *device_ = nullptr;
  bool started_ = false;
  std::uint64_t ring_features_ = kFeatureIndirect | kFeatureEventIdx;
  std::uint32_t device_features_sel_ = 0;
  std::uint32_t driver_features_sel_ = 0;
  std::uint64_t driver_features_ = 0;
  std::uint32_t queue_sel_ = 0;
  std::atomic<std::uint32_t> status_{0};
  std::atomic<std::uint32_t> interrupt_status_{0};
  std::atomic<std::uint32_t> config_generation_{0};
  Queue queues_[kMaxQueues] = {};
};

}  // namespace lkl::virtio

#endif  // LKL_LIB_VIRTIO_MMIO_H
