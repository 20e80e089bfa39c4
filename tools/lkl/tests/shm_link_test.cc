// SPDX-License-Identifier: GPL-2.0
//
// Two library instances in two processes, connected by the shared-memory link: a 1 GiB TCP
// transfer one way and 64 MiB back, both checked, then request/response round trips. The link
// needs no privileges (memfd, eventfd, an abstract Unix socket), so this runs as any user.
#include "netdev_util.hpp"

#include <lkl/net.hpp>

#include <netinet/tcp.h>

#include <algorithm>
#include <map>
#include <sstream>

namespace {

using namespace lkl_test;

constexpr size_t kBytes = size_t{1} << 30;
constexpr size_t kBackBytes = 64 << 20;
constexpr int kRoundTrips = 20000;
constexpr uint16_t kPort = 5001;

std::string SideIp(int side) { return "10.98.0." + std::to_string(side + 1); }

// Prints "RESULT <key> <value>" for the parent to collect.
void Report(const char *key, double value) {
  std::printf("RESULT %s %.3f\n", key, value);
  std::fflush(stdout);
}

long NoDelay(int fd) {
  int one = 1;
  return lkl_sys_setsockopt(fd, LKL_IPPROTO_TCP, LKL_TCP_NODELAY, reinterpret_cast<char *>(&one),
                            sizeof(one));
}

long LklRead(int fd, unsigned char *p, size_t n) {
  return lkl_sys_read(static_cast<unsigned>(fd), reinterpret_cast<char *>(p), n);
}
long LklWrite(int fd, const unsigned char *p, size_t n) {
  return lkl_sys_write(static_cast<unsigned>(fd), reinterpret_cast<const char *>(p), n);
}

// Side 0 listens, side 1 connects. Returns the process exit code.
int RunSide(const std::string &link, int side, unsigned busy_poll_us) {
  try {
    lkl::NetBackend backend = lkl::NetBackend::shm(link, lkl::kOffloadAll);
    const std::array<unsigned char, 6> mac = {0x02, 0, 0,
                                              0x98, 0, static_cast<unsigned char>(side)};
    // Devices must go before the kernel's memory does (lkl::Kernel's destructor): hence optional.
    std::optional<lkl::NetDevice> device;
    device.emplace(backend, lkl::NetDeviceOptions{mac, lkl::kOffloadAll, 0, busy_poll_us});
    lkl::Kernel kernel("mem=256M loglevel=4");
    const std::string ifname = IfName(device->ifindex());
    lkl::check(ConfigureLkl(ifname, SideIp(side), 24), "configure");

    lkl::Fd sock(
        static_cast<int>(lkl::check(lkl_sys_socket(LKL_AF_INET, LKL_SOCK_STREAM, 0), "socket")));
    lkl::Fd conn;
    if (side == 0) {
      lkl_sockaddr_in addr = LklAddr(SideIp(0), kPort);
      lkl::check(lkl_sys_bind(sock.get(), reinterpret_cast<lkl_sockaddr *>(&addr), sizeof(addr)),
                 "bind");
      lkl::check(lkl_sys_listen(sock.get(), 1), "listen");
      conn.reset(
          static_cast<int>(lkl::check(lkl_sys_accept4(sock.get(), nullptr, nullptr, 0), "accept")));
    } else {
      lkl_sockaddr_in addr = LklAddr(SideIp(0), kPort);
      const auto deadline = Clock::now() + 20s;
      long ret;
      while ((ret = lkl_sys_connect(sock.get(), reinterpret_cast<lkl_sockaddr *>(&addr),
                                    sizeof(addr))) == -LKL_ECONNREFUSED &&
             Clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
        sock.reset(static_cast<int>(
            lkl::check(lkl_sys_socket(LKL_AF_INET, LKL_SOCK_STREAM, 0), "socket")));
      }
      lkl::check(ret, "connect");
      conn = std::move(sock);
    }
    const int fd = conn.get();
    auto rd = [fd](unsigned char *p, size_t n) { return LklRead(fd, p, n); };
    auto wr = [fd](const unsigned char *p, size_t n) { return LklWrite(fd, p, n); };

    // Bulk: side 1 -> side 0, then back.
    if (side == 1) {
      lkl::check(SendStream(1, kBytes, wr).error, "send");
      const StreamResult back = ReceiveStream(kBackBytes, rd);
      lkl::check(back.error, "receive back");
      if (back.bytes != kBackBytes || back.checksum != ExpectedChecksum(2, kBackBytes))
        throw lkl::Error(EBADMSG, "data coming back differ");
      Report("back_mbps", Mbps(back));
    } else {
      const StreamResult got = ReceiveStream(kBytes, rd);
      lkl::check(got.error, "receive");
      if (got.bytes != kBytes || got.checksum != ExpectedChecksum(1, kBytes))
        throw lkl::Error(EBADMSG, "data received differ");
      Report("bulk_mbps", Mbps(got));
      lkl::check(SendStream(2, kBackBytes, wr).error, "send back");
    }

    // Request/response: one byte each way.
    lkl::check(NoDelay(fd), "TCP_NODELAY");
    unsigned char byte = 0;
    std::vector<double> rtt_us;
    rtt_us.reserve(kRoundTrips);
    for (int i = 0; i < kRoundTrips; i++) {
      if (side == 1) {
        const auto start = Clock::now();
        byte = static_cast<unsigned char>(i);
        if (LklWrite(fd, &byte, 1) != 1 || LklRead(fd, &byte, 1) != 1 ||
            byte != static_cast<unsigned char>(i + 1))
          throw lkl::Error(EBADMSG, "round trip " + std::to_string(i));
        rtt_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
      } else {
        if (LklRead(fd, &byte, 1) != 1) throw lkl::Error(EBADMSG, "request " + std::to_string(i));
        byte++;
        if (LklWrite(fd, &byte, 1) != 1) throw lkl::Error(EPIPE, "response");
      }
    }
    if (side == 1) {
      std::sort(rtt_us.begin(), rtt_us.end());
      double sum = 0;
      for (double v : rtt_us) sum += v;
      Report("rr_mean_us", sum / rtt_us.size());
      Report("rr_p50_us", rtt_us[rtt_us.size() / 2]);
      Report("rr_p99_us", rtt_us[rtt_us.size() * 99 / 100]);
    }
    const lkl_netdev_stats s = device->stats();
    if (s.bad_chains || s.rx_dropped || s.tx_dropped)
      throw lkl::Error(EPROTO, "device dropped frames: bad chains " + std::to_string(s.bad_chains) +
                                   ", rx " + std::to_string(s.rx_dropped) + ", tx " +
                                   std::to_string(s.tx_dropped));
    Report("tx_deferred", static_cast<double>(s.tx_deferred));
    conn.reset();
    device.reset();
    return 0;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "side %d: %s\n", side, e.what());
    return 1;
  }
}

struct Child {
  pid_t pid = -1;
  int out = -1;
  std::string output;
  int status = -1;
};

Child Spawn(const std::function<int()> &body) {
  Child c;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return c;
  std::fflush(nullptr);
  c.pid = fork();
  if (c.pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    _exit(body());
  }
  close(fds[1]);
  c.out = fds[0];
  return c;
}

// Collects output until both exit or the time is up (then kills them).
void Reap(std::vector<Child> *children, std::chrono::seconds limit) {
  const auto deadline = Clock::now() + limit;
  for (;;) {
    std::vector<pollfd> fds;
    for (Child &c : *children)
      if (c.out >= 0) fds.push_back({c.out, POLLIN, 0});
    if (fds.empty()) break;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms) {
      for (Child &c : *children) kill(c.pid, SIGKILL);
      break;
    }
    if (poll(fds.data(), fds.size(), static_cast<int>(left.count())) <= 0) continue;
    for (Child &c : *children) {
      if (c.out < 0) continue;
      pollfd p = {c.out, POLLIN, 0};
      if (poll(&p, 1, 0) <= 0) continue;
      char buf[4096];
      const ssize_t n = read(c.out, buf, sizeof(buf));
      if (n > 0) {
        c.output.append(buf, static_cast<size_t>(n));
      } else {
        close(c.out);
        c.out = -1;
      }
    }
  }
  for (Child &c : *children) {
    if (c.out >= 0) close(c.out);
    int status;
    if (waitpid(c.pid, &status, 0) == c.pid && WIFEXITED(status)) c.status = WEXITSTATUS(status);
  }
}

std::map<std::string, double> Results(const std::string &output) {
  std::map<std::string, double> r;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string tag, key;
    double value;
    if (words >> tag >> key >> value && tag == "RESULT") r[key] = value;
  }
  return r;
}

class ShmLinkTest : public ::testing::TestWithParam<unsigned> {};

TEST_P(ShmLinkTest, TwoInstancesTransferAndRoundTrip) {
  const unsigned busy_poll_us = GetParam();
  const std::string link = "test-" + std::to_string(getpid()) + "-" + std::to_string(busy_poll_us);
  std::vector<Child> children;
  for (int side = 0; side < 2; side++)
    children.push_back(Spawn([&, side] { return RunSide(link, side, busy_poll_us); }));
  for (const Child &c : children) ASSERT_GT(c.pid, 0);
  Reap(&children, 240s);
  for (int side = 0; side < 2; side++)
    EXPECT_EQ(children[side].status, 0) << "side " << side << " output:\n" << children[side].output;
  const auto server = Results(children[0].output);
  const auto client = Results(children[1].output);
  std::printf(
      "[ shm link, %s ] %zu MiB: %.1f Mbit/s, %zu MiB back: %.1f Mbit/s; %d round trips: "
      "mean %.1f us, p50 %.1f us, p99 %.1f us\n",
      busy_poll_us ? ("busy-poll " + std::to_string(busy_poll_us) + " us").c_str() : "blocking",
      kBytes >> 20, server.count("bulk_mbps") ? server.at("bulk_mbps") : 0.0, kBackBytes >> 20,
      client.count("back_mbps") ? client.at("back_mbps") : 0.0, kRoundTrips,
      client.count("rr_mean_us") ? client.at("rr_mean_us") : 0.0,
      client.count("rr_p50_us") ? client.at("rr_p50_us") : 0.0,
      client.count("rr_p99_us") ? client.at("rr_p99_us") : 0.0);
}

INSTANTIATE_TEST_SUITE_P(Polling, ShmLinkTest, ::testing::Values(0u, 50u), [](const auto &info) {
  return info.param ? "BusyPoll" + std::to_string(info.param) + "us" : std::string("Blocking");
});

}  // namespace
