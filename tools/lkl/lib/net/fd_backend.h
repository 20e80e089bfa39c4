// A backend on one host descriptor that reads and writes whole frames, header first: TAP and raw
// AF_PACKET. It owns the descriptor.
#ifndef LKL_LIB_NET_FD_BACKEND_H
#define LKL_LIB_NET_FD_BACKEND_H

#include <unistd.h>

#include "heap.h"
#include "net/backend.h"

namespace lkl::net {

class FdBackend : public Backend {
 public:
  FdBackend(int fd, int hdr_len, std::uint64_t features) noexcept
      : fd_(fd), hdr_len_(hdr_len), features_(features) {}
  FdBackend(const FdBackend &) = delete;
  FdBackend &operator=(const FdBackend &) = delete;

  long send(const iovec *iov, int count) noexcept override {
    const ssize_t n = writev(fd_, iov, count);
    return n < 0 ? -errno : n;
  }

  long recv(const iovec *iov, int count) noexcept override {
    const ssize_t n = readv(fd_, iov, count);
    return n < 0 ? -errno : n;
  }

  bool prepare_poll(bool rx, bool tx, pollfd *pfd) noexcept override {
    *pfd = {fd_, static_cast<short>((rx ? POLLIN : 0) | (tx ? POLLOUT : 0)), 0};
    return true;
  }

  int hdr_len() const noexcept override { return hdr_len_; }
  std::uint64_t features() const noexcept override { return features_; }

 protected:
  ~FdBackend() { close(fd_); }
  int fd() const noexcept { return fd_; }

 private:
  const int fd_;
  const int hdr_len_;
  const std::uint64_t features_;
};

}  // namespace lkl::net

#endif  // LKL_LIB_NET_FD_BACKEND_H
