// SPDX-License-Identifier: GPL-2.0
//
// The device side of virtio, driven by a fake driver instead of the kernel (nothing boots here):
// split-ring validation against malformed chains (indices out of range, loops, bad indirect
// tables, buffers outside kernel memory), notification and interrupt suppression, the MMIO
// transport (negotiation, queue setup, reset, interrupts), and the virtio-net device facing bad
// frames from a backend and bad headers from the driver. "Kernel memory" is a block from the
// host's page_alloc, the only memory lkl::host::memory_contains() vouches for.
#include <gtest/gtest.h>

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "host/host.h"
#include "net/backend.h"
#include "net/net_device.h"
#include "virtio/iov.h"
#include "virtio/mmio.h"
#include "virtio/virtqueue.h"

namespace {

using lkl::virtio::bit;
using lkl::virtio::Chain;
using lkl::virtio::MmioTransport;
using lkl::virtio::VirtQueue;
using Pop = VirtQueue::Pop;
using namespace std::chrono_literals;

// ---- fake kernel memory and a driver's view of a split ring ------------------------------------

class GuestMemory {
 public:
  explicit GuestMemory(size_t size = 8 << 20)
      : size_(size), base_(static_cast<char *>(lkl::host::page_alloc(size))) {}
  ~GuestMemory() { lkl::host::page_free(base_, size_); }
  GuestMemory(const GuestMemory &) = delete;
  GuestMemory &operator=(const GuestMemory &) = delete;

  // Zeroed, aligned memory inside the block.
  void *Alloc(size_t len, size_t align = 16) {
    next_ = (next_ + align - 1) / align * align;
    void *p = base_ + next_;
    next_ += len;
    EXPECT_LE(next_, size_) << "test needs a bigger GuestMemory";
    std::memset(p, 0, len);
    return p;
  }
  char *base() const { return base_; }
  size_t size() const { return size_; }

 private:
  size_t size_;
  char *base_;
  size_t next_ = 0;
};

uint64_t Addr(const void *p) { return reinterpret_cast<uintptr_t>(p); }

struct DriverRing {
  DriverRing(GuestMemory &mem, unsigned n) : num(n) {
    desc = static_cast<lkl_vring_desc *>(mem.Alloc(16 * n, 16));
    avail = static_cast<lkl_vring_avail *>(mem.Alloc(6 + 2 * n, 2));
    used = static_cast<lkl_vring_used *>(mem.Alloc(6 + 8 * n, 4));
  }

  bool Setup(VirtQueue *vq, bool indirect = true, bool event_idx = true) {
    return vq->setup(num, Addr(desc), Addr(avail), Addr(used), indirect, event_idx);
  }

  void Desc(unsigned i, const void *addr, uint32_t len, uint16_t flags = 0, uint16_t next = 0) {
    desc[i] = {Addr(addr), len, flags, next};
  }

  void Publish(uint16_t head) {
    avail->ring[avail_idx % num] = head;
    __atomic_store_n(&avail->idx, ++avail_idx, __ATOMIC_RELEASE);
  }

  // Next used entry, if the device published one.
  bool TakeUsed(uint32_t *id, uint32_t *len) {
    if (__atomic_load_n(&used->idx, __ATOMIC_ACQUIRE) == last_used) return false;
    const lkl_vring_used_elem &e = used->ring[last_used++ % num];
    *id = e.id;
    *len = e.len;
    return true;
  }

  uint16_t UsedIdx() const { return __atomic_load_n(&used->idx, __ATOMIC_ACQUIRE); }
  uint16_t &UsedEvent() { return avail->ring[num]; }
  uint16_t AvailEvent() const {
    uint16_t v;
    std::memcpy(&v, &used->ring[num], sizeof(v));
    return v;
  }

  unsigned num;
  lkl_vring_desc *desc;
  lkl_vring_avail *avail;
  lkl_vring_used *used;
  uint16_t avail_idx = 0;
  uint16_t last_used = 0;
};

constexpr uint16_t kNext = LKL_VRING_DESC_F_NEXT;
constexpr uint16_t kWrite = LKL_VRING_DESC_F_WRITE;
constexpr uint16_t kIndirect = LKL_VRING_DESC_F_INDIRECT;

uint64_t Count(const std::atomic<uint64_t> &c) { return c.load(); }

class VirtQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(mem_.base(), nullptr);
    ASSERT_TRUE(ring_.Setup(&vq_));
    buf_ = static_cast<char *>(mem_.Alloc(64 * 1024));
  }

  // Expects the next used entry to give head back with length 0.
  void ExpectReturned(uint16_t head) {
    uint32_t id = 0, len = 1;
    ASSERT_TRUE(ring_.TakeUsed(&id, &len)) << "chain " << head << " was not given back";
    EXPECT_EQ(id, head);
    EXPECT_EQ(len, 0u);
  }

  GuestMemory mem_;
  DriverRing ring_{mem_, 16};
  VirtQueue vq_;
  char *buf_ = nullptr;
  Chain chain_{};
};

TEST_F(VirtQueueTest, GoodChainIsMappedInPlace) {
  ring_.Desc(3, buf_, 100, kNext, 7);
  ring_.Desc(7, buf_ + 100, 200, kWrite | kNext, 1);
  ring_.Desc(1, buf_ + 300, 50, kWrite);
  ring_.Publish(3);
  ASSERT_EQ(vq_.pop(&chain_), Pop::kChain);
  EXPECT_EQ(chain_.head, 3);
  EXPECT_EQ(chain_.count, 3);
  EXPECT_EQ(chain_.readable, 1);
  EXPECT_EQ(chain_.readable_bytes, 100u);
  EXPECT_EQ(chain_.writable_bytes, 250u);
  EXPECT_EQ(chain_.iov[1].iov_base, buf_ + 100);
  EXPECT_EQ(vq_.pop(&chain_), Pop::kEmpty);
  vq_.push(3, 250);
  uint32_t id, len;
  ASSERT_TRUE(ring_.TakeUsed(&id, &len));
  EXPECT_EQ(id, 3u);
  EXPECT_EQ(len, 250u);
  EXPECT_EQ(vq_.stats().dropped(), 0u);
}

TEST_F(VirtQueueTest, NextIndexOutOfRangeIsDroppedAndCounted) {
  ring_.Desc(0, buf_, 10, kNext, 16);
  ring_.Publish(0);
  ring_.Desc(1, buf_, 10);
  ring_.Publish(1);
  ASSERT_EQ(vq_.pop(&chain_), Pop::kChain);  // the good one behind the bad one
  EXPECT_EQ(chain_.head, 1);
  EXPECT_EQ(Count(vq_.stats().bad_next), 1u);
  ExpectReturned(0);
}

TEST_F(VirtQueueTest, LoopsAreDroppedAndCounted) {
  ring_.Desc(0, buf_, 10, kNext, 1);
  ring_.Desc(1, buf_, 10, kNext, 0);  // 0 -> 1 -> 0
  ring_.Desc(2, buf_, 10, kNext, 2);  // 2 -> 2
  ring_.Publish(0);
  ring_.Publish(2);
  EXPECT_EQ(vq_.pop(&chain_), Pop::kEmpty);
  EXPECT_EQ(Count(vq_.stats().loops), 2u);
  ExpectReturned(0);
  ExpectReturned(2);
}

TEST_F(VirtQueueTest, BuffersOutsideKernelMemoryAreDropped) {
  char stack[64];
  std::vector<char> heap(64);
  ring_.Desc(0, stack, sizeof(stack));
  ring_.Desc(1, heap.data(), 64, kWrite);
  ring_.Desc(2, mem_.base() + mem_.size() - 10, 100);  // runs off the end of the block
  ring_.desc[3] = {~0ULL - 4, 100, 0, 0};              // wraps around
  ring_.Desc(4, nullptr, 0);
  ring_.Desc(5, buf_, 10, kNext, 6);  // good start, bad second buffer
  ring_.Desc(6, stack, 8, kWrite);
  for (uint16_t head = 0; head <= 5; head++) ring_.Publish(head);
  EXPECT_EQ(vq_.pop(&chain_), Pop::kEmpty);
  EXPECT_EQ(Count(vq_.stats().bad_address), 6u);
  for (uint16_t head = 0; head <= 5; head++) ExpectReturned(head);
}

TEST_F(VirtQueueTest, ReadableAfterWritableIsDropped) {
  ring_.Desc(0, buf_, 10, kWrite | kNext, 1);
  ring_.Desc(1, buf_, 10);
  ring_.Publish(0);
  EXPECT_EQ(vq_.pop(&chain_), Pop::kEmpty);
  EXPECT_EQ(Count(vq_.stats().bad_order), 1u);
  ExpectReturned(0);
}

TEST_F(VirtQueueTest, OverlongChainsAreDropped) {
  GuestMemory mem;
  DriverRing ring(mem, 128);
  VirtQueue vq;
  ASSERT_TRUE(ring.Setup(&vq));
  char *buf = static_cast<char *>(mem.Alloc(4096));
  const unsigned n = lkl::virtio::kMaxChainBuffers + 1;
  for (unsigned i = 0; i < n; i++)
    ring.Desc(i, buf, 1, i + 1 < n ? kNext : 0, static_cast<uint16_t>(i + 1));
  ring.Publish(0);
  EXPECT_EQ(vq.pop(&chain_), Pop::kEmpty);
  EXPECT_EQ(Count(vq.stats().too_long), 1u);
  // One less is fine.
  ring.desc[n - 2].flags = 0;
  ring.Publish(0);
  ASSERT_EQ(vq.pop(&chain_), Pop::kChain);
  EXPECT_EQ(chain_.count, lkl::virtio::kMaxChainBuffers);
}

TEST_F(VirtQueueTest, IndirectTables) {
  auto *table = static_cast<lkl_vring_desc *>(mem_.Alloc(16 * 8, 16));
  table[0] = {Addr(buf_), 12, kNext, 1};
  table[1] = {Addr(buf_ + 12), 100, kWrite | kNext, 2};
  table[2] = {Addr(buf_ + 112), 100, kWrite, 0};

  ring_.Desc(0, table, 3 * 16, kIndirect);  // good
  ring_.Publish(0);
  ASSERT_EQ(vq_.pop(&chain_), Pop::kChain);
  EXPECT_EQ(chain_.count, 3);
  EXPECT_EQ(chain_.readable, 1);
  EXPECT_EQ(chain_.writable_bytes, 200u);

  struct Case {
    const char *what;
    std::function<void()> arrange;
    const std::atomic<uint64_t> *counter;
  } cases[] = {
      {"size not a multiple of 16", [&] { ring_.Desc(0, table, 40, kIndirect); },
       &vq_.stats().bad_indirect},
      {"empty table", [&] { ring_.Desc(0, table, 0, kIndirect); }, &vq_.stats().bad_indirect},
      {"INDIRECT with NEXT", [&] { ring_.Desc(0, table, 48, kIndirect | kNext, 1); },
       &vq_.stats().bad_indirect},
      {"indirect not at the head",
       [&] {
         ring_.Desc(0, buf_, 10, kNext, 1);
         ring_.Desc(1, table, 48, kIndirect);
       },
       &vq_.stats().bad_indirect},
      {"nested table",
       [&] {
         table[2] = {Addr(table), 48, kIndirect, 0};
         ring_.Desc(0, table, 48, kIndirect);
       },
       &vq_.stats().bad_indirect},
      {"table outside memory",
       [&] {
         static lkl_vring_desc outside[4];
         ring_.Desc(0, outside, sizeof(outside), kIndirect);
       },
       &vq_.stats().bad_address},
      {"too big a table", [&] { ring_.Desc(0, buf_, 16 * 2048, kIndirect); },
       &vq_.stats().bad_indirect},
      {"loop inside the table",
       [&] {
         table[2] = {Addr(buf_), 10, kWrite | kNext, 1};
         ring_.Desc(0, table, 48, kIndirect);
       },
       &vq_.stats().loops},
      {"next beyond the table",
       [&] {
         table[2] = {Addr(buf_), 10, kWrite | kNext, 3};
         ring_.Desc(0, table, 48, kIndirect);
       },
       &vq_.stats().bad_next},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.what);
    const uint64_t before = c.counter->load();
    table[2] = {Addr(buf_ + 112), 100, kWrite, 0};
    c.arrange();
    ring_.Publish(0);
    EXPECT_EQ(vq_.pop(&chain_), Pop::kEmpty);
    EXPECT_EQ(c.counter->load(), before + 1);
    ExpectReturned(0);
  }

  // Not negotiated: not even a good table is followed.
  VirtQueue plain;
  DriverRing ring(mem_, 4);
  ASSERT_TRUE(ring.Setup(&plain, /*indirect=*/false));
  table[2] = {Addr(buf_ + 112), 100, kWrite, 0};
  ring.Desc(0, table, 48, kIndirect);
  ring.Publish(0);
  EXPECT_EQ(plain.pop(&chain_), Pop::kEmpty);
  EXPECT_EQ(Count(plain.stats().bad_indirect), 1u);
}

TEST_F(VirtQueueTest, HeadOutOfRangeBreaksTheQueue) {
  ring_.Publish(16);
  EXPECT_EQ(vq_.pop(&chain_), Pop::kBroken);
  EXPECT_TRUE(vq_.broken());
  EXPECT_EQ(Count(vq_.stats().bad_head), 1u);
  ring_.Desc(0, buf_, 10);
  ring_.Publish(0);
  EXPECT_EQ(vq_.pop(&chain_), Pop::kBroken);  // silent until reset
  EXPECT_EQ(ring_.UsedIdx(), 0);              // nothing can be given back
  ASSERT_TRUE(ring_.Setup(&vq_));             // a reset and a fresh setup revive it
  EXPECT_FALSE(vq_.broken());
}

TEST_F(VirtQueueTest, AvailIndexMoreThanARingAheadBreaksTheQueue) {
  __atomic_store_n(&ring_.avail->idx, 17, __ATOMIC_RELEASE);
  EXPECT_EQ(vq_.pop(&chain_), Pop::kBroken);
  EXPECT_EQ(Count(vq_.stats().bad_avail), 1u);
}

TEST_F(VirtQueueTest, RingSetupIsChecked) {
  char stack[4096];
  VirtQueue vq;
  auto setup = [&](unsigned num, uint64_t d, uint64_t a, uint64_t u) {
    return vq.setup(num, d, a, u, true, true);
  };
  const uint64_t d = Addr(ring_.desc), a = Addr(ring_.avail), u = Addr(ring_.used);
  EXPECT_FALSE(setup(0, d, a, u));
  EXPECT_FALSE(setup(12, d, a, u));    // not a power of two
  EXPECT_FALSE(setup(2048, d, a, u));  // above the maximum
  EXPECT_FALSE(setup(16, d + 8, a, u));
  EXPECT_FALSE(setup(16, d, a + 1, u));
  EXPECT_FALSE(setup(16, d, a, u + 2));
  EXPECT_FALSE(setup(16, Addr(stack), a, u));
  EXPECT_FALSE(setup(16, d, Addr(stack), u));
  EXPECT_FALSE(setup(16, d, a, Addr(stack)));
  EXPECT_FALSE(setup(16, d, a, Addr(mem_.base() + mem_.size() - 64)));  // ends outside
  EXPECT_FALSE(vq.ready());
  EXPECT_EQ(Count(vq.stats().bad_ring), 10u);
  EXPECT_EQ(vq.pop(&chain_), Pop::kEmpty);
  EXPECT_TRUE(setup(16, d, a, u));
}

TEST_F(VirtQueueTest, EventIdxSuppressesNotificationsAndInterrupts) {
  for (uint16_t i = 0; i < 4; i++) ring_.Desc(i, buf_, 10);
  EXPECT_FALSE(vq_.enable_notify());
  EXPECT_EQ(ring_.AvailEvent(), 0);  // notify me when entry 0 arrives
  ring_.Publish(0);
  ring_.Publish(1);
  EXPECT_TRUE(vq_.has_avail());
  ASSERT_EQ(vq_.pop(&chain_), Pop::kChain);
  ASSERT_EQ(vq_.pop(&chain_), Pop::kChain);
  EXPECT_FALSE(vq_.enable_notify());
  EXPECT_EQ(ring_.AvailEvent(), 2);

  // The driver wants an interrupt once entry 2 is used.
  ring_.UsedEvent() = 2;
  vq_.push(0, 0);
  EXPECT_FALSE(vq_.needs_signal());  // used idx 0 -> 1: entry 2 not yet
  vq_.push(1, 0);
  EXPECT_FALSE(vq_.needs_signal());  // 1 -> 2
  ring_.Publish(2);
  ASSERT_EQ(vq_.pop(&chain_), Pop::kChain);
  vq_.push(2, 0);
  EXPECT_TRUE(vq_.needs_signal());   // 2 -> 3 crosses it
  EXPECT_FALSE(vq_.needs_signal());  // nothing new since
  EXPECT_FALSE(vq_.signal_overdue());
  ring_.UsedEvent() = 10;
  for (uint16_t i = 0; i < 3; i++) vq_.push(i, 0);
  EXPECT_FALSE(vq_.needs_signal());  // 3 -> 6: entry 10 not yet
  EXPECT_FALSE(vq_.signal_overdue());
  // A driver whose used_event store raced with our decision: it waits for entry 4, published
  // after the last interrupt. The idle thread's second look catches that, once.
  ring_.UsedEvent() = 4;
  EXPECT_TRUE(vq_.signal_overdue());
  EXPECT_FALSE(vq_.signal_overdue());
}

TEST_F(VirtQueueTest, FlagsSuppressWithoutEventIdx) {
  VirtQueue vq;
  DriverRing ring(mem_, 8);
  ASSERT_TRUE(ring.Setup(&vq, true, /*event_idx=*/false));
  ring.Desc(0, buf_, 10);
  vq.disable_notify();
  EXPECT_EQ(ring.used->flags, LKL_VRING_USED_F_NO_NOTIFY);
  EXPECT_FALSE(vq.enable_notify());
  EXPECT_EQ(ring.used->flags, 0);
  ring.Publish(0);
  ASSERT_EQ(vq.pop(&chain_), Pop::kChain);
  ring.avail->flags = LKL_VRING_AVAIL_F_NO_INTERRUPT;
  vq.push(0, 0);
  EXPECT_FALSE(vq.needs_signal());
  ring.avail->flags = 0;
  ring.Publish(0);
  ASSERT_EQ(vq.pop(&chain_), Pop::kChain);
  vq.push(0, 0);
  EXPECT_TRUE(vq.needs_signal());
}

// Random descriptor tables and avail rings: whatever the driver writes, pop() either yields
// chains that lie entirely in kernel memory or gives the head back, and never crashes.
TEST_F(VirtQueueTest, RandomRingsNeverEscapeKernelMemory) {
  std::mt19937_64 rng(1234);
  char outside[256];
  uint64_t chains = 0, dropped = 0, broken = 0;
  for (int round = 0; round < 3000; round++) {
    GuestMemory mem(1 << 20);
    const unsigned num = 1u << (rng() % 8);
    DriverRing ring(mem, num);
    auto *tables = static_cast<lkl_vring_desc *>(mem.Alloc(16 * 64, 16));
    auto random_desc = [&](lkl_vring_desc *d, unsigned table_size) {
      const uint64_t kind = rng() % 8;
      uint64_t addr = Addr(mem.base()) + rng() % mem.size();
      if (kind == 0) addr = Addr(outside);
      if (kind == 1) addr = rng();
      if (kind == 2) addr = Addr(tables) + 16 * (rng() % 4);
      const uint32_t len = kind == 3 ? static_cast<uint32_t>(rng()) : rng() % 4096;
      const uint16_t flags = static_cast<uint16_t>(rng() % 8);
      const uint16_t next = static_cast<uint16_t>(rng() % (table_size + 2));
      *d = {addr, len, flags, next};
    };
    for (unsigned i = 0; i < num; i++) random_desc(&ring.desc[i], num);
    for (unsigned i = 0; i < 64; i++) random_desc(&tables[i], 64);
    VirtQueue vq;
    ASSERT_TRUE(ring.Setup(&vq, rng() % 2, rng() % 2));
    const unsigned published = rng() % (num + 1);
    for (unsigned i = 0; i < published; i++)
      ring.Publish(static_cast<uint16_t>(rng() % 64 == 0 ? num + rng() % 4 : rng() % num));
    for (;;) {
      const Pop r = vq.pop(&chain_);
      if (r == Pop::kBroken) {
        broken++;
        break;
      }
      if (r == Pop::kEmpty) break;
      chains++;
      ASSERT_LE(chain_.count, lkl::virtio::kMaxChainBuffers);
      for (unsigned i = 0; i < chain_.count; i++)
        ASSERT_TRUE(lkl::host::memory_contains(chain_.iov[i].iov_base, chain_.iov[i].iov_len));
      vq.push(chain_.head, 0);
    }
    dropped += vq.stats().dropped();
    ASSERT_LE(ring.UsedIdx(), published);
  }
  std::printf("[ random rings ] %llu chains taken, %llu dropped, %llu queues broken\n",
              static_cast<unsigned long long>(chains), static_cast<unsigned long long>(dropped),
              static_cast<unsigned long long>(broken));
  EXPECT_GT(dropped, 0u);
  EXPECT_GT(chains, 0u);
}

// ---- the MMIO transport ------------------------------------------------------------------------

std::atomic<int> g_interrupts{0};
int CountInterrupt(int) {
  g_interrupts++;
  return 0;
}

class FakeDevice final : public lkl::virtio::VirtioDevice {
 public:
  uint32_t device_id() const noexcept override { return 42; }
  uint64_t device_features() const noexcept override { return bit(0) | bit(5); }
  unsigned num_queues() const noexcept override { return 2; }
  int read_config(unsigned offset, void *val, int size) noexcept override {
    std::memset(val, static_cast<int>(0xa0 + offset), static_cast<size_t>(size));
    return 0;
  }
  bool start(MmioTransport *, uint64_t features) noexcept override {
    started++;
    negotiated = features;
    return true;
  }
  void stop() noexcept override { stopped++; }
  void notify(unsigned queue) noexcept override { notified.push_back(queue); }

  int started = 0, stopped = 0;
  uint64_t negotiated = 0;
  std::vector<unsigned> notified;
};

// The driver side of the register protocol (virtio 1.x 4.2.3), as the kernel's virtio_mmio
// driver does it.
class MmioDriver {
 public:
  explicit MmioDriver(MmioTransport *t) : t_(t) {}

  uint32_t Read(unsigned long offset) {
    uint32_t v = 0;
    EXPECT_EQ(t_->read(offset, &v, 4), 0);
    return v;
  }
  void Write(unsigned long offset, uint32_t v) { EXPECT_EQ(t_->write(offset, &v, 4), 0); }

  uint64_t DeviceFeatures() {
    Write(LKL_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    uint64_t f = uint64_t{Read(LKL_VIRTIO_MMIO_DEVICE_FEATURES)} << 32;
    Write(LKL_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    return f | Read(LKL_VIRTIO_MMIO_DEVICE_FEATURES);
  }

  // Reset, acknowledge, offer features; returns whether FEATURES_OK stuck.
  bool Negotiate(uint64_t features) {
    Write(LKL_VIRTIO_MMIO_STATUS, 0);
    Write(LKL_VIRTIO_MMIO_STATUS, LKL_VIRTIO_CONFIG_S_ACKNOWLEDGE);
    Write(LKL_VIRTIO_MMIO_STATUS, LKL_VIRTIO_CONFIG_S_ACKNOWLEDGE | LKL_VIRTIO_CONFIG_S_DRIVER);
    Write(LKL_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    Write(LKL_VIRTIO_MMIO_DRIVER_FEATURES, static_cast<uint32_t>(features >> 32));
    Write(LKL_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    Write(LKL_VIRTIO_MMIO_DRIVER_FEATURES, static_cast<uint32_t>(features));
    Write(LKL_VIRTIO_MMIO_STATUS, Read(LKL_VIRTIO_MMIO_STATUS) | LKL_VIRTIO_CONFIG_S_FEATURES_OK);
    return Read(LKL_VIRTIO_MMIO_STATUS) & LKL_VIRTIO_CONFIG_S_FEATURES_OK;
  }

  // Returns whether the queue reads back ready.
  bool SetupQueue(unsigned index, const DriverRing &ring) {
    Write(LKL_VIRTIO_MMIO_QUEUE_SEL, index);
    EXPECT_GE(Read(LKL_VIRTIO_MMIO_QUEUE_NUM_MAX), ring.num);
    Write(LKL_VIRTIO_MMIO_QUEUE_NUM, ring.num);
    WriteAddr(LKL_VIRTIO_MMIO_QUEUE_DESC_LOW, Addr(ring.desc));
    WriteAddr(LKL_VIRTIO_MMIO_QUEUE_AVAIL_LOW, Addr(ring.avail));
    WriteAddr(LKL_VIRTIO_MMIO_QUEUE_USED_LOW, Addr(ring.used));
    Write(LKL_VIRTIO_MMIO_QUEUE_READY, 1);
    return Read(LKL_VIRTIO_MMIO_QUEUE_READY) == 1;
  }

  void DriverOk() {
    Write(LKL_VIRTIO_MMIO_STATUS, Read(LKL_VIRTIO_MMIO_STATUS) | LKL_VIRTIO_CONFIG_S_DRIVER_OK);
  }

 private:
  void WriteAddr(unsigned long low, uint64_t addr) {
    Write(low, static_cast<uint32_t>(addr));
    Write(low + 4, static_cast<uint32_t>(addr >> 32));
  }

  MmioTransport *t_;
};

constexpr uint64_t kVersion1 = bit(LKL_VIRTIO_F_VERSION_1);
constexpr uint64_t kEventIdx = bit(LKL_VIRTIO_RING_F_EVENT_IDX);
constexpr uint64_t kIndirectDesc = bit(LKL_VIRTIO_RING_F_INDIRECT_DESC);

class MmioTest : public ::testing::Test {
 protected:
  void SetUp() override { transport_.set_device(&device_); }
  void TearDown() override { transport_.set_device(nullptr); }

  GuestMemory mem_{1 << 20};
  FakeDevice device_;
  MmioTransport transport_{7, CountInterrupt};
  MmioDriver driver_{&transport_};
};

TEST_F(MmioTest, IdentifiesAsAModernDevice) {
  EXPECT_EQ(driver_.Read(LKL_VIRTIO_MMIO_MAGIC_VALUE), 0x74726976u);
  EXPECT_EQ(driver_.Read(LKL_VIRTIO_MMIO_VERSION), 2u);
  EXPECT_EQ(driver_.Read(LKL_VIRTIO_MMIO_DEVICE_ID), 42u);
  const uint64_t f = driver_.DeviceFeatures();
  EXPECT_EQ(f, bit(0) | bit(5) | kVersion1 | kEventIdx | kIndirectDesc);
  uint8_t b = 0;
  EXPECT_EQ(transport_.read(LKL_VIRTIO_MMIO_CONFIG + 3, &b, 1), 0);
  EXPECT_EQ(b, 0xa3);
  // Registers are 32-bit only.
  uint16_t w;
  EXPECT_EQ(transport_.read(LKL_VIRTIO_MMIO_STATUS, &w, 2), -EINVAL);
  // No device: a placeholder the driver skips.
  transport_.set_device(nullptr);
  EXPECT_EQ(driver_.Read(LKL_VIRTIO_MMIO_DEVICE_ID), 0u);
  EXPECT_EQ(driver_.DeviceFeatures(), 0u);
}

TEST_F(MmioTest, FeaturesOkOnlyForOfferedFeaturesWithVersion1) {
  EXPECT_FALSE(driver_.Negotiate(bit(0)));               // legacy driver
  EXPECT_FALSE(driver_.Negotiate(kVersion1 | bit(1)));   // not offered
  EXPECT_FALSE(driver_.Negotiate(kVersion1 | bit(40)));  // not offered
  EXPECT_TRUE(driver_.Negotiate(kVersion1 | bit(5) | kEventIdx));
}

TEST_F(MmioTest, QueueSetupStartResetAndNotify) {
  DriverRing rx(mem_, 16), tx(mem_, 16);
  ASSERT_TRUE(driver_.Negotiate(kVersion1 | kEventIdx));
  ASSERT_TRUE(driver_.SetupQueue(0, rx));
  ASSERT_TRUE(driver_.SetupQueue(1, tx));
  // A third queue does not exist.
  driver_.Write(LKL_VIRTIO_MMIO_QUEUE_SEL, 2);
  EXPECT_EQ(driver_.Read(LKL_VIRTIO_MMIO_QUEUE_NUM_MAX), 0u);

  driver_.Write(LKL_VIRTIO_MMIO_QUEUE_NOTIFY, 1);
  EXPECT_TRUE(device_.notified.empty());  // not started yet
  driver_.DriverOk();
  EXPECT_EQ(device_.started, 1);
  EXPECT_EQ(device_.negotiated, kVersion1 | kEventIdx);
  driver_.Write(LKL_VIRTIO_MMIO_QUEUE_NOTIFY, 1);
  driver_.Write(LKL_VIRTIO_MMIO_QUEUE_NOTIFY, 5);  // no such queue: ignored
  EXPECT_EQ(device_.notified, std::vector<unsigned>{1});

  driver_.Write(LKL_VIRTIO_MMIO_STATUS, 0);
  EXPECT_EQ(device_.stopped, 1);
  EXPECT_EQ(driver_.Read(LKL_VIRTIO_MMIO_STATUS), 0u);
  driver_.Write(LKL_VIRTIO_MMIO_QUEUE_SEL, 0);
  EXPECT_EQ(driver_.Read(LKL_VIRTIO_MMIO_QUEUE_READY), 0u);
  EXPECT_FALSE(transport_.queue(0).ready());
}

TEST_F(MmioTest, RingsOutsideKernelMemoryAreRefused) {
  GuestMemory other(1 << 16);
  DriverRing ring(other, 16);
  ASSERT_TRUE(driver_.Negotiate(kVersion1));
  std::vector<char> heap(4096);
  DriverRing fake = ring;
  fake.desc = reinterpret_cast<lkl_vring_desc *>((Addr(heap.data()) + 15) & ~15ULL);
  EXPECT_FALSE(driver_.SetupQueue(0, fake));
  EXPECT_EQ(Count(transport_.queue(0).stats().bad_ring), 1u);
  EXPECT_TRUE(driver_.SetupQueue(0, ring));
}

TEST_F(MmioTest, InterruptStatusAndAck) {
  const int before = g_interrupts;
  transport_.signal_used();
  EXPECT_EQ(g_interrupts, before + 1);
  EXPECT_EQ(driver_.Read(LKL_VIRTIO_MMIO_INTERRUPT_STATUS), LKL_VIRTIO_MMIO_INT_VRING);
  transport_.fail();
  EXPECT_EQ(driver_.Read(LKL_VIRTIO_MMIO_INTERRUPT_STATUS),
            LKL_VIRTIO_MMIO_INT_VRING | LKL_VIRTIO_MMIO_INT_CONFIG);
  EXPECT_TRUE(driver_.Read(LKL_VIRTIO_MMIO_STATUS) & LKL_VIRTIO_CONFIG_S_NEEDS_RESET);
  driver_.Write(LKL_VIRTIO_MMIO_INTERRUPT_ACK, LKL_VIRTIO_MMIO_INT_VRING);
  EXPECT_EQ(driver_.Read(LKL_VIRTIO_MMIO_INTERRUPT_STATUS), LKL_VIRTIO_MMIO_INT_CONFIG);
  const uint32_t generation = driver_.Read(LKL_VIRTIO_MMIO_CONFIG_GENERATION);
  transport_.signal_config();
  EXPECT_NE(driver_.Read(LKL_VIRTIO_MMIO_CONFIG_GENERATION), generation);
  driver_.Write(LKL_VIRTIO_MMIO_STATUS, 0);  // reset clears everything
  EXPECT_EQ(driver_.Read(LKL_VIRTIO_MMIO_INTERRUPT_STATUS), 0u);
  EXPECT_EQ(driver_.Read(LKL_VIRTIO_MMIO_STATUS), 0u);
}

// ---- the virtio-net device over a scripted backend ------------------------------------------

using VnetHdr = lkl::net::VnetHdr;

// Frames to deliver (header included, 12 bytes) and frames sent, with an eventfd to wake the
// device's poll thread.
class ScriptedBackend final : public lkl::net::Backend {
 public:
  ScriptedBackend() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~ScriptedBackend() { close(fd_); }

  void Deliver(std::vector<unsigned char> frame) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      rx_.push_back(std::move(frame));
    }
    const uint64_t one = 1;
    EXPECT_EQ(write(fd_, &one, sizeof(one)), 8);
  }

  std::vector<std::vector<unsigned char>> Sent() {
    std::lock_guard<std::mutex> lock(mu_);
    return tx_;
  }

  long send(const iovec *iov, int count) noexcept override {
    std::vector<unsigned char> frame(lkl::virtio::iov_length(iov, count));
    lkl::virtio::iov_to_buf(iov, count, 0, frame.data(), frame.size());
    std::lock_guard<std::mutex> lock(mu_);
    tx_.push_back(std::move(frame));
    return static_cast<long>(tx_.back().size());
  }

  long recv(const iovec *iov, int count) noexcept override {
    std::lock_guard<std::mutex> lock(mu_);
    if (rx_.empty()) return -EAGAIN;
    const std::vector<unsigned char> frame = std::move(rx_.front());
    rx_.pop_front();
    return static_cast<long>(lkl::virtio::buf_to_iov(iov, count, 0, frame.data(), frame.size()));
  }

  bool prepare_poll(bool rx, bool, pollfd *pfd) noexcept override {
    uint64_t v;
    while (read(fd_, &v, sizeof(v)) > 0) {
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (rx && !rx_.empty()) return false;
    }
    *pfd = {fd_, POLLIN, 0};
    return true;
  }

  int hdr_len() const noexcept override { return 12; }
  uint64_t features() const noexcept override { return ~0ULL; }
  int set_features(uint64_t f) noexcept override {
    features_set = f;
    return 0;
  }

  std::atomic<uint64_t> features_set{0};

 private:
  int fd_;
  std::mutex mu_;
  std::deque<std::vector<unsigned char>> rx_;
  std::vector<std::vector<unsigned char>> tx_;
};

std::vector<unsigned char> Frame(const VnetHdr &hdr, size_t len, unsigned char fill = 0x5a) {
  std::vector<unsigned char> f(sizeof(hdr) + len, fill);
  std::memcpy(f.data(), &hdr, sizeof(hdr));
  return f;
}

bool WaitFor(const std::function<bool()> &done, std::chrono::milliseconds limit = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

constexpr uint64_t kNetBits(std::initializer_list<unsigned> bits) {
  uint64_t f = 0;
  for (unsigned b : bits) f |= bit(b);
  return f;
}

class NetDeviceTest : public ::testing::Test {
 protected:
  // Brings the device up with the given driver features over fresh rings.
  void Start(uint64_t offload, uint64_t driver_features) {
    lkl::net::NetDeviceOptions options;
    options.offload = offload;
    options.has_mac = true;
    options.mac[0] = 0x02;
    device_ = std::make_unique<lkl::net::NetDevice>(&backend_, options);
    ASSERT_EQ(device_->init(), 0);
    transport_.set_device(device_.get());
    ASSERT_TRUE(driver_.Negotiate(driver_features | kVersion1));
    ASSERT_TRUE(driver_.SetupQueue(0, rx_));
    ASSERT_TRUE(driver_.SetupQueue(1, tx_));
    driver_.DriverOk();
    ASSERT_TRUE(device_->running());
    EXPECT_EQ(backend_.features_set.load(), driver_features | kVersion1);
  }

  void TearDown() override {
    transport_.set_device(nullptr);
    device_.reset();
  }

  const lkl::net::NetStats &Stats() { return device_->stats(); }

  // Posts n receive buffers of size bytes each, one descriptor per chain.
  void PostRx(unsigned n, uint32_t size) {
    for (unsigned i = 0; i < n; i++) {
      const uint16_t head = next_rx_++;
      rx_bufs_[head] = static_cast<char *>(mem_.Alloc(size));
      rx_.Desc(head, rx_bufs_[head], size, kWrite);
      rx_.Publish(head);
    }
  }

  // Posts a transmit chain: header and frame split over two descriptors.
  uint16_t PostTx(const VnetHdr &hdr, size_t frame_len, uint16_t extra_flags = 0) {
    const uint16_t head = next_tx_;
    next_tx_ += 2;
    auto *h = static_cast<VnetHdr *>(mem_.Alloc(sizeof(VnetHdr)));
    *h = hdr;
    char *data = static_cast<char *>(mem_.Alloc(frame_len));
    std::memset(data, 0x33, frame_len);
    tx_.Desc(head, h, sizeof(VnetHdr), kNext, head + 1);
    tx_.Desc(head + 1, data, static_cast<uint32_t>(frame_len), extra_flags);
    tx_.Publish(head);
    return head;
  }

  void NotifyTx() { driver_.Write(LKL_VIRTIO_MMIO_QUEUE_NOTIFY, 1); }

  GuestMemory mem_{4 << 20};
  DriverRing rx_{mem_, 256}, tx_{mem_, 256};
  ScriptedBackend backend_;
  MmioTransport transport_{9, CountInterrupt};
  MmioDriver driver_{&transport_};
  std::unique_ptr<lkl::net::NetDevice> device_;
  char *rx_bufs_[256] = {};
  uint16_t next_rx_ = 0, next_tx_ = 0;
};

TEST_F(NetDeviceTest, ReceiveDropsBadFramesAndCountsThem) {
  Start(0, kEventIdx);
  PostRx(16, 12 + 1518);
  VnetHdr plain{};
  VnetHdr bad_flags{};
  bad_flags.flags = 0x80;
  VnetHdr gso{};
  gso.gso_type = LKL_VIRTIO_NET_HDR_GSO_TCPV4;
  gso.gso_size = 1448;
  VnetHdr bad_csum{};
  bad_csum.flags = LKL_VIRTIO_NET_HDR_F_NEEDS_CSUM;
  bad_csum.csum_start = 50;
  bad_csum.csum_offset = 16;  // 50 + 16 + 2 > 60
  VnetHdr partial{};
  partial.flags = LKL_VIRTIO_NET_HDR_F_NEEDS_CSUM;
  partial.csum_start = 34;
  partial.csum_offset = 16;

  backend_.Deliver(Frame(plain, 60));       // good
  backend_.Deliver(Frame(plain, 10));       // runt
  backend_.Deliver({1, 2, 3});              // not even a header
  backend_.Deliver(Frame(bad_flags, 60));   // unknown flag
  backend_.Deliver(Frame(gso, 3000));       // GSO the driver did not negotiate (and too big)
  backend_.Deliver(Frame(gso, 1000));       // GSO the driver did not negotiate
  backend_.Deliver(Frame(bad_csum, 60));    // checksum offsets beyond the frame
  backend_.Deliver(Frame(plain, 3000));     // larger than the buffers
  backend_.Deliver(Frame(partial, 60, 1));  // partial checksum: completed by the device
  ASSERT_TRUE(WaitFor([&] { return rx_.UsedIdx() == 2 && Stats().rx_oversize == 2; }));
  EXPECT_EQ(Count(Stats().rx_frames), 2u);
  EXPECT_EQ(Count(Stats().rx_runt), 2u);
  EXPECT_EQ(Count(Stats().rx_bad_header), 2u);
  EXPECT_EQ(Count(Stats().rx_gso_dropped), 1u);
  EXPECT_EQ(Count(Stats().rx_sw_checksum), 1u);
  EXPECT_EQ(Count(Stats().rx_csum_partial), 0u);  // completed: delivered without NEEDS_CSUM

  uint32_t id, len;
  ASSERT_TRUE(rx_.TakeUsed(&id, &len));
  EXPECT_EQ(len, 12u + 60);
  VnetHdr got;
  std::memcpy(&got, rx_bufs_[id], sizeof(got));
  EXPECT_EQ(got.num_buffers, 1);
  ASSERT_TRUE(rx_.TakeUsed(&id, &len));
  EXPECT_EQ(len, 12u + 60);
  std::memcpy(&got, rx_bufs_[id], sizeof(got));
  EXPECT_EQ(got.flags, 0);  // the driver did not negotiate GUEST_CSUM: flags must be 0
  // The field held the pseudo-header sum (0x0101, from the fill) when the device summed over it:
  // data + stored checksum + that sum must now fold to zero, as a receiver would check it.
  const auto *frame = reinterpret_cast<const unsigned char *>(rx_bufs_[id] + 12);
  iovec v = {const_cast<unsigned char *>(frame), 60};
  EXPECT_NE(frame[34 + 16] | frame[34 + 17], 1);
  EXPECT_EQ(lkl::virtio::csum_fold(lkl::virtio::iov_csum(&v, 1, 34, 26, 0x0101)), 0);
  EXPECT_GT(g_interrupts.load(), 0);
}

TEST_F(NetDeviceTest, MergeableBuffersCarryLargeFrames) {
  const uint64_t features = kNetBits({LKL_VIRTIO_NET_F_GUEST_CSUM, LKL_VIRTIO_NET_F_GUEST_TSO4,
                                      LKL_VIRTIO_NET_F_MRG_RXBUF}) |
                            kEventIdx;
  Start(features, features);
  PostRx(64, 1536);
  VnetHdr gso{};
  gso.flags = LKL_VIRTIO_NET_HDR_F_NEEDS_CSUM;
  gso.gso_type = LKL_VIRTIO_NET_HDR_GSO_TCPV4;
  gso.gso_size = 1448;
  gso.csum_start = 34;
  gso.csum_offset = 16;
  std::vector<unsigned char> big = Frame(gso, 20000);
  for (size_t i = 12; i < big.size(); i++) big[i] = static_cast<unsigned char>(i * 7);
  backend_.Deliver(big);
  const unsigned buffers = (20012 + 1535) / 1536;  // 14
  ASSERT_TRUE(WaitFor([&] { return rx_.UsedIdx() == buffers; }));
  std::vector<unsigned char> got;
  uint32_t id, len;
  for (unsigned i = 0; i < buffers; i++) {
    ASSERT_TRUE(rx_.TakeUsed(&id, &len));
    got.insert(got.end(), rx_bufs_[id], rx_bufs_[id] + len);
  }
  ASSERT_EQ(got.size(), big.size());
  VnetHdr hdr;
  std::memcpy(&hdr, got.data(), sizeof(hdr));
  EXPECT_EQ(hdr.num_buffers, buffers);
  EXPECT_EQ(hdr.gso_type, LKL_VIRTIO_NET_HDR_GSO_TCPV4);
  EXPECT_TRUE(std::equal(got.begin() + 12, got.end(), big.begin() + 12));
}

TEST_F(NetDeviceTest, TransmitChecksHeadersAndChains) {
  Start(kNetBits({LKL_VIRTIO_NET_F_CSUM}), kEventIdx);  // offered but not negotiated
  VnetHdr plain{};
  VnetHdr csum{};
  csum.flags = LKL_VIRTIO_NET_HDR_F_NEEDS_CSUM;
  csum.csum_start = 34;
  csum.csum_offset = 16;
  VnetHdr gso{};
  gso.gso_type = LKL_VIRTIO_NET_HDR_GSO_TCPV4;
  gso.gso_size = 1000;

  PostTx(plain, 100);          // good
  PostTx(csum, 100);           // CSUM not negotiated
  PostTx(gso, 3000);           // HOST_TSO4 not negotiated
  PostTx(plain, 100, kWrite);  // writable buffer in a transmit chain
  PostTx(plain, 4);            // shorter than an Ethernet header
  const int irqs = g_interrupts;
  NotifyTx();  // processed right here, on the notifying thread
  EXPECT_EQ(tx_.UsedIdx(), 5);
  EXPECT_GT(g_interrupts.load(), irqs);
  EXPECT_EQ(Count(Stats().tx_frames), 1u);
  EXPECT_EQ(Count(Stats().tx_bad_header), 2u);
  EXPECT_EQ(Count(Stats().tx_bad_chain), 2u);
  const auto sent = backend_.Sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].size(), 12u + 100);
  // With EVENT_IDX the device asks to be notified for the next entry.
  EXPECT_EQ(tx_.AvailEvent(), 5);
}

// The offload counters: what the headers of delivered and sent frames said, and their sizes.
TEST_F(NetDeviceTest, OffloadCountersFollowTheHeaders) {
  const uint64_t features =
      kNetBits({LKL_VIRTIO_NET_F_CSUM, LKL_VIRTIO_NET_F_HOST_TSO4, LKL_VIRTIO_NET_F_GUEST_CSUM,
                LKL_VIRTIO_NET_F_GUEST_TSO4, LKL_VIRTIO_NET_F_MRG_RXBUF}) |
      kEventIdx;
  Start(features, features);
  PostRx(64, 1536);
  VnetHdr plain{};
  VnetHdr valid{};
  valid.flags = LKL_VIRTIO_NET_HDR_F_DATA_VALID;
  VnetHdr partial{};
  partial.flags = LKL_VIRTIO_NET_HDR_F_NEEDS_CSUM;
  partial.csum_start = 34;
  partial.csum_offset = 16;
  VnetHdr gso = partial;
  gso.gso_type = LKL_VIRTIO_NET_HDR_GSO_TCPV4;
  gso.gso_size = 1448;

  backend_.Deliver(Frame(gso, 20000));
  backend_.Deliver(Frame(valid, 100));
  backend_.Deliver(Frame(partial, 1518));  // the longest frame that is not large
  backend_.Deliver(Frame(plain, 1519));
  ASSERT_TRUE(WaitFor([&] { return Stats().rx_frames == 4; }));
  EXPECT_EQ(Count(Stats().rx_large), 2u);
  EXPECT_EQ(Count(Stats().rx_gso), 1u);
  EXPECT_EQ(Count(Stats().rx_csum_partial), 2u);
  EXPECT_EQ(Count(Stats().rx_csum_valid), 1u);
  EXPECT_EQ(Count(Stats().rx_sw_checksum), 0u);

  PostTx(gso, 3000);
  PostTx(partial, 100);
  PostTx(plain, 1518);
  PostTx(plain, 1519);
  NotifyTx();
  EXPECT_EQ(Count(Stats().tx_frames), 4u);
  EXPECT_EQ(Count(Stats().tx_large), 2u);
  EXPECT_EQ(Count(Stats().tx_gso), 1u);
  EXPECT_EQ(Count(Stats().tx_csum_partial), 2u);
}

TEST_F(NetDeviceTest, BrokenQueueNeedsResetAndResetRecovers) {
  Start(0, kEventIdx);
  tx_.Publish(300);  // head beyond the ring
  NotifyTx();
  EXPECT_TRUE(driver_.Read(LKL_VIRTIO_MMIO_STATUS) & LKL_VIRTIO_CONFIG_S_NEEDS_RESET);
  EXPECT_TRUE(driver_.Read(LKL_VIRTIO_MMIO_INTERRUPT_STATUS) & LKL_VIRTIO_MMIO_INT_CONFIG);
  driver_.Write(LKL_VIRTIO_MMIO_STATUS, 0);
  EXPECT_FALSE(device_->running());

  // The driver starts over with fresh rings.
  DriverRing rx(mem_, 64), tx(mem_, 64);
  ASSERT_TRUE(driver_.Negotiate(kVersion1));
  ASSERT_TRUE(driver_.SetupQueue(0, rx));
  ASSERT_TRUE(driver_.SetupQueue(1, tx));
  driver_.DriverOk();
  EXPECT_TRUE(device_->running());
  char *buf = static_cast<char *>(mem_.Alloc(2048));
  rx.Desc(0, buf, 2048, kWrite);
  rx.Publish(0);
  backend_.Deliver(Frame(VnetHdr{}, 100));
  EXPECT_TRUE(WaitFor([&] { return rx.UsedIdx() == 1; }));
}

TEST_F(NetDeviceTest, StarvedReceiveResumesWhenBuffersArrive) {
  Start(0, kEventIdx);
  backend_.Deliver(Frame(VnetHdr{}, 100));
  ASSERT_TRUE(WaitFor([&] { return Stats().rx_starved > 0; }));
  EXPECT_EQ(rx_.AvailEvent(), 0);  // asks to be told about the first buffer
  PostRx(1, 2048);
  driver_.Write(LKL_VIRTIO_MMIO_QUEUE_NOTIFY, 0);
  EXPECT_TRUE(WaitFor([&] { return rx_.UsedIdx() == 1; }));
}

}  // namespace
