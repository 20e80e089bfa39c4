// See mmio.h.
#include "virtio/mmio.h"

#include <cstring>

namespace lkl::virtio {
namespace {

constexpr std::uint32_t kMagic = 0x74726976;  // "virt"
constexpr std::uint32_t kVersion = 2;
constexpr std::uint32_t kVendor = 0x4c4b4c;  // "LKL"

class Lock {
 public:
  explicit Lock(pthread_mutex_t *m) : m_(m) { pthread_mutex_lock(m_); }
  ~Lock() { pthread_mutex_unlock(m_); }
  Lock(const Lock &) = delete;
  Lock &operator=(const Lock &) = delete;

 private:
  pthread_mutex_t *m_;
};

std::uint64_t set_low(std::uint64_t v, std::uint32_t low) { return (v & ~0xffffffffULL) | low; }
std::uint64_t set_high(std::uint64_t v, std::uint32_t high) {
  return (v & 0xffffffffULL) | std::uint64_t{high} << 32;
}

}  // namespace

MmioTransport::MmioTransport(int irq, Trigger trigger) noexcept : irq_(irq), trigger_(trigger) {}

MmioTransport::~MmioTransport() {
  set_device(nullptr);
  pthread_mutex_destroy(&lock_);
}

void MmioTransport::set_device(VirtioDevice *device) noexcept {
  VirtioDevice *running = nullptr;
  {
    Lock lock(&lock_);
    if (started_) running = device_;
    started_ = false;
  }
  // Stopped without the lock: its poll thread may be running the kernel's interrupt handler,
  // which accesses these registers. (A reset from the driver holds the CPU, so that cannot be.)
  if (running) running->stop();
  Lock lock(&lock_);
  reset();
  device_ = device;
}

std::uint64_t MmioTransport::offered_features() const noexcept {
  if (!device_) return 0;
  return device_->device_features() | kFeatureVersion1 | ring_features_;
}

MmioTransport::Queue *MmioTransport::selected_queue() noexcept {
  if (!device_ || queue_sel_ >= kMaxQueues || queue_sel_ >= device_->num_queues()) return nullptr;
  return &queues_[queue_sel_];
}

void MmioTransport::raise(std::uint32_t cause) noexcept {
  interrupt_status_.fetch_or(cause, std::memory_order_acq_rel);
  trigger_(irq_);
}

void MmioTransport::signal_config() noexcept {
  config_generation_.fetch_add(1, std::memory_order_acq_rel);
  raise(LKL_VIRTIO_MMIO_INT_CONFIG);
}

void MmioTransport::fail() noexcept {
  status_.fetch_or(LKL_VIRTIO_CONFIG_S_NEEDS_RESET, std::memory_order_acq_rel);
  raise(LKL_VIRTIO_MMIO_INT_CONFIG);
}

void MmioTransport::stop_device() noexcept {
  if (started_ && device_) device_->stop();
  started_ = false;
}

void MmioTransport::reset() noexcept {
  stop_device();
  for (Queue &q : queues_) {
    q.num = 0;
    q.ready = false;
    q.desc = q.avail = q.used = 0;
    q.vq.reset();
  }
  device_features_sel_ = driver_features_sel_ = queue_sel_ = 0;
  driver_features_ = 0;
  status_.store(0, std::memory_order_release);
  interrupt_status_.store(0, std::memory_order_release);
}

int MmioTransport::read(unsigned long offset, void *val, int size) noexcept {
  Lock lock(&lock_);
  if (offset >= LKL_VIRTIO_MMIO_CONFIG) {
    if (!device_) return -EINVAL;
    return device_->read_config(static_cast<unsigned>(offset - LKL_VIRTIO_MMIO_CONFIG), val, size);
  }
  // Registers are 32 bits wide and accessed as such (4.2.2.2).
  if (size != 4 || offset % 4) return -EINVAL;
  const std::uint32_t v = read_register(offset);
  std::memcpy(val, &v, sizeof(v));
  return 0;
}

int MmioTransport::write(unsigned long offset, const void *val, int size) noexcept {
  Lock lock(&lock_);
  if (offset >= LKL_VIRTIO_MMIO_CONFIG) {
    if (!device_) return -EINVAL;
    return device_->write_config(static_cast<unsigned>(offset - LKL_VIRTIO_MMIO_CONFIG), val, size);
  }
  if (size != 4 || offset % 4) return -EINVAL;
  std::uint32_t v;
  std::memcpy(&v, val, sizeof(v));
  write_register(offset, v);
  return 0;
}

std::uint32_t MmioTransport::read_register(unsigned long offset) noexcept {
  const Queue *q = selected_queue();
  switch (offset) {
    case LKL_VIRTIO_MMIO_MAGIC_VALUE:
      return kMagic;
    case LKL_VIRTIO_MMIO_VERSION:
      return kVersion;
    case LKL_VIRTIO_MMIO_DEVICE_ID:
      return device_ ? device_->device_id() : 0;
    case LKL_VIRTIO_MMIO_VENDOR_ID:
      return kVendor;
    case LKL_VIRTIO_MMIO_DEVICE_FEATURES:
      if (device_features_sel_ > 1) return 0;
      return static_cast<std::uint32_t>(offered_features() >> (32 * device_features_sel_));
    case LKL_VIRTIO_MMIO_QUEUE_NUM_MAX:
      if (!q) return 0;
      return device_->queue_max_size(queue_sel_) < kMaxQueueSize
                 ? device_->queue_max_size(queue_sel_)
                 : kMaxQueueSize;
    case LKL_VIRTIO_MMIO_QUEUE_READY:
      return q && q->ready;
    case LKL_VIRTIO_MMIO_INTERRUPT_STATUS:
      return interrupt_status_.load(std::memory_order_acquire);
    case LKL_VIRTIO_MMIO_STATUS:
      return status_.load(std::memory_order_acquire);
    case LKL_VIRTIO_MMIO_QUEUE_DESC_LOW:
      return q ? static_cast<std::uint32_t>(q->desc) : 0;
    case LKL_VIRTIO_MMIO_QUEUE_DESC_HIGH:
      return q ? static_cast<std::uint32_t>(q->desc >> 32) : 0;
    case LKL_VIRTIO_MMIO_QUEUE_AVAIL_LOW:
      return q ? static_cast<std::uint32_t>(q->avail) : 0;
    case LKL_VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
      return q ? static_cast<std::uint32_t>(q->avail >> 32) : 0;
    case LKL_VIRTIO_MMIO_QUEUE_USED_LOW:
      return q ? static_cast<std::uint32_t>(q->used) : 0;
    case LKL_VIRTIO_MMIO_QUEUE_USED_HIGH:
      return q ? static_cast<std::uint32_t>(q->used >> 32) : 0;
    // No shared memory regions: length all ones (4.2.2.1).
    case LKL_VIRTIO_MMIO_SHM_LEN_LOW:
    case LKL_VIRTIO_MMIO_SHM_LEN_HIGH:
    case LKL_VIRTIO_MMIO_SHM_BASE_LOW:
    case LKL_VIRTIO_MMIO_SHM_BASE_HIGH:
      return 0xffffffff;
    case LKL_VIRTIO_MMIO_CONFIG_GENERATION:
      return config_generation_.load(std::memory_order_acquire);
    default:
      return 0;
  }
}

void MmioTransport::write_register(unsigned long offset, std::uint32_t value) noexcept {
  const std::uint32_t status = status_.load(std::memory_order_acquire);
  Queue *q = selected_queue();
  // Features and queue layout are fixed once FEATURES_OK / QueueReady say so (4.2.3).
  const bool features_open = !(status & LKL_VIRTIO_CONFIG_S_FEATURES_OK);
  const bool queue_open = q && !q->ready;
  switch (offset) {
    case LKL_VIRTIO_MMIO_DEVICE_FEATURES_SEL:
      device_features_sel_ = value;
      break;
    case LKL_VIRTIO_MMIO_DRIVER_FEATURES_SEL:
      driver_features_sel_ = value;
      break;
    case LKL_VIRTIO_MMIO_DRIVER_FEATURES:
      if (!features_open || driver_features_sel_ > 1) break;
      driver_features_ = driver_features_sel_ ? set_high(driver_features_, value)
                                              : set_low(driver_features_, value);
      break;
    case LKL_VIRTIO_MMIO_QUEUE_SEL:
      queue_sel_ = value;
      break;
    case LKL_VIRTIO_MMIO_QUEUE_NUM:
      if (queue_open) q->num = value;
      break;
    case LKL_VIRTIO_MMIO_QUEUE_READY:
      write_queue_ready(value);
      break;
    case LKL_VIRTIO_MMIO_QUEUE_NOTIFY:
      // Without VIRTIO_F_NOTIFICATION_DATA the value is the queue index.
      if (started_ && value < kMaxQueues && queues_[value].ready) device_->notify(value);
      break;
    case LKL_VIRTIO_MMIO_INTERRUPT_ACK:
      interrupt_status_.fetch_and(~value, std::memory_order_acq_rel);
      break;
    case LKL_VIRTIO_MMIO_STATUS:
      write_status(value);
      break;
    case LKL_VIRTIO_MMIO_QUEUE_DESC_LOW:
      if (queue_open) q->desc = set_low(q->desc, value);
      break;
    case LKL_VIRTIO_MMIO_QUEUE_DESC_HIGH:
      if (queue_open) q->desc = set_high(q->desc, value);
      break;
    case LKL_VIRTIO_MMIO_QUEUE_AVAIL_LOW:
      if (queue_open) q->avail = set_low(q->avail, value);
      break;
    case LKL_VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
      if (queue_open) q->avail = set_high(q->avail, value);
      break;
    case LKL_VIRTIO_MMIO_QUEUE_USED_LOW:
      if (queue_open) q->used = set_low(q->used, value);
      break;
    case LKL_VIRTIO_MMIO_QUEUE_USED_HIGH:
      if (queue_open) q->used = set_high(q->used, value);
      break;
    default:
      break;  // read-only or unknown: ignored
  }
}

void MmioTransport::write_queue_ready(std::uint32_t value) noexcept {
  Queue *q = selected_queue();
  if (!q) return;
  if (!value) {
    // Only a stopped device may lose a queue (no VIRTIO_F_RING_RESET).
    if (q->ready) stop_device();
    q->ready = false;
    q->vq.reset();
    return;
  }
  if (q->ready || !(status_.load(std::memory_order_acquire) & LKL_VIRTIO_CONFIG_S_FEATURES_OK))
    return;
  // A ring that fails the checks stays not ready; the driver sees that when it reads back.
  q->ready = q->vq.setup(q->num, q->desc, q->avail, q->used, driver_features_ & kFeatureIndirect,
                         driver_features_ & kFeatureEventIdx);
}

void MmioTransport::write_status(std::uint32_t value) noexcept {
  if (value == 0) {
    reset();
    return;
  }
  std::uint32_t status = status_.load(std::memory_order_acquire);
  const std::uint32_t added = value & ~status;
  if (added & LKL_VIRTIO_CONFIG_S_FEATURES_OK) {
    // Accept only features we offered, and only as a modern driver (VERSION_1 is mandatory).
    const std::uint64_t offered = offered_features();
    if ((driver_features_ & ~offered) || !(driver_features_ & kFeatureVersion1))
      value &= ~LKL_VIRTIO_CONFIG_S_FEATURES_OK;
  }
  if ((added & LKL_VIRTIO_CONFIG_S_DRIVER_OK) && !(value & LKL_VIRTIO_CONFIG_S_FEATURES_OK))
    value &= ~LKL_VIRTIO_CONFIG_S_DRIVER_OK;
  // NEEDS_RESET is the device's to set; keep it once set.
  value = (value & ~LKL_VIRTIO_CONFIG_S_NEEDS_RESET) | (status & LKL_VIRTIO_CONFIG_S_NEEDS_RESET);
  status_.store(value, std::memory_order_release);

  if (value & LKL_VIRTIO_CONFIG_S_FAILED) {
    stop_device();
  } else if ((value & LKL_VIRTIO_CONFIG_S_DRIVER_OK) && !started_ && device_) {
    started_ = device_->start(this, driver_features_);
    if (!started_) status_.fetch_or(LKL_VIRTIO_CONFIG_S_NEEDS_RESET, std::memory_order_acq_rel);
  }
}

}  // namespace lkl::virtio
