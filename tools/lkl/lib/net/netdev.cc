// The C API of <lkl/netdev.h>: backends wrapped as struct lkl_netdev, and the table of devices
// that ties each to its virtio-mmio transport, MMIO window and irq.
//
// A window withdrawn after boot stays claimed by its (unbound) platform device in the kernel, so
// its slot is kept "parked" with a placeholder transport and given to the next device added.
// Devices added after boot need the virtio_mmio "device" parameter to be writable: patches/0001.
#include <pthread.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <lkl.h>

#include "heap.h"
#include "iomem.h"
#include "net/backend.h"
#include "net/net_device.h"
#include "virtio/announce.h"
#include "virtio/mmio.h"

struct lkl_netdev {
  lkl::net::Backend *backend;
  int id;  // device using it, or -1
};

namespace {

using lkl::heap_delete;
using lkl::heap_new;
using lkl::net::NetDevice;
using lkl::virtio::MmioTransport;

constexpr int kMaxDevices = 32;
constexpr const char *kIrqUser = "virtio-net";

struct Slot {
  MmioTransport *transport;  // nullptr: free
  long base;
  NetDevice *device;  // nullptr with a transport: parked
  lkl_netdev *nd;
};

pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
Slot slots[kMaxDevices];

class Guard {
 public:
  Guard() { pthread_mutex_lock(&lock); }
  ~Guard() { pthread_mutex_unlock(&lock); }
  Guard(const Guard &) = delete;
  Guard &operator=(const Guard &) = delete;
};

lkl_netdev *wrap(lkl::net::Backend *backend, int err) {
  if (!backend) {
    errno = -err;
    return nullptr;
  }
  auto *nd = static_cast<lkl_netdev *>(std::malloc(sizeof(lkl_netdev)));
  if (!nd) {
    backend->destroy();
    errno = ENOMEM;
    return nullptr;
  }
  *nd = {backend, -1};
  return nd;
}

Slot *slot_of(int id) {
  if (id < 0 || id >= kMaxDevices || !slots[id].device) return nullptr;
  return &slots[id];
}

// A fresh transport in a fresh MMIO window; 0 or a negative errno.
int open_slot(Slot *slot) {
  const int irq = lkl_get_free_irq(kIrqUser);
  if (irq < 0) return irq;
  auto *transport = heap_new<MmioTransport>(irq, lkl_trigger_irq);
  if (!transport) {
    lkl_put_irq(irq, kIrqUser);
    return -LKL_ENOMEM;
  }
  const long base = lkl::iomem_register(transport, lkl::virtio::kMmioSize);
  if (base < 0) {
    heap_delete(transport);
    lkl_put_irq(irq, kIrqUser);
    return static_cast<int>(base);
  }
  *slot = {transport, base, nullptr, nullptr};
  return 0;
}

void close_slot(Slot *slot) {
  lkl::iomem_unregister(slot->base);
  const int irq = slot->transport->irq();
  heap_delete(slot->transport);
  lkl_put_irq(irq, kIrqUser);
  *slot = {};
}

// Installs device in slot and makes the kernel see it: 0 or a negative errno.
int plug(Slot *slot, NetDevice *device, bool parked) {
  slot->transport->set_ring_features(device->ring_features());
  slot->transport->set_device(device);
  slot->device = device;
  const int ret =
      parked ? lkl::virtio::rebind(slot->base)
             : lkl::virtio::announce(slot->base, lkl::virtio::kMmioSize, slot->transport->irq());
  if (ret < 0) {
    slot->transport->set_device(nullptr);
    slot->device = nullptr;
  }
  return ret;
}

}  // namespace

extern "C" {

struct lkl_netdev *lkl_netdev_tap_create(const char *ifname, int offload) {
  int err;
  lkl::net::Backend *backend =
      lkl::net::create_tap(ifname, static_cast<unsigned int>(offload), &err);
  return wrap(backend, err);
}

struct lkl_netdev *lkl_netdev_raw_create(const char *ifname) {
  int err;
  lkl::net::Backend *backend = lkl::net::create_raw(ifname, &err);
  return wrap(backend, err);
}

struct lkl_netdev *lkl_netdev_shm_create(const char *name, int offload) {
  int err;
  lkl::net::Backend *backend = lkl::net::create_shm(name, static_cast<unsigned int>(offload), &err);
  return wrap(backend, err);
}

int lkl_netdev_add(struct lkl_netdev *nd, struct lkl_netdev_args *args) {
  if (!nd || !nd->backend) return -LKL_EINVAL;
  lkl::net::NetDeviceOptions options;
  if (args) {
    if (args->mac) {
      options.has_mac = true;
      std::memcpy(options.mac, args->mac, sizeof(options.mac));
    }
    options.offload = args->offload;
    options.disabled = args->disable_features;
    options.busy_poll_us = args->busy_poll_us;
  }
  NetDevice *device = heap_new<NetDevice>(nd->backend, options);
  if (!device) return -LKL_ENOMEM;
  int ret = device->init();
  if (ret < 0) {
    heap_delete(device);
    return ret;
  }

  Guard guard;
  if (nd->id >= 0) {
    heap_delete(device);
    return -LKL_EBUSY;
  }
  // A running kernel still holds the windows of removed devices: reuse one of those first.
  int id = -1;
  bool parked = false;
  for (int i = 0; i < kMaxDevices && id < 0; i++) {
    if (slots[i].transport && !slots[i].device && lkl_is_running()) {
      id = i;
      parked = true;
    }
  }
  for (int i = 0; i < kMaxDevices && id < 0; i++) {
    if (!slots[i].transport) id = i;
  }
  if (id < 0) {
    heap_delete(device);
    return -LKL_ENOSPC;
  }
  Slot *slot = &slots[id];
  if (!parked && (ret = open_slot(slot)) < 0) {
    heap_delete(device);
    return ret;
  }
  ret = plug(slot, device, parked);
  if (ret < 0) {
    if (!parked) close_slot(slot);
    heap_delete(device);
    return ret;
  }
  slot->nd = nd;
  nd->id = id;
  return id;
}

void lkl_netdev_remove(int id) {
  Guard guard;
  Slot *slot = slot_of(id);
  if (!slot) return;
  lkl::virtio::withdraw(slot->base);
  // Stops the device if the driver did not reset it (e.g. the kernel has halted).
  slot->transport->set_device(nullptr);
  heap_delete(slot->device);
  slot->device = nullptr;
  slot->nd->id = -1;
  slot->nd = nullptr;
  if (!lkl_is_running()) close_slot(slot);
}

void lkl_netdev_free(struct lkl_netdev *nd) {
  if (!nd) return;
  if (nd->id >= 0) lkl_netdev_remove(nd->id);
  nd->backend->destroy();
  std::free(nd);
}

int lkl_netdev_get_ifindex(int id) {
  long base;
  {
    Guard guard;
    const Slot *slot = slot_of(id);
    if (!slot) return -LKL_EINVAL;
    base = slot->base;
  }
  char dir[256], path[320], text[32];
  int ret = lkl::virtio::device_sysfs_dir(base, dir, sizeof(dir));
  if (ret < 0) return ret;
  std::strncat(dir, "/net", sizeof(dir) - std::strlen(dir) - 1);
  ret = lkl::virtio::sysfs_find(dir, "", path, sizeof(path) - 8);
  if (ret < 0) return ret;
  std::strcat(path, "/ifindex");
  const long len = lkl::virtio::sysfs_read(path, text, sizeof(text));
  if (len < 0) return static_cast<int>(len);
  const int ifindex = std::atoi(text);
  return ifindex > 0 ? ifindex : -LKL_ENODEV;
}

int lkl_netdev_get_stats(int id, struct lkl_netdev_stats *out) {
  if (!out) return -LKL_EINVAL;
  Guard guard;
  const Slot *slot = slot_of(id);
  if (!slot) return -LKL_EINVAL;
  const lkl::net::NetStats &s = slot->device->stats();
  auto get = [](const std::atomic<std::uint64_t> &c) { return c.load(std::memory_order_relaxed); };
  *out = {};
  out->rx_frames = get(s.rx_frames);
  out->rx_bytes = get(s.rx_bytes);
  out->rx_runt = get(s.rx_runt);
  out->rx_bad_header = get(s.rx_bad_header);
  out->rx_gso_dropped = get(s.rx_gso_dropped);
  out->rx_oversize = get(s.rx_oversize);
  out->rx_dropped = out->rx_runt + out->rx_bad_header + out->rx_gso_dropped + out->rx_oversize;
  out->rx_sw_checksum = get(s.rx_sw_checksum);
  out->rx_errors = get(s.rx_errors);
  out->rx_starved = get(s.rx_starved);
  out->tx_frames = get(s.tx_frames);
  out->tx_bytes = get(s.tx_bytes);
  out->tx_bad_header = get(s.tx_bad_header);
  out->tx_errors = get(s.tx_errors);
  out->tx_dropped = out->tx_bad_header + out->tx_errors;
  out->tx_deferred = get(s.tx_deferred);
  out->bad_chains = get(s.rx_bad_chain) + get(s.tx_bad_chain);
  for (unsigned q = 0; q < 2; q++) {
    const lkl::virtio::QueueStats &qs = slot->transport->queue(q).stats();
    out->bad_chains += qs.dropped();
    out->broken_queues += get(qs.bad_head) + get(qs.bad_avail);
    out->rejected_rings += get(qs.bad_ring);
  }
  out->interrupts = get(s.interrupts);
  out->rx_large = get(s.rx_large);
  out->rx_gso = get(s.rx_gso);
  out->rx_csum_partial = get(s.rx_csum_partial);
  out->rx_csum_valid = get(s.rx_csum_valid);
  out->tx_large = get(s.tx_large);
  out->tx_gso = get(s.tx_gso);
  out->tx_csum_partial = get(s.tx_csum_partial);
  out->rx_spin_polled = get(s.rx_spin_polled);
  out->rx_gso_ecn = get(s.rx_gso_ecn);
  out->tx_gso_ecn = get(s.tx_gso_ecn);
  return 0;
}

}  // extern "C"
