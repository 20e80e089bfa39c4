// SPDX-License-Identifier: GPL-2.0
//
// Two library instances in two processes, connected by the shared-memory link: a 1 GiB TCP
// transfer one way and 64 MiB back, both checked, then request/response round trips. The link
// needs no privileges (memfd, eventfd, an abstract Unix socket), so this runs as any user.
//
// The rendezvous against hand-made peers in this process that speak its protocol with bad
// pieces (a memfd that can shrink, a file of the wrong size or kind, a pipe for an eventfd, a
// process of another user): the library must refuse them with an error, never crash or hang.
// The tests that need a second uid run only as root.
#include "net/backend.h"
#include "netdev_util.hpp"

#include <lkl/net.hpp>

#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <algorithm>
#include <atomic>
#include <fstream>
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

// ---- the rendezvous against hand-made peers ------------------------------------------------

// What lib/net/shm.cc puts in the mapping (keep in sync): a header page whose first words are
// the magic "lkl-shm2", the ring size and the two offload masks, then two rings of 8 MiB.
constexpr uint64_t kShmMagic = 0x32686d732d6c6b6cULL;
constexpr uint64_t kShmRingBytes = 8 << 20;
constexpr off_t kShmMapBytes = 4096 + 2 * kShmRingBytes;
constexpr int kShmSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
constexpr uid_t kOtherUid = 65534;  // nobody

std::string UniqueLink(const char *what) {
  static std::atomic<int> counter{0};
  return std::string(what) + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
}

socklen_t LinkAddress(const std::string &link, sockaddr_un *addr) {
  *addr = {};
  addr->sun_family = AF_UNIX;
  const int n =
      std::snprintf(addr->sun_path + 1, sizeof(addr->sun_path) - 1, "lkl-shm/%s", link.c_str());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
}

// Waits until someone listens on the link's name, seen in /proc/net/unix (without connecting,
// which would be a join).
bool WaitForListener(const std::string &link, std::chrono::milliseconds limit) {
  const std::string name = "@lkl-shm/" + link;
  const auto deadline = Clock::now() + limit;
  do {
    std::ifstream in("/proc/net/unix");
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string num, refs, protocol, flags, type, state, inode, path;
      if (fields >> num >> refs >> protocol >> flags >> type >> state >> inode >> path &&
          path == name && flags == "00010000")  // __SO_ACCEPTCON: listening
        return true;
    }
    std::this_thread::sleep_for(5ms);
  } while (Clock::now() < deadline);
  return false;
}

int SendFds(int sock, const int *fds, int count) {
  char byte = 0;
  iovec iov = {&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = CMSG_SPACE(count * sizeof(int));
  cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(count * sizeof(int));
  std::memcpy(CMSG_DATA(cmsg), fds, count * sizeof(int));
  return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

// Receives one message within @limit_ms: the number of descriptors it carried (stored in fds,
// up to max), 0 at end of file (or a message without any), or a negative errno.
int RecvFds(int sock, int *fds, int max, int limit_ms) {
  pollfd pfd = {sock, POLLIN, 0};
  if (poll(&pfd, 1, limit_ms) != 1) return -ETIMEDOUT;
  char byte;
  iovec iov = {&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  const ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  if (n < 0) return -errno;
  int got = 0;
  for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
      if (got < max)
        fds[got++] = fd;
      else
        close(fd);
    }
  }
  return got;
}

// A memfd of @size bytes with the header a first side writes, then @seals added.
int MakeMemfd(off_t size, int seals) {
  const int fd = memfd_create("fake-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -1;
  const uint64_t header[2] = {kShmMagic, kShmRingBytes};
  if (ftruncate(fd, size) != 0 ||
      (size >= static_cast<off_t>(sizeof(header)) &&
       pwrite(fd, header, sizeof(header), 0) != static_cast<ssize_t>(sizeof(header))) ||
      (seals && fcntl(fd, F_ADD_SEALS, seals) != 0)) {
    close(fd);
    return -1;
  }
  return fd;
}

// The result of lkl_netdev_shm_create(@link) in a child process: it exits with 0 on success,
// else with errno, so that a crash (SIGBUS) or a hang shows as such.
ChildResult CreateInChild(const std::string &link, uid_t uid = geteuid()) {
  return RunInChild(
      [&] {
        if (uid != geteuid() && (setresgid(uid, uid, uid) != 0 || setresuid(uid, uid, uid) != 0))
          _exit(100);
        errno = 0;
        lkl_netdev *nd = lkl_netdev_shm_create(link.c_str(), 0);
        const int err = errno;
        lkl_netdev_free(nd);
        _exit(nd ? 0 : err);
      },
      45s);
}

::testing::AssertionResult ExitedWith(const ChildResult &r, int code) {
  if (r.exited && r.exit_code == code && !r.timed_out) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "expected exit code " << code << " (" << (code ? strerror(code) : "success") << "); "
         << Describe(r);
}

// A first side made by hand: binds the link's name; Start() listens (after @delay) and hands
// @mem and @efd to the first connection, then waits for the one descriptor that comes back.
class FakeHost {
 public:
  explicit FakeHost(const std::string &link)
      : sock_(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) {
    sockaddr_un addr;
    const socklen_t len = LinkAddress(link, &addr);
    ok_ = sock_.get() >= 0 && bind(sock_.get(), reinterpret_cast<sockaddr *>(&addr), len) == 0;
  }
  bool ok() const { return ok_; }

  void Start(int mem, int efd, std::chrono::milliseconds delay = 0ms) {
    if (delay == 0ms) listen(sock_.get(), 1);
    thread_ = std::thread([this, mem, efd, delay] {
      if (delay != 0ms) {
        std::this_thread::sleep_for(delay);
        listen(sock_.get(), 1);
      }
      pollfd pfd = {sock_.get(), POLLIN, 0};
      if (poll(&pfd, 1, 10000) != 1) {
        result_ = -ETIMEDOUT;
        return;
      }
      HostFd conn(accept4(sock_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      const int fds[2] = {mem, efd};
      result_ = SendFds(conn.get(), fds, 2);
      if (result_ < 0) return;
      int back[2];
      result_ = RecvFds(conn.get(), back, 2, 10000);
      for (int i = 0; i < result_; i++) close(back[i]);
    });
  }
  // The number of descriptors that came back, or a negative errno.
  int Finish() {
    thread_.join();
    return result_;
  }

 private:
  HostFd sock_;
  bool ok_;
  std::thread thread_;
  int result_ = -1;
};

// Makes the process's side join a fake first side that hands over @mem and @efd: the child's
// ChildResult, and in *served what the fake side got back.
ChildResult JoinFake(int mem, int efd, int *served) {
  const std::string link = UniqueLink("fake-host");
  FakeHost host(link);
  EXPECT_TRUE(host.ok()) << strerror(errno);
  host.Start(mem, efd);
  ChildResult r = CreateInChild(link);
  *served = host.Finish();
  return r;
}

// Each end offers a send offload only if the other end asked for the matching receive offload:
// two ends created with the same one-sided mask (send TSO, no receive TSO) must not offer TSO, or
// each would send segments the other's driver drops.
TEST(ShmRendezvousTest, OffloadsFollowThePeersMask) {
  const auto bit = [](int f) { return 1ULL << f; };
  const std::uint64_t csum = bit(LKL_VIRTIO_NET_F_CSUM) | bit(LKL_VIRTIO_NET_F_GUEST_CSUM);
  const std::uint64_t send_tso = bit(LKL_VIRTIO_NET_F_HOST_TSO4) | bit(LKL_VIRTIO_NET_F_HOST_TSO6);
  const std::uint64_t recv_tso =
      bit(LKL_VIRTIO_NET_F_GUEST_TSO4) | bit(LKL_VIRTIO_NET_F_GUEST_TSO6);
  const struct {
    std::uint64_t a, b, a_gets, b_gets;
  } kCases[] = {
      {csum | send_tso, csum | send_tso, csum, csum},  // same one-sided mask: no TSO either way
      {csum | send_tso, csum | recv_tso, csum | send_tso, csum | recv_tso},  // mirrored
      {csum | send_tso | recv_tso, csum, csum, csum},
      {bit(LKL_VIRTIO_NET_F_CSUM), bit(LKL_VIRTIO_NET_F_CSUM), 0, 0},  // nobody takes partial
  };
  for (const auto &c : kCases) {
    const std::string link = UniqueLink("mask");
    lkl::net::Backend *a = nullptr, *b = nullptr;
    int err_a = 0, err_b = 0;
    std::thread first([&] { a = lkl::net::create_shm(link.c_str(), c.a, &err_a); });
    const bool listening = WaitForListener(link, 10s);
    if (listening) b = lkl::net::create_shm(link.c_str(), c.b, &err_b);
    first.join();  // within the 30 s a first side waits
    ASSERT_TRUE(listening);
    ASSERT_NE(a, nullptr) << std::strerror(-err_a);
    ASSERT_NE(b, nullptr) << std::strerror(-err_b);
    EXPECT_EQ(a->features(), c.a_gets) << std::hex << c.a << " / " << c.b;
    EXPECT_EQ(b->features(), c.b_gets) << std::hex << c.a << " / " << c.b;
    a->destroy();
    b->destroy();
  }
}

TEST(ShmRendezvousTest, JoinsWellFormedFakeHost) {  // the fake is faithful: the others mean it
  HostFd mem(MakeMemfd(kShmMapBytes, kShmSeals));
  HostFd efd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  ASSERT_GE(mem.get(), 0);
  int served;
  EXPECT_TRUE(ExitedWith(JoinFake(mem.get(), efd.get(), &served), 0));
  EXPECT_EQ(served, 1);  // the joiner's eventfd
}

// The first side is between bind() and listen() (here for a long while): the second must try
// again, not give up at once (and leave the first to wait in vain).
TEST(ShmRendezvousTest, JoinsHostThatListensLate) {
  HostFd mem(MakeMemfd(kShmMapBytes, kShmSeals));
  HostFd efd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  ASSERT_GE(mem.get(), 0);
  const std::string link = UniqueLink("late-listener");
  FakeHost host(link);
  ASSERT_TRUE(host.ok()) << strerror(errno);
  host.Start(mem.get(), efd.get(), 200ms);
  EXPECT_TRUE(ExitedWith(CreateInChild(link), 0));
  EXPECT_EQ(host.Finish(), 1);
}

TEST(ShmRendezvousTest, RefusesUnsealedMemfd) {
  // The fake could shrink it under the joiner's mapping at any time.
  HostFd mem(MakeMemfd(kShmMapBytes, 0));
  HostFd efd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  ASSERT_GE(mem.get(), 0);
  int served;
  EXPECT_TRUE(ExitedWith(JoinFake(mem.get(), efd.get(), &served), EPROTO));
  EXPECT_EQ(served, 0);
}

TEST(ShmRendezvousTest, RefusesTruncatedMemfd) {  // was SIGBUS on the first access
  HostFd mem(MakeMemfd(0, 0));
  HostFd efd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  ASSERT_GE(mem.get(), 0);
  int served;
  EXPECT_TRUE(ExitedWith(JoinFake(mem.get(), efd.get(), &served), EPROTO));
  EXPECT_EQ(served, 0);
}

TEST(ShmRendezvousTest, RefusesSealedMemfdOfWrongSize) {
  for (off_t size : {off_t{4096}, kShmMapBytes - 4096, kShmMapBytes + 4096}) {
    SCOPED_TRACE("size " + std::to_string(size));
    HostFd mem(MakeMemfd(size, kShmSeals));
    HostFd efd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    ASSERT_GE(mem.get(), 0);
    int served;
    EXPECT_TRUE(ExitedWith(JoinFake(mem.get(), efd.get(), &served), EPROTO));
    EXPECT_EQ(served, 0);
  }
}

TEST(ShmRendezvousTest, RefusesRegularFile) {  // right size and contents, but anyone may resize it
  HostFd file(open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  ASSERT_GE(file.get(), 0) << strerror(errno);
  const uint64_t header[2] = {kShmMagic, kShmRingBytes};
  ASSERT_EQ(ftruncate(file.get(), kShmMapBytes), 0);
  ASSERT_EQ(pwrite(file.get(), header, sizeof(header), 0), static_cast<ssize_t>(sizeof(header)));
  HostFd efd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  int served;
  EXPECT_TRUE(ExitedWith(JoinFake(file.get(), efd.get(), &served), EPROTO));
  EXPECT_EQ(served, 0);
}

TEST(ShmRendezvousTest, RefusesPipeForEventfd) {
  for (int flags : {0, O_NONBLOCK}) {  // blocking: a write could hang the device
    SCOPED_TRACE(flags ? "non-blocking pipe" : "blocking pipe");
    HostFd mem(MakeMemfd(kShmMapBytes, kShmSeals));
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC | flags), 0);
    HostFd rd(p[0]), wr(p[1]);
    int served;
    EXPECT_TRUE(ExitedWith(JoinFake(mem.get(), wr.get(), &served), EPROTO));
    EXPECT_EQ(served, 0);
  }
}

// A second side made by hand against the library's first side (in a child): the memfd must come
// sealed, and a pipe sent back instead of an eventfd must be refused.
TEST(ShmRendezvousTest, HostSealsMemfdAndRefusesPipeForEventfd) {
  const std::string link = UniqueLink("fake-joiner");
  int seals = -1, truncate_errno = 0;
  off_t size = -1;
  int received = -1, sent = -1;
  std::thread joiner([&] {
    if (!WaitForListener(link, 10s)) return;
    HostFd sock(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    sockaddr_un addr;
    const socklen_t len = LinkAddress(link, &addr);
    if (connect(sock.get(), reinterpret_cast<sockaddr *>(&addr), len) != 0) return;
    int fds[2];
    received = RecvFds(sock.get(), fds, 2, 10000);
    if (received != 2) return;
    HostFd mem(fds[0]), efd(fds[1]);
    seals = fcntl(mem.get(), F_GET_SEALS);
    struct stat st;
    if (fstat(mem.get(), &st) == 0) size = st.st_size;
    // What a hostile peer would do to make the other side fault.
    if (ftruncate(mem.get(), 4096) != 0) truncate_errno = errno;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return;
    HostFd rd(p[0]), wr(p[1]);
    const int back = wr.get();
    sent = SendFds(sock.get(), &back, 1);
  });
  const ChildResult r = CreateInChild(link);
  joiner.join();
  EXPECT_TRUE(ExitedWith(r, EPROTO));
  ASSERT_EQ(received, 2);
  EXPECT_EQ(seals & kShmSeals, kShmSeals);
  EXPECT_EQ(size, kShmMapBytes);
  EXPECT_EQ(truncate_errno, EPERM);
  EXPECT_EQ(sent, 0);
}

// A process of another user connects while the first side waits: it must get nothing, and the
// first side must still take the right peer afterwards.
TEST(ShmRendezvousTest, HostIgnoresOtherUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run a process as another user";
  const std::string link = UniqueLink("other-user-joiner");
  lkl_netdev *host_nd = nullptr;
  int host_errno = 0;
  std::thread host([&] {
    errno = 0;
    host_nd = lkl_netdev_shm_create(link.c_str(), 0);
    host_errno = errno;
  });
  const bool listening = WaitForListener(link, 10s);
  EXPECT_TRUE(listening);
  // The intruder exits 0 if the first side hung up on it, 1 if it was handed descriptors.
  const ChildResult intruder = RunInChild(
      [&] {
        if (setresgid(kOtherUid, kOtherUid, kOtherUid) != 0 ||
            setresuid(kOtherUid, kOtherUid, kOtherUid) != 0)
          _exit(100);
        const int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        sockaddr_un addr;
        const socklen_t len = LinkAddress(link, &addr);
        if (connect(sock, reinterpret_cast<sockaddr *>(&addr), len) != 0) _exit(101);
        int fds[2];
        const int got = RecvFds(sock, fds, 2, 10000);
        _exit(got == 0 ? 0 : got > 0 ? 1 : 102);
      },
      30s);
  EXPECT_TRUE(ExitedWith(intruder, 0));
  if (listening && intruder.exited && intruder.exit_code == 0) {
    // Still waiting: join it (a failed first side would make this one wait 30 s instead).
    errno = 0;
    lkl_netdev *nd = lkl_netdev_shm_create(link.c_str(), 0);
    EXPECT_NE(nd, nullptr) << strerror(errno);
    lkl_netdev_free(nd);
  }
  host.join();
  EXPECT_NE(host_nd, nullptr) << strerror(host_errno);
  lkl_netdev_free(host_nd);
}

// The first side belongs to another user: the joining side must refuse it.
TEST(ShmRendezvousTest, JoinerRefusesOtherUsersHost) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run a process as another user";
  const std::string link = UniqueLink("other-user-host");
  std::vector<Child> host;
  host.push_back(Spawn([&] {
    if (setresgid(kOtherUid, kOtherUid, kOtherUid) != 0 ||
        setresuid(kOtherUid, kOtherUid, kOtherUid) != 0)
      return 100;
    errno = 0;
    lkl_netdev *nd = lkl_netdev_shm_create(link.c_str(), 0);
    const int err = errno;
    lkl_netdev_free(nd);
    return nd ? 0 : err;
  }));
  ASSERT_GT(host[0].pid, 0);
  const bool listening = WaitForListener(link, 10s);
  EXPECT_TRUE(listening);
  if (listening) {
    errno = 0;
    lkl_netdev *nd = lkl_netdev_shm_create(link.c_str(), 0);
    const int join_errno = errno;
    EXPECT_EQ(nd, nullptr);
    EXPECT_EQ(join_errno, EACCES) << strerror(join_errno);
    lkl_netdev_free(nd);
  }
  // It refuses us in turn and would wait out its 30 s: stop it.
  std::this_thread::sleep_for(100ms);
  kill(host[0].pid, SIGKILL);
  Reap(&host, 10s);
  EXPECT_NE(host[0].status, 0) << "the other user's first side was joined; its output:\n"
                               << host[0].output;
}

// Signals while the first side waits must not end the wait (poll() fails with EINTR).
TEST(ShmRendezvousTest, HostWaitSurvivesSignals) {
  struct sigaction action {
  }, old{};
  action.sa_handler = [](int) {};
  sigemptyset(&action.sa_mask);
  ASSERT_EQ(sigaction(SIGUSR1, &action, &old), 0);  // no SA_RESTART (poll() ignores it anyway)
  const std::string link = UniqueLink("signals");
  lkl_netdev *host_nd = nullptr;
  int host_errno = 0;
  std::atomic<bool> host_done{false};
  std::thread host([&] {
    errno = 0;
    host_nd = lkl_netdev_shm_create(link.c_str(), 0);
    host_errno = errno;
    host_done = true;
  });
  EXPECT_TRUE(WaitForListener(link, 10s));
  for (int i = 0; i < 20 && !host_done; i++) {
    pthread_kill(host.native_handle(), SIGUSR1);
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_FALSE(host_done) << "the first side gave up: " << strerror(host_errno);
  // Join by hand (a real joiner would wait 30 s if the first side had given up).
  HostFd sock(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  sockaddr_un addr;
  const socklen_t len = LinkAddress(link, &addr);
  if (connect(sock.get(), reinterpret_cast<sockaddr *>(&addr), len) == 0) {
    int fds[2];
    const int got = RecvFds(sock.get(), fds, 2, 10000);
    EXPECT_EQ(got, 2);
    for (int i = 0; i < got; i++) close(fds[i]);
    HostFd efd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    const int back = efd.get();
    EXPECT_EQ(SendFds(sock.get(), &back, 1), 0);
  } else {
    ADD_FAILURE() << "connect: " << strerror(errno);
  }
  host.join();
  EXPECT_NE(host_nd, nullptr) << strerror(host_errno);
  lkl_netdev_free(host_nd);
  sigaction(SIGUSR1, &old, nullptr);
}

}  // namespace
