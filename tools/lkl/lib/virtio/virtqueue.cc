// See virtqueue.h. Ring fields are little-endian (VIRTIO_F_VERSION_1); so are the hosts we run on.
#include "virtio/virtqueue.h"

#include <bit>
#include <cstring>

#include "host/host.h"

namespace lkl::virtio {
namespace {

static_assert(std::endian::native == std::endian::little, "virtio 1.x rings are little-endian");
static_assert(sizeof(lkl_vring_desc) == 16 && sizeof(lkl_vring_used_elem) == 8);

// The driver writes these fields concurrently: every access is a single atomic one.
std::uint16_t load_acquire(const std::uint16_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
std::uint16_t load_relaxed(const std::uint16_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
void store_relaxed(std::uint16_t *p, std::uint16_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
void store_release(std::uint16_t *p, std::uint16_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

// Orders our earlier stores before our later loads (avail_event before avail idx, used idx before
// used_event): the other side does the mirror image, so one of us sees the other's update.
void full_fence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// virtio 1.x 2.7.7.2 / 2.7.10: whether an index moving from old to new crossed event.
bool need_event(std::uint16_t event, std::uint16_t next, std::uint16_t old) {
  return static_cast<std::uint16_t>(next - event - 1) < static_cast<std::uint16_t>(next - old);
}

bool in_memory(std::uint64_t addr, std::uint64_t len) {
  if (addr + len < addr) return false;
  return host::memory_contains(reinterpret_cast<const void *>(static_cast<std::uintptr_t>(addr)),
                               static_cast<unsigned long>(len));
}

template <typename T>
T *ring_ptr(std::uint64_t addr) {
  return reinterpret_cast<T *>(static_cast<std::uintptr_t>(addr));
}

std::uint16_t *used_event_field(lkl_vring_avail *avail, unsigned num) { return &avail->ring[num]; }

// avail_event sits in the slot after the last used element.
using AliasU16 = std::uint16_t __attribute__((may_alias));
AliasU16 *avail_event_field(lkl_vring_used *used, unsigned num) {
  return reinterpret_cast<AliasU16 *>(&used->ring[num]);
}

}  // namespace

std::uint64_t QueueStats::dropped() const {
  return bad_next.load(std::memory_order_relaxed) + loops.load(std::memory_order_relaxed) +
         too_long.load(std::memory_order_relaxed) + bad_indirect.load(std::memory_order_relaxed) +
         bad_address.load(std::memory_order_relaxed) + bad_order.load(std::memory_order_relaxed);
}

void VirtQueue::reset() noexcept {
  num_ = 0;
  indirect_ = event_idx_ = broken_ = false;
  desc_ = nullptr;
  avail_ = nullptr;
  used_ = nullptr;
  last_avail_ = used_idx_ = signalled_used_ = interrupted_used_ = 0;
}

bool VirtQueue::setup(unsigned num, std::uint64_t desc, std::uint64_t avail, std::uint64_t used,
                      bool indirect, bool event_idx) noexcept {
  reset();
  // With event_idx the rings carry one more u16 each (used_event, avail_event).
  const std::uint64_t desc_size = 16ULL * num;
  const std::uint64_t avail_size = 4 + 2ULL * num + 2;
  const std::uint64_t used_size = 4 + 8ULL * num + 2;
  if (num == 0 || num > kMaxQueueSize || (num & (num - 1)) != 0 || desc % 16 || avail % 2 ||
      used % 4 || !in_memory(desc, desc_size) || !in_memory(avail, avail_size) ||
      !in_memory(used, used_size)) {
    stats_.bad_ring.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  desc_ = ring_ptr<lkl_vring_desc>(desc);
  avail_ = ring_ptr<lkl_vring_avail>(avail);
  used_ = ring_ptr<lkl_vring_used>(used);
  indirect_ = indirect;
  event_idx_ = event_idx;
  // A fresh queue starts where the driver's indices are: zero after its reset.
  last_avail_ = load_acquire(&avail_->idx);
  used_idx_ = signalled_used_ = interrupted_used_ = load_relaxed(&used_->idx);
  num_ = num;
  return true;
}

VirtQueue::Walk VirtQueue::walk(std::uint16_t head, Chain *chain) const noexcept {
  const lkl_vring_desc *table = desc_;
  unsigned table_size = num_;
  unsigned index = head;
  unsigned steps = 0;
  bool indirect = false;
  std::uint64_t readable = 0, writable = 0;

  chain->head = head;
  chain->count = chain->readable = 0;
  for (;;) {
    // Every descriptor of a table at most once: a longer walk is a loop.
    if (++steps > table_size) return Walk::kLoop;
    lkl_vring_desc d;
    std::memcpy(&d, &table[index], sizeof(d));  // once: the driver may rewrite it under us

    if (d.flags & LKL_VRING_DESC_F_INDIRECT) {
      // Only the head may point at a table, without NEXT, once, and only if negotiated.
      if (!indirect_ || indirect || chain->count != 0 || (d.flags & LKL_VRING_DESC_F_NEXT) ||
          d.len == 0 || d.len % sizeof(lkl_vring_desc) ||
          d.len / sizeof(lkl_vring_desc) > kMaxIndirect || d.addr % 8)
        return Walk::kBadIndirect;
      if (!in_memory(d.addr, d.len)) return Walk::kBadAddress;
      table = ring_ptr<const lkl_vring_desc>(d.addr);
      table_size = d.len / sizeof(lkl_vring_desc);
      index = 0;
      steps = 0;
      indirect = true;
      continue;
    }

    if (!in_memory(d.addr, d.len)) return Walk::kBadAddress;
    const bool is_writable = d.flags & LKL_VRING_DESC_F_WRITE;
    if (!is_writable && chain->count > chain->readable) return Walk::kBadOrder;
    if (chain->count == kMaxChainBuffers) return Walk::kTooLong;
    chain->iov[chain->count++] = {ring_ptr<void>(d.addr), d.len};
    if (is_writable) {
      writable += d.len;
    } else {
      chain->readable++;
      readable += d.len;
    }
    // Used lengths are 32-bit: a chain must be describable by one.
    if (readable > UINT32_MAX || writable > UINT32_MAX) return Walk::kBadAddress;

    if (!(d.flags & LKL_VRING_DESC_F_NEXT)) break;
    if (d.next >= table_size) return Walk::kBadNext;
    index = d.next;
  }
  chain->readable_bytes = static_cast<std::uint32_t>(readable);
  chain->writable_bytes = static_cast<std::uint32_t>(writable);
  return Walk::kOk;
}

void VirtQueue::tally(Walk result) noexcept {
  std::atomic<std::uint64_t> *counter = nullptr;
  switch (result) {
    case Walk::kOk:
      counter = &stats_.chains;
      break;
    case Walk::kBadNext:
      counter = &stats_.bad_next;
      break;
    case Walk::kLoop:
      counter = &stats_.loops;
      break;
    case Walk::kTooLong:
      counter = &stats_.too_long;
      break;
    case Walk::kBadIndirect:
      counter = &stats_.bad_indirect;
      break;
    case Walk::kBadAddress:
      counter = &stats_.bad_address;
      break;
    case Walk::kBadOrder:
      counter = &stats_.bad_order;
      break;
  }
  counter->fetch_add(1, std::memory_order_relaxed);
}

VirtQueue::Pop VirtQueue::pop(Chain *chain) noexcept {
  for (;;) {
    if (broken_) return Pop::kBroken;
    if (!num_) return Pop::kEmpty;
    const std::uint16_t avail_idx = load_acquire(&avail_->idx);
    if (avail_idx == last_avail_) return Pop::kEmpty;
    if (static_cast<std::uint16_t>(avail_idx - last_avail_) > num_) {
      stats_.bad_avail.fetch_add(1, std::memory_order_relaxed);
      broken_ = true;
      return Pop::kBroken;
    }
    const std::uint16_t head = load_relaxed(&avail_->ring[last_avail_ & (num_ - 1)]);
    if (head >= num_) {
      stats_.bad_head.fetch_add(1, std::memory_order_relaxed);
      broken_ = true;
      return Pop::kBroken;
    }
    last_avail_++;
    const Walk result = walk(head, chain);
    tally(result);
    if (result == Walk::kOk) return Pop::kChain;
    push(head, 0);
  }
}

void VirtQueue::push(std::uint16_t head, std::uint32_t len) noexcept {
  lkl_vring_used_elem *elem = &used_->ring[used_idx_ & (num_ - 1)];
  __atomic_store_n(&elem->id, static_cast<std::uint32_t>(head), __ATOMIC_RELAXED);
  __atomic_store_n(&elem->len, len, __ATOMIC_RELAXED);
  store_release(&used_->idx, ++used_idx_);
}

bool VirtQueue::has_avail() const noexcept {
  return num_ && !broken_ && load_acquire(&avail_->idx) != last_avail_;
}

bool VirtQueue::enable_notify() noexcept {
  if (!num_) return false;
  if (event_idx_)
    store_relaxed(avail_event_field(used_, num_), last_avail_);
  else
    store_relaxed(&used_->flags, 0);
  full_fence();
  return has_avail();
}

void VirtQueue::disable_notify() noexcept {
  // With EVENT_IDX an avail_event left behind already suppresses notifications.
  if (num_ && !event_idx_) store_relaxed(&used_->flags, LKL_VRING_USED_F_NO_NOTIFY);
}

bool VirtQueue::needs_signal() noexcept {
  if (!num_) return false;
  full_fence();
  const std::uint16_t old = signalled_used_;
  signalled_used_ = used_idx_;
  if (old == used_idx_) return false;
  const bool signal = event_idx_
                          ? need_event(load_relaxed(used_event_field(avail_, num_)), used_idx_, old)
                          : !(load_relaxed(&avail_->flags) & LKL_VRING_AVAIL_F_NO_INTERRUPT);
  if (signal) interrupted_used_ = used_idx_;
  return signal;
}

bool VirtQueue::signal_overdue() noexcept {
  if (!num_ || interrupted_used_ == used_idx_) return false;
  full_fence();
  // Entries published since the last interrupt: does the driver wait for one of them?
  const bool overdue = event_idx_
                           ? static_cast<std::uint16_t>(
                                 load_relaxed(used_event_field(avail_, num_)) - interrupted_used_) <
                                 static_cast<std::uint16_t>(used_idx_ - interrupted_used_)
                           : !(load_relaxed(&avail_->flags) & LKL_VRING_AVAIL_F_NO_INTERRUPT);
  if (overdue) interrupted_used_ = signalled_used_ = used_idx_;
  return overdue;
}

}  // namespace lkl::virtio
