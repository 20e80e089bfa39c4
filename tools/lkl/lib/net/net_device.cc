// See net_device.h.
#include "net/net_device.h"

#include "net/busy_poll.h"

#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <lkl/linux/virtio_ids.h>

#include "host/host.h"
#include "virtio/iov.h"

namespace lkl::net {
namespace {

using virtio::bit;
using virtio::Chain;
using virtio::VirtQueue;

constexpr std::uint64_t kGuestGso = bit(LKL_VIRTIO_NET_F_GUEST_TSO4) |
                                    bit(LKL_VIRTIO_NET_F_GUEST_TSO6) |
                                    bit(LKL_VIRTIO_NET_F_GUEST_UFO);
constexpr std::uint64_t kHostGso = bit(LKL_VIRTIO_NET_F_HOST_TSO4) |
                                   bit(LKL_VIRTIO_NET_F_HOST_TSO6) | bit(LKL_VIRTIO_NET_F_HOST_UFO);
constexpr std::uint64_t kOffloads = bit(LKL_VIRTIO_NET_F_CSUM) | bit(LKL_VIRTIO_NET_F_GUEST_CSUM) |
                                    kGuestGso | bit(LKL_VIRTIO_NET_F_GUEST_ECN) | kHostGso |
                                    bit(LKL_VIRTIO_NET_F_HOST_ECN) |
                                    bit(LKL_VIRTIO_NET_F_MRG_RXBUF);

// Largest frames receive makes room for: a 64 KiB GSO frame, or a VLAN-tagged jumbo frame.
constexpr std::size_t kMaxGsoFrame = 0xffff + kEthHdrLen + 4;
constexpr std::size_t kMaxFrame = 9216 + kEthHdrLen + 4;
// Catches what the driver's buffers cannot hold, so that such frames are seen and dropped whole.
constexpr std::size_t kOverflowSize = kMaxGsoFrame + kVnetHdrLen;
// Entries of the vectors handed to the backend (IOV_MAX is 1024).
constexpr int kMaxIov = 512;

constexpr int kRxBatch = 64;
// Idle threads look again after this long for a notification or interrupt lost to a driver
// whose barriers do not order its own store and load (see VirtQueue::signal_overdue); only
// while something is outstanding, never when the device is quiet.
constexpr int kSafetyNetMs = 20;

std::uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + ts.tv_nsec;
}

// The spec's feature dependencies (5.1.3.1): drop what lacks its prerequisite.
std::uint64_t close_dependencies(std::uint64_t f) {
  if (!(f & bit(LKL_VIRTIO_NET_F_GUEST_CSUM))) f &= ~(kGuestGso | bit(LKL_VIRTIO_NET_F_GUEST_ECN));
  if (!(f & (bit(LKL_VIRTIO_NET_F_GUEST_TSO4) | bit(LKL_VIRTIO_NET_F_GUEST_TSO6))))
    f &= ~bit(LKL_VIRTIO_NET_F_GUEST_ECN);
  if (!(f & bit(LKL_VIRTIO_NET_F_CSUM))) f &= ~(kHostGso | bit(LKL_VIRTIO_NET_F_HOST_ECN));
  if (!(f & (bit(LKL_VIRTIO_NET_F_HOST_TSO4) | bit(LKL_VIRTIO_NET_F_HOST_TSO6))))
    f &= ~bit(LKL_VIRTIO_NET_F_HOST_ECN);
  return f;
}

void bump(std::atomic<std::uint64_t> &counter, std::uint64_t n = 1) {
  counter.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace

NetDevice::NetDevice(Backend *backend, const NetDeviceOptions &options) noexcept
    : backend_(backend), options_(options) {
  std::uint64_t f = close_dependencies(options.offload & kOffloads &
                                       (backend->features() | bit(LKL_VIRTIO_NET_F_MRG_RXBUF)));
  if (options.has_mac) f |= bit(LKL_VIRTIO_NET_F_MAC);
  f |= bit(LKL_VIRTIO_NET_F_STATUS);
  offered_ = f & ~options.disabled;
}

NetDevice::~NetDevice() {
  stop();
  if (kick_fd_ >= 0) close(kick_fd_);
  std::free(overflow_);
  pthread_mutex_destroy(&tx_lock_);
}

int NetDevice::init() noexcept {
  kick_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (kick_fd_ < 0) return -errno;
  overflow_ = static_cast<char *>(std::malloc(kOverflowSize));
  return overflow_ ? 0 : -ENOMEM;
}

std::uint32_t NetDevice::device_id() const noexcept { return LKL_VIRTIO_ID_NET; }

std::uint64_t NetDevice::ring_features() const noexcept {
  return (virtio::kFeatureIndirect | virtio::kFeatureEventIdx) & ~options_.disabled;
}

unsigned NetDevice::queue_max_size(unsigned) const noexcept { return options_.queue_size; }

int NetDevice::read_config(unsigned offset, void *val, int size) noexcept {
  lkl_virtio_net_config config{};
  if (options_.has_mac) std::memcpy(config.mac, options_.mac, sizeof(config.mac));
  config.status = LKL_VIRTIO_NET_S_LINK_UP;
  config.max_virtqueue_pairs = 1;
  // Past the fields the driver may read, the space reads as zeros.
  std::memset(val, 0, static_cast<std::size_t>(size));
  if (offset < sizeof(config))
    std::memcpy(val, reinterpret_cast<const char *>(&config) + offset,
                std::min<std::size_t>(static_cast<std::size_t>(size), sizeof(config) - offset));
  return 0;
}

// The MAC in the configuration space is read-only for modern drivers; ignore writes.
int NetDevice::write_config(unsigned, const void *, int) noexcept { return 0; }

bool NetDevice::start(virtio::MmioTransport *transport, std::uint64_t features) noexcept {
  if (!transport->queue(kRxQueue).ready() || !transport->queue(kTxQueue).ready()) return false;
  transport_ = transport;
  features_ = features;
  max_frame_ = (features & kGuestGso) ? kMaxGsoFrame : kMaxFrame;
  // Not fatal: the backend then keeps offloads off and only hands over plain frames.
  backend_->set_features(features);
  drop_stash();
  broken_ = false;
  rx_starving_.store(false);
  tx_blocked_ = false;
  stop_.store(false);
  generation_.fetch_add(1);
  std::uint64_t stale;
  while (read(kick_fd_, &stale, sizeof(stale)) > 0) {
  }
  if (host::spawn_thread(&thread_, thread_main, this, "lkl-net") != 0) return false;
  thread_running_ = true;
  // Not fatal either: the poll thread alone then receives.
  if (!spin_polled_) spin_polled_ = host::add_relax_poller(spin_poll, this);
  return true;
}

void NetDevice::stop() noexcept {
  if (spin_polled_) {
    host::remove_relax_poller(this);
    spin_polled_ = false;
  }
  if (thread_running_) {
    stop_.store(true, std::memory_order_release);
    kick();
    if (pthread_equal(thread_, pthread_self()))
      pthread_detach(thread_);  // reset from our own interrupt: the loop ends when we return
    else
      pthread_join(thread_, nullptr);
    thread_running_ = false;
  }
  pthread_mutex_lock(&tx_lock_);
  tx_blocked_ = false;
  pthread_mutex_unlock(&tx_lock_);
  drop_stash();
  rx_starving_.store(false);
}

void NetDevice::notify(unsigned queue) noexcept {
  if (queue == kRxQueue) {
    if (rx_starving_.load()) kick();
  } else if (queue == kTxQueue) {
    tx_run();
  }
}

void NetDevice::kick() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(kick_fd_, &one, sizeof(one));
}

void NetDevice::signal() noexcept {
  bump(stats_.interrupts);
  transport_->signal_used();
}

void *NetDevice::thread_main(void *arg) {
  auto *device = static_cast<NetDevice *>(arg);
  device->poll_loop(device->generation_.load());
  return nullptr;
}

void NetDevice::poll_loop(unsigned generation) noexcept {
  BusyPollBudget budget(options_.busy_poll_us * 1000ULL);
  bool active = false;
  // A thread that stopped itself (and was detached) must not run on into a restarted device.
  while (!stop_.load(std::memory_order_acquire) && generation_.load() == generation) {
    bool work = false;
    if (!broken_) {
      // A kernel thread busy-polling may be receiving for us (spin_poll): then look again later.
      if (!rx_busy_.exchange(true, std::memory_order_acquire)) {
        work = rx_step();
        rx_busy_.store(false, std::memory_order_release);
      }
      if (tx_blocked_) {
        const std::uint64_t before = stats_.tx_frames.load(std::memory_order_relaxed);
        tx_run();
        work |= stats_.tx_frames.load(std::memory_order_relaxed) != before;
      }
    }
    if (work) {
      active = true;
      if (options_.busy_poll_us) budget.work(now_ns());
      continue;
    }
    if (options_.busy_poll_us && !rx_starving_.load() && !broken_) {
      const std::uint64_t now = now_ns();
      budget.idle(now);
      if (budget.remaining(now) > 0) {
        // Offer the CPU in every round: whatever thread this one waits for (the peer's
        // device thread, or this instance's caller busy-polling a socket) may need it.
        host::yield();
        continue;
      }
    }
    wait(active);
    active = false;
  }
}

void NetDevice::wait(bool recently_active) noexcept {
  pollfd fds[2] = {{kick_fd_, POLLIN, 0}, {-1, 0, 0}};
  int count = 1;
  const bool rx = !broken_ && !rx_starving_.load();
  const bool tx = !broken_ && tx_blocked_;
  if (rx || tx) {
    if (!backend_->prepare_poll(rx, tx, &fds[1])) return;
    count = 2;
  }
  const bool unsure = recently_active || rx_starving_.load() || tx_blocked_;
  const int ret = poll(fds, count, unsure ? kSafetyNetMs : -1);
  if (count == 2) backend_->finish_poll();
  if (ret > 0 && (fds[0].revents & POLLIN)) {
    std::uint64_t v;
    [[maybe_unused]] ssize_t n = read(kick_fd_, &v, sizeof(v));
  }
  if (ret != 0 || broken_) return;

  // Timed out: a second look for an interrupt or a transmit notification that went missing.
  if (transport_->queue(kRxQueue).signal_overdue()) signal();
  pthread_mutex_lock(&tx_lock_);
  VirtQueue &txq = transport_->queue(kTxQueue);
  const bool overdue = txq.signal_overdue();
  const bool pending = !tx_blocked_ && txq.has_avail();
  pthread_mutex_unlock(&tx_lock_);
  if (overdue) signal();
  if (pending) tx_run();
}

// ---- receive --------------------------------------------------------------------------------

bool NetDevice::rx_step() noexcept {
  VirtQueue &rxq = transport_->queue(kRxQueue);
  if (rx_starving_.load() && rxq.has_avail()) {
    rx_starving_.store(false);
    rxq.disable_notify();
  }
  return !rx_starving_.load() && rx_batch();
}

bool NetDevice::spin_poll(void *arg) noexcept {
  auto *device = static_cast<NetDevice *>(arg);
  if (device->stop_.load(std::memory_order_acquire) || device->broken_ ||
      device->rx_busy_.exchange(true, std::memory_order_acquire))
    return false;
  const std::uint64_t before = device->stats_.rx_frames.load(std::memory_order_relaxed);
  const bool work = device->rx_step();
  bump(device->stats_.rx_spin_polled,
       device->stats_.rx_frames.load(std::memory_order_relaxed) - before);
  device->rx_busy_.store(false, std::memory_order_release);
  return work;
}

bool NetDevice::rx_batch() noexcept {
  bool progress = false;
  for (int i = 0; i < kRxBatch && !stop_.load(std::memory_order_relaxed); i++) {
    const Rx r = rx_one();
    if (r == Rx::kNoFrame) break;
    if (r == Rx::kNoBuffers) {
      if (wait_for_buffers()) continue;
      break;
    }
    progress = true;
  }
  if (transport_->queue(kRxQueue).needs_signal()) signal();
  return progress;
}

// No room for a frame: ask the driver for a notification when it adds buffers, unless some
// arrived meanwhile (then true: go on).
bool NetDevice::wait_for_buffers() noexcept {
  if (broken_) return false;
  VirtQueue &rxq = transport_->queue(kRxQueue);
  rx_starving_.store(true);
  if (rxq.enable_notify()) {
    rx_starving_.store(false);
    rxq.disable_notify();
    return true;
  }
  bump(stats_.rx_starved);
  return false;
}

void NetDevice::drop_stash() noexcept {
  // Chains the driver gave us stay its own: after a reset it reclaims every buffer anyway.
  stash_head_ = stash_count_ = 0;
  stash_bytes_ = 0;
}

bool NetDevice::fill_stash() noexcept {
  if (broken_) return false;
  VirtQueue &rxq = transport_->queue(kRxQueue);
  const bool mergeable = features_ & bit(LKL_VIRTIO_NET_F_MRG_RXBUF);
  const std::size_t want = kVnetHdrLen + max_frame_;
  while ((mergeable ? stash_bytes_ < want : stash_count_ == 0) && stash_count_ < kStash) {
    Chain &c = stash_[(stash_head_ + stash_count_) % kStash];
    const VirtQueue::Pop r = rxq.pop(&c);
    if (r == VirtQueue::Pop::kEmpty) break;
    if (r == VirtQueue::Pop::kBroken) {
      broken_ = true;
      transport_->fail();
      return false;
    }
    // A receive buffer is all device-writable and holds at least the header.
    if (c.readable != 0 || c.writable_bytes < kVnetHdrLen) {
      bump(stats_.rx_bad_chain);
      rxq.push(c.head, 0);
      continue;
    }
    stash_count_++;
    stash_bytes_ += c.writable_bytes;
  }
  if (stash_count_ == 0) return false;
  // With mergeable buffers, wait until the largest acceptable frame fits, unless the driver
  // cannot give more.
  return !mergeable || stash_bytes_ >= want || stash_count_ == kStash || stash_count_ >= rxq.size();
}

NetDevice::Rx NetDevice::rx_one() noexcept {
  if (!fill_stash()) return Rx::kNoBuffers;
  const bool mergeable = features_ & bit(LKL_VIRTIO_NET_F_MRG_RXBUF);

  // The driver's view: the writable buffers of the chains, in order.
  iovec guest[kMaxIov];
  int g = 0;
  std::size_t capacity = 0;
  const unsigned chains = mergeable ? stash_count_ : 1;
  for (unsigned i = 0; i < chains; i++) {
    const Chain &c = stash_[(stash_head_ + i) % kStash];
    if (g + c.writable_count() > kMaxIov) break;
    std::copy_n(c.writable_iov(), c.writable_count(), guest + g);
    g += c.writable_count();
    capacity += c.writable_bytes;
  }

  // The backend's view: its header over the first hdr_len bytes, the frame from byte 12 on, and
  // the overflow buffer last.
  const std::size_t h = static_cast<std::size_t>(backend_->hdr_len());
  iovec iov[kMaxIov + 2];
  int n = h ? virtio::iov_slice(guest, g, 0, h, iov, 0, kMaxIov) : 0;
  if (n >= 0) n = virtio::iov_slice(guest, g, kVnetHdrLen, capacity - kVnetHdrLen, iov, n, kMaxIov);
  if (n < 0) return Rx::kNoFrame;  // cannot happen: every chain holds a header
  iov[n++] = {overflow_, kOverflowSize};

  const long len = backend_->recv(iov, n);
  if (len == -EAGAIN) return Rx::kNoFrame;
  if (len < 0) {
    bump(stats_.rx_errors);
    const timespec pause = {0, 1000000};  // do not spin on an interface that keeps failing
    nanosleep(&pause, nullptr);
    return Rx::kNoFrame;
  }
  if (static_cast<std::size_t>(len) < h + kEthHdrLen) {
    bump(stats_.rx_runt);
    return Rx::kDropped;
  }
  const std::size_t frame_len = static_cast<std::size_t>(len) - h;
  if (kVnetHdrLen + frame_len > capacity) {
    bump(stats_.rx_oversize);
    return Rx::kDropped;
  }

  VnetHdr hdr{};
  virtio::iov_to_buf(guest, g, 0, &hdr, h);
  switch (rx_header_check(&hdr, features_, frame_len)) {
    case RxVerdict::kDeliver:
      break;
    case RxVerdict::kComplete:
      complete_checksum(guest, g, kVnetHdrLen, frame_len, hdr);
      hdr.flags = 0;
      bump(stats_.rx_sw_checksum);
      break;
    case RxVerdict::kBadHeader:
      bump(stats_.rx_bad_header);
      return Rx::kDropped;
    case RxVerdict::kUnsupportedGso:
      bump(stats_.rx_gso_dropped);
      return Rx::kDropped;
  }

  // Hand the chains the frame spans back, in order; num_buffers tells the driver how many.
  std::size_t remaining = kVnetHdrLen + frame_len;
  unsigned buffers = 0;
  for (std::size_t left = remaining; left > 0; buffers++)
    left -= std::min<std::size_t>(left, stash_[(stash_head_ + buffers) % kStash].writable_bytes);
  hdr.num_buffers = static_cast<std::uint16_t>(buffers);
  virtio::buf_to_iov(guest, g, 0, &hdr, sizeof(hdr));

  VirtQueue &rxq = transport_->queue(kRxQueue);
  for (unsigned i = 0; i < buffers; i++) {
    const Chain &c = stash_[stash_head_];
    const std::size_t part = std::min<std::size_t>(remaining, c.writable_bytes);
    rxq.push(c.head, static_cast<std::uint32_t>(part));
    remaining -= part;
    stash_bytes_ -= c.writable_bytes;
    stash_head_ = (stash_head_ + 1) % kStash;
    stash_count_--;
  }
  bump(stats_.rx_frames);
  bump(stats_.rx_bytes, frame_len);
  if (frame_len > kMaxStdFrame) bump(stats_.rx_large);
  if (hdr.gso_type != LKL_VIRTIO_NET_HDR_GSO_NONE) bump(stats_.rx_gso);
  if (hdr.gso_type & LKL_VIRTIO_NET_HDR_GSO_ECN) bump(stats_.rx_gso_ecn);
  if (hdr.flags & LKL_VIRTIO_NET_HDR_F_NEEDS_CSUM) bump(stats_.rx_csum_partial);
  if (hdr.flags & LKL_VIRTIO_NET_HDR_F_DATA_VALID) bump(stats_.rx_csum_valid);
  return Rx::kDelivered;
}

// ---- transmit -------------------------------------------------------------------------------

void NetDevice::tx_run() noexcept {
  pthread_mutex_lock(&tx_lock_);
  const bool signal_needed = !broken_ && transport_ && tx_process();
  pthread_mutex_unlock(&tx_lock_);
  if (signal_needed) signal();
}

long NetDevice::tx_send() noexcept {
  iovec iov[virtio::kMaxChainBuffers + 1];
  int n = 0;
  const int h = backend_->hdr_len();
  if (h > 0) iov[n++] = {&tx_hdr_, static_cast<std::size_t>(h)};
  n = virtio::iov_slice(tx_chain_.iov, tx_chain_.readable, kVnetHdrLen,
                        tx_chain_.readable_bytes - kVnetHdrLen, iov, n,
                        static_cast<int>(virtio::kMaxChainBuffers + 1));
  if (n < 0) return -EINVAL;
  return backend_->send(iov, n);
}

bool NetDevice::tx_process() noexcept {
  VirtQueue &txq = transport_->queue(kTxQueue);
  for (;;) {
    if (!tx_blocked_) {
      const VirtQueue::Pop r = txq.pop(&tx_chain_);
      if (r == VirtQueue::Pop::kBroken) {
        broken_ = true;
        transport_->fail();
        return false;
      }
      if (r == VirtQueue::Pop::kEmpty) {
        if (txq.enable_notify()) continue;
        return txq.needs_signal();
      }
      const Chain &c = tx_chain_;
      if (c.writable_bytes != 0 || c.readable_bytes < kVnetHdrLen + kEthHdrLen) {
        bump(stats_.tx_bad_chain);
        txq.push(c.head, 0);
        continue;
      }
      // Checked and sent from our copy: the driver cannot change it in between.
      virtio::iov_to_buf(c.iov, c.readable, 0, &tx_hdr_, sizeof(tx_hdr_));
      if (!tx_header_valid(tx_hdr_, features_, c.readable_bytes - kVnetHdrLen)) {
        bump(stats_.tx_bad_header);
        txq.push(c.head, 0);
        continue;
      }
    }
    const long ret = tx_send();
    if (ret == -EAGAIN) {
      // The poll thread takes over until the backend drains; notifications are pointless now.
      if (!tx_blocked_) bump(stats_.tx_deferred);
      tx_blocked_ = true;
      txq.disable_notify();
      kick();
      return txq.needs_signal();
    }
    tx_blocked_ = false;
    if (ret < 0) {
      bump(stats_.tx_errors);
    } else {
      const std::size_t frame_len = tx_chain_.readable_bytes - kVnetHdrLen;
      bump(stats_.tx_frames);
      bump(stats_.tx_bytes, frame_len);
      if (frame_len > kMaxStdFrame) bump(stats_.tx_large);
      if (tx_hdr_.gso_type != LKL_VIRTIO_NET_HDR_GSO_NONE) bump(stats_.tx_gso);
      if (tx_hdr_.gso_type & LKL_VIRTIO_NET_HDR_GSO_ECN) bump(stats_.tx_gso_ecn);
      if (tx_hdr_.flags & LKL_VIRTIO_NET_HDR_F_NEEDS_CSUM) bump(stats_.tx_csum_partial);
    }
    txq.push(tx_chain_.head, 0);
  }
}

}  // namespace lkl::net
