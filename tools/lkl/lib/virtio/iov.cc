// See iov.h.
#include "virtio/iov.h"

#include <algorithm>
#include <cstring>

namespace lkl::virtio {
namespace {

// Finds the entry holding byte offset; *skip gets the offset inside it. Returns count if the
// vector is shorter.
int seek(const iovec *iov, int count, std::size_t offset, std::size_t *skip) {
  int i = 0;
  while (i < count && offset >= iov[i].iov_len) offset -= iov[i++].iov_len;
  *skip = offset;
  return i;
}

}  // namespace

std::size_t iov_length(const iovec *iov, int count) noexcept {
  std::size_t len = 0;
  for (int i = 0; i < count; i++) len += iov[i].iov_len;
  return len;
}

std::size_t iov_to_buf(const iovec *iov, int count, std::size_t offset, void *buf,
                       std::size_t len) noexcept {
  std::size_t skip, done = 0;
  for (int i = seek(iov, count, offset, &skip); i < count && done < len; i++, skip = 0) {
    const std::size_t n = std::min(iov[i].iov_len - skip, len - done);
    std::memcpy(static_cast<char *>(buf) + done, static_cast<const char *>(iov[i].iov_base) + skip,
                n);
    done += n;
  }
  return done;
}

std::size_t buf_to_iov(const iovec *iov, int count, std::size_t offset, const void *buf,
                       std::size_t len) noexcept {
  std::size_t skip, done = 0;
  for (int i = seek(iov, count, offset, &skip); i < count && done < len; i++, skip = 0) {
    const std::size_t n = std::min(iov[i].iov_len - skip, len - done);
    std::memcpy(static_cast<char *>(iov[i].iov_base) + skip, static_cast<const char *>(buf) + done,
                n);
    done += n;
  }
  return done;
}

int iov_slice(const iovec *iov, int count, std::size_t offset, std::size_t len, iovec *out,
              int used, int max) noexcept {
  std::size_t skip;
  for (int i = seek(iov, count, offset, &skip); len > 0; i++, skip = 0) {
    if (i >= count || used >= max) return -1;
    const std::size_t n = std::min(iov[i].iov_len - skip, len);
    if (n == 0) continue;
    out[used++] = {static_cast<char *>(iov[i].iov_base) + skip, n};
    len -= n;
  }
  return used;
}

std::uint32_t iov_csum(const iovec *iov, int count, std::size_t offset, std::size_t len,
                       std::uint32_t sum) noexcept {
  // Bytes at even positions of the range are high-order bytes of a word; the range may start and
  // split anywhere, so track the position parity across entries.
  std::uint64_t acc = sum;
  bool odd = false;
  std::size_t skip;
  for (int i = seek(iov, count, offset, &skip); i < count && len > 0; i++, skip = 0) {
    const auto *p = static_cast<const std::uint8_t *>(iov[i].iov_base) + skip;
    std::size_t n = std::min(iov[i].iov_len - skip, len);
    len -= n;
    if (odd && n > 0) {
      acc += *p++;
      n--;
      odd = false;
    }
    for (; n >= 2; n -= 2, p += 2) acc += static_cast<std::uint32_t>(p[0] << 8 | p[1]);
    if (n == 1) {
      acc += static_cast<std::uint32_t>(*p) << 8;
      odd = true;
    }
  }
  while (acc >> 32) acc = (acc & 0xffffffff) + (acc >> 32);
  return static_cast<std::uint32_t>(acc);
}

std::uint16_t csum_fold(std::uint32_t sum) noexcept {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

}  // namespace lkl::virtio
