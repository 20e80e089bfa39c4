// See vnet_hdr.h.
#include "net/vnet_hdr.h"

#include "virtio/device.h"
#include "virtio/iov.h"

namespace lkl::net {
namespace {

using virtio::bit;

constexpr std::uint8_t kGsoTypeMask = static_cast<std::uint8_t>(~LKL_VIRTIO_NET_HDR_GSO_ECN);

bool csum_fields_valid(const VnetHdr &hdr, std::size_t frame_len) {
  return std::size_t{hdr.csum_start} + hdr.csum_offset + 2 <= frame_len;
}

// The feature a GSO type needs in the direction given by the TSO4/TSO6/ECN/UFO bits passed.
bool gso_allowed(std::uint8_t gso_type, std::uint64_t features, unsigned tso4, unsigned tso6,
                 unsigned ecn, unsigned ufo) {
  if ((gso_type & LKL_VIRTIO_NET_HDR_GSO_ECN) && !(features & bit(ecn))) return false;
  switch (gso_type & kGsoTypeMask) {
    case LKL_VIRTIO_NET_HDR_GSO_TCPV4:
      return features & bit(tso4);
    case LKL_VIRTIO_NET_HDR_GSO_TCPV6:
      return features & bit(tso6);
    case LKL_VIRTIO_NET_HDR_GSO_UDP:
      return features & bit(ufo);
    default:
      return false;
  }
}

}  // namespace

bool tx_header_valid(const VnetHdr &hdr, std::uint64_t features, std::size_t frame_len) noexcept {
  if (frame_len < kEthHdrLen) return false;
  if (hdr.flags & ~LKL_VIRTIO_NET_HDR_F_NEEDS_CSUM) return false;
  if (hdr.flags & LKL_VIRTIO_NET_HDR_F_NEEDS_CSUM) {
    if (!(features & bit(LKL_VIRTIO_NET_F_CSUM)) || !csum_fields_valid(hdr, frame_len))
      return false;
  }
  if (hdr.gso_type == LKL_VIRTIO_NET_HDR_GSO_NONE) return true;
  return gso_allowed(hdr.gso_type, features, LKL_VIRTIO_NET_F_HOST_TSO4, LKL_VIRTIO_NET_F_HOST_TSO6,
                     LKL_VIRTIO_NET_F_HOST_ECN, LKL_VIRTIO_NET_F_HOST_UFO) &&
         hdr.gso_size != 0 && hdr.hdr_len <= frame_len;
}

RxVerdict rx_header_check(VnetHdr *hdr, std::uint64_t features, std::size_t frame_len) noexcept {
  constexpr std::uint8_t kKnown = LKL_VIRTIO_NET_HDR_F_NEEDS_CSUM | LKL_VIRTIO_NET_HDR_F_DATA_VALID;
  if (frame_len < kEthHdrLen || (hdr->flags & ~kKnown)) return RxVerdict::kBadHeader;
  const bool guest_csum = features & bit(LKL_VIRTIO_NET_F_GUEST_CSUM);
  if (!guest_csum) hdr->flags &= ~LKL_VIRTIO_NET_HDR_F_DATA_VALID;
  if ((hdr->flags & LKL_VIRTIO_NET_HDR_F_NEEDS_CSUM) && !csum_fields_valid(*hdr, frame_len))
    return RxVerdict::kBadHeader;
  if (hdr->gso_type != LKL_VIRTIO_NET_HDR_GSO_NONE) {
    const std::uint8_t type = hdr->gso_type & kGsoTypeMask;
    if (type != LKL_VIRTIO_NET_HDR_GSO_TCPV4 && type != LKL_VIRTIO_NET_HDR_GSO_TCPV6 &&
        type != LKL_VIRTIO_NET_HDR_GSO_UDP && type != LKL_VIRTIO_NET_HDR_GSO_UDP_L4)
      return RxVerdict::kBadHeader;
    if (hdr->gso_size == 0) return RxVerdict::kBadHeader;
    if (!gso_allowed(hdr->gso_type, features, LKL_VIRTIO_NET_F_GUEST_TSO4,
                     LKL_VIRTIO_NET_F_GUEST_TSO6, LKL_VIRTIO_NET_F_GUEST_ECN,
                     LKL_VIRTIO_NET_F_GUEST_UFO))
      return RxVerdict::kUnsupportedGso;
  }
  if ((hdr->flags & LKL_VIRTIO_NET_HDR_F_NEEDS_CSUM) && !guest_csum) return RxVerdict::kComplete;
  return RxVerdict::kDeliver;
}

void complete_checksum(const iovec *iov, int count, std::size_t frame_offset, std::size_t frame_len,
                       const VnetHdr &hdr) noexcept {
  // The field already holds the pseudo-header sum, so summing over it gives the final value.
  const std::size_t start = frame_offset + hdr.csum_start;
  const std::uint32_t sum = virtio::iov_csum(iov, count, start, frame_len - hdr.csum_start, 0);
  std::uint16_t csum = virtio::csum_fold(sum);
  if (csum == 0) csum = 0xffff;  // 0 means "no checksum" to UDP; equivalent for TCP
  const std::uint8_t bytes[2] = {static_cast<std::uint8_t>(csum >> 8),
                                 static_cast<std::uint8_t>(csum)};
  virtio::buf_to_iov(iov, count, start + hdr.csum_offset, bytes, sizeof(bytes));
}

}  // namespace lkl::net
