// C++ layer over <lkl/netdev.h>: backends and devices as RAII objects, errors as lkl::Error.
//
//   lkl::NetBackend tap = lkl::NetBackend::tap("tap0", lkl::kOffloadAll);
//   lkl::NetDevice dev(tap, {.offload = lkl::kOffloadAll});   // before or after boot
//   int ifindex = dev.ifindex();                               // once the kernel runs
//
// A NetDevice must not outlive its NetBackend; destroying it removes the device from the kernel.
#ifndef LKL_NET_HPP
#define LKL_NET_HPP

#include <array>
#include <cerrno>
#include <optional>
#include <string>
#include <utility>

#include <lkl/kernel.hpp>

namespace lkl {

constexpr unsigned offload_bit(unsigned feature) { return 1U << feature; }

// Every offload a device can offer: checksums and TSO both ways, mergeable receive buffers.
inline constexpr unsigned kOffloadAll =
    offload_bit(LKL_VIRTIO_NET_F_CSUM) | offload_bit(LKL_VIRTIO_NET_F_GUEST_CSUM) |
    offload_bit(LKL_VIRTIO_NET_F_HOST_TSO4) | offload_bit(LKL_VIRTIO_NET_F_HOST_TSO6) |
    offload_bit(LKL_VIRTIO_NET_F_HOST_ECN) | offload_bit(LKL_VIRTIO_NET_F_GUEST_TSO4) |
    offload_bit(LKL_VIRTIO_NET_F_GUEST_TSO6) | offload_bit(LKL_VIRTIO_NET_F_GUEST_ECN) |
    offload_bit(LKL_VIRTIO_NET_F_MRG_RXBUF);

// Owns a struct lkl_netdev.
class NetBackend {
 public:
  // Throws Error if the TAP interface cannot be opened or created.
  static NetBackend tap(const std::string &ifname, unsigned offload = kOffloadAll) {
    return NetBackend(lkl_netdev_tap_create(ifname.c_str(), static_cast<int>(offload)),
                      "lkl_netdev_tap_create(" + ifname + ")");
  }

  // Throws Error if there is no such host interface or no permission for a packet socket.
  static NetBackend raw(const std::string &ifname) {
    return NetBackend(lkl_netdev_raw_create(ifname.c_str()),
                      "lkl_netdev_raw_create(" + ifname + ")");
  }

  // One end of a shared-memory link; blocks until the other process joins. Throws Error.
  static NetBackend shm(const std::string &name, unsigned offload = kOffloadAll) {
    return NetBackend(lkl_netdev_shm_create(name.c_str(), static_cast<int>(offload)),
                      "lkl_netdev_shm_create(" + name + ")");
  }

  ~NetBackend() {
    if (nd_) lkl_netdev_free(nd_);
  }
  NetBackend(NetBackend &&other) noexcept : nd_(std::exchange(other.nd_, nullptr)) {}
  NetBackend &operator=(NetBackend &&other) noexcept {
    if (this != &other) {
      if (nd_) lkl_netdev_free(nd_);
      nd_ = std::exchange(other.nd_, nullptr);
    }
    return *this;
  }
  NetBackend(const NetBackend &) = delete;
  NetBackend &operator=(const NetBackend &) = delete;

  lkl_netdev *get() const noexcept { return nd_; }

 private:
  // The factories report failure in (host) errno.
  NetBackend(lkl_netdev *nd, const std::string &what) : nd_(nd) {
    if (!nd_) throw Error(errno ? errno : EINVAL, what);
  }

  lkl_netdev *nd_;
};

struct NetDeviceOptions {
  std::optional<std::array<unsigned char, 6>> mac = std::nullopt;  // none: the driver picks one
  unsigned offload = 0;                                            // 1 << LKL_VIRTIO_NET_F_* bits
  unsigned disable_features = 0;                                   // see struct lkl_netdev_args
  unsigned busy_poll_us = 0;
};

// A backend made a virtio-net device of the kernel; removed again when destroyed.
class NetDevice {
 public:
  NetDevice(const NetBackend &backend, const NetDeviceOptions &options = {}) {
    std::array<unsigned char, 6> mac{};
    lkl_netdev_args args{};
    if (options.mac) {
      mac = *options.mac;
      args.mac = mac.data();
    }
    args.offload = options.offload;
    args.disable_features = options.disable_features;
    args.busy_poll_us = options.busy_poll_us;
    id_ = static_cast<int>(check(lkl_netdev_add(backend.get(), &args), "lkl_netdev_add"));
  }

  ~NetDevice() {
    if (id_ >= 0) lkl_netdev_remove(id_);
  }
  NetDevice(NetDevice &&other) noexcept : id_(std::exchange(other.id_, -1)) {}
  NetDevice &operator=(NetDevice &&other) noexcept {
    if (this != &other) {
      if (id_ >= 0) lkl_netdev_remove(id_);
      id_ = std::exchange(other.id_, -1);
    }
    return *this;
  }
  NetDevice(const NetDevice &) = delete;
  NetDevice &operator=(const NetDevice &) = delete;

  int id() const noexcept { return id_; }

  // The kernel's interface index; throws Error (ENODEV if the driver did not take the device).
  int ifindex() const {
    return static_cast<int>(check(lkl_netdev_get_ifindex(id_), "lkl_netdev_get_ifindex"));
  }

  lkl_netdev_stats stats() const {
    lkl_netdev_stats s{};
    check(lkl_netdev_get_stats(id_, &s), "lkl_netdev_get_stats");
    return s;
  }

 private:
  int id_ = -1;
};

}  // namespace lkl

#endif  // LKL_NET_HPP
