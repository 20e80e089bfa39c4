// Raw backend: an AF_PACKET socket bound to an existing host interface (e.g. one end of a veth
// pair), with the 10-byte virtio-net header (PACKET_VNET_HDR) in front of every frame. Frames the
// socket itself sends are not looped back to it, and the interface is put in promiscuous mode for
// as long as the socket lives, since the device's MAC is not the interface's.
//
// Unlike TAP, a packet socket cannot be told which offloads to use: it hands over GSO frames and
// partial checksums as the host stack has them. The device completes partial checksums for a
// driver without GUEST_CSUM and drops GSO frames it did not negotiate (counted); with a veth
// peer, the driver should take guest TSO or the peer run with TSO off.
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "heap.h"
#include "net/fd_backend.h"
#include "net/vnet_hdr.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

namespace lkl::net {
namespace {

// struct virtio_net_hdr: the v1 header without num_buffers.
constexpr int kRawHdrLen = 10;

class RawBackend final : public FdBackend {
 public:
  explicit RawBackend(int fd) : FdBackend(fd, kRawHdrLen, kHeaderOffloads) {}

  long send(const iovec *iov, int count) noexcept override {
    const long n = FdBackend::send(iov, count);
    return n == -ENOBUFS ? -EAGAIN : n;  // qdisc full: same as a full socket
  }

  void destroy() noexcept override { heap_delete(this); }
};

}  // namespace

Backend *create_raw(const char *ifname, int *err) noexcept {
  *err = -EINVAL;
  if (!ifname) return nullptr;
  const unsigned ifindex = if_nametoindex(ifname);
  if (ifindex == 0) {
    *err = -ENODEV;
    return nullptr;
  }
  const int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd < 0) {
    *err = -errno;
    return nullptr;
  }
  const int one = 1;
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_ALL);
  addr.sll_ifindex = static_cast<int>(ifindex);
  packet_mreq promisc{};
  promisc.mr_ifindex = static_cast<int>(ifindex);
  promisc.mr_type = PACKET_MR_PROMISC;
  if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0 ||
      setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0 ||
      bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) < 0 ||
      setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &promisc, sizeof(promisc)) < 0) {
    *err = -errno;
    close(fd);
    return nullptr;
  }
  Backend *backend = heap_new<RawBackend>(fd);
  if (!backend) {
    *err = -ENOMEM;
    close(fd);
  }
  return backend;
}

}  // namespace lkl::net
