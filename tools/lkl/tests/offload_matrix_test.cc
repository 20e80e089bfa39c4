// SPDX-License-Identifier: GPL-2.0
//
// The correctness matrix of the virtio-net offloads. For each offload set, TCP carries data both
// ways (IPv4 and IPv6), checked byte for byte:
//   - over TAP, between the library and the host kernel, inside a network namespace of the test's
//     own (needs root: skipped otherwise);
//   - over a packet socket (the raw backend) on a veth pair, to the host kernel (root too), for
//     a part of the offload sets;
//   - over the shared-memory link, between the library and a second library instance in a child
//     process (any user), whose devices negotiate no EVENT_IDX and no INDIRECT_DESC.
// The device counters must then show that the offloads did what was negotiated: segments longer
// than the MTU crossed the link in a direction exactly when TSO of that family is on in that
// direction, and the frames carried partial checksums (NEEDS_CSUM: none computed by the sender)
// exactly when checksum offload is on, with no checksum completed in software by the device.
// With a host peer the matrix runs once more with ECN: the host's nftables mark packets CE both
// ways, and the segments that then carry CWR must cross as GSO frames with the ECN bit exactly when
// ECN offload of that direction (and TSO) is on.
//
// Over shm, the second instance gets the mirror image of the mask (HOST_TSO4 here is GUEST_TSO4
// there, and so on), since nothing on the link itself segments or checksums frames: a side that
// sends a GSO frame needs a receiver that negotiated it (lkl_netdev_shm_create()).
#include "netdev_util.hpp"

#include <lkl/net.hpp>
#include <lkl/netcfg.hpp>

#include <sys/prctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace {

using namespace lkl_test;

constexpr unsigned Bit(unsigned feature) { return lkl::offload_bit(feature); }

constexpr unsigned kCsum = Bit(LKL_VIRTIO_NET_F_CSUM);
constexpr unsigned kGuestCsum = Bit(LKL_VIRTIO_NET_F_GUEST_CSUM);
constexpr unsigned kHostTso4 = Bit(LKL_VIRTIO_NET_F_HOST_TSO4);
constexpr unsigned kHostTso6 = Bit(LKL_VIRTIO_NET_F_HOST_TSO6);
constexpr unsigned kHostEcn = Bit(LKL_VIRTIO_NET_F_HOST_ECN);
constexpr unsigned kGuestTso4 = Bit(LKL_VIRTIO_NET_F_GUEST_TSO4);
constexpr unsigned kGuestTso6 = Bit(LKL_VIRTIO_NET_F_GUEST_TSO6);
constexpr unsigned kGuestEcn = Bit(LKL_VIRTIO_NET_F_GUEST_ECN);
constexpr unsigned kMrg = Bit(LKL_VIRTIO_NET_F_MRG_RXBUF);
constexpr unsigned kBothCsum = kCsum | kGuestCsum;
constexpr unsigned kTsoBoth = kHostTso4 | kHostTso6 | kGuestTso4 | kGuestTso6;

// The offload sets, as the library's device gets them. Each is closed under the feature
// dependencies, so the driver must end up with exactly this set.
struct Combo {
  const char *name;
  unsigned offload;
};

constexpr Combo kCombos[] = {
    {"none", 0},
    {"mrg_rxbuf", kMrg},
    {"csum", kBothCsum},
    {"csum_tx_only", kCsum},
    {"csum_rx_only", kGuestCsum},
    {"csum_mrg_rxbuf", kBothCsum | kMrg},
    {"tso_big_packets", kBothCsum | kTsoBoth},
    {"tso_ecn_big_packets", kBothCsum | kTsoBoth | kHostEcn | kGuestEcn},
    {"all", lkl::kOffloadAll},
    {"host_tso_only", kBothCsum | kHostTso4 | kHostTso6 | kHostEcn | kMrg},
    {"guest_tso_only", kBothCsum | kGuestTso4 | kGuestTso6 | kGuestEcn | kMrg},
    {"tso4_only", kBothCsum | kHostTso4 | kGuestTso4 | kMrg},
    {"tso6_only", kBothCsum | kHostTso6 | kGuestTso6 | kMrg},
};
constexpr size_t kNumCombos = std::size(kCombos);

// The same offloads seen from the other end of a link: what one side sends, the other receives.
constexpr unsigned Mirror(unsigned f) {
  constexpr std::array<std::array<unsigned, 2>, 4> kPairs = {{{kCsum, kGuestCsum},
                                                              {kHostTso4, kGuestTso4},
                                                              {kHostTso6, kGuestTso6},
                                                              {kHostEcn, kGuestEcn}}};
  unsigned m = f & kMrg;
  for (const auto &[host, guest] : kPairs) {
    if (f & host) m |= guest;
    if (f & guest) m |= host;
  }
  return m;
}

constexpr struct {
  unsigned bit;
  const char *name;
} kOffloadBits[] = {
    {LKL_VIRTIO_NET_F_CSUM, "CSUM"},
    {LKL_VIRTIO_NET_F_GUEST_CSUM, "GUEST_CSUM"},
    {LKL_VIRTIO_NET_F_HOST_TSO4, "HOST_TSO4"},
    {LKL_VIRTIO_NET_F_HOST_TSO6, "HOST_TSO6"},
    {LKL_VIRTIO_NET_F_HOST_ECN, "HOST_ECN"},
    {LKL_VIRTIO_NET_F_GUEST_TSO4, "GUEST_TSO4"},
    {LKL_VIRTIO_NET_F_GUEST_TSO6, "GUEST_TSO6"},
    {LKL_VIRTIO_NET_F_GUEST_ECN, "GUEST_ECN"},
    {LKL_VIRTIO_NET_F_MRG_RXBUF, "MRG_RXBUF"},
};

// "CSUM|GUEST_CSUM", for failure messages.
std::string OffloadNames(unsigned f) {
  std::string names;
  for (const auto &b : kOffloadBits)
    if (f & Bit(b.bit)) names += (names.empty() ? "" : "|") + std::string(b.name);
  return names.empty() ? "none" : names;
}

// Per exchange, each way. Enough for thousands of MTU-sized frames, or a hundred 64 KiB ones.
constexpr size_t kBytes = 8 << 20;
constexpr uint16_t kPort = 5201;
constexpr int kIoTimeoutSeconds = 20;
// Frames a device may carry during an exchange besides the TCP ones (ARP, neighbour discovery,
// router solicitations, MLD): these never have a partial checksum.
constexpr unsigned long long kOtherFrames = 16;

// a - b, or 0: counters are read one at a time while late frames (ACKs) may still arrive, so a
// per-flag count can be a frame ahead of the total it is part of.
constexpr unsigned long long Excess(unsigned long long a, unsigned long long b) {
  return a > b ? a - b : 0;
}

// TAP: the host kernel at the other end of a TAP. Raw: a packet socket on one end of a veth pair,
// the host at the other (whose ethtool features stand for the driver's receive offloads, since a
// packet socket cannot be told them). Shm: a second library instance over the shared-memory link,
// whose devices withhold the ring features (EVENT_IDX, INDIRECT_DESC) that this side's have.
enum class Transport { kTap, kRaw, kShm };

constexpr struct {
  const char *name;
  const char *net;  // 10.<net>.<combo>.0/24, fd<net>:<combo>::/64
  unsigned char mac;
} kTransports[] = {{"tap", "96", 0x96}, {"raw", "97", 0x97}, {"shm", "95", 0x95}};

const auto &Info(Transport t) { return kTransports[static_cast<size_t>(t)]; }
bool HostPeer(Transport t) { return t != Transport::kShm; }

// The raw links take a part of the matrix: a library instance has at most 32 devices, and TAP and
// shm take 13 each. The part has each direction's checksum and TSO alone, both, and neither, in
// both receive modes.
bool InMatrix(Transport t, size_t combo) {
  if (t != Transport::kRaw) return true;
  constexpr std::string_view kRawCombos[] = {
      "none", "csum_rx_only", "all", "tso_ecn_big_packets", "host_tso_only", "guest_tso_only"};
  return std::find(std::begin(kRawCombos), std::end(kRawCombos), kCombos[combo].name) !=
         std::end(kRawCombos);
}

constexpr unsigned kNoRingFeatures =
    (1U << LKL_VIRTIO_RING_F_EVENT_IDX) | (1U << LKL_VIRTIO_RING_F_INDIRECT_DESC);

const char *FamilyName(int family) { return family == LKL_AF_INET ? "ipv4" : "ipv6"; }

// Addresses: with a host peer the host has .1 / ::1 and the library .2 / ::2; over shm this
// process has .1 / ::1 and the child .2 / ::2.
std::string Ip(Transport t, size_t combo, int family, int host) {
  const std::string n = std::to_string(combo + 1);
  const char *net = Info(t).net;
  if (family == LKL_AF_INET) return std::string("10.") + net + "." + n + "." + std::to_string(host);
  return std::string("fd") + net + ":" + n + "::" + std::to_string(host);
}

std::array<unsigned char, 6> Mac(Transport t, size_t combo, int host) {
  return {0x02,
          0,
          0,
          Info(t).mac,
          static_cast<unsigned char>(combo + 1),
          static_cast<unsigned char>(host)};
}

std::string ShmLinkName(pid_t parent, size_t combo) {
  return "offload-matrix-" + std::to_string(parent) + "-" + std::to_string(combo);
}

// The offload bits the driver of interface ifname accepted (sysfs: '0'/'1' per feature bit).
unsigned NegotiatedOffloads(const std::string &ifname) {
  const std::string bits = ReadFile(("/sysfs/class/net/" + ifname + "/device/features").c_str());
  unsigned f = 0;
  for (const auto &b : kOffloadBits)
    if (b.bit < bits.size() && bits[b.bit] == '1') f |= Bit(b.bit);
  return f;
}

// The ring features (EVENT_IDX, INDIRECT_DESC) the driver of ifname accepted, as kNoRingFeatures.
unsigned NegotiatedRingFeatures(const std::string &ifname) {
  const std::string bits = ReadFile(("/sysfs/class/net/" + ifname + "/device/features").c_str());
  unsigned f = 0;
  for (unsigned bit : {LKL_VIRTIO_RING_F_EVENT_IDX, LKL_VIRTIO_RING_F_INDIRECT_DESC})
    if (bit < bits.size() && bits[bit] == '1') f |= 1U << bit;
  return f;
}

// Brings an interface of the library up with its IPv4 and IPv6 addresses; returns its name.
std::string ConfigureInterface(int ifindex, const std::string &ip4, const std::string &ip6) {
  const lkl::Interface eth(ifindex);
  eth.up();
  eth.set_address(lkl::IpPrefix::parse(ip4 + "/24"));
  eth.set_address(lkl::IpPrefix::parse(ip6 + "/64"));
  return IfName(ifindex);
}

// ---- library sockets ------------------------------------------------------------------------

struct LklSockAddr {
  lkl_sockaddr_in6 storage{};  // large enough for both families
  int len = 0;

  LklSockAddr(int family, const std::string &ip, uint16_t port) {
    if (family == LKL_AF_INET) {
      const lkl_sockaddr_in sin = LklAddr(ip, port);
      std::memcpy(&storage, &sin, sizeof(sin));
      len = sizeof(sin);
    } else {
      storage.sin6_family = LKL_AF_INET6;
      storage.sin6_port = htons(port);
      inet_pton(AF_INET6, ip.c_str(), &storage.sin6_addr);
      len = sizeof(storage);
    }
  }
  lkl_sockaddr *get() { return reinterpret_cast<lkl_sockaddr *>(&storage); }
};

long SetLklTimeouts(int fd, int seconds) {
  __lkl__kernel_old_timeval tv{};
  tv.tv_sec = seconds;
  for (int opt : {LKL_SO_RCVTIMEO_OLD, LKL_SO_SNDTIMEO_OLD}) {
    const long ret =
        lkl_sys_setsockopt(fd, LKL_SOL_SOCKET, opt, reinterpret_cast<char *>(&tv), sizeof(tv));
    if (ret < 0) return ret;
  }
  return 0;
}

auto LklReader(int fd) {
  return [fd](unsigned char *p, size_t n) {
    return lkl_sys_read(static_cast<unsigned>(fd), reinterpret_cast<char *>(p), n);
  };
}
auto LklWriter(int fd) {
  return [fd](const unsigned char *p, size_t n) {
    return lkl_sys_write(static_cast<unsigned>(fd), reinterpret_cast<const char *>(p), n);
  };
}

// The client's half of an exchange, in this process: connects to ip:port, sends len bytes of
// stream 1, half-closes, receives len bytes of stream 2.
struct ClientResult {
  long error = 0;  // connect or socket failure
  StreamResult sent, received;
};

ClientResult RunLklClient(int family, const std::string &ip, uint16_t port, size_t len) {
  ClientResult r;
  const long fd = lkl_sys_socket(family, LKL_SOCK_STREAM, 0);
  if (fd < 0) {
    r.error = fd;
    return r;
  }
  lkl::Fd sock(static_cast<int>(fd));
  LklSockAddr peer(family, ip, port);
  if ((r.error = SetLklTimeouts(sock.get(), kIoTimeoutSeconds)) < 0 ||
      (r.error = lkl_sys_connect(sock.get(), peer.get(), peer.len)) < 0)
    return r;
  r.sent = SendStream(1, len, LklWriter(sock.get()));
  lkl_sys_shutdown(sock.get(), LKL_SHUT_WR);
  r.received = ReceiveStream(len, LklReader(sock.get()));
  return r;
}

// ---- the second library instance (child process) --------------------------------------------

// Commands from the test process and replies, one SOCK_SEQPACKET message each.
struct PeerCommand {
  uint32_t quit;
  uint32_t combo;
  int32_t family;
  uint64_t bytes;
};

struct PeerReply {
  int64_t error;     // 0, or a negative errno (what says where)
  uint32_t offload;  // what the peer's driver negotiated
  uint32_t ring;     // the ring features it negotiated (none offered)
  uint32_t intact;   // the bytes received were stream 1
  uint64_t received;
  double mbps;             // as received
  lkl_netdev_stats stats;  // the peer device's counters over the exchange
  char what[160];
};

void SetWhat(PeerReply *r, const std::string &what) {
  std::snprintf(r->what, sizeof(r->what), "%s", what.c_str());
}

// Waits up to limit for a message on fd: its length, 0 at EOF, or a negative errno.
long RecvMessage(int fd, void *msg, size_t len, std::chrono::seconds limit) {
  pollfd pfd = {fd, POLLIN, 0};
  const int n = poll(&pfd, 1, static_cast<int>(std::chrono::milliseconds(limit).count()));
  if (n < 0) return -errno;
  if (n == 0) return -ETIMEDOUT;
  const ssize_t got = recv(fd, msg, len, 0);
  return got < 0 ? -errno : got;
}

bool SendMessage(int fd, const void *msg, size_t len) {
  return send(fd, msg, len, MSG_NOSIGNAL) == static_cast<ssize_t>(len);
}

// The child: one shm device per offload set with the mirrored mask, a listener of each family on
// each, then one served exchange per command. Returns the exit code.
class Peer {
 public:
  explicit Peer(int ctl) : ctl_(ctl) {}

  int Run(pid_t parent) {
    PeerReply ready{};
    try {
      Start(parent);
    } catch (const std::exception &e) {
      ready.error = -EPROTO;
      SetWhat(&ready, std::string("peer start: ") + e.what());
    }
    if (!SendMessage(ctl_, &ready, sizeof(ready)) || ready.error != 0) return 1;
    // Bounded: a few commands per test, and a silent test process for long means it is gone.
    for (int i = 0; i < 64 * static_cast<int>(kNumCombos); i++) {
      PeerCommand cmd{};
      if (RecvMessage(ctl_, &cmd, sizeof(cmd), 300s) != sizeof(cmd) || cmd.quit) break;
      const PeerReply reply = Serve(cmd);
      if (!SendMessage(ctl_, &reply, sizeof(reply))) break;
    }
    listeners_.clear();
    devices_.clear();
    backends_.clear();
    return kernel_ && kernel_->halt() == 0 ? 0 : 1;
  }

 private:
  void Start(pid_t parent) {
    backends_.reserve(kNumCombos);
    devices_.reserve(kNumCombos);
    for (size_t i = 0; i < kNumCombos; i++) {
      const unsigned offload = Mirror(kCombos[i].offload);
      backends_.push_back(lkl::NetBackend::shm(ShmLinkName(parent, i), offload));
      devices_.emplace_back(backends_.back(), lkl::NetDeviceOptions{Mac(Transport::kShm, i, 2),
                                                                    offload, kNoRingFeatures, 0});
    }
    kernel_.emplace("mem=256M loglevel=4");
    for (size_t i = 0; i < kNumCombos; i++) {
      ifnames_.push_back(ConfigureInterface(devices_[i].ifindex(),
                                            Ip(Transport::kShm, i, LKL_AF_INET, 2),
                                            Ip(Transport::kShm, i, LKL_AF_INET6, 2)));
    }
    // Addresses are tentative (not bindable) until duplicate address detection ends.
    for (size_t i = 0; i < kNumCombos; i++)
      lkl::Interface(devices_[i].ifindex())
          .wait_dad(lkl::IpAddress::parse(Ip(Transport::kShm, i, LKL_AF_INET6, 2)));
    for (size_t i = 0; i < kNumCombos; i++) {
      for (int family : {LKL_AF_INET, LKL_AF_INET6}) {
        lkl::Fd sock(static_cast<int>(
            lkl::check(lkl_sys_socket(family, LKL_SOCK_STREAM, 0), "peer socket")));
        LklSockAddr addr(family, Ip(Transport::kShm, i, family, 2), kPort);
        lkl::check(lkl_sys_bind(sock.get(), addr.get(), addr.len), "peer bind");
        lkl::check(lkl_sys_listen(sock.get(), 1), "peer listen");
        // accept() waits at most this long too.
        lkl::check(SetLklTimeouts(sock.get(), kIoTimeoutSeconds), "peer timeouts");
        listeners_.push_back(std::move(sock));
      }
    }
  }

  PeerReply Serve(const PeerCommand &cmd) {
    PeerReply r{};
    if (cmd.combo >= kNumCombos || (cmd.family != LKL_AF_INET && cmd.family != LKL_AF_INET6)) {
      r.error = -EINVAL;
      SetWhat(&r, "bad command");
      return r;
    }
    lkl::NetDevice &device = devices_[cmd.combo];
    r.offload = NegotiatedOffloads(ifnames_[cmd.combo]);
    r.ring = NegotiatedRingFeatures(ifnames_[cmd.combo]);
    const lkl_netdev_stats before = device.stats();
    const int listener = listeners_[cmd.combo * 2 + (cmd.family == LKL_AF_INET6)].get();
    const long fd = lkl_sys_accept4(listener, nullptr, nullptr, 0);
    if (fd < 0) {
      r.error = fd;
      SetWhat(&r, "peer accept");
      return r;
    }
    lkl::Fd conn(static_cast<int>(fd));
    SetLklTimeouts(conn.get(), kIoTimeoutSeconds);
    const StreamResult got = ReceiveStream(cmd.bytes, LklReader(conn.get()));
    r.received = got.bytes;
    r.intact = got.bytes == cmd.bytes && got.checksum == ExpectedChecksum(1, cmd.bytes);
    r.mbps = Mbps(got);
    if (got.error < 0) {
      r.error = got.error;
      SetWhat(&r, "peer receive");
      return r;
    }
    const StreamResult sent = SendStream(2, cmd.bytes, LklWriter(conn.get()));
    if (sent.error < 0) {
      r.error = sent.error;
      SetWhat(&r, "peer send");
    }
    conn.reset();
    r.stats = Delta(device.stats(), before);
    return r;
  }

  const int ctl_;
  // Destroyed in reverse: listeners, devices, backends, then the kernel.
  std::optional<lkl::Kernel> kernel_;
  std::vector<lkl::NetBackend> backends_;
  std::vector<lkl::NetDevice> devices_;
  std::vector<std::string> ifnames_;
  std::vector<lkl::Fd> listeners_;
};

// ---- this process: the library with a TAP and an shm device per offload set -------------------

struct Link {
  Transport transport;
  size_t combo;
  std::optional<lkl::NetBackend> backend;
  std::optional<lkl::NetDevice> device;
  std::string ifname;
  // The host interface with the host's addresses: the TAP, or the host end of the veth pair.
  std::string HostIf() const {
    const std::string n = std::to_string(combo + 1);
    return (transport == Transport::kRaw ? "omveth" : "omtap") + n;
  }
  // The veth end the packet socket is bound to (raw only).
  std::string RawEnd() const { return "omraw" + std::to_string(combo + 1); }
};

class MatrixEnvironment : public ::testing::Environment {
 public:
  static MatrixEnvironment *instance;

  void SetUp() override {
    // GoogleTest does not catch exceptions from environments.
    try {
      SetUpOrThrow();
    } catch (const std::exception &e) {
      FAIL() << e.what();
    }
  }

  void TearDown() override {
    if (peer_pid_ > 0) {
      const PeerCommand quit{1, 0, 0, 0};
      SendMessage(ctl_->get(), &quit, sizeof(quit));
    }
    // Devices go before the kernel halts, backends after.
    for (auto &link : links_) link->device.reset();
    if (kernel_) {
      EXPECT_EQ(kernel_->halt(), 0);
    }
    kernel_.reset();
    links_.clear();
    if (peer_pid_ > 0) {
      int status = -1;
      const auto deadline = Clock::now() + 30s;
      while (waitpid(peer_pid_, &status, WNOHANG) == 0 && Clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
      if (Clock::now() >= deadline) {
        kill(peer_pid_, SIGKILL);
        waitpid(peer_pid_, &status, 0);
      }
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << "the peer process ended with status " << status;
    }
  }

  const std::string &tap_skip() const { return tap_skip_; }
  const std::string &peer_error() const { return peer_error_; }
  Link *link(Transport t, size_t combo) {
    for (auto &l : links_)
      if (l->transport == t && l->combo == combo) return l.get();
    return nullptr;
  }

  // Has the peer serve one exchange on the shm link of combo (false if it cannot be told), then
  // collects its reply: the message's length or a negative errno.
  bool PeerServe(size_t combo, int family, size_t bytes) {
    const PeerCommand cmd{0, static_cast<uint32_t>(combo), family, bytes};
    return SendMessage(ctl_->get(), &cmd, sizeof(cmd));
  }
  long PeerResult(PeerReply *reply) { return RecvMessage(ctl_->get(), reply, sizeof(*reply), 60s); }

 private:
  void SetUpOrThrow() {
    const bool root = geteuid() == 0;
    if (root) {
      const std::string err = netns_.Enter();
      if (!err.empty()) throw std::runtime_error(err);
    } else {
      tap_skip_ = "needs root (network namespace, TAP, veth, packet socket)";
    }
    StartPeer();
    if (root) {
      for (Transport t : {Transport::kTap, Transport::kRaw}) {
        for (size_t i = 0; i < kNumCombos; i++) {
          if (!InMatrix(t, i)) continue;
          auto link = std::make_unique<Link>(Link{t, i, {}, {}, {}});
          const unsigned offload = kCombos[i].offload;
          if (t == Transport::kRaw) {
            MakeVethPair(*link, offload);
            link->backend.emplace(lkl::NetBackend::raw(link->RawEnd()));
          } else {
            link->backend.emplace(lkl::NetBackend::tap(link->HostIf(), offload));
          }
          link->device.emplace(*link->backend, lkl::NetDeviceOptions{Mac(t, i, 2), offload, 0, 0});
          links_.push_back(std::move(link));
        }
      }
    }
    // Each waits for the peer to create the same link (in the same order).
    for (size_t i = 0; i < kNumCombos; i++) {
      auto link = std::make_unique<Link>(Link{Transport::kShm, i, {}, {}, {}});
      link->backend.emplace(lkl::NetBackend::shm(ShmLinkName(getpid(), i), kCombos[i].offload));
      link->device.emplace(*link->backend, lkl::NetDeviceOptions{Mac(Transport::kShm, i, 1),
                                                                 kCombos[i].offload, 0, 0});
      links_.push_back(std::move(link));
    }
    kernel_.emplace("mem=1024M loglevel=4");
    for (auto &link : links_) {
      const Transport t = link->transport;
      const int here = HostPeer(t) ? 2 : 1;
      link->ifname =
          ConfigureInterface(link->device->ifindex(), Ip(t, link->combo, LKL_AF_INET, here),
                             Ip(t, link->combo, LKL_AF_INET6, here));
      if (HostPeer(t)) {
        std::string out;
        const std::string host_if = link->HostIf();
        const std::string cmd = "ip addr add " + Ip(t, link->combo, LKL_AF_INET, 1) + "/24 dev " +
                                host_if + " && ip -6 addr add " +
                                Ip(t, link->combo, LKL_AF_INET6, 1) + "/64 dev " + host_if +
                                " nodad && ip link set " + host_if + " up";
        if (Shell(cmd, &out) != 0) throw std::runtime_error(cmd + ": " + out);
      }
    }
    for (auto &link : links_) {
      const int here = HostPeer(link->transport) ? 2 : 1;
      lkl::Interface(link->device->ifindex())
          .wait_dad(lkl::IpAddress::parse(Ip(link->transport, link->combo, LKL_AF_INET6, here)));
    }
    PeerReply ready{};
    const long n = RecvMessage(ctl_->get(), &ready, sizeof(ready), 60s);
    if (n != sizeof(ready))
      peer_error_ = "no word from the peer process: " + DescribeRet(n);
    else if (ready.error != 0)
      peer_error_ = ready.what;
  }

  // The veth pair of a raw link. The packet socket's end has every offload (what the library
  // sends goes through as it is) and no address or IPv6 of its own. The host's end sends to the
  // library only what the driver negotiated: checksum offload (tx) for GUEST_CSUM, TSO per family
  // for GUEST_TSO4/6, TSO of CWR segments for GUEST_ECN; otherwise the host kernel checksums or
  // cuts the segments before they cross.
  static void MakeVethPair(const Link &link, unsigned offload) {
    const auto on = [offload](unsigned bits) { return (offload & bits) ? " on" : " off"; };
    const std::string host_if = link.HostIf(), raw_end = link.RawEnd();
    const std::string cmd = "ip link add " + host_if + " type veth peer name " + raw_end +
                            " && sysctl -qw net.ipv6.conf." + raw_end +
                            ".disable_ipv6=1 && ip link set " + raw_end + " up && ethtool -K " +
                            host_if + " tx" + on(kGuestCsum) + " tx-tcp-segmentation" +
                            on(kGuestTso4) + " tx-tcp6-segmentation" + on(kGuestTso6) +
                            " tx-tcp-ecn-segmentation" + on(kGuestEcn);
    std::string out;
    if (Shell(cmd, &out) != 0) throw std::runtime_error(cmd + ": " + out);
  }

  // Forks the second instance now, while this process has no threads and no kernel.
  void StartPeer() {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
      throw std::runtime_error(std::string("socketpair: ") + std::strerror(errno));
    const pid_t parent = getpid();
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      close(fds[0]);
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      Peer peer(fds[1]);
      const int code = peer.Run(parent);
      std::fflush(nullptr);
      _exit(code);
    }
    close(fds[1]);
    ctl_.emplace(fds[0]);
    peer_pid_ = pid;
  }

  std::string tap_skip_, peer_error_;
  PrivateNetns netns_;
  pid_t peer_pid_ = -1;
  std::optional<HostFd> ctl_;
  std::vector<std::unique_ptr<Link>> links_;
  std::optional<lkl::Kernel> kernel_;
};

MatrixEnvironment *MatrixEnvironment::instance =
    static_cast<MatrixEnvironment *>(::testing::AddGlobalTestEnvironment(new MatrixEnvironment));

// ---- exchanges ------------------------------------------------------------------------------

struct Exchange {
  double out_mbps = 0, in_mbps = 0;  // library -> peer, peer -> library, as received
  std::optional<lkl_netdev_stats> peer_stats;
  unsigned peer_offload = 0, peer_ring = 0;
};

sockaddr_storage HostSockAddr(int family, const std::string &ip, uint16_t port, socklen_t *len) {
  sockaddr_storage ss{};
  if (family == LKL_AF_INET) {
    const sockaddr_in sin = HostAddr(ip, port);
    std::memcpy(&ss, &sin, sizeof(sin));
    *len = sizeof(sin);
  } else {
    auto *sin6 = reinterpret_cast<sockaddr_in6 *>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    inet_pton(AF_INET6, ip.c_str(), &sin6->sin6_addr);
    *len = sizeof(*sin6);
  }
  return ss;
}

// The library connects to a host listener over a TAP or veth link; the host receives, then sends
// back.
void ExchangeOverTap(const Link &link, int family, size_t len, Exchange *x) {
  const int host_family = family == LKL_AF_INET ? AF_INET : AF_INET6;
  const std::string host_ip = Ip(link.transport, link.combo, family, 1);
  HostFd listener(socket(host_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_GE(listener.get(), 0) << std::strerror(errno);
  socklen_t addr_len;
  sockaddr_storage addr = HostSockAddr(family, host_ip, 0, &addr_len);
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr *>(&addr), addr_len), 0)
      << host_ip << ": " << std::strerror(errno);
  ASSERT_EQ(getsockname(listener.get(), reinterpret_cast<sockaddr *>(&addr), &addr_len), 0);
  ASSERT_EQ(listen(listener.get(), 1), 0);
  const uint16_t port = ntohs(reinterpret_cast<sockaddr_in *>(&addr)->sin_port);

  StreamResult host_received, host_sent;
  long host_error = 0;
  std::thread host([&] {
    pollfd pfd = {listener.get(), POLLIN, 0};
    if (poll(&pfd, 1, kIoTimeoutSeconds * 1000) != 1) {
      host_error = -ETIMEDOUT;
      return;
    }
    HostFd conn(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (conn.get() < 0) {
      host_error = -errno;
      return;
    }
    const timeval tv = {kIoTimeoutSeconds, 0};
    setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(conn.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    host_received = ReceiveStream(len, [&](unsigned char *p, size_t n) {
      const ssize_t r = read(conn.get(), p, n);
      return r < 0 ? -static_cast<long>(errno) : static_cast<long>(r);
    });
    host_sent = SendStream(2, len, [&](const unsigned char *p, size_t n) {
      const ssize_t w = write(conn.get(), p, n);
      return w < 0 ? -static_cast<long>(errno) : static_cast<long>(w);
    });
    shutdown(conn.get(), SHUT_WR);
  });
  const ClientResult lkl = RunLklClient(family, host_ip, port, len);
  host.join();

  ASSERT_LKL_OK(lkl.error);
  ASSERT_EQ(host_error, 0) << std::strerror(static_cast<int>(-host_error));
  EXPECT_LKL_OK(lkl.sent.error);
  EXPECT_LKL_OK(lkl.received.error);
  EXPECT_EQ(host_received.error, 0) << std::strerror(static_cast<int>(-host_received.error));
  EXPECT_EQ(host_sent.error, 0) << std::strerror(static_cast<int>(-host_sent.error));
  EXPECT_EQ(host_received.bytes, len);
  EXPECT_EQ(host_received.checksum, ExpectedChecksum(1, len)) << "library -> host: data differ";
  EXPECT_EQ(lkl.received.bytes, len);
  EXPECT_EQ(lkl.received.checksum, ExpectedChecksum(2, len)) << "host -> library: data differ";
  x->out_mbps = Mbps(host_received);
  x->in_mbps = Mbps(lkl.received);
}

// The library connects to the peer process over the shm link; the peer receives, then sends back.
void ExchangeOverShm(const Link &link, int family, size_t len, Exchange *x) {
  MatrixEnvironment *env = MatrixEnvironment::instance;
  ASSERT_TRUE(env->PeerServe(link.combo, family, len)) << "the peer process is gone";
  const ClientResult lkl =
      RunLklClient(family, Ip(Transport::kShm, link.combo, family, 2), kPort, len);
  PeerReply reply{};
  const long n = env->PeerResult(&reply);
  ASSERT_EQ(n, static_cast<long>(sizeof(reply))) << "no reply from the peer: " << DescribeRet(n);
  ASSERT_LKL_OK(lkl.error);
  EXPECT_EQ(reply.error, 0) << reply.what << ": " << DescribeRet(reply.error);
  EXPECT_LKL_OK(lkl.sent.error);
  EXPECT_LKL_OK(lkl.received.error);
  EXPECT_EQ(reply.received, len);
  EXPECT_TRUE(reply.intact) << "library -> peer: data differ";
  EXPECT_EQ(lkl.received.bytes, len);
  EXPECT_EQ(lkl.received.checksum, ExpectedChecksum(2, len)) << "peer -> library: data differ";
  x->out_mbps = reply.mbps;
  x->in_mbps = Mbps(lkl.received);
  x->peer_stats = reply.stats;
  x->peer_offload = reply.offload;
  x->peer_ring = reply.ring;
}

// ---- the checks -----------------------------------------------------------------------------

// The counters of one device over one exchange of family, given the offloads its driver has.
void CheckCounters(const char *who, const lkl_netdev_stats &s, unsigned offload, int family) {
  SCOPED_TRACE(who);
  const bool v6 = family == LKL_AF_INET6;
  // Large segments go out only with host TSO of the family, come in only with guest TSO; all of
  // them are GSO frames (the MTU is 1500 everywhere).
  if (offload & (v6 ? kHostTso6 : kHostTso4)) {
    EXPECT_GT(s.tx_large, 0u) << "TSO on, yet no segment larger than the MTU was sent";
    EXPECT_LE(s.tx_large, s.tx_gso);
  } else {
    EXPECT_EQ(s.tx_large, 0u) << "TSO off, yet segments larger than the MTU were sent";
    EXPECT_EQ(s.tx_gso, 0u);
  }
  if (offload & (v6 ? kGuestTso6 : kGuestTso4)) {
    EXPECT_GT(s.rx_large, 0u) << "guest TSO on, yet no segment larger than the MTU came in";
    EXPECT_LE(s.rx_large, s.rx_gso);
  } else {
    EXPECT_EQ(s.rx_large, 0u) << "guest TSO off, yet segments larger than the MTU came in";
    EXPECT_EQ(s.rx_gso, 0u);
  }
  // With checksum offload every TCP frame leaves with its checksum partial (the sender computed
  // none); without, none does.
  if (offload & kCsum) {
    EXPECT_GT(s.tx_csum_partial, 0u);
    EXPECT_LE(Excess(s.tx_frames, s.tx_csum_partial), kOtherFrames)
        << "frames sent with a full checksum although CSUM is on: " << s.tx_frames << " sent, "
        << s.tx_csum_partial << " partial";
  } else {
    EXPECT_EQ(s.tx_csum_partial, 0u) << "partial checksums sent although CSUM is off";
  }
  const unsigned long long rx_unverified = s.rx_csum_partial + s.rx_csum_valid;
  if (offload & kGuestCsum) {
    EXPECT_GT(rx_unverified, 0u);
    EXPECT_LE(Excess(s.rx_frames, rx_unverified), kOtherFrames)
        << "frames delivered for the library to verify although GUEST_CSUM is on: " << s.rx_frames
        << " delivered, " << s.rx_csum_partial << " partial, " << s.rx_csum_valid << " valid";
  } else {
    EXPECT_EQ(rx_unverified, 0u) << "checksum flags delivered although GUEST_CSUM is off";
  }
  EXPECT_EQ(s.rx_sw_checksum, 0u) << "the device completed checksums in software";
  EXPECT_EQ(s.rx_dropped, 0u);
  EXPECT_EQ(s.tx_dropped, 0u);
  EXPECT_EQ(s.bad_chains, 0u);
  EXPECT_EQ(s.broken_queues, 0u);
}

struct MatrixParam {
  Transport transport;
  size_t combo;
  int family;
};

class OffloadMatrixTest : public ::testing::TestWithParam<MatrixParam> {
 protected:
  void SetUp() override {
    MatrixEnvironment *env = MatrixEnvironment::instance;
    if (HostPeer(GetParam().transport) && !env->tap_skip().empty()) GTEST_SKIP() << env->tap_skip();
    if (GetParam().transport == Transport::kShm) {
      ASSERT_TRUE(env->peer_error().empty()) << env->peer_error();
    }
  }
};

TEST_P(OffloadMatrixTest, TcpBothWaysBytesAndCounters) {
  const MatrixParam p = GetParam();
  const Combo &combo = kCombos[p.combo];
  Link *link = MatrixEnvironment::instance->link(p.transport, p.combo);
  ASSERT_NE(link, nullptr);
  // Not fatal: the counters then show what the difference does.
  EXPECT_EQ(OffloadNames(NegotiatedOffloads(link->ifname)), OffloadNames(combo.offload))
      << "the driver did not get exactly the offloads asked for";
  EXPECT_EQ(NegotiatedRingFeatures(link->ifname), kNoRingFeatures)
      << "ring features (EVENT_IDX, INDIRECT_DESC) missing";

  Watchdog watchdog(90s, std::string("exchange over ") + combo.name);
  Exchange x;
  const lkl_netdev_stats before = link->device->stats();
  if (HostPeer(p.transport))
    ExchangeOverTap(*link, p.family, kBytes, &x);
  else
    ExchangeOverShm(*link, p.family, kBytes, &x);
  const lkl_netdev_stats s = Delta(link->device->stats(), before);
  if (HasFatalFailure()) return;

  std::printf(
      "[ %s %-19s %s ] %zu MiB each way: library->peer %7.1f Mbit/s, peer->library %7.1f "
      "Mbit/s | tx %llu frames (%llu large, %llu partial csum), rx %llu frames (%llu large, "
      "%llu partial csum, %llu valid)\n",
      Info(p.transport).name, combo.name, FamilyName(p.family), kBytes >> 20, x.out_mbps, x.in_mbps,
      s.tx_frames, s.tx_large, s.tx_csum_partial, s.rx_frames, s.rx_large, s.rx_csum_partial,
      s.rx_csum_valid);
  if (x.peer_stats) {
    const lkl_netdev_stats &ps = *x.peer_stats;
    std::printf(
        "[ %s %-19s %s ] peer: tx %llu frames (%llu large, %llu partial csum), rx %llu "
        "frames (%llu large, %llu partial csum, %llu valid)\n",
        "shm", combo.name, FamilyName(p.family), ps.tx_frames, ps.tx_large, ps.tx_csum_partial,
        ps.rx_frames, ps.rx_large, ps.rx_csum_partial, ps.rx_csum_valid);
  }
  RecordProperty("library_to_peer_mbps", std::to_string(x.out_mbps));
  RecordProperty("peer_to_library_mbps", std::to_string(x.in_mbps));

  CheckCounters("library", s, combo.offload, p.family);
  if (x.peer_stats) {
    EXPECT_EQ(OffloadNames(x.peer_offload), OffloadNames(Mirror(combo.offload)))
        << "the peer's driver did not get exactly the mirrored offloads";
    EXPECT_EQ(x.peer_ring, 0u) << "the peer's driver has ring features it was not offered";
    CheckCounters("peer", *x.peer_stats, Mirror(combo.offload), p.family);
  }
}

// ---- ECN: large segments that carry CWR ---------------------------------------------------------

// Congestion on a TAP link, as an ECN-capable router would signal it: the host's nftables mark
// every kMarkEvery-th ECT(0) packet CE, both ways, as long as the object lives.
class CeMarking {
 public:
  static constexpr int kMarkEvery = 16;

  explicit CeMarking(const std::string &tap) : table_("omce_" + tap) {
    const std::string mark = " ecn ect0 numgen inc mod " + std::to_string(kMarkEvery) + " 0 ";
    const std::string ce = " ecn set ce counter";
    const std::string rules[] = {
        "add table inet " + table_,
        "add chain inet " + table_ + " in { type filter hook prerouting priority 0 ; }",
        "add chain inet " + table_ + " out { type filter hook postrouting priority 0 ; }",
        "add rule inet " + table_ + " in iifname " + tap + " ip" + mark + "ip" + ce,
        "add rule inet " + table_ + " in iifname " + tap + " ip6" + mark + "ip6" + ce,
        "add rule inet " + table_ + " out oifname " + tap + " ip" + mark + "ip" + ce,
        "add rule inet " + table_ + " out oifname " + tap + " ip6" + mark + "ip6" + ce,
    };
    for (const std::string &rule : rules) {
      std::string out;
      if (Shell("nft '" + rule + "'", &out) != 0) {
        error_ = "nft " + rule + ": " + out;
        return;
      }
    }
  }
  ~CeMarking() { Shell("nft delete table inet " + table_); }
  CeMarking(const CeMarking &) = delete;
  CeMarking &operator=(const CeMarking &) = delete;

  const std::string &error() const { return error_; }

  // Packets marked so far on their way into the host ("in") or out to the library ("out"); -1 if
  // nft cannot tell.
  long long Marked(const std::string &chain) const {
    std::string out;
    if (Shell("nft list chain inet " + table_ + " " + chain, &out) != 0) return -1;
    static constexpr std::string_view kCounter = "counter packets ";
    long long sum = 0;
    for (size_t at = out.find(kCounter); at != std::string::npos;
         at = out.find(kCounter, at + kCounter.size()))
      sum += std::strtoll(out.c_str() + at + kCounter.size(), nullptr, 10);
    return sum;
  }

 private:
  std::string table_, error_;
};

// The library asks for ECN on its connections (the host, at the default 2, accepts it) while the
// object lives.
class LklEcn {
 public:
  LklEcn() : before_(lkl::sysctl("net.ipv4.tcp_ecn")) { lkl::sysctl("net.ipv4.tcp_ecn", "1"); }
  ~LklEcn() { lkl_sysctl("net.ipv4.tcp_ecn", before_.c_str()); }
  LklEcn(const LklEcn &) = delete;
  LklEcn &operator=(const LklEcn &) = delete;

 private:
  std::string before_;
};

// With ECN negotiated and some packets marked CE, each receiver echoes ECE and each sender marks
// the first segment after its window reduction CWR. A TSO sender hands that segment on as a GSO
// frame with the ECN bit (VIRTIO_NET_HDR_GSO_ECN) only when the receiving end negotiated it
// (HOST_ECN for the library's driver, GUEST_ECN for the TAP, i.e. TUN_F_TSO_ECN); otherwise the
// sending kernel cuts it in software. The bytes and the other counters must not change.
class EcnMatrixTest : public OffloadMatrixTest {};

TEST_P(EcnMatrixTest, CwrSegmentsCrossAsEcnGsoFrames) {
  const MatrixParam p = GetParam();
  const Combo &combo = kCombos[p.combo];
  Link *link = MatrixEnvironment::instance->link(p.transport, p.combo);
  ASSERT_NE(link, nullptr);
  const CeMarking marking(link->HostIf());
  ASSERT_TRUE(marking.error().empty()) << marking.error();
  const LklEcn ecn;

  Watchdog watchdog(90s, std::string("ECN exchange over ") + combo.name);
  Exchange x;
  const lkl_netdev_stats before = link->device->stats();
  ExchangeOverTap(*link, p.family, kBytes, &x);
  const lkl_netdev_stats s = Delta(link->device->stats(), before);
  if (HasFatalFailure()) return;
  const long long to_lkl = marking.Marked("out"), to_host = marking.Marked("in");

  std::printf(
      "[ %s %-19s %s ECN ] library->host %7.1f Mbit/s, host->library %7.1f Mbit/s | CE packets "
      "marked: to the library %lld, to the host %lld | GSO frames with ECN: tx %llu of %llu, rx "
      "%llu of %llu\n",
      Info(p.transport).name, combo.name, FamilyName(p.family), x.out_mbps, x.in_mbps, to_lkl,
      to_host, s.tx_gso_ecn, s.tx_gso, s.rx_gso_ecn, s.rx_gso);
  // Both directions were congested (else nothing below means anything).
  EXPECT_GT(to_lkl, 0) << "no packet to the library was marked CE";
  EXPECT_GT(to_host, 0) << "no packet to the host was marked CE";

  const bool v6 = p.family == LKL_AF_INET6;
  const unsigned f = combo.offload;
  if ((f & kHostEcn) && (f & (v6 ? kHostTso6 : kHostTso4))) {
    EXPECT_GT(s.tx_gso_ecn, 0u) << "HOST_ECN on, yet no CWR segment left as one GSO frame";
    EXPECT_LE(s.tx_gso_ecn, s.tx_gso);
  } else {
    EXPECT_EQ(s.tx_gso_ecn, 0u) << "GSO frames with the ECN bit sent without HOST_ECN";
  }
  if ((f & kGuestEcn) && (f & (v6 ? kGuestTso6 : kGuestTso4))) {
    EXPECT_GT(s.rx_gso_ecn, 0u) << "GUEST_ECN on, yet no CWR segment came in as one GSO frame";
    EXPECT_LE(s.rx_gso_ecn, s.rx_gso);
  } else {
    EXPECT_EQ(s.rx_gso_ecn, 0u) << "GSO frames with the ECN bit delivered without GUEST_ECN";
  }
  CheckCounters("library", s, f, p.family);
}

void PrintTo(const MatrixParam &p, std::ostream *os) {
  *os << Info(p.transport).name << " " << kCombos[p.combo].name << " ("
      << OffloadNames(kCombos[p.combo].offload) << ") " << FamilyName(p.family);
}

std::vector<MatrixParam> Params(Transport t) {
  std::vector<MatrixParam> v;
  for (size_t i = 0; i < kNumCombos; i++)
    if (InMatrix(t, i))
      for (int family : {LKL_AF_INET, LKL_AF_INET6}) v.push_back({t, i, family});
  return v;
}

std::string ParamName(const ::testing::TestParamInfo<MatrixParam> &info) {
  return std::string(kCombos[info.param.combo].name) + "_" + FamilyName(info.param.family);
}

INSTANTIATE_TEST_SUITE_P(Tap, OffloadMatrixTest, ::testing::ValuesIn(Params(Transport::kTap)),
                         ParamName);
INSTANTIATE_TEST_SUITE_P(Shm, OffloadMatrixTest, ::testing::ValuesIn(Params(Transport::kShm)),
                         ParamName);

INSTANTIATE_TEST_SUITE_P(Raw, OffloadMatrixTest, ::testing::ValuesIn(Params(Transport::kRaw)),
                         ParamName);
// Over the shm link nothing between the two instances could mark packets CE.
INSTANTIATE_TEST_SUITE_P(Tap, EcnMatrixTest, ::testing::ValuesIn(Params(Transport::kTap)),
                         ParamName);
INSTANTIATE_TEST_SUITE_P(Raw, EcnMatrixTest, ::testing::ValuesIn(Params(Transport::kRaw)),
                         ParamName);

// The mirror of a mask is what the other end of a link must negotiate.
TEST(OffloadMaskTest, MirrorSwapsDirections) {
  EXPECT_EQ(Mirror(0), 0u);
  EXPECT_EQ(Mirror(kCsum), kGuestCsum);
  EXPECT_EQ(Mirror(kHostTso4 | kHostEcn | kCsum | kMrg),
            kGuestTso4 | kGuestEcn | kGuestCsum | kMrg);
  EXPECT_EQ(Mirror(lkl::kOffloadAll), lkl::kOffloadAll);
  for (const Combo &c : kCombos) EXPECT_EQ(Mirror(Mirror(c.offload)), c.offload) << c.name;
}

}  // namespace
