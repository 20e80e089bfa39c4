// SPDX-License-Identifier: GPL-2.0
//
// Helpers for the network device tests: shell commands, a private network namespace, interface
// configuration with plain ioctls, host and library socket addresses, timed and checksummed byte
// streams, counter deltas.
#ifndef LKL_TESTS_NETDEV_UTIL_HPP
#define LKL_TESTS_NETDEV_UTIL_HPP

#include "test_util.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

namespace lkl_test {

inline uint32_t Ip4(const std::string &text) {
  in_addr a{};
  inet_pton(AF_INET, text.c_str(), &a);
  return a.s_addr;
}

inline long IfIoctl(unsigned cmd, lkl_ifreq *ifr) {
  const long sock = lkl_sys_socket(LKL_AF_INET, LKL_SOCK_DGRAM, 0);
  if (sock < 0) return sock;
  const long ret =
      lkl_sys_ioctl(static_cast<unsigned>(sock), cmd, reinterpret_cast<unsigned long>(ifr));
  lkl_sys_close(static_cast<unsigned>(sock));
  return ret;
}

// The interface's name, or empty if the kernel has no interface ifindex.
inline std::string IfName(int ifindex) {
  lkl_ifreq ifr{};
  ifr.lkl_ifr_ifindex = ifindex;
  if (IfIoctl(LKL_SIOCGIFNAME, &ifr) < 0) return {};
  return ifr.lkl_ifr_name;
}

// Address, netmask and IFF_UP on the library's side, with the plain ioctls.
inline long ConfigureLkl(const std::string &ifname, const std::string &ip, int prefix) {
  lkl_ifreq ifr{};
  std::strncpy(ifr.lkl_ifr_name, ifname.c_str(), sizeof(ifr.lkl_ifr_name) - 1);
  auto *sin = reinterpret_cast<lkl_sockaddr_in *>(&ifr.lkl_ifr_addr);
  sin->sin_family = LKL_AF_INET;
  sin->sin_addr.s_addr = Ip4(ip);
  long ret = IfIoctl(LKL_SIOCSIFADDR, &ifr);
  if (ret < 0) return ret;
  sin->sin_addr.s_addr = htonl(~0U << (32 - prefix));
  ret = IfIoctl(LKL_SIOCSIFNETMASK, &ifr);
  if (ret < 0) return ret;
  ret = IfIoctl(LKL_SIOCGIFFLAGS, &ifr);
  if (ret < 0) return ret;
  ifr.lkl_ifr_flags |= LKL_IFF_UP;
  return IfIoctl(LKL_SIOCSIFFLAGS, &ifr);
}

// Host socket helpers (host kernel, in our namespace).
class HostFd {
 public:
  explicit HostFd(int fd = -1) : fd_(fd) {}
  ~HostFd() {
    if (fd_ >= 0) close(fd_);
  }
  HostFd(const HostFd &) = delete;
  HostFd &operator=(const HostFd &) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

inline sockaddr_in HostAddr(const std::string &ip, uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = Ip4(ip);
  return sin;
}

inline lkl_sockaddr_in LklAddr(const std::string &ip, uint16_t port) {
  lkl_sockaddr_in sin{};
  sin.sin_family = LKL_AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = Ip4(ip);
  return sin;
}

inline constexpr size_t kChunk = 64 * 1024;

struct StreamResult {
  long error = 0;  // first failing call, negative errno
  size_t bytes = 0;
  uint64_t checksum = 0;
  double seconds = 0;
};

// Sends len bytes of ByteStream(seed) through write_fn, timing it.
template <typename WriteFn>
StreamResult SendStream(uint64_t seed, size_t len, WriteFn write_fn) {
  StreamResult r;
  ByteStream stream(seed);
  Checksum sum;
  std::vector<unsigned char> buf(kChunk);
  const auto start = Clock::now();
  while (r.bytes < len) {
    const size_t n = std::min(kChunk, len - r.bytes);
    stream.Fill(buf.data(), n);
    sum.Update(buf.data(), n);
    for (size_t done = 0; done < n;) {
      const long w = write_fn(buf.data() + done, n - done);
      if (w <= 0) {
        r.error = w < 0 ? w : -EPIPE;
        return r;
      }
      done += static_cast<size_t>(w);
    }
    r.bytes += n;
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.checksum = sum.value();
  return r;
}

// Reads until EOF (or len bytes) through read_fn, timing from the first byte.
template <typename ReadFn>
StreamResult ReceiveStream(size_t len, ReadFn read_fn) {
  StreamResult r;
  Checksum sum;
  std::vector<unsigned char> buf(kChunk);
  std::optional<Clock::time_point> start;
  while (r.bytes < len) {
    const long n = read_fn(buf.data(), std::min(kChunk, len - r.bytes));
    if (n < 0) {
      r.error = n;
      break;
    }
    if (n == 0) break;
    if (!start) start = Clock::now();
    sum.Update(buf.data(), static_cast<size_t>(n));
    r.bytes += static_cast<size_t>(n);
  }
  if (start) r.seconds = std::chrono::duration<double>(Clock::now() - *start).count();
  r.checksum = sum.value();
  return r;
}

inline uint64_t ExpectedChecksum(uint64_t seed, size_t len) {
  ByteStream stream(seed);
  Checksum sum;
  std::vector<unsigned char> buf(kChunk);
  for (size_t done = 0; done < len;) {
    const size_t n = std::min(kChunk, len - done);
    stream.Fill(buf.data(), n);
    sum.Update(buf.data(), n);
    done += n;
  }
  return sum.value();
}

inline double Mbps(const StreamResult &r) {
  return r.seconds > 0 ? r.bytes * 8 / r.seconds / 1e6 : 0;
}

// Runs a shell command; its output goes to *out (if given), the exit status is returned.
inline int Shell(const std::string &cmd, std::string *out = nullptr) {
  FILE *p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[512];
  std::string text;
  while (std::fgets(buf, sizeof(buf), p)) text += buf;
  const int status = pclose(p);
  if (out) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#define ASSERT_SHELL(cmd)                                                  \
  do {                                                                     \
    std::string out_;                                                      \
    ASSERT_EQ(::lkl_test::Shell(cmd, &out_), 0) << (cmd) << ":\n" << out_; \
  } while (0)

// A network namespace for this process: created with `ip netns add lkltest-<pid>`, entered by the
// main thread before any other thread exists (threads and child processes created later inherit
// it), and its name removed at once. The namespace then lives exactly as long as the process,
// TAP devices included, whatever way the process ends.
class PrivateNetns {
 public:
  // Empty on success, otherwise what failed.
  std::string Enter() {
    const std::string name = "lkltest-" + std::to_string(getpid());
    std::string out;
    if (Shell("ip netns add " + name, &out) != 0) return "ip netns add: " + out;
    const int fd = open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    const int ret = fd >= 0 ? setns(fd, CLONE_NEWNET) : -1;
    const int err = errno;
    if (fd >= 0) close(fd);
    Shell("ip netns del " + name);
    if (ret != 0) return std::string("setns: ") + std::strerror(err);
    if (Shell("ip link set lo up", &out) != 0) return "lo up: " + out;
    return {};
  }
};

// Counters accumulated between two snapshots.
inline lkl_netdev_stats Delta(const lkl_netdev_stats &after, const lkl_netdev_stats &before) {
  constexpr size_t kFields = sizeof(lkl_netdev_stats) / sizeof(unsigned long long);
  static_assert(kFields * sizeof(unsigned long long) == sizeof(lkl_netdev_stats));
  unsigned long long a[kFields], b[kFields];
  std::memcpy(a, &after, sizeof(a));
  std::memcpy(b, &before, sizeof(b));
  for (size_t i = 0; i < kFields; i++) a[i] -= b[i];
  lkl_netdev_stats d;
  std::memcpy(&d, a, sizeof(d));
  return d;
}

}  // namespace lkl_test

#endif  // LKL_TESTS_NETDEV_UTIL_HPP
