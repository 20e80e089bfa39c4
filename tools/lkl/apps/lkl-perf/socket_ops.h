// The calls lkl-perf's tests run on: one interface, implemented over the host kernel
// (host_sockets.cc) and over the library kernel (lkl_sockets.cc), so that both are measured
// through the same code. SyscallOps has what the system-call tests (GETPID, PIPE_READ, SLEEP,
// IDLE) need; SocketOps adds the TCP sockets.
#ifndef LKL_PERF_SOCKET_OPS_H
#define LKL_PERF_SOCKET_OPS_H

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

namespace perf {

// A run-time failure (exit code 1).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad command-line arguments (exit code 2).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An IPv4 or IPv6 socket address. The library kernel shares the host's sockaddr layout and
// address family numbers (both are Linux), so one type serves both stacks.
struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;

  // Throws UsageError unless host is a numeric IPv4 or IPv6 address.
  static Endpoint parse(const std::string &host, uint16_t port);
  int family() const { return addr.ss_family; }
  uint16_t port() const;
  std::string str() const;  // "10.0.0.1:5001", "[fd00::1]:5001"
};

enum class SockOpt { kReuseAddr, kNoDelay, kSendBuffer, kReceiveBuffer };

// Plain system calls. Every call returns its result (>= 0) or a negative errno of the kernel
// that ran it; error_text() describes such an errno.
class SyscallOps {
 public:
  virtual ~SyscallOps() = default;

  virtual const char *name() const = 0;  // "host" or "lkl"
  virtual nlohmann::ordered_json describe() const = 0;
  virtual std::string error_text(int err) const = 0;

  virtual long getpid() = 0;
  virtual int pipe(int fds[2]) = 0;  // blocking, close-on-exec
  virtual long read(int fd, void *buf, size_t len) = 0;
  virtual long write(int fd, const void *buf, size_t len) = 0;
  virtual int close(int fd) = 0;
  virtual int nanosleep(std::chrono::nanoseconds duration) = 0;
  // Timer interrupts the kernel has handled since it booted (its /proc/interrupts), or a
  // negative errno: -ENOSYS when the kernel is not this process's own (the host's).
  virtual long long timer_interrupts() = 0;
};

// TCP socket calls, on top of the plain ones.
class SocketOps : public SyscallOps {
 public:
  virtual int socket(int family) = 0;  // a blocking TCP socket
  virtual int bind(int fd, const Endpoint &ep) = 0;
  virtual int listen(int fd, int backlog) = 0;
  virtual int accept(int fd) = 0;
  virtual int connect(int fd, const Endpoint &ep) = 0;
  virtual long send(int fd, const void *buf, size_t len) = 0;  // never raises SIGPIPE
  virtual long recv(int fd, void *buf, size_t len) = 0;
  virtual int shutdown_write(int fd) = 0;
  virtual int local_endpoint(int fd, Endpoint *ep) = 0;
  virtual int set_option(int fd, SockOpt opt, int value) = 0;
  // Limits every blocking send and receive on fd (0: no limit).
  virtual int set_timeout(int fd, std::chrono::milliseconds limit) = 0;
  // 1 if fd is readable (or has a pending connection), 0 after timeout_ms, or a negative errno.
  virtual int wait_readable(int fd, int timeout_ms) = 0;
};

// A socket of one stack, closed when destroyed; failing calls throw Error.
class Socket {
 public:
  Socket(SocketOps &ops, int fd) : ops_(&ops), fd_(fd) {}
  Socket(Socket &&other) noexcept : ops_(other.ops_), fd_(std::exchange(other.fd_, -1)) {}
  Socket &operator=(Socket &&other) noexcept {
    if (this != &other) {
      reset();
      ops_ = other.ops_;
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Socket(const Socket &) = delete;
  Socket &operator=(const Socket &) = delete;
  ~Socket() { reset(); }

  // A new TCP socket of family on ops.
  static Socket open(SocketOps &ops, int family);

  int fd() const { return fd_; }
  SocketOps &ops() const { return *ops_; }

  void reset() {
    if (fd_ >= 0) ops_->close(fd_);
    fd_ = -1;
  }

  // Returns ret, or throws Error("<what>: <error text>") if it is a negative errno.
  long check(long ret, const char *what) const;

  void set_option(SockOpt opt, int value, const char *what) {
    check(ops_->set_option(fd_, opt, value), what);
  }

  // Sends all of buf.
  void send_all(const void *buf, size_t len);

  // Receives exactly len bytes; false on end of stream before the first byte, Error after it.
  bool recv_all(void *buf, size_t len);

  // One receive: the byte count, 0 at end of stream.
  size_t recv_some(void *buf, size_t len) {
    return static_cast<size_t>(check(ops_->recv(fd_, buf, len), "recv"));
  }

 private:
  SocketOps *ops_;
  int fd_;
};

std::unique_ptr<SocketOps> make_host_sockets();

}  // namespace perf

#endif  // LKL_PERF_SOCKET_OPS_H
