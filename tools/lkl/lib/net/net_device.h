// virtio-net device (virtio 1.x 5.1): one receive and one transmit queue over one Backend.
//
// Receive runs on the device's poll thread: it waits in poll() for the backend (or spins first,
// in busy-poll mode, for a budget that follows the arrival gap: net/busy_poll.h), reads each
// frame straight into the driver's posted buffers, checks the header the backend gave, and
// raises the device interrupt per batch. When the interrupt can be taken at once, the kernel's
// NAPI poll runs on this same thread. A kernel thread spinning in cpu_relax() (a recv() that
// busy-polls the NAPI context) does the same receive work itself when the poll thread is not at
// it (the relax host operation's pollers): the frame then needs no thread hand-off at all.
//
// Transmit runs on the driver's QueueNotify write, i.e. inline on the kernel thread that queued
// the frames: no thread hand-off on the latency path, and the notification suppression index is
// written by the thread that will read it next, so no notification can be lost. A backend that
// would block (-EAGAIN) parks the frame; the poll thread then waits for the backend to become
// writable and finishes the queue (notifications are suppressed meanwhile).
//
// Offloads are offered only as far as both the device options and the backend allow, closed
// under the spec's dependencies (e.g. TSO needs checksum offload in the same direction). Without
// MRG_RXBUF but with guest TSO the driver posts chains of pages ("big packets").
#ifndef LKL_LIB_NET_NET_DEVICE_H
#define LKL_LIB_NET_NET_DEVICE_H

#include <pthread.h>

#include <atomic>
#include <cstdint>

#include "net/backend.h"
#include "net/vnet_hdr.h"
#include "virtio/device.h"
#include "virtio/mmio.h"
#include "virtio/virtqueue.h"

namespace lkl::net {

struct NetDeviceOptions {
  bool has_mac = false;  // offer VIRTIO_NET_F_MAC with mac; otherwise the driver picks one
  std::uint8_t mac[6] = {};
  // VIRTIO_NET_F_* bits the device may offer besides MAC and STATUS (further limited by the
  // backend); STATUS and the ring features unless listed in disabled.
  std::uint64_t offload = 0;
  std::uint64_t disabled =
      0;  // bits (net, e.g. STATUS, or ring: INDIRECT_DESC, EVENT_IDX) to withhold
  unsigned busy_poll_us = 0;  // 0: the poll thread blocks in poll() as soon as it is idle
  unsigned queue_size = 256;
};

// Device counters: relaxed atomics, readable from any thread.
struct NetStats {
  std::atomic<std::uint64_t> rx_frames{0}, rx_bytes{0};
  std::atomic<std::uint64_t> rx_runt{0};         // shorter than an Ethernet header: dropped
  std::atomic<std::uint64_t> rx_bad_header{0};   // malformed header from the backend: dropped
  std::atomic<std::uint64_t> rx_gso_dropped{0};  // GSO frame the driver did not negotiate
  std::atomic<std::uint64_t> rx_oversize{0};     // larger than the buffers offered: dropped
  std::atomic<std::uint64_t> rx_sw_checksum{0};  // partial checksums completed by the device
  std::atomic<std::uint64_t> rx_bad_chain{0};    // receive chains with readable buffers
  std::atomic<std::uint64_t> rx_errors{0};       // backend receive errors
  std::atomic<std::uint64_t> rx_starved{0};      // times a frame waited for receive buffers
  std::atomic<std::uint64_t> rx_spin_polled{0};  // delivered by a kernel thread in cpu_relax()
  std::atomic<std::uint64_t> tx_frames{0}, tx_bytes{0};
  std::atomic<std::uint64_t> tx_bad_chain{0};   // writable buffers, or too short: dropped
  std::atomic<std::uint64_t> tx_bad_header{0};  // header the negotiation does not allow: dropped
  std::atomic<std::uint64_t> tx_errors{0};      // backend refused the frame: dropped
  std::atomic<std::uint64_t> tx_deferred{0};    // backend would block: queue handed to the thread
  std::atomic<std::uint64_t> interrupts{0};
  // What the offloads did, per frame delivered (rx) or sent (tx): the observable of TSO and
  // checksum offload (see lkl_netdev_stats).
  std::atomic<std::uint64_t> rx_large{0}, tx_large{0};                // longer than kMaxStdFrame
  std::atomic<std::uint64_t> rx_gso{0}, tx_gso{0};                    // with a GSO type
  std::atomic<std::uint64_t> rx_csum_partial{0}, tx_csum_partial{0};  // with NEEDS_CSUM
  std::atomic<std::uint64_t> rx_csum_valid{0};                        // with DATA_VALID
  std::atomic<std::uint64_t> rx_gso_ecn{0}, tx_gso_ecn{0};            // GSO with the ECN bit
};

class NetDevice final : public virtio::VirtioDevice {
 public:
  static constexpr unsigned kRxQueue = 0;
  static constexpr unsigned kTxQueue = 1;

  // Does not own backend. Call init() before use.
  NetDevice(Backend *backend, const NetDeviceOptions &options) noexcept;
  ~NetDevice();
  NetDevice(const NetDevice &) = delete;
  NetDevice &operator=(const NetDevice &) = delete;

  // Host resources (wake-up eventfd, overflow buffer): 0 or a negative errno.
  int init() noexcept;

  std::uint32_t device_id() const noexcept override;
  std::uint64_t device_features() const noexcept override { return offered_; }
  unsigned num_queues() const noexcept override { return 2; }
  unsigned queue_max_size(unsigned queue) const noexcept override;
  int read_config(unsigned offset, void *val, int size) noexcept override;
  int write_config(unsigned offset, const void *val, int size) noexcept override;
  bool start(virtio::MmioTransport *transport, std::uint64_t features) noexcept override;
  void stop() noexcept override;
  void notify(unsigned queue) noexcept override;

  // Ring features to offer (the transport asks).
  std::uint64_t ring_features() const noexcept;

  // Queue counters are added in by the caller (they live in the transport's queues).
  const NetStats &stats() const noexcept { return stats_; }
  std::uint64_t negotiated() const noexcept { return features_; }
  bool running() const noexcept { return thread_running_; }

 private:
  enum class Rx { kDelivered, kDropped, kNoFrame, kNoBuffers };

  static void *thread_main(void *arg);
  void poll_loop(unsigned generation) noexcept;
  void wait(bool recently_active) noexcept;
  void kick() noexcept;
  void signal() noexcept;

  bool rx_step() noexcept;  // rx_busy_ held: refill check, then a batch
  bool rx_batch() noexcept;
  static bool spin_poll(void *arg) noexcept;  // the relax poller: rx_step() if nobody else is
  Rx rx_one() noexcept;
  bool fill_stash() noexcept;
  bool wait_for_buffers() noexcept;
  void drop_stash() noexcept;

  bool tx_process() noexcept;  // tx_lock_ held; returns whether to signal
  void tx_run() noexcept;      // takes tx_lock_, processes, signals
  long tx_send() noexcept;

  Backend *const backend_;
  const NetDeviceOptions options_;
  std::uint64_t offered_ = 0;
  std::uint64_t features_ = 0;
  std::size_t max_frame_ = 0;  // largest frame receive must make room for
  virtio::MmioTransport *transport_ = nullptr;
  int kick_fd_ = -1;
  char *overflow_ = nullptr;  // catches the tail of frames longer than the buffers

  pthread_t thread_{};
  bool thread_running_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<unsigned> generation_{0};  // one per start()
  std::atomic<bool> rx_starving_{false};
  std::atomic<bool> broken_{false};  // a queue broke: the device idles until reset
  // Receive runs on one thread at a time: the poll thread, or a kernel thread that spins in
  // cpu_relax() (a busy-polling recv()) and takes the ring's frames itself (host::relax()).
  std::atomic<bool> rx_busy_{false};
  bool spin_polled_ = false;  // registered as a relax poller

  // Receive chains taken from the ring but not used yet (a ring of kStash entries).
  static constexpr unsigned kStash = 64;
  virtio::Chain stash_[kStash];
  unsigned stash_head_ = 0, stash_count_ = 0;
  std::size_t stash_bytes_ = 0;

  pthread_mutex_t tx_lock_ = PTHREAD_MUTEX_INITIALIZER;
  // tx_chain_ waits for the backend to take it; the poll thread retries. Written under tx_lock_.
  std::atomic<bool> tx_blocked_{false};
  virtio::Chain tx_chain_;
  VnetHdr tx_hdr_;

  NetStats stats_;
};

}  // namespace lkl::net

#endif  // LKL_LIB_NET_NET_DEVICE_H
