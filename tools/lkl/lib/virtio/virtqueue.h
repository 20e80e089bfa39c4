// A split virtqueue seen from the device side (virtio 1.x, 2.7): the driver's descriptor table,
// available ring and used ring live in kernel memory and are accessed in place.
//
// Everything read from the rings is untrusted. Each descriptor is copied once and checked before
// use: indices in range, chains no longer than the table they live in (so a loop ends), indirect
// tables well formed and not nested, device-readable buffers before device-writable ones, no
// length overflow, and every buffer inside kernel memory (host::memory_contains). A chain that
// fails is never followed: its head goes back to the used ring with length 0 (so the driver can
// reclaim it) and is counted. A head index outside the table cannot be given back at all; the
// queue is then broken and stays silent until the device is reset (the transport reports it with
// DEVICE_NEEDS_RESET).
//
// One device thread at a time may consume a queue (pop/push/notification calls); the transport
// configures it only while the device is stopped.
#ifndef LKL_LIB_VIRTIO_VIRTQUEUE_H
#define LKL_LIB_VIRTIO_VIRTQUEUE_H

#include <sys/uio.h>

#include <atomic>
#include <cstdint>

// The legacy part of the header (vring_init() ...) is C only, and unused here.
#ifndef LKL_VIRTIO_RING_NO_LEGACY
#define LKL_VIRTIO_RING_NO_LEGACY
#endif
#include <lkl/linux/virtio_ring.h>

namespace lkl::virtio {

// Largest number of buffers one chain may have; longer ones (legal, but far beyond what a
// network or block driver builds) are rejected as too long.
inline constexpr unsigned kMaxChainBuffers = 64;
// Largest indirect table accepted, in descriptors.
inline constexpr unsigned kMaxIndirect = 1024;
// Largest queue size the transport offers.
inline constexpr unsigned kMaxQueueSize = 1024;

// A validated descriptor chain: the first `readable` entries of iov are device-readable, the rest
// device-writable.
struct Chain {
  std::uint16_t head;
  std::uint16_t count;
  std::uint16_t readable;
  std::uint32_t readable_bytes;
  std::uint32_t writable_bytes;
  iovec iov[kMaxChainBuffers];

  const iovec *writable_iov() const { return iov + readable; }
  int writable_count() const { return count - readable; }
};

// Per-queue error counters (relaxed atomics: read from any thread for statistics).
struct QueueStats {
  std::atomic<std::uint64_t> chains{0};        // good chains popped
  std::atomic<std::uint64_t> bad_head{0};      // head index out of range: queue broken
  std::atomic<std::uint64_t> bad_avail{0};     // avail idx more than a ring ahead: queue broken
  std::atomic<std::uint64_t> bad_next{0};      // next index out of range
  std::atomic<std::uint64_t> loops{0};         // chain longer than its table
  std::atomic<std::uint64_t> too_long{0};      // more than kMaxChainBuffers buffers
  std::atomic<std::uint64_t> bad_indirect{0};  // not negotiated, nested, misplaced, bad size
  std::atomic<std::uint64_t> bad_address{0};   // buffer outside kernel memory or wrapping
  std::atomic<std::uint64_t> bad_order{0};     // readable buffer after a writable one
  std::atomic<std::uint64_t> bad_ring{0};      // ring setup rejected (size, alignment, memory)

  // Chains given back unused because they were malformed.
  std::uint64_t dropped() const;
};

class VirtQueue {
 public:
  VirtQueue() = default;
  VirtQueue(const VirtQueue &) = delete;
  VirtQueue &operator=(const VirtQueue &) = delete;

  // Forgets the rings (device reset or queue disabled). Counters survive.
  void reset() noexcept;

  // Checks and adopts the rings the driver placed at the given addresses: num a power of two up
  // to kMaxQueueSize, alignment as the spec requires, all three areas inside kernel memory.
  // Returns false (counted in bad_ring) if any check fails.
  bool setup(unsigned num, std::uint64_t desc, std::uint64_t avail, std::uint64_t used,
             bool indirect, bool event_idx) noexcept;

  bool ready() const noexcept { return num_ != 0; }
  bool broken() const noexcept { return broken_; }
  unsigned size() const noexcept { return num_; }

  enum class Pop { kChain, kEmpty, kBroken };

  // Takes the next good chain from the available ring. Malformed chains met on the way are given
  // back with length 0 and counted; the caller's next signal decision covers them.
  Pop pop(Chain *chain) noexcept;

  // Returns a chain to the driver with len bytes written, and publishes it.
  void push(std::uint16_t head, std::uint32_t len) noexcept;

  // Whether the driver has made chains available that pop() has not taken.
  bool has_avail() const noexcept;

  // Notification suppression (driver -> device). enable_notify() asks for a notification when the
  // driver adds the next chain and then returns whether one arrived meanwhile (the caller must
  // look again before sleeping); disable_notify() asks for none (a hint only).
  bool enable_notify() noexcept;
  void disable_notify() noexcept;

  // Interrupt suppression (device -> driver): whether the used entries published since the last
  // signal warrant an interrupt, honouring used_event (EVENT_IDX) or VRING_AVAIL_F_NO_INTERRUPT.
  // Records the decision point; call it once per batch and raise the interrupt if true.
  bool needs_signal() noexcept;

  // Whether the driver waits for an interrupt for an entry published since the last one: a
  // second look for idle threads, covering a driver whose store of used_event raced with our
  // used idx update because its barriers are compiler-only (arch/lkl has real fences since
  // asm/barrier.h; this stays as a defence, it costs one wake-up per idle period). Records the
  // interrupt.
  bool signal_overdue() noexcept;

  QueueStats &stats() noexcept { return stats_; }
  const QueueStats &stats() const noexcept { return stats_; }

 private:
  enum class Walk { kOk, kBadNext, kLoop, kTooLong, kBadIndirect, kBadAddress, kBadOrder };

  Walk walk(std::uint16_t head, Chain *chain) const noexcept;
  void tally(Walk result) noexcept;

  unsigned num_ = 0;
  bool indirect_ = false;
  bool event_idx_ = false;
  bool broken_ = false;
  lkl_vring_desc *desc_ = nullptr;
  lkl_vring_avail *avail_ = nullptr;
  lkl_vring_used *used_ = nullptr;
  std::uint16_t last_avail_ = 0;        // next available entry to take
  std::uint16_t used_idx_ = 0;          // our copy of used->idx
  std::uint16_t signalled_used_ = 0;    // used idx at the last signal decision
  std::uint16_t interrupted_used_ = 0;  // used idx at the last interrupt
  QueueStats stats_;
};

}  // namespace lkl::virtio

#endif  // LKL_LIB_VIRTIO_VIRTQUEUE_H
