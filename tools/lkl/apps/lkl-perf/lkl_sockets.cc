// SocketOps over the library kernel: boots it (with a virtio-net device if asked), configures
// its network, and maps each call to its lkl_sys_*() wrapper.
#include "lkl_sockets.h"

#include <lkl.h>
#include <lkl/asm/socket.h>
#include <lkl/kernel.hpp>
#include <lkl/netcfg.hpp>

#if __has_include(<lkl/net.hpp>)
#include <lkl/net.hpp>
#define LKL_PERF_HAVE_NETDEV 1
#else
#define LKL_PERF_HAVE_NETDEV 0
#endif

#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

namespace perf {
namespace {

// Both kernels are Linux: the same sockaddr layouts and family numbers.
static_assert(AF_INET == LKL_AF_INET && AF_INET6 == LKL_AF_INET6);
static_assert(sizeof(sockaddr_in) == sizeof(lkl_sockaddr_in));
static_assert(sizeof(sockaddr_in6) == sizeof(lkl_sockaddr_in6));
// main.cc compares the errno of a failed connect with the host's names.
static_assert(ECONNREFUSED == LKL_ECONNREFUSED && EHOSTUNREACH == LKL_EHOSTUNREACH &&
              ENETUNREACH == LKL_ENETUNREACH && ETIMEDOUT == LKL_ETIMEDOUT &&
              EINPROGRESS == LKL_EINPROGRESS);

// The longest link name lkl_netdev_shm_create() takes (see <lkl/netdev.h>).
constexpr size_t kMaxShmName = 90;

int result(long ret) { return static_cast<int>(ret); }

unsigned int ufd(int fd) { return static_cast<unsigned int>(fd); }

lkl_sockaddr *lkl_addr(const Endpoint &ep) {
  return reinterpret_cast<lkl_sockaddr *>(const_cast<sockaddr_storage *>(&ep.addr));
}

// The whole of a small file of the library kernel's pseudo file system fstype ("proc" on /proc,
// "sysfs" on /sysfs; mounted on first use), or nullopt if it cannot be read.
std::optional<std::string> read_pseudo(const char *fstype, const std::string &path) {
  if (lkl_mount_fs(fstype) < 0) return std::nullopt;
  const long fd = lkl_sys_openat(LKL_AT_FDCWD, path.c_str(), LKL_O_RDONLY | LKL_O_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  std::string text;
  char buf[4096];
  for (int chunk = 0; chunk < 256; chunk++) {  // at most 1 MiB
    const long n = lkl_sys_read(ufd(static_cast<int>(fd)), buf, sizeof(buf));
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  lkl_sys_close(ufd(static_cast<int>(fd)));
  return text;
}

std::string read_proc(const char *path) { return read_pseudo("proc", path).value_or(""); }

// What the kernel shows of the boot parameters "KEY=VALUE" of --lkl-boot-param: {KEY: the value
// in /sys/module/<module>/parameters/<name> for a KEY "<module>.<name>", or null when there is
// none (a parameter the kernel does not know, or no module parameter).
nlohmann::ordered_json boot_params_seen(const std::vector<std::string> &params) {
  nlohmann::ordered_json seen = nlohmann::ordered_json::object();
  for (const auto &param : params) {
    const std::string key = param.substr(0, param.find('='));
    const size_t dot = key.find('.');
    std::optional<std::string> value;
    if (dot != std::string::npos && dot > 0 && dot + 1 < key.size() &&
        key.find('/') == std::string::npos)
      value = read_pseudo(
          "sysfs", "/sysfs/module/" + key.substr(0, dot) + "/parameters/" + key.substr(dot + 1));
    if (value) {
      while (!value->empty() && value->back() == '\n') value->pop_back();
      seen[key] = *value;
    } else {
      seen[key] = nullptr;
    }
  }
  return seen;
}

// Fields of a /proc/<pid>/task/<tid>/status file: {"Name": ..., "Cpus_allowed_list": ...}.
std::map<std::string, std::string> thread_status(const std::string &path) {
  std::map<std::string, std::string> fields;
  std::ifstream status(path);
  std::string line;
  while (std::getline(status, line)) {
    const size_t colon = line.find(':');
    const size_t value = line.find_first_not_of(" \t", colon + 1);
    if (colon != std::string::npos && value != std::string::npos)
      fields[line.substr(0, colon)] = line.substr(value);
  }
  return fields;
}

// The host threads of this process other than the caller (the library's own, when the caller
// is the only application thread), by the CPUs each may run on and by name: {"count",
// "cpus_allowed": {list: threads}, "names": {name: threads}}. How --lkl-pin shows from the
// host's side.
nlohmann::ordered_json other_threads() {
  const std::string self = std::to_string(gettid());
  std::map<std::string, int> cpus, names;
  int count = 0;
  std::unique_ptr<DIR, int (*)(DIR *)> dir(opendir("/proc/self/task"), closedir);
  for (dirent *e = dir ? readdir(dir.get()) : nullptr; e; e = readdir(dir.get())) {
    const std::string tid = e->d_name;
    if (tid == "." || tid == ".." || tid == self) continue;
    auto status = thread_status("/proc/self/task/" + tid + "/status");
    if (status["Cpus_allowed_list"].empty()) continue;  // exited meanwhile
    count++;
    cpus[status["Cpus_allowed_list"]]++;
    names[status["Name"]]++;
  }
  return {{"count", count}, {"cpus_allowed", cpus}, {"names", names}};
}

// Lines of the kernel log about the syscall mode and the pinning (what the kernel says it did
// with lkl.syscall= and lkl.pin_cpu=), without the echo of the command line.
std::vector<std::string> kernel_notes() {
  std::vector<char> log(1 << 16);
  const long n =
      lkl_sys_syslog(3 /* SYSLOG_ACTION_READ_ALL */, log.data(), static_cast<int>(log.size()));
  std::vector<std::string> notes;
  if (n <= 0) return notes;
  std::istringstream lines(std::string(log.data(), static_cast<size_t>(n)));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("command line") != std::string::npos) continue;
    for (const char *word : {"lkl.syscall", "lkl.pin_cpu", "syscall mode", "pinned", "pinning"}) {
      if (line.find(word) != std::string::npos) {
        notes.push_back(line);
        break;
      }
    }
  }
  return notes;
}

#if LKL_PERF_HAVE_NETDEV
unsigned parse_offload(const std::string &text) {
  if (text == "all") return lkl::kOffloadAll;
  if (text == "none") return 0;
  char *end = nullptr;
  errno = 0;
  const unsigned long mask = std::strtoul(text.c_str(), &end, 0);
  if (text.empty() || *end || errno || mask > 0xffffffffUL)
    throw UsageError("--lkl-offload: expected all, none or a bit mask, got \"" + text + "\"");
  return static_cast<unsigned>(mask);
}
#endif

class LklSockets final : public SocketOps {
 public:
  explicit LklSockets(const LklConfig &config) : config_(config) {
    std::string kind, ifname;  // ifname: the interface, or the name of the shm link
    if (!config.netdev.empty() && config.netdev != "loopback") {
      const auto colon = config.netdev.find(':');
      kind = config.netdev.substr(0, colon);
      if (colon == std::string::npos || (kind != "tap" && kind != "raw" && kind != "shm"))
        throw UsageError(
            "--lkl-netdev: expected loopback, tap:<ifname>, raw:<ifname> or shm:<name>, got \"" +
            config.netdev + "\"");
      ifname = config.netdev.substr(colon + 1);
      if (ifname.empty())
        throw UsageError(
            "--lkl-netdev: \"" + config.netdev + "\" names no " +
            (kind == "shm" ? "link (shm:<name>)" : "interface (" + kind + ":<ifname>)"));
      if (kind == "shm" && ifname.size() > kMaxShmName)
        throw UsageError("--lkl-netdev: the shm link name is longer than " +
                         std::to_string(kMaxShmName) + " bytes");
    } else if (!config.addresses.empty() || !config.gateway.empty()) {
      throw UsageError("--lkl-ip and --lkl-gateway need a device (--lkl-netdev)");
    }
    std::vector<lkl::IpPrefix> prefixes;
    try {
      for (const auto &a : config.addresses) prefixes.push_back(lkl::IpPrefix::parse(a));
      if (!config.gateway.empty()) gateway_ = lkl::IpAddress::parse(config.gateway);
    } catch (const lkl::Error &e) {
      throw UsageError(e.what());
    }

    if (!kind.empty()) {
#if LKL_PERF_HAVE_NETDEV
      const unsigned offload = parse_offload(config.offload);
      try {
        // shm: blocks until the peer process joins the link (up to 30 s).
        backend_.emplace(kind == "tap"   ? lkl::NetBackend::tap(ifname, offload)
                         : kind == "shm" ? lkl::NetBackend::shm(ifname, offload)
                                         : lkl::NetBackend::raw(ifname));
        lkl::NetDeviceOptions options;
        options.offload = offload;
        options.busy_poll_us = config.busy_poll_us;
        device_.emplace(*backend_, options);
      } catch (const lkl::Error &e) {
        std::string what = config.netdev + ": " + e.what();
        if (kind == "shm" && e.err() == ETIMEDOUT)
          what += " (no other process joined the link within 30 s)";
        throw Error(what);
      }
#else
      throw UsageError("--lkl-netdev " + config.netdev +
                       ": this build of lkl-perf has no network devices (only loopback)");
#endif
    }

    try {
      kernel_.emplace(config.boot_cmdline());
      lkl::Interface::named("lo").up();
#if LKL_PERF_HAVE_NETDEV
      if (device_) {
        lkl::Interface dev(device_->ifindex());
        dev.up();
        for (const auto &p : prefixes) dev.set_address(p);
        for (const auto &p : prefixes)
          if (p.addr.family() == LKL_AF_INET6) dev.wait_dad(p.addr);
        if (gateway_) lkl::set_gateway(*gateway_);
      }
#endif
      // The interface whose features are switched and reported: the device, else lo.
      lkl::Interface features_of = lkl::Interface::named("lo");
#if LKL_PERF_HAVE_NETDEV
      if (device_) features_of = lkl::Interface(device_->ifindex());
#endif
      for (const auto &[feature, on] : config.features) features_of.set_feature(feature, on);
      for (const char *feature : kFeatureNames)
        features_[feature] = lkl_if_get_feature(features_of.index(), feature) == 1;
      for (const auto &[key, value] : config.sysctls) lkl::sysctl(key, value);
    } catch (const lkl::Error &e) {
      throw Error(std::string("library kernel: ") + e.what());
    }
  }

  const char *name() const override { return "lkl"; }

  nlohmann::ordered_json describe() const override {
    lkl_new_utsname uts{};
    lkl_sys_uname(&uts);
    nlohmann::ordered_json d = {{"stack", "lkl"},
                                {"kernel", std::string(uts.sysname) + " " + uts.release},
                                {"cmdline", config_.boot_cmdline()},
                                {"netdev", config_.netdev.empty() ? "loopback" : config_.netdev}};
    // What was asked for (null: the kernel's default), and what the host and the kernel show.
    d["syscall_mode"] = config_.syscall_mode.empty() ? nlohmann::ordered_json()
                                                     : nlohmann::ordered_json(config_.syscall_mode);
    d["pin_cpu"] = config_.pin_cpu.empty() ? nlohmann::ordered_json()
                                           : nlohmann::ordered_json(config_.pin_cpu);
    d["observed"] = {
        {"caller_cpus_allowed", thread_status("/proc/thread-self/status")["Cpus_allowed_list"]},
        {"other_threads", other_threads()},
        {"kernel_notes", kernel_notes()}};
    if (!config_.boot_params.empty()) {
      d["boot_params"] = config_.boot_params;
      d["observed"]["boot_params"] = boot_params_seen(config_.boot_params);
    }
    if (!config_.netdev.empty() && config_.netdev != "loopback") {
      d["offload"] = config_.offload;
      d["busy_poll_us"] = config_.busy_poll_us;
    }
    // The features in effect (lkl_if_get_feature()), after --lkl-features.
    if (!config_.features.empty() || (!config_.netdev.empty() && config_.netdev != "loopback"))
      d["features"] = features_;
    return d;
  }

  std::string error_text(int err) const override { return lkl_strerror(err); }

  long getpid() override { return lkl_sys_getpid(); }

  int pipe(int fds[2]) override { return result(lkl_sys_pipe2(fds, LKL_O_CLOEXEC)); }

  long read(int fd, void *buf, size_t len) override {
    return lkl_sys_read(ufd(fd), static_cast<char *>(buf), len);
  }

  long write(int fd, const void *buf, size_t len) override {
    return lkl_sys_write(ufd(fd), static_cast<const char *>(buf), len);
  }

  int nanosleep(std::chrono::nanoseconds duration) override {
    __lkl__kernel_timespec ts = {duration.count() / 1000000000, duration.count() % 1000000000};
    return result(lkl_sys_nanosleep(&ts, nullptr));
  }

  // The "timer" line of /proc/interrupts: "  1:        104     dummy      timer".
  long long timer_interrupts() override {
    std::istringstream lines(read_proc("/proc/interrupts"));
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream words(line);
      std::string irq, word, last;
      long long count = 0;
      bool counting = true;
      words >> irq;
      while (words >> word) {
        char *end = nullptr;
        const long long v = std::strtoll(word.c_str(), &end, 10);
        if (counting && end && !*end)
          count += v;  // one column per CPU
        else
          counting = false;
        last = word;
      }
      if (!irq.empty() && irq.back() == ':' && last == "timer") return count;
    }
    return -LKL_ENOENT;
  }

  int socket(int family) override {
    return result(lkl_sys_socket(family, LKL_SOCK_STREAM | LKL_SOCK_CLOEXEC, 0));
  }

  int bind(int fd, const Endpoint &ep) override {
    return result(lkl_sys_bind(fd, lkl_addr(ep), static_cast<int>(ep.len)));
  }

  int listen(int fd, int backlog) override { return result(lkl_sys_listen(fd, backlog)); }

  int accept(int fd) override {
    return result(lkl_sys_accept4(fd, nullptr, nullptr, LKL_SOCK_CLOEXEC));
  }

  int connect(int fd, const Endpoint &ep) override {
    return result(lkl_sys_connect(fd, lkl_addr(ep), static_cast<int>(ep.len)));
  }

  long send(int fd, const void *buf, size_t len) override {
    return lkl_sys_sendto(fd, const_cast<void *>(buf), len, LKL_MSG_NOSIGNAL, nullptr, 0);
  }

  long recv(int fd, void *buf, size_t len) override {
    return lkl_sys_recvfrom(fd, buf, len, 0, nullptr, nullptr);
  }

  int shutdown_write(int fd) override { return result(lkl_sys_shutdown(fd, LKL_SHUT_WR)); }

  int close(int fd) override { return result(lkl_sys_close(ufd(fd))); }

  int local_endpoint(int fd, Endpoint *ep) override {
    int len = sizeof(ep->addr);
    const long ret = lkl_sys_getsockname(fd, reinterpret_cast<lkl_sockaddr *>(&ep->addr), &len);
    ep->len = static_cast<socklen_t>(len);
    return result(ret);
  }

  int set_option(int fd, SockOpt opt, int value) override {
    auto set = [&](int level, int name) {
      return result(
          lkl_sys_setsockopt(fd, level, name, reinterpret_cast<char *>(&value), sizeof(value)));
    };
    switch (opt) {
      case SockOpt::kReuseAddr:
        return set(LKL_SOL_SOCKET, LKL_SO_REUSEADDR);
      case SockOpt::kNoDelay:
        return set(LKL_SOL_TCP, LKL_TCP_NODELAY);
      case SockOpt::kSendBuffer:
        return set(LKL_SOL_SOCKET, LKL_SO_SNDBUF);
      case SockOpt::kReceiveBuffer:
        return set(LKL_SOL_SOCKET, LKL_SO_RCVBUF);
    }
    return -LKL_EINVAL;
  }

  int set_timeout(int fd, std::chrono::milliseconds limit) override {
    __lkl__kernel_sock_timeval tv{};
    tv.tv_sec = limit.count() / 1000;
    tv.tv_usec = limit.count() % 1000 * 1000;
    for (int name : {LKL_SO_RCVTIMEO_NEW, LKL_SO_SNDTIMEO_NEW}) {
      const long ret =
          lkl_sys_setsockopt(fd, LKL_SOL_SOCKET, name, reinterpret_cast<char *>(&tv), sizeof(tv));
      if (ret < 0) return result(ret);
    }
    return 0;
  }

  int wait_readable(int fd, int timeout_ms) override {
    lkl_pollfd pfd = {fd, LKL_POLLIN, 0};
    return result(lkl_sys_poll(&pfd, 1, timeout_ms));
  }

 private:
  LklConfig config_;
  nlohmann::ordered_json features_ = nlohmann::ordered_json::object();
  std::optional<lkl::IpAddress> gateway_;
#if LKL_PERF_HAVE_NETDEV
  // Outlive the kernel: removed and freed after it halts.
  std::optional<lkl::NetBackend> backend_;
  std::optional<lkl::NetDevice> device_;
#endif
  std::optional<lkl::Kernel> kernel_;
};

}  // namespace

std::string LklConfig::boot_cmdline() const {
  std::string line = cmdline;
  if (!syscall_mode.empty()) line += " lkl.syscall=" + syscall_mode;
  if (!pin_cpu.empty()) line += " lkl.pin_cpu=" + pin_cpu;
  for (const auto &param : boot_params) line += " " + param;
  return line;
}

bool lkl_has_netdevs() { return LKL_PERF_HAVE_NETDEV != 0; }

std::unique_ptr<SocketOps> make_lkl_sockets(const LklConfig &config) {
  return std::make_unique<LklSockets>(config);
}

}  // namespace perf
