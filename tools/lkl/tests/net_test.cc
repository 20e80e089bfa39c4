// SPDX-License-Identifier: GPL-2.0
//
// TCP and UDP over the instance's own loopback device, with host threads
// blocking in the library against each other.
#include "test_util.hpp"

#include <atomic>
#include <vector>

namespace {

using namespace lkl_test;

class NetEnvironment : public KernelEnvironment {
 public:
  NetEnvironment() : KernelEnvironment("mem=64M loglevel=4") {}

  void SetUp() override {
    KernelEnvironment::SetUp();
    if (::testing::Test::HasFatalFailure()) return;
    ASSERT_LKL_OK(LoopbackUp());
  }
};

[[maybe_unused]] const auto *const kEnv = ::testing::AddGlobalTestEnvironment(new NetEnvironment);

unsigned int U(long fd) { return static_cast<unsigned int>(fd); }

// A socket bound to 127.0.0.1 on an ephemeral port; *port gets the port.
long BoundSocket(int type, uint16_t *port) {
  long fd = lkl_sys_socket(LKL_AF_INET, type, 0);
  if (fd < 0) return fd;
  struct lkl_sockaddr_in sin = LoopbackAddr(0);
  long ret = lkl_sys_bind(static_cast<int>(fd), SockAddr(&sin), sizeof(sin));
  int len = sizeof(sin);
  if (ret >= 0) ret = lkl_sys_getsockname(static_cast<int>(fd), SockAddr(&sin), &len);
  if (ret < 0) {
    lkl_sys_close(U(fd));
    return ret;
  }
  *port = ntohs(sin.sin_port);
  return fd;
}

long Listener(uint16_t *port) {
  long fd = BoundSocket(LKL_SOCK_STREAM, port);
  if (fd < 0) return fd;
  long ret = lkl_sys_listen(static_cast<int>(fd), 8);
  if (ret < 0) {
    lkl_sys_close(U(fd));
    return ret;
  }
  return fd;
}

long Connect(uint16_t port) {
  long fd = lkl_sys_socket(LKL_AF_INET, LKL_SOCK_STREAM, 0);
  if (fd < 0) return fd;
  struct lkl_sockaddr_in sin = LoopbackAddr(port);
  long ret = lkl_sys_connect(static_cast<int>(fd), SockAddr(&sin), sizeof(sin));
  if (ret < 0) {
    lkl_sys_close(U(fd));
    return ret;
  }
  return fd;
}

long Send(long fd, const void *buf, size_t len) {
  return lkl_sys_sendto(static_cast<int>(fd), const_cast<void *>(buf), len, 0, nullptr, 0);
}

long Recv(long fd, void *buf, size_t len, int flags = 0) {
  return lkl_sys_recvfrom(static_cast<int>(fd), buf, len, flags, nullptr, nullptr);
}

TEST(LoopbackTest, LoIsUpWithLoopbackAddress) {
  long sock = lkl_sys_socket(LKL_AF_INET, LKL_SOCK_DGRAM, 0);
  ASSERT_LKL_OK(sock);
  lkl::Fd s(static_cast<int>(sock));
  struct lkl_ifreq ifr;
  std::memset(&ifr, 0, sizeof(ifr));
  std::strncpy(ifr.ifr_ifrn.ifrn_name, "lo", 3);
  ASSERT_LKL_OK(lkl_sys_ioctl(U(sock), LKL_SIOCGIFFLAGS, reinterpret_cast<unsigned long>(&ifr)));
  EXPECT_TRUE(ifr.ifr_ifru.ifru_flags & LKL_IFF_UP);
  EXPECT_TRUE(ifr.ifr_ifru.ifru_flags & LKL_IFF_LOOPBACK);

  std::memset(&ifr.ifr_ifru, 0, sizeof(ifr.ifr_ifru));
  ASSERT_LKL_OK(lkl_sys_ioctl(U(sock), LKL_SIOCGIFADDR, reinterpret_cast<unsigned long>(&ifr)));
  auto *sin = reinterpret_cast<struct lkl_sockaddr_in *>(&ifr.ifr_ifru.ifru_addr);
  EXPECT_EQ(ntohl(sin->sin_addr.s_addr), 0x7f000001U);
}

// Thread A blocks in accept() and then in recv(); thread B connects and,
// later, sends. Both calls must sleep in the kernel and be woken.
TEST(TcpTest, BlockingAcceptAndRecvAcrossThreads) {
  Watchdog watchdog(60s, "blocking accept/recv pair");
  uint16_t port = 0;
  long lfd = Listener(&port);
  ASSERT_LKL_OK(lfd);
  lkl::Fd listener(static_cast<int>(lfd));

  std::atomic<bool> accepted{false};
  long accept_ret = -1, recv_ret = -1, send_ret = -1;
  uint16_t peer_port = 0;
  Clock::duration recv_blocked{};
  char got[8] = {};
  std::thread a([&] {
    struct lkl_sockaddr_in peer;
    int len = sizeof(peer);
    accept_ret = lkl_sys_accept(static_cast<int>(lfd), SockAddr(&peer), &len);
    accepted = true;
    if (accept_ret < 0) return;
    peer_port = ntohs(peer.sin_port);
    auto start = Clock::now();
    recv_ret = ReadFull(static_cast<int>(accept_ret), got, 4);
    recv_blocked = Clock::now() - start;
    send_ret = Send(accept_ret, "pong", 4);
    lkl_sys_close(U(accept_ret));
  });

  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(accepted.load()) << "accept() returned with no client";

  long connect_ret = -1, b_send = -1, b_recv = -1;
  uint16_t b_port = 0;
  char reply[8] = {};
  std::thread b([&] {
    connect_ret = Connect(port);
    if (connect_ret < 0) return;
    struct lkl_sockaddr_in self;
    int len = sizeof(self);
    if (lkl_sys_getsockname(static_cast<int>(connect_ret), SockAddr(&self), &len) == 0)
      b_port = ntohs(self.sin_port);
    std::this_thread::sleep_for(100ms);
    b_send = Send(connect_ret, "ping", 4);
    b_recv = ReadFull(static_cast<int>(connect_ret), reply, 4);
    lkl_sys_close(U(connect_ret));
  });
  b.join();
  a.join();

  ASSERT_LKL_OK(connect_ret);
  ASSERT_LKL_OK(accept_ret);
  EXPECT_TRUE(accepted.load());
  EXPECT_EQ(peer_port, b_port) << "accept() reported the wrong peer";
  EXPECT_EQ(b_send, 4) << DescribeRet(b_send);
  EXPECT_EQ(recv_ret, 4) << DescribeRet(recv_ret);
  EXPECT_STREQ(got, "ping");
  EXPECT_GE(recv_blocked, 50ms) << "recv() did not wait for the data";
  EXPECT_EQ(send_ret, 4) << DescribeRet(send_ret);
  EXPECT_EQ(b_recv, 4) << DescribeRet(b_recv);
  EXPECT_STREQ(reply, "pong");
}

// 64 MiB of a deterministic stream from a sender thread to this thread;
// byte count and checksum must match.
TEST(TcpTest, Transfer64MiBWithChecksum) {
  constexpr size_t kTotal = 64u << 20;
  constexpr size_t kChunk = 64u << 10;
  Watchdog watchdog(300s, "64 MiB TCP transfer over loopback");
  const auto deadline = Clock::now() + 240s;

  uint16_t port = 0;
  long lfd = Listener(&port);
  ASSERT_LKL_OK(lfd);
  lkl::Fd listener(static_cast<int>(lfd));

  long sender_err = 0;
  size_t sent = 0;
  uint64_t sent_sum = 0;
  std::thread sender([&] {
    long fd = Connect(port);
    if (fd < 0) {
      sender_err = fd;
      return;
    }
    ByteStream stream(0x5eed);
    Checksum sum;
    std::vector<unsigned char> buf(kChunk);
    while (sent < kTotal && Clock::now() < deadline) {
      stream.Fill(buf.data(), buf.size());
      sum.Update(buf.data(), buf.size());
      long n = WriteAll(static_cast<int>(fd), buf.data(), buf.size());
      if (n != static_cast<long>(buf.size())) {
        sender_err = n < 0 ? n : -LKL_EIO;
        break;
      }
      sent += buf.size();
    }
    sent_sum = sum.value();
    lkl_sys_shutdown(static_cast<int>(fd), LKL_SHUT_WR);
    lkl_sys_close(U(fd));
  });

  // No ASSERT until the sender is joined.
  long cfd = lkl_sys_accept(static_cast<int>(lfd), nullptr, nullptr);
  EXPECT_LKL_OK(cfd);
  lkl::Fd conn(static_cast<int>(cfd));
  Checksum sum;
  size_t received = 0;
  long last = cfd;
  std::vector<unsigned char> buf(256u << 10);
  auto start = Clock::now();
  while (cfd >= 0 && Clock::now() < deadline) {
    last = Recv(cfd, buf.data(), buf.size());
    if (last <= 0) break;
    sum.Update(buf.data(), static_cast<size_t>(last));
    received += static_cast<size_t>(last);
  }
  auto elapsed = std::chrono::duration<double>(Clock::now() - start);
  sender.join();

  EXPECT_LKL_OK(sender_err);
  EXPECT_EQ(last, 0) << "stream did not end with EOF: " << DescribeRet(last);
  EXPECT_EQ(sent, kTotal);
  EXPECT_EQ(received, sent);
  EXPECT_EQ(sum.value(), sent_sum) << "payload corrupted";
  RecordProperty("mbytes_per_s", std::to_string(received / 1e6 / elapsed.count()));
}

// Datagram i: 4-byte sequence number then bytes from ByteStream(i).
std::vector<unsigned char> Datagram(uint32_t seq, size_t size) {
  std::vector<unsigned char> d(size);
  ByteStream(seq + 1).Fill(d.data(), d.size());
  if (size) std::memcpy(d.data(), &seq, std::min(size, sizeof(seq)));
  return d;
}

TEST(UdpTest, DatagramsOfManySizesArriveIntact) {
  Watchdog watchdog(120s, "UDP datagrams over loopback");
  const size_t sizes[] = {0, 1, 7, 64, 512, 1400, 1472, 1473, 4096, 8192, 16384, 32768, 65507};
  constexpr uint32_t kCount = 260;
  constexpr size_t kBatchBytes = 64u << 10;
  constexpr uint32_t kBatchCount = 16;

  uint16_t rx_port = 0, tx_port = 0;
  long rx = BoundSocket(LKL_SOCK_DGRAM, &rx_port);
  ASSERT_LKL_OK(rx);
  lkl::Fd rxs(static_cast<int>(rx));
  long tx = BoundSocket(LKL_SOCK_DGRAM, &tx_port);
  ASSERT_LKL_OK(tx);
  lkl::Fd txs(static_cast<int>(tx));
  struct lkl_sockaddr_in dst = LoopbackAddr(rx_port);

  std::vector<unsigned char> buf(65536 + 16);
  uint32_t received = 0;
  for (uint32_t next = 0; next < kCount;) {
    // Send a batch small enough for the receive buffer (UDP may
    // drop on overflow), then receive it.
    uint32_t first = next;
    size_t bytes = 0;
    while (next < kCount && next - first < kBatchCount) {
      size_t size = sizes[next % std::size(sizes)];
      if (next > first && bytes + size > kBatchBytes) break;
      auto d = Datagram(next, size);
      long n =
          lkl_sys_sendto(static_cast<int>(tx), d.data(), d.size(), 0, SockAddr(&dst), sizeof(dst));
      ASSERT_EQ(n, static_cast<long>(size)) << "datagram " << next << ": " << DescribeRet(n);
      bytes += size;
      next++;
    }
    for (uint32_t seq = first; seq < next; seq++) {
      size_t size = sizes[seq % std::size(sizes)];
      struct lkl_sockaddr_in src;
      int len = sizeof(src);
      long n =
          lkl_sys_recvfrom(static_cast<int>(rx), buf.data(), buf.size(), 0, SockAddr(&src), &len);
      ASSERT_EQ(n, static_cast<long>(size)) << "datagram " << seq << ": " << DescribeRet(n);
      EXPECT_EQ(ntohs(src.sin_port), tx_port);
      auto d = Datagram(seq, size);
      ASSERT_TRUE(size == 0 || std::memcmp(buf.data(), d.data(), size) == 0)
          << "datagram " << seq << " of " << size << " bytes differs";
      received++;
    }
  }
  EXPECT_EQ(received, kCount);
  EXPECT_LKL_ERR(Recv(rx, buf.data(), buf.size(), LKL_MSG_DONTWAIT), LKL_EAGAIN)
      << "more datagrams than were sent";

  // Larger than the largest IPv4 UDP payload.
  std::vector<unsigned char> big(65508);
  EXPECT_LKL_ERR(
      lkl_sys_sendto(static_cast<int>(tx), big.data(), big.size(), 0, SockAddr(&dst), sizeof(dst)),
      LKL_EMSGSIZE);

  // MSG_TRUNC reports the real length of a datagram cut short.
  auto d = Datagram(9999, 100);
  ASSERT_EQ(
      lkl_sys_sendto(static_cast<int>(tx), d.data(), d.size(), 0, SockAddr(&dst), sizeof(dst)),
      100);
  unsigned char small[10];
  EXPECT_EQ(Recv(rx, small, sizeof(small), LKL_MSG_TRUNC), 100);
  EXPECT_EQ(std::memcmp(small, d.data(), sizeof(small)), 0);
}

}  // namespace
