// Scatter-gather helpers for buffers that span several descriptors: copies at an offset, slices
// that re-map a byte range of one vector into another (zero copy), and the Internet checksum.
#ifndef LKL_LIB_VIRTIO_IOV_H
#define LKL_LIB_VIRTIO_IOV_H

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

namespace lkl::virtio {

std::size_t iov_length(const iovec *iov, int count) noexcept;

// Copy up to len bytes between [offset, ...) of the vector and a flat buffer; return the number
// of bytes copied (short when the vector ends first).
std::size_t iov_to_buf(const iovec *iov, int count, std::size_t offset, void *buf,
                       std::size_t len) noexcept;
std::size_t buf_to_iov(const iovec *iov, int count, std::size_t offset, const void *buf,
                       std::size_t len) noexcept;

// Appends to out (which has room for max entries, count of them used) the entries covering bytes
// [offset, offset + len) of the vector. Returns the new count, or -1 if out is too small or the
// vector shorter than offset + len.
int iov_slice(const iovec *iov, int count, std::size_t offset, std::size_t len, iovec *out,
              int used, int max) noexcept;

// One's complement sum of [offset, offset + len) of the vector as a 16-bit big-endian word
// stream, not yet folded or inverted; start with 0 and chain calls to cover several ranges.
std::uint32_t iov_csum(const iovec *iov, int count, std::size_t offset, std::size_t len,
                       std::uint32_t sum) noexcept;

// Folds a sum from iov_csum into the 16-bit checksum field value (network byte order bytes).
std::uint16_t csum_fold(std::uint32_t sum) noexcept;

}  // namespace lkl::virtio

#endif  // LKL_LIB_VIRTIO_IOV_H
