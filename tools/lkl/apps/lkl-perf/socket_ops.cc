// What both socket implementations share: addresses and the loops over partial sends/receives.
#include "socket_ops.h"

#include <arpa/inet.h>

#include <cstring>

namespace perf {

Endpoint Endpoint::parse(const std::string &host, uint16_t port) {
  Endpoint ep;
  auto *sin = reinterpret_cast<sockaddr_in *>(&ep.addr);
  auto *sin6 = reinterpret_cast<sockaddr_in6 *>(&ep.addr);
  if (inet_pton(AF_INET, host.c_str(), &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    ep.len = sizeof(*sin);
  } else if (inet_pton(AF_INET6, host.c_str(), &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    ep.len = sizeof(*sin6);
  } else {
    throw UsageError("not a numeric IPv4 or IPv6 address: \"" + host + "\"");
  }
  return ep;
}

uint16_t Endpoint::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in *>(&addr)->sin_port);
  return ntohs(reinterpret_cast<const sockaddr_in6 *>(&addr)->sin6_port);
}

std::string Endpoint::str() const {
  char text[INET6_ADDRSTRLEN] = "?";
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in *>(&addr)->sin_addr, text, sizeof(text));
    return std::string(text) + ":" + std::to_string(port());
  }
  inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6 *>(&addr)->sin6_addr, text,
            sizeof(text));
  return "[" + std::string(text) + "]:" + std::to_string(port());
}

Socket Socket::open(SocketOps &ops, int family) {
  const int fd = ops.socket(family);
  if (fd < 0) throw Error(std::string(ops.name()) + " socket: " + ops.error_text(-fd));
  return Socket(ops, fd);
}

long Socket::check(long ret, const char *what) const {
  if (ret < 0)
    throw Error(std::string(ops_->name()) + " " + what + ": " +
                ops_->error_text(static_cast<int>(-ret)));
  return ret;
}

void Socket::send_all(const void *buf, size_t len) {
  const auto *p = static_cast<const char *>(buf);
  while (len > 0) {
    const long n = check(ops_->send(fd_, p, len), "send");
    if (n == 0) throw Error(std::string(ops_->name()) + " send: wrote nothing");
    p += n;
    len -= static_cast<size_t>(n);
  }
}

bool Socket::recv_all(void *buf, size_t len) {
  auto *p = static_cast<char *>(buf);
  size_t done = 0;
  while (done < len) {
    const long n = check(ops_->recv(fd_, p + done, len - done), "recv");
    if (n == 0) {
      if (done == 0) return false;
      throw Error(std::string(ops_->name()) + " recv: connection closed after " +
                  std::to_string(done) + " of " + std::to_string(len) + " bytes");
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace perf
