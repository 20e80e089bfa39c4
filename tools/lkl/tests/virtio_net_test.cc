// SPDX-License-Identifier: GPL-2.0
//
// virtio-net between the library and the host kernel's TCP stack, inside a network namespace of
// the test's own: TAP devices added before boot with different offload sets and a raw AF_PACKET
// device on a veth pair (TCP both ways, data checked, throughput and round-trip times printed),
// devices hot-added after boot (removed, and their windows reused), garbage injected from the
// host side, API misuse. Needs root (namespaces, TAP, packet sockets): skipped otherwise.
#include "netdev_util.hpp"

#include <lkl/net.hpp>

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cinttypes>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <vector>

namespace {

using namespace lkl_test;

using Mac = std::array<unsigned char, 6>;

// One TAP interface on the host side and the library device over it, on subnet 10.99.<n>.0/24:
// the host has .1, the library .2.
struct Link {
  std::string label;
  unsigned offload = 0;
  unsigned disable = 0;
  int subnet = 0;
  std::optional<lkl::NetBackend> backend;
  std::optional<lkl::NetDevice> device;
  std::string ifname;  // inside the library

  bool raw = false;  // a raw socket on one end of a veth pair instead of a TAP

  // The host interface that has the host's address: the TAP, or the host end of the veth pair.
  std::string Tap() const { return (raw ? "lklveth" : "lkltap") + std::to_string(subnet); }
  // The veth end the raw backend is bound to.
  std::string RawEnd() const { return "lklraw" + std::to_string(subnet); }
  std::string HostIp() const { return "10.99." + std::to_string(subnet) + ".1"; }
  std::string LklIp() const { return "10.99." + std::to_string(subnet) + ".2"; }
  Mac LklMac() const { return {0x02, 0, 0, 0x99, static_cast<unsigned char>(subnet), 2}; }
};

// Host side and library side of a link, once the kernel runs.
void BringUp(Link *link) {
  const int ifindex = link->device->ifindex();
  ASSERT_GT(ifindex, 0);
  link->ifname = IfName(ifindex);
  ASSERT_FALSE(link->ifname.empty());
  ASSERT_LKL_OK(ConfigureLkl(link->ifname, link->LklIp(), 24));
  ASSERT_SHELL("ip addr add " + link->HostIp() + "/24 dev " + link->Tap() + " && ip link set " +
               link->Tap() + " up");
}

void MakeDevice(Link *link) {
  if (link->raw) {
    // The raw end carries no host address and no IPv6 chatter of its own.
    ASSERT_SHELL("ip link add " + link->Tap() + " type veth peer name " + link->RawEnd() +
                 " && sysctl -qw net.ipv6.conf." + link->RawEnd() +
                 ".disable_ipv6=1 && ip link set " + link->RawEnd() + " up");
    link->backend.emplace(lkl::NetBackend::raw(link->RawEnd()));
  } else {
    link->backend.emplace(lkl::NetBackend::tap(link->Tap(), link->offload));
  }
  link->device.emplace(*link->backend,
                       lkl::NetDeviceOptions{link->LklMac(), link->offload, link->disable, 0});
}

constexpr unsigned kOffloadAll = lkl::kOffloadAll;
constexpr unsigned kNoMrg = lkl::kOffloadAll & ~lkl::offload_bit(LKL_VIRTIO_NET_F_MRG_RXBUF);
constexpr unsigned kCsumOnly =
    lkl::offload_bit(LKL_VIRTIO_NET_F_CSUM) | lkl::offload_bit(LKL_VIRTIO_NET_F_GUEST_CSUM);
constexpr unsigned kNoRingFeatures =
    (1U << LKL_VIRTIO_RING_F_EVENT_IDX) | (1U << LKL_VIRTIO_RING_F_INDIRECT_DESC);

// Devices present at boot (the offload ladder) and the kernel itself.
class NetEnvironment : public ::testing::Environment {
 public:
  static NetEnvironment *instance;

  void SetUp() override {
    if (geteuid() != 0) {
      skip_ = "needs root (network namespace, TAP, packet sockets)";
      return;
    }
    const std::string err = netns_.Enter();
    ASSERT_TRUE(err.empty()) << err;
    const struct {
      const char *label;
      unsigned offload, disable;
      bool raw;
    } kLinks[] = {
        {"all_offloads", kOffloadAll, 0, false},
        {"big_packets", kNoMrg, 0, false},
        {"checksum_only", kCsumOnly, 0, false},
        {"no_offloads", 0, 0, false},
        {"no_event_idx_no_indirect", kOffloadAll, kNoRingFeatures, false},
        {"raw_veth", kOffloadAll, 0, true},
    };
    int subnet = 1;
    for (const auto &l : kLinks) {
      auto link = std::make_unique<Link>();
      link->label = l.label;
      link->offload = l.offload;
      link->disable = l.disable;
      link->raw = l.raw;
      link->subnet = subnet++;
      ASSERT_NO_THROW(MakeDevice(link.get())) << l.label;
      if (::testing::Test::HasFatalFailure()) return;
      links_.push_back(std::move(link));
    }
    ASSERT_NO_THROW(kernel_ = std::make_unique<lkl::Kernel>("mem=256M loglevel=4"));
    ASSERT_LKL_OK(lkl_mount_fs("proc"));
    for (auto &link : links_) {
      BringUp(link.get());
      if (::testing::Test::HasFatalFailure()) return;
    }
  }

  void TearDown() override {
    // Devices go before the kernel halts, backends after.
    for (auto &link : links_) link->device.reset();
    if (kernel_) {
      EXPECT_EQ(kernel_->halt(), 0);
    }
    kernel_.reset();
    links_.clear();
  }

  const std::string &skip() const { return skip_; }
  Link *link(size_t i) { return i < links_.size() ? links_[i].get() : nullptr; }
  size_t links() const { return links_.size(); }
  Link *link(const std::string &label) {
    for (auto &l : links_)
      if (l->label == label) return l.get();
    return nullptr;
  }

 private:
  std::string skip_;
  PrivateNetns netns_;
  std::vector<std::unique_ptr<Link>> links_;
  std::unique_ptr<lkl::Kernel> kernel_;
};

NetEnvironment *NetEnvironment::instance =
    static_cast<NetEnvironment *>(::testing::AddGlobalTestEnvironment(new NetEnvironment));

#define SKIP_UNLESS_READY()                             \
  do {                                                  \
    if (!NetEnvironment::instance->skip().empty())      \
      GTEST_SKIP() << NetEnvironment::instance->skip(); \
  } while (0)

// ---- TCP between a host-kernel socket and a library socket ----------------------------------

// The library connects to a host listener on the link, sends len bytes, and receives len bytes
// back; both directions are checked byte for byte (as order-sensitive checksums) and timed.
void ExchangeOverLink(const Link &link, size_t len, double *lkl_to_host, double *host_to_lkl) {
  Watchdog watchdog(120s, "TCP exchange over " + link.label);
  HostFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_GE(listener.get(), 0);
  const int one = 1;
  setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr = HostAddr(link.HostIp(), 0);
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)), 0)
      << std::strerror(errno);
  socklen_t addr_len = sizeof(addr);
  ASSERT_EQ(getsockname(listener.get(), reinterpret_cast<sockaddr *>(&addr), &addr_len), 0);
  ASSERT_EQ(listen(listener.get(), 1), 0);
  const uint16_t port = ntohs(addr.sin_port);

  StreamResult lkl_sent, lkl_received;
  long lkl_error = 0;
  std::thread lkl_side([&] {
    const long fd = lkl_sys_socket(LKL_AF_INET, LKL_SOCK_STREAM, 0);
    if (fd < 0) {
      lkl_error = fd;
      return;
    }
    lkl::Fd sock(static_cast<int>(fd));
    lkl_sockaddr_in peer = LklAddr(link.HostIp(), port);
    const long ret =
        lkl_sys_connect(sock.get(), reinterpret_cast<lkl_sockaddr *>(&peer), sizeof(peer));
    if (ret < 0) {
      lkl_error = ret;
      return;
    }
    lkl_sent = SendStream(1, len, [&](const unsigned char *p, size_t n) {
      return lkl_sys_write(static_cast<unsigned>(sock.get()), reinterpret_cast<const char *>(p), n);
    });
    lkl_sys_shutdown(sock.get(), LKL_SHUT_WR);
    lkl_received = ReceiveStream(len, [&](unsigned char *p, size_t n) {
      return lkl_sys_read(static_cast<unsigned>(sock.get()), reinterpret_cast<char *>(p), n);
    });
  });

  HostFd conn(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  StreamResult host_received, host_sent;
  if (conn.get() >= 0) {
    host_received = ReceiveStream(len, [&](unsigned char *p, size_t n) {
      const ssize_t r = read(conn.get(), p, n);
      return r < 0 ? -static_cast<long>(errno) : static_cast<long>(r);
    });
    host_sent = SendStream(2, len, [&](const unsigned char *p, size_t n) {
      const ssize_t w = write(conn.get(), p, n);
      return w < 0 ? -static_cast<long>(errno) : static_cast<long>(w);
    });
    shutdown(conn.get(), SHUT_WR);
  }
  lkl_side.join();

  ASSERT_GE(conn.get(), 0) << std::strerror(errno);
  ASSERT_LKL_OK(lkl_error);
  ASSERT_LKL_OK(lkl_sent.error);
  ASSERT_EQ(host_received.error, 0);
  ASSERT_EQ(host_sent.error, 0);
  ASSERT_LKL_OK(lkl_received.error);
  EXPECT_EQ(host_received.bytes, len);
  EXPECT_EQ(host_received.checksum, ExpectedChecksum(1, len));
  EXPECT_EQ(lkl_received.bytes, len);
  EXPECT_EQ(lkl_received.checksum, ExpectedChecksum(2, len));
  *lkl_to_host = Mbps(host_received);
  *host_to_lkl = Mbps(lkl_received);
}

// A counter of the library's stack from /proc/net/snmp or /proc/net/netstat, where each group
// is a line of names ("Ip: Forwarding ...") followed by a line of values; -1 if missing.
long ProcNetCounter(const char *path, const std::string &group, const std::string &name) {
  std::istringstream text(ReadFile(path));
  const std::string prefix = group + ":";
  std::string names, values;
  while (std::getline(text, names) && std::getline(text, values)) {
    std::istringstream n(names), v(values);
    std::string key, value;
    if (!(n >> key) || key != prefix || !(v >> value)) continue;
    while (n >> key && v >> value)
      if (key == name) return std::stol(value);
  }
  return -1;
}

struct Latency {
  double mean_us = 0, p50_us = 0, p99_us = 0;
};

// One-byte request/response between a library client and a host echo server over the link; the
// client's socket busy-polls for busy_poll_us (SO_BUSY_POLL) if not 0, and the echo waits
// reply_delay_us before each reply.
Latency RoundTrips(const Link &link, int count, int busy_poll_us = 0, int reply_delay_us = 0) {
  Latency lat;
  Watchdog watchdog(60s, "round trips over " + link.label);
  HostFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr = HostAddr(link.HostIp(), 0);
  socklen_t addr_len = sizeof(addr);
  const int one = 1;
  EXPECT_EQ(bind(listener.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(getsockname(listener.get(), reinterpret_cast<sockaddr *>(&addr), &addr_len), 0);
  EXPECT_EQ(listen(listener.get(), 1), 0);
  std::thread echo([&] {
    HostFd conn(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    setsockopt(conn.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char byte;
    while (read(conn.get(), &byte, 1) == 1) {
      if (reply_delay_us) std::this_thread::sleep_for(std::chrono::microseconds(reply_delay_us));
      if (write(conn.get(), &byte, 1) != 1) break;
    }
  });
  std::vector<double> us;
  {
    lkl::Fd sock(static_cast<int>(lkl_sys_socket(LKL_AF_INET, LKL_SOCK_STREAM, 0)));
    lkl_sockaddr_in peer = LklAddr(link.HostIp(), ntohs(addr.sin_port));
    EXPECT_LKL_OK(
        lkl_sys_connect(sock.get(), reinterpret_cast<lkl_sockaddr *>(&peer), sizeof(peer)));
    lkl_sys_setsockopt(sock.get(), LKL_IPPROTO_TCP, LKL_TCP_NODELAY,
                       reinterpret_cast<char *>(const_cast<int *>(&one)), sizeof(one));
    if (busy_poll_us) {
      EXPECT_LKL_OK(lkl_sys_setsockopt(sock.get(), LKL_SOL_SOCKET, LKL_SO_BUSY_POLL,
                                       reinterpret_cast<char *>(&busy_poll_us),
                                       sizeof(busy_poll_us)));
    }
    char byte = 'x';
    for (int i = 0; i < count; i++) {
      const auto start = Clock::now();
      if (lkl_sys_write(static_cast<unsigned>(sock.get()), &byte, 1) != 1 ||
          lkl_sys_read(static_cast<unsigned>(sock.get()), &byte, 1) != 1) {
        ADD_FAILURE() << "round trip " << i << " failed";
        break;
      }
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    }
  }
  echo.join();
  if (us.empty()) return lat;
  std::sort(us.begin(), us.end());
  for (double v : us) lat.mean_us += v / us.size();
  lat.p50_us = us[us.size() / 2];
  lat.p99_us = us[us.size() * 99 / 100];
  return lat;
}

class LinkTest : public ::testing::TestWithParam<const char *> {
 protected:
  void SetUp() override { SKIP_UNLESS_READY(); }
};

TEST_P(LinkTest, TcpBothWaysDataChecked) {
  Link *link = NetEnvironment::instance->link(GetParam());
  ASSERT_NE(link, nullptr);
  constexpr size_t kBytes = 128 << 20;
  double out = 0, in = 0;
  const lkl_netdev_stats before = link->device->stats();
  ExchangeOverLink(*link, kBytes, &out, &in);
  const lkl_netdev_stats s = Delta(link->device->stats(), before);
  std::printf(
      "[ %-24s ] %3zu MiB each way: library->host %8.1f Mbit/s, host->library %8.1f "
      "Mbit/s (rx %llu frames, tx %llu frames, %llu interrupts, %llu starved, %llu tx "
      "errors)\n",
      link->label.c_str(), kBytes >> 20, out, in, s.rx_frames, s.tx_frames, s.interrupts,
      s.rx_starved, s.tx_errors);
  const Latency rr = RoundTrips(*link, 2000);
  std::printf("[ %-24s ] 2000 round trips: mean %.1f us, p50 %.1f us, p99 %.1f us\n",
              link->label.c_str(), rr.mean_us, rr.p50_us, rr.p99_us);
  RecordProperty("lkl_to_host_mbps", std::to_string(out));
  RecordProperty("host_to_lkl_mbps", std::to_string(in));
  // (tx_errors may count frames sent while the host end of the TAP was still down.)
  EXPECT_EQ(s.bad_chains, 0u);
  EXPECT_EQ(s.broken_queues, 0u);
  EXPECT_EQ(s.tx_bad_header, 0u);
  EXPECT_EQ(s.rx_dropped, 0u);
  EXPECT_LE(s.tx_errors, 10u);
}

INSTANTIATE_TEST_SUITE_P(Offloads, LinkTest,
                         ::testing::Values("all_offloads", "big_packets", "checksum_only",
                                           "no_offloads", "no_event_idx_no_indirect", "raw_veth"),
                         [](const auto &info) { return std::string(info.param); });

// The kernel's socket busy polling: a recv() with nothing to read runs the device's NAPI poll on
// the calling thread (spinning, with cpu_relax() offering the host CPU to the device thread that
// fills the ring, or fills it itself: the relax host operation runs the device's receive on the
// spinning thread when the device thread is not at it) instead of sleeping until the interrupt.
// The kernel counts the frames its busy polling received (TcpExt BusyPollRxPackets), the device
// the ones a spinner took from the backend (rx_spin_polled): without SO_BUSY_POLL none, with it
// some. The echo
// holds each reply back 300 us, so that the read() has begun to wait when it comes even when the
// call reaches the kernel through a shadow thread; how many replies the spinner then catches
// depends on how often it keeps its CPU meanwhile (most on an idle machine, 1,992 of 2,000
// without the delay), which a loaded machine decides.
TEST(BusyPollTest, SocketBusyPollingReceivesOnTheCaller) {
  SKIP_UNLESS_READY();
  Link *link = NetEnvironment::instance->link("all_offloads");
  ASSERT_NE(link, nullptr);
  constexpr int kRounds = 500, kDelayUs = 300;
  const auto busy_polled = [] {
    return ProcNetCounter("/proc/net/netstat", "TcpExt", "BusyPollRxPackets");
  };
  const long before = busy_polled();
  ASSERT_GE(before, 0) << "no TcpExt BusyPollRxPackets in the library's /proc/net/netstat";
  const lkl_netdev_stats s0 = link->device->stats();
  const Latency plain = RoundTrips(*link, kRounds, 0, kDelayUs);
  const long after_plain = busy_polled();
  const lkl_netdev_stats s1 = link->device->stats();
  const Latency polled = RoundTrips(*link, kRounds, 1000, kDelayUs);
  const long after_polled = busy_polled();
  const lkl_netdev_stats s2 = link->device->stats();
  std::printf(
      "[ %-24s ] %d round trips, replies held 300 us: blocking p50 %.1f us, p99 %.1f us; "
      "SO_BUSY_POLL 1000 us p50 "
      "%.1f us, p99 %.1f us; frames received by busy polling: %ld, %ld; of those taken from the "
      "backend by the spinning caller, not the device thread: %llu, %llu\n",
      link->label.c_str(), kRounds, plain.p50_us, plain.p99_us, polled.p50_us, polled.p99_us,
      after_plain - before, after_polled - after_plain, s1.rx_spin_polled - s0.rx_spin_polled,
      s2.rx_spin_polled - s1.rx_spin_polled);
  EXPECT_EQ(after_plain - before, 0) << "busy polling without SO_BUSY_POLL";
  EXPECT_EQ(s1.rx_spin_polled, s0.rx_spin_polled) << "nothing spun, yet a spinner received";
  EXPECT_GT(after_polled - after_plain, 0) << "no reply was received by the caller's busy polling";
  EXPECT_GT(s2.rx_spin_polled, s1.rx_spin_polled)
      << "the spinning caller never took a frame from the backend itself";
}

// The features the driver ended up with, as the kernel reports them ('0'/'1' per bit).
std::string DriverFeatures(const Link &link) {
  return ReadFile(("/sysfs/class/net/" + link.ifname + "/device/features").c_str());
}

bool HasFeature(const std::string &bits, unsigned feature) {
  return feature < bits.size() && bits[feature] == '1';
}

TEST(TapFeatureTest, NegotiationFollowsTheOffloadMask) {
  SKIP_UNLESS_READY();
  NetEnvironment *env = NetEnvironment::instance;
  const std::string all = DriverFeatures(*env->link("all_offloads"));
  const std::string big = DriverFeatures(*env->link("big_packets"));
  const std::string csum = DriverFeatures(*env->link("checksum_only"));
  const std::string none = DriverFeatures(*env->link("no_offloads"));
  const std::string plain_ring = DriverFeatures(*env->link("no_event_idx_no_indirect"));
  ASSERT_GE(all.size(), 33u) << all;
  for (const std::string *f : {&all, &big, &csum, &none, &plain_ring}) {
    EXPECT_TRUE(HasFeature(*f, LKL_VIRTIO_F_VERSION_1));
    EXPECT_TRUE(HasFeature(*f, LKL_VIRTIO_NET_F_MAC));
    EXPECT_TRUE(HasFeature(*f, LKL_VIRTIO_NET_F_STATUS));
  }
  EXPECT_TRUE(HasFeature(all, LKL_VIRTIO_NET_F_MRG_RXBUF));
  EXPECT_TRUE(HasFeature(all, LKL_VIRTIO_NET_F_GUEST_TSO4));
  EXPECT_TRUE(HasFeature(all, LKL_VIRTIO_NET_F_HOST_TSO6));
  EXPECT_TRUE(HasFeature(all, LKL_VIRTIO_RING_F_EVENT_IDX));
  EXPECT_TRUE(HasFeature(all, LKL_VIRTIO_RING_F_INDIRECT_DESC));
  EXPECT_FALSE(HasFeature(big, LKL_VIRTIO_NET_F_MRG_RXBUF));
  EXPECT_TRUE(HasFeature(big, LKL_VIRTIO_NET_F_GUEST_TSO4));
  EXPECT_TRUE(HasFeature(csum, LKL_VIRTIO_NET_F_CSUM));
  EXPECT_FALSE(HasFeature(csum, LKL_VIRTIO_NET_F_HOST_TSO4));
  EXPECT_FALSE(HasFeature(none, LKL_VIRTIO_NET_F_CSUM));
  EXPECT_FALSE(HasFeature(none, LKL_VIRTIO_NET_F_GUEST_CSUM));
  EXPECT_FALSE(HasFeature(plain_ring, LKL_VIRTIO_RING_F_EVENT_IDX));
  EXPECT_FALSE(HasFeature(plain_ring, LKL_VIRTIO_RING_F_INDIRECT_DESC));
}

// ---- API misuse ------------------------------------------------------------------------------

TEST(NetdevApiTest, ErrorsComeBackAsErrnos) {
  SKIP_UNLESS_READY();
  errno = 0;
  EXPECT_EQ(lkl_netdev_tap_create("a-name-longer-than-ifnamsiz", 0), nullptr);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(lkl_netdev_raw_create("no-such-if"), nullptr);
  EXPECT_EQ(errno, ENODEV);
  EXPECT_EQ(lkl_netdev_add(nullptr, nullptr), -LKL_EINVAL);
  EXPECT_EQ(lkl_netdev_get_ifindex(-1), -LKL_EINVAL);
  EXPECT_EQ(lkl_netdev_get_ifindex(31), -LKL_EINVAL);
  lkl_netdev_stats st;
  EXPECT_EQ(lkl_netdev_get_stats(-1, &st), -LKL_EINVAL);
  lkl_netdev_remove(-1);  // ignored
  lkl_netdev_free(nullptr);
  // A backend serves one device at a time.
  Link *link = NetEnvironment::instance->link("all_offloads");
  EXPECT_EQ(lkl_netdev_add(link->backend->get(), nullptr), -LKL_EBUSY);
}

// ---- hot-add ------------------------------------------------------------------------------------

TEST(TapHotplugTest, AddAfterBootRemoveAndReuse) {
  SKIP_UNLESS_READY();
  for (int round = 0; round < 2; round++) {
    SCOPED_TRACE("round " + std::to_string(round));
    Link link;
    link.label = "hotplug";
    link.offload = kOffloadAll;
    link.subnet = 50 + round;
    ASSERT_NO_THROW(MakeDevice(&link));
    BringUp(&link);
    if (HasFatalFailure()) return;
    double out = 0, in = 0;
    ExchangeOverLink(link, 8 << 20, &out, &in);
    std::printf(
        "[ hot-added device, round %d ] library->host %.1f Mbit/s, host->library %.1f "
        "Mbit/s\n",
        round, out, in);
    const int ifindex = link.device->ifindex();
    link.device.reset();  // unbinds the driver: the interface goes away
    EXPECT_TRUE(IfName(ifindex).empty()) << "interface " << ifindex << " still exists";
  }
}

// Several devices added after boot, each through the virtio_mmio "device" parameter (writable
// for root with patches/0001), all usable at once.
TEST(TapHotplugTest, SeveralDevicesAddedAfterBoot) {
  SKIP_UNLESS_READY();
  lkl_stat st{};
  ASSERT_LKL_OK(lkl_sys_stat("/sysfs/module/virtio_mmio/parameters/device", &st));
  ASSERT_TRUE(st.st_mode & 0200) << "virtio_mmio.device is read-only: patches/0001 not applied";
  std::vector<std::unique_ptr<Link>> links;
  for (int i = 0; i < 4; i++) {
    auto link = std::make_unique<Link>();
    link->label = "hotplug-many";
    link->offload = kOffloadAll;
    link->subnet = 60 + i;
    ASSERT_NO_THROW(MakeDevice(link.get())) << "device " << i;
    BringUp(link.get());
    if (HasFatalFailure()) return;
    links.push_back(std::move(link));
  }
  for (auto &link : links) {
    double out = 0, in = 0;
    ExchangeOverLink(*link, 1 << 20, &out, &in);
  }
}

// ---- garbage from the host side -------------------------------------------------------------

long IpCounter(const std::string &name) { return ProcNetCounter("/proc/net/snmp", "Ip", name); }

long HostTapCounter(const Link &link, const char *name) {
  std::string out;
  Shell("cat /sys/class/net/" + link.Tap() + "/statistics/" + name, &out);
  return std::atol(out.c_str());
}

// A packet socket on the host end of a link, sending raw frames into the TAP, i.e. to the library.
class Injector {
 public:
  Injector(const Link &link, bool vnet_hdr) {
    fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    const int one = 1;
    if (vnet_hdr) setsockopt(fd_, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one));
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = static_cast<int>(if_nametoindex(link.Tap().c_str()));
    bind(fd_, reinterpret_cast<sockaddr *>(&sll), sizeof(sll));
  }
  ~Injector() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  // True if the host took the frame.
  bool Send(const std::vector<unsigned char> &frame) {
    return send(fd_, frame.data(), frame.size(), 0) == static_cast<ssize_t>(frame.size());
  }

 private:
  int fd_ = -1;
};

std::vector<unsigned char> EthFrame(const Mac &dst, uint16_t type, size_t payload,
                                    std::mt19937 &rng) {
  std::vector<unsigned char> f(14 + payload);
  std::copy(dst.begin(), dst.end(), f.begin());
  const Mac src = {0x02, 0, 0, 0x77, 0x77, 0x77};
  std::copy(src.begin(), src.end(), f.begin() + 6);
  f[12] = static_cast<unsigned char>(type >> 8);
  f[13] = static_cast<unsigned char>(type);
  for (size_t i = 14; i < f.size(); i++) f[i] = static_cast<unsigned char>(rng());
  return f;
}

TEST(TapGarbageTest, GarbageFramesAreDroppedAndCounted) {
  SKIP_UNLESS_READY();
  NetEnvironment *env = NetEnvironment::instance;
  Link &link = *env->link("all_offloads");
  std::mt19937 rng(42);
  Injector raw(link, false);
  ASSERT_TRUE(raw.ok()) << std::strerror(errno);

  const lkl_netdev_stats before = link.device->stats();
  const long hdr_errors_before = IpCounter("InHdrErrors");
  const long tap_drops_before = HostTapCounter(link, "tx_dropped");
  ASSERT_GE(hdr_errors_before, 0);

  int sent = 0, bad_ip = 0;
  // Random bytes to random (mostly foreign) addresses, any EtherType.
  for (int i = 0; i < 300; i++) {
    Mac dst;
    for (auto &b : dst) b = static_cast<unsigned char>(rng());
    sent += raw.Send(EthFrame(dst, static_cast<uint16_t>(rng()), rng() % 1500, rng));
  }
  // To the library's address as IPv4 with mangled or truncated headers.
  for (int i = 0; i < 300; i++) {
    auto frame = EthFrame(link.LklMac(), ETH_P_IP, rng() % 64, rng);
    if (frame.size() > 14) frame[14] = static_cast<unsigned char>(0x40 | (rng() % 5));  // ihl < 5
    const bool ok = raw.Send(frame);
    sent += ok;
    bad_ip += ok;
  }
  // Truncated ARP and IPv6 headers.
  for (int i = 0; i < 100; i++) {
    sent += raw.Send(EthFrame(link.LklMac(), ETH_P_ARP, rng() % 20, rng));
    sent += raw.Send(EthFrame(link.LklMac(), ETH_P_IPV6, rng() % 30, rng));
  }
  // Headers the host must refuse before they reach the TAP: GSO without a size, checksum offsets
  // beyond the frame, unknown GSO types.
  Injector vnet(link, true);
  ASSERT_TRUE(vnet.ok());
  int host_refused = 0;
  for (int i = 0; i < 30; i++) {
    auto frame = EthFrame(link.LklMac(), ETH_P_IP, 100, rng);
    std::vector<unsigned char> f(10, 0);
    switch (i % 3) {
      case 0:
        f[1] = 1;
        break;  // GSO_TCPV4, gso_size 0
      case 1:
        f[0] = 1;
        f[6] = 0xf0;
        f[7] = 0x7f;
        break;  // NEEDS_CSUM, csum_start 0x7ff0
      case 2:
        f[1] = 0x42;
        f[4] = 100;
        break;  // unknown GSO type
    }
    f.insert(f.end(), frame.begin(), frame.end());
    if (vnet.Send(f))
      sent++;
    else
      host_refused++;
  }

  // Give the poll thread time to drain the TAP, then check that the library is alive and well.
  const auto deadline = Clock::now() + 10s;
  lkl_netdev_stats after = link.device->stats();
  while (Clock::now() < deadline) {
    after = link.device->stats();
    const long tap_drops = HostTapCounter(link, "tx_dropped") - tap_drops_before;
    if (static_cast<long>(after.rx_frames - before.rx_frames) + tap_drops >= sent) break;
    std::this_thread::sleep_for(50ms);
  }
  const long tap_drops = HostTapCounter(link, "tx_dropped") - tap_drops_before;
  const long hdr_errors = IpCounter("InHdrErrors") - hdr_errors_before;
  std::printf(
      "[ garbage ] %d frames injected (%d refused by the host), %llu reached the device, "
      "%ld dropped by the TAP queue; library IP InHdrErrors +%ld, device drops +%llu\n",
      sent, host_refused, after.rx_frames - before.rx_frames, tap_drops, hdr_errors,
      after.rx_dropped - before.rx_dropped);
  EXPECT_GE(static_cast<long>(after.rx_frames - before.rx_frames) + tap_drops, sent);
  EXPECT_GE(hdr_errors + tap_drops, bad_ip);
  EXPECT_EQ(host_refused, 30);

  double out = 0, in = 0;
  ExchangeOverLink(link, 4 << 20, &out, &in);
}

// Frames larger than the driver's buffers (no MRG_RXBUF, no guest TSO: 1518-byte buffers) reach
// the device once the host side allows a larger MTU; they are dropped whole and counted.
TEST(TapGarbageTest, OversizeFramesAreDroppedAndCounted) {
  SKIP_UNLESS_READY();
  Link &link = *NetEnvironment::instance->link("no_offloads");
  ASSERT_SHELL("ip link set " + link.Tap() + " mtu 9000");
  std::mt19937 rng(7);
  Injector raw(link, false);
  ASSERT_TRUE(raw.ok());
  const lkl_netdev_stats before = link.device->stats();
  int sent = 0;
  for (int i = 0; i < 50; i++) sent += raw.Send(EthFrame(link.LklMac(), ETH_P_IP, 4000, rng));
  EXPECT_EQ(sent, 50);
  const auto deadline = Clock::now() + 10s;
  lkl_netdev_stats after = before;
  while (Clock::now() < deadline && after.rx_oversize - before.rx_oversize < 50u) {
    std::this_thread::sleep_for(20ms);
    after = link.device->stats();
  }
  EXPECT_EQ(after.rx_oversize - before.rx_oversize, 50u);
  ASSERT_SHELL("ip link set " + link.Tap() + " mtu 1500");
  double out = 0, in = 0;
  ExchangeOverLink(link, 1 << 20, &out, &in);
}

}  // namespace
