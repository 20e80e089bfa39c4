// SocketOps over the host kernel's sockets.
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "socket_ops.h"

namespace perf {
namespace {

int result(long ret) { return ret < 0 ? -errno : static_cast<int>(ret); }

class HostSockets final : public SocketOps {
 public:
  const char *name() const override { return "host"; }

  nlohmann::ordered_json describe() const override {
    utsname uts{};
    uname(&uts);
    return {{"stack", "host"}, {"kernel", std::string(uts.sysname) + " " + uts.release}};
  }

  std::string error_text(int err) const override { return std::strerror(err); }

  // syscall(): glibc no longer caches the pid, but say so in the code rather than trust it.
  long getpid() override { return result(::syscall(SYS_getpid)); }

  int pipe(int fds[2]) override { return result(::pipe2(fds, O_CLOEXEC)); }

  long read(int fd, void *buf, size_t len) override {
    const ssize_t n = ::read(fd, buf, len);
    return n < 0 ? -errno : n;
  }

  long write(int fd, const void *buf, size_t len) override {
    const ssize_t n = ::write(fd, buf, len);
    return n < 0 ? -errno : n;
  }

  int nanosleep(std::chrono::nanoseconds duration) override {
    const timespec ts = {static_cast<time_t>(duration.count() / 1000000000),
                         static_cast<long>(duration.count() % 1000000000)};
    return result(::nanosleep(&ts, nullptr));
  }

  // The host's count is the whole machine's, not this process's: no comparable figure.
  long long timer_interrupts() override { return -ENOSYS; }

  int socket(int family) override {
    return result(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  }

  int bind(int fd, const Endpoint &ep) override {
    return result(::bind(fd, reinterpret_cast<const sockaddr *>(&ep.addr), ep.len));
  }

  int listen(int fd, int backlog) override { return result(::listen(fd, backlog)); }

  int accept(int fd) override { return result(::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC)); }

  int connect(int fd, const Endpoint &ep) override {
    return result(::connect(fd, reinterpret_cast<const sockaddr *>(&ep.addr), ep.len));
  }

  long send(int fd, const void *buf, size_t len) override {
    const ssize_t n = ::send(fd, buf, len, MSG_NOSIGNAL);
    return n < 0 ? -errno : n;
  }

  long recv(int fd, void *buf, size_t len) override {
    const ssize_t n = ::recv(fd, buf, len, 0);
    return n < 0 ? -errno : n;
  }

  int shutdown_write(int fd) override { return result(::shutdown(fd, SHUT_WR)); }

  int close(int fd) override { return result(::close(fd)); }

  int local_endpoint(int fd, Endpoint *ep) override {
    ep->len = sizeof(ep->addr);
    return result(::getsockname(fd, reinterpret_cast<sockaddr *>(&ep->addr), &ep->len));
  }

  int set_option(int fd, SockOpt opt, int value) override {
    switch (opt) {
      case SockOpt::kReuseAddr:
        return result(::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &value, sizeof(value)));
      case SockOpt::kNoDelay:
        return result(::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, sizeof(value)));
      case SockOpt::kSendBuffer:
        return result(::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &value, sizeof(value)));
      case SockOpt::kReceiveBuffer:
        return result(::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &value, sizeof(value)));
    }
    return -EINVAL;
  }

  int set_timeout(int fd, std::chrono::milliseconds limit) override {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(limit.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>(limit.count() % 1000 * 1000);
    int ret = ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (ret == 0) ret = ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return result(ret);
  }

  int wait_readable(int fd, int timeout_ms) override {
    pollfd pfd = {fd, POLLIN, 0};
    return result(::poll(&pfd, 1, timeout_ms));
  }
};

}  // namespace

std::unique_ptr<SocketOps> make_host_sockets() { return std::make_unique<HostSockets>(); }

}  // namespace perf
