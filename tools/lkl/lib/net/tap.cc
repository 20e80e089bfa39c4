// TAP backend: a host TAP interface carrying virtio-net headers (IFF_VNET_HDR), so checksum and
// segmentation offloads pass through in both directions. What the host may hand us is set from
// the negotiated guest features with TUNSETOFFLOAD.
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>

#include "heap.h"
#include "net/fd_backend.h"
#include "net/vnet_hdr.h"
#include "virtio/device.h"

namespace lkl::net {
namespace {

using virtio::bit;

class TapBackend final : public FdBackend {
 public:
  TapBackend(int fd, std::uint64_t features) : FdBackend(fd, kVnetHdrLen, features) {}

  int set_features(std::uint64_t f) noexcept override {
    unsigned long flags = 0;
    if (f & bit(LKL_VIRTIO_NET_F_GUEST_CSUM)) flags |= TUN_F_CSUM;
    if (f & bit(LKL_VIRTIO_NET_F_GUEST_TSO4)) flags |= TUN_F_TSO4;
    if (f & bit(LKL_VIRTIO_NET_F_GUEST_TSO6)) flags |= TUN_F_TSO6;
    if (f & bit(LKL_VIRTIO_NET_F_GUEST_ECN)) flags |= TUN_F_TSO_ECN;
    return ioctl(fd(), TUNSETOFFLOAD, flags) < 0 ? -errno : 0;
  }

  void destroy() noexcept override { heap_delete(this); }
};

}  // namespace

Backend *create_tap(const char *ifname, std::uint64_t offload, int *err) noexcept {
  *err = -EINVAL;
  if (!ifname || std::strlen(ifname) >= IFNAMSIZ) return nullptr;
  const int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *err = -errno;
    return nullptr;
  }
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  int hdr_len = kVnetHdrLen;
  // Nothing offloaded towards us until the driver says what it takes.
  if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0 ||
      ioctl(fd, TUNSETOFFLOAD, 0UL) < 0) {
    *err = -errno;
    close(fd);
    return nullptr;
  }
  Backend *backend = heap_new<TapBackend>(fd, offload & kHeaderOffloads);
  if (!backend) {
    *err = -ENOMEM;
    close(fd);
  }
  return backend;
}

}  // namespace lkl::net
