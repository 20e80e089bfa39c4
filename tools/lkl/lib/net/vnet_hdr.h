// The virtio-net header rules (virtio 1.x 5.1.6): what a header may say given the negotiated
// features, for frames the driver sends and frames a backend delivers, plus the software
// checksum used when a backend hands over a partial checksum the driver did not negotiate.
#ifndef LKL_LIB_NET_VNET_HDR_H
#define LKL_LIB_NET_VNET_HDR_H

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

#include <lkl/linux/virtio_net.h>

namespace lkl::net {

using VnetHdr = lkl_virtio_net_hdr_v1;
inline constexpr std::size_t kVnetHdrLen = sizeof(VnetHdr);  // 12: VERSION_1 always has num_buffers
inline constexpr std::size_t kEthHdrLen = 14;
// The longest frame a 1500-byte MTU allows, VLAN tag included: longer ones are GSO (or jumbo).
inline constexpr std::size_t kMaxStdFrame = 1500 + kEthHdrLen + 4;

// The offloads a virtio-net header carries, checksum and segmentation in both directions: what a
// backend that passes headers through untouched (TAP, raw, shm) can offer.
inline constexpr std::uint64_t kHeaderOffloads =
    (1ULL << LKL_VIRTIO_NET_F_CSUM) | (1ULL << LKL_VIRTIO_NET_F_GUEST_CSUM) |
    (1ULL << LKL_VIRTIO_NET_F_HOST_TSO4) | (1ULL << LKL_VIRTIO_NET_F_HOST_TSO6) |
    (1ULL << LKL_VIRTIO_NET_F_HOST_ECN) | (1ULL << LKL_VIRTIO_NET_F_GUEST_TSO4) |
    (1ULL << LKL_VIRTIO_NET_F_GUEST_TSO6) | (1ULL << LKL_VIRTIO_NET_F_GUEST_ECN);

// Whether a header the driver wrote for a frame of frame_len bytes (Ethernet header onwards) is
// one the device may act on: flags, GSO type, offsets within the frame, all within what the
// negotiated features allow.
bool tx_header_valid(const VnetHdr &hdr, std::uint64_t features, std::size_t frame_len) noexcept;

enum class RxVerdict {
  kDeliver,         // as is
  kComplete,        // partial checksum the driver cannot take: complete it, then deliver
  kBadHeader,       // malformed: drop
  kUnsupportedGso,  // a GSO frame the driver did not negotiate: drop
};

// Checks a header a backend delivered with a frame of frame_len bytes, and clears what the driver
// did not negotiate (DATA_VALID without GUEST_CSUM).
RxVerdict rx_header_check(VnetHdr *hdr, std::uint64_t features, std::size_t frame_len) noexcept;

// Completes the partial checksum hdr describes in the frame that starts at byte frame_offset of
// iov: the one's complement sum from csum_start to the end, stored at csum_start + csum_offset.
void complete_checksum(const iovec *iov, int count, std::size_t frame_offset, std::size_t frame_len,
                       const VnetHdr &hdr) noexcept;

}  // namespace lkl::net

#endif  // LKL_LIB_NET_VNET_HDR_H
