// SPDX-License-Identifier: GPL-2.0
//
// The network configuration API (<lkl/net_config.h>, <lkl/netcfg.hpp>) on the instance's own
// devices: lo, and sit0 (the IPv6-in-IPv4 fallback tunnel every network namespace has), which
// stands in for a real interface: it has no addresses of its own and starts down.
#include "test_util.hpp"

#include <lkl/linux/ethtool.h>
#include <lkl/netcfg.hpp>

#include <string>
#include <vector>

namespace {

using namespace lkl_test;

[[maybe_unused]] const auto *const kEnv =
    ::testing::AddGlobalTestEnvironment(new KernelEnvironment("mem=64M loglevel=4"));

unsigned int U(long fd) { return static_cast<unsigned int>(fd); }

uint32_t Ip4(const char *text) {
  uint32_t a = 0;
  EXPECT_EQ(inet_pton(AF_INET, text, &a), 1) << text;
  return a;
}

struct Ip6 {
  unsigned char b[16];
};

Ip6 Ip6Of(const char *text) {
  Ip6 a{};
  EXPECT_EQ(inet_pton(AF_INET6, text, a.b), 1) << text;
  return a;
}

// An ioctl on a struct ifreq naming ifname, through a throwaway AF_INET socket.
long IfIoctl(const char *ifname, unsigned int cmd, lkl_ifreq *ifr) {
  std::memset(ifr, 0, sizeof(*ifr));
  std::strncpy(ifr->ifr_ifrn.ifrn_name, ifname, sizeof(ifr->ifr_ifrn.ifrn_name) - 1);
  long sock = lkl_sys_socket(LKL_AF_INET, LKL_SOCK_DGRAM, 0);
  if (sock < 0) return sock;
  long ret = lkl_sys_ioctl(U(sock), cmd, reinterpret_cast<unsigned long>(ifr));
  lkl_sys_close(U(sock));
  return ret;
}

// The value an ETHTOOL_G* command (ethtool_value) reads for ifname, straight from the kernel.
long EthtoolGet(const char *ifname, uint32_t cmd) {
  lkl_ethtool_value ev{};
  ev.cmd = cmd;
  lkl_ifreq ifr{};
  std::strncpy(ifr.ifr_ifrn.ifrn_name, ifname, sizeof(ifr.ifr_ifrn.ifrn_name) - 1);
  ifr.ifr_ifru.ifru_data = &ev;
  long sock = lkl_sys_socket(LKL_AF_INET, LKL_SOCK_DGRAM, 0);
  if (sock < 0) return sock;
  long ret = lkl_sys_ioctl(U(sock), LKL_SIOCETHTOOL, reinterpret_cast<unsigned long>(&ifr));
  lkl_sys_close(U(sock));
  return ret < 0 ? ret : ev.data;
}

bool IsUp(const char *ifname) {
  lkl_ifreq ifr;
  EXPECT_LKL_OK(IfIoctl(ifname, LKL_SIOCGIFFLAGS, &ifr));
  return (ifr.ifr_ifru.ifru_flags & LKL_IFF_UP) != 0;
}

int Mtu(const char *ifname) {
  lkl_ifreq ifr;
  EXPECT_LKL_OK(IfIoctl(ifname, LKL_SIOCGIFMTU, &ifr));
  return ifr.ifr_ifru.ifru_mtu;
}

// bind() succeeds only on an address one of the kernel's interfaces has.
long BindTo(int af, const void *addr) {
  long fd = lkl_sys_socket(af, LKL_SOCK_DGRAM, 0);
  if (fd < 0) return fd;
  long ret;
  if (af == LKL_AF_INET) {
    lkl_sockaddr_in sin{};
    sin.sin_family = LKL_AF_INET;
    std::memcpy(&sin.sin_addr, addr, 4);
    ret = lkl_sys_bind(static_cast<int>(fd), reinterpret_cast<lkl_sockaddr *>(&sin), sizeof(sin));
  } else {
    lkl_sockaddr_in6 sin6{};
    sin6.sin6_family = LKL_AF_INET6;
    std::memcpy(&sin6.sin6_addr, addr, 16);
    ret = lkl_sys_bind(static_cast<int>(fd), reinterpret_cast<lkl_sockaddr *>(&sin6), sizeof(sin6));
  }
  lkl_sys_close(U(fd));
  return ret;
}

// Lines of a /proc file that contain every one of words.
std::vector<std::string> Lines(const char *path, std::initializer_list<std::string> words) {
  std::vector<std::string> found;
  const std::string text = ReadFile(path);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    bool all = true;
    for (const auto &w : words) all = all && line.find(w) != std::string::npos;
    if (all) found.push_back(line);
    pos = end + 1;
  }
  return found;
}

// /proc/net/route spells IPv4 addresses as the hex of the 32-bit value in host order.
std::string RouteHex(uint32_t network_order) {
  char hex[9];
  std::snprintf(hex, sizeof(hex), "%08X", network_order);
  return hex;
}

// /proc/net/if_inet6 and ipv6_route spell IPv6 addresses as 32 hex digits.
std::string Hex6(const Ip6 &a) {
  std::string s;
  char byte[3];
  for (unsigned char c : a.b) {
    std::snprintf(byte, sizeof(byte), "%02x", c);
    s += byte;
  }
  return s;
}

class NetConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lo_ = lkl_ifname_to_ifindex("lo");
    ASSERT_GT(lo_, 0) << DescribeRet(lo_);
    sit_ = lkl_ifname_to_ifindex("sit0");
    ASSERT_GT(sit_, 0) << DescribeRet(sit_);
    ASSERT_LKL_OK(lkl_if_up(lo_));
    ASSERT_LKL_OK(lkl_mount_fs("proc"));
  }

  int lo_ = 0;
  int sit_ = 0;
};

TEST_F(NetConfigTest, IfnameToIfindex) {
  EXPECT_EQ(lo_, 1);  // the loopback device is registered first
  EXPECT_NE(sit_, lo_);
  EXPECT_LKL_ERR(lkl_ifname_to_ifindex("nosuch0"), LKL_ENODEV);
  EXPECT_LKL_ERR(lkl_ifname_to_ifindex(nullptr), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_ifname_to_ifindex(""), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_ifname_to_ifindex("a-name-longer-than-ifnamsiz"), LKL_EINVAL);
}

TEST_F(NetConfigTest, UpAndDown) {
  ASSERT_FALSE(IsUp("sit0"));
  ASSERT_LKL_OK(lkl_if_up(sit_));
  EXPECT_TRUE(IsUp("sit0"));
  EXPECT_LKL_OK(lkl_if_up(sit_));  // already up
  ASSERT_LKL_OK(lkl_if_down(sit_));
  EXPECT_FALSE(IsUp("sit0"));

  ASSERT_LKL_OK(lkl_if_down(lo_));
  EXPECT_FALSE(IsUp("lo"));
  ASSERT_LKL_OK(lkl_if_up(lo_));
  EXPECT_TRUE(IsUp("lo"));
}

TEST_F(NetConfigTest, BadIfindex) {
  EXPECT_LKL_ERR(lkl_if_up(0), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_if_down(-1), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_if_up(12345), LKL_ENODEV);
  EXPECT_LKL_ERR(lkl_if_down(12345), LKL_ENODEV);
  EXPECT_LKL_ERR(lkl_if_set_mtu(12345, 1500), LKL_ENODEV);
  uint32_t a = Ip4("10.99.0.1");
  EXPECT_LKL_ERR(lkl_if_set_ipv4(0, a, 24), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_if_set_ipv4(12345, a, 24), LKL_ENODEV);
  Ip6 a6 = Ip6Of("2001:db8:99::1");
  EXPECT_LKL_ERR(lkl_if_set_ipv6(12345, a6.b, 64), LKL_ENODEV);
}

TEST_F(NetConfigTest, Mtu) {
  const int saved = Mtu("lo");
  ASSERT_LKL_OK(lkl_if_set_mtu(lo_, 1500));
  EXPECT_EQ(Mtu("lo"), 1500);
  ASSERT_LKL_OK(lkl_if_set_mtu(lo_, saved));
  EXPECT_EQ(Mtu("lo"), saved);

  EXPECT_LKL_ERR(lkl_if_set_mtu(lo_, 0), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_if_set_mtu(lo_, -5), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_if_set_mtu(sit_, 1 << 30), LKL_EINVAL);  // beyond the device's maximum
  EXPECT_EQ(Mtu("lo"), saved);
}

TEST_F(NetConfigTest, Ipv4AddressOnLoopback) {
  uint32_t a = Ip4("10.11.12.13");
  EXPECT_LKL_ERR(BindTo(LKL_AF_INET, &a), LKL_EADDRNOTAVAIL);

  ASSERT_LKL_OK(lkl_if_add_ip(lo_, LKL_AF_INET, &a, 24));
  EXPECT_LKL_OK(BindTo(LKL_AF_INET, &a));
  EXPECT_LKL_ERR(lkl_if_add_ip(lo_, LKL_AF_INET, &a, 24), LKL_EEXIST);
  EXPECT_LKL_OK(lkl_if_set_ipv4(lo_, a, 24));  // set is idempotent

  ASSERT_LKL_OK(lkl_if_del_ip(lo_, LKL_AF_INET, &a, 24));
  EXPECT_LKL_ERR(BindTo(LKL_AF_INET, &a), LKL_EADDRNOTAVAIL);
  EXPECT_LKL_ERR(lkl_if_del_ip(lo_, LKL_AF_INET, &a, 24), LKL_EADDRNOTAVAIL);
}

TEST_F(NetConfigTest, Ipv4AddressRouteAndGateway) {
  ASSERT_LKL_OK(lkl_if_up(sit_));
  uint32_t a = Ip4("10.1.0.1");
  ASSERT_LKL_OK(lkl_if_set_ipv4(sit_, a, 24));

  lkl_ifreq ifr;
  ASSERT_LKL_OK(IfIoctl("sit0", LKL_SIOCGIFADDR, &ifr));
  const auto *sin = reinterpret_cast<const lkl_sockaddr_in *>(&ifr.ifr_ifru.ifru_addr);
  EXPECT_EQ(sin->sin_addr.s_addr, a);
  ASSERT_LKL_OK(IfIoctl("sit0", LKL_SIOCGIFNETMASK, &ifr));
  EXPECT_EQ(sin->sin_addr.s_addr, Ip4("255.255.255.0"));

  // The prefix route, then a default route through an on-link gateway.
  EXPECT_EQ(Lines("/proc/net/route", {"sit0", RouteHex(Ip4("10.1.0.0")), "00FFFFFF"}).size(), 1u)
      << ReadFile("/proc/net/route");
  const uint32_t gw = Ip4("10.1.0.254");
  ASSERT_LKL_OK(lkl_set_ipv4_gateway(gw));
  const auto def = Lines("/proc/net/route", {"sit0\t00000000\t" + RouteHex(gw)});
  EXPECT_EQ(def.size(), 1u) << ReadFile("/proc/net/route");
  EXPECT_LKL_OK(lkl_set_ipv4_gateway(gw));  // replaces, does not duplicate
  EXPECT_EQ(Lines("/proc/net/route", {"\t00000000\t" + RouteHex(gw)}).size(), 1u);

  // A gateway on no configured subnet is refused by the kernel.
  EXPECT_LKL_ERR(lkl_set_ipv4_gateway(Ip4("192.0.2.1")), LKL_ENETUNREACH);
  EXPECT_LKL_ERR(lkl_set_ipv4_gateway(0), LKL_EINVAL);

  ASSERT_LKL_OK(lkl_if_del_ip(sit_, LKL_AF_INET, &a, 24));
  EXPECT_TRUE(Lines("/proc/net/route", {"sit0"}).empty()) << ReadFile("/proc/net/route");
  ASSERT_LKL_OK(lkl_if_down(sit_));
}

TEST_F(NetConfigTest, Ipv6Address) {
  Ip6 a = Ip6Of("2001:db8:1::1");
  const std::string hex = Hex6(a);
  EXPECT_TRUE(Lines("/proc/net/if_inet6", {hex}).empty());

  ASSERT_LKL_OK(lkl_if_set_ipv6(lo_, a.b, 64));
  // "<addr> <ifindex> <prefix len> <scope> <flags> <name>", numbers in hex.
  const auto lines = Lines("/proc/net/if_inet6", {hex + " 01 40 00", " lo"});
  EXPECT_EQ(lines.size(), 1u) << ReadFile("/proc/net/if_inet6");
  EXPECT_LKL_OK(lkl_if_wait_ipv6_dad(lo_, a.b));  // no DAD on loopback
  EXPECT_LKL_OK(BindTo(LKL_AF_INET6, a.b));
  EXPECT_LKL_OK(lkl_if_set_ipv6(lo_, a.b, 64));
  EXPECT_LKL_ERR(lkl_if_add_ip(lo_, LKL_AF_INET6, a.b, 64), LKL_EEXIST);

  Ip6 other = Ip6Of("2001:db8:1::2");
  EXPECT_LKL_ERR(lkl_if_wait_ipv6_dad(lo_, other.b), LKL_EADDRNOTAVAIL);
  ASSERT_LKL_OK(lkl_if_del_ip(lo_, LKL_AF_INET6, a.b, 64));
  EXPECT_TRUE(Lines("/proc/net/if_inet6", {hex}).empty());
  EXPECT_LKL_ERR(BindTo(LKL_AF_INET6, a.b), LKL_EADDRNOTAVAIL);
  EXPECT_LKL_ERR(lkl_if_del_ip(lo_, LKL_AF_INET6, a.b, 64), LKL_EADDRNOTAVAIL);
}

// The kernel refuses IPv6 routes through the loopback device, so the gateway is tried on sit0.
TEST_F(NetConfigTest, Ipv6Gateway) {
  ASSERT_LKL_OK(lkl_if_up(sit_));
  Ip6 a = Ip6Of("2001:db8:4::1");
  ASSERT_LKL_OK(lkl_if_set_ipv6(sit_, a.b, 64));
  ASSERT_LKL_OK(lkl_if_wait_ipv6_dad(sit_, a.b));

  Ip6 gw = Ip6Of("2001:db8:4::fe");
  ASSERT_LKL_OK(lkl_set_ipv6_gateway(gw.b));
  // "<dst> <dst len> <src> <src len> <gateway> <metric> <refcnt> <use> <flags> <dev>"
  const std::string any(32, '0');
  const std::string route = any + " 00 " + any + " 00 " + Hex6(gw);
  EXPECT_EQ(Lines("/proc/net/ipv6_route", {route, "sit0"}).size(), 1u)
      << ReadFile("/proc/net/ipv6_route");
  EXPECT_LKL_OK(lkl_set_ipv6_gateway(gw.b));
  EXPECT_EQ(Lines("/proc/net/ipv6_route", {route}).size(), 1u);

  Ip6 far = Ip6Of("2001:db8:5::fe");
  EXPECT_LKL_ERR(lkl_set_ipv6_gateway(far.b), LKL_EHOSTUNREACH);

  ASSERT_LKL_OK(lkl_if_del_ip(sit_, LKL_AF_INET6, a.b, 64));
  ASSERT_LKL_OK(lkl_if_down(sit_));
  EXPECT_TRUE(Lines("/proc/net/ipv6_route", {route}).empty());
}

// UDP connect() resolves the route: 0 if packets from src (any source if null) can reach dst.
long RouteFrom(const uint32_t *src, uint32_t dst) {
  long fd = lkl_sys_socket(LKL_AF_INET, LKL_SOCK_DGRAM, 0);
  if (fd < 0) return fd;
  lkl_sockaddr_in sin{};
  sin.sin_family = LKL_AF_INET;
  long ret = 0;
  if (src) {
    sin.sin_addr.s_addr = *src;
    ret = lkl_sys_bind(static_cast<int>(fd), reinterpret_cast<lkl_sockaddr *>(&sin), sizeof(sin));
  }
  sin.sin_addr.s_addr = dst;
  sin.sin_port = htons(9);
  if (ret == 0)
    ret =
        lkl_sys_connect(static_cast<int>(fd), reinterpret_cast<lkl_sockaddr *>(&sin), sizeof(sin));
  lkl_sys_close(U(fd));
  return ret;
}

TEST_F(NetConfigTest, InterfaceGateway) {
  ASSERT_LKL_OK(lkl_if_up(sit_));
  const uint32_t a = Ip4("10.7.0.1"), gw = Ip4("10.7.0.254"), far = Ip4("198.51.100.1");
  EXPECT_LKL_ERR(RouteFrom(nullptr, far), LKL_ENETUNREACH);  // no default route in main

  ASSERT_LKL_OK(lkl_if_set_ipv4_gateway(sit_, a, 24, gw));
  EXPECT_LKL_OK(RouteFrom(&a, far));                         // from the address: its table
  EXPECT_LKL_ERR(RouteFrom(nullptr, far), LKL_ENETUNREACH);  // others: still no route
  EXPECT_TRUE(Lines("/proc/net/route", {"\t00000000\t" + RouteHex(gw)}).empty());
  EXPECT_LKL_OK(lkl_if_set_ipv4_gateway(sit_, a, 24, gw));  // again: replaces

  EXPECT_LKL_ERR(lkl_if_set_ipv4_gateway(sit_, a, 24, 0), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_if_set_ipv4_gateway(0, a, 24, gw), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_if_set_ipv4_gateway(sit_, a, 33, gw), LKL_EINVAL);
  Ip6 a6 = Ip6Of("2001:db8:7::1"), gw6 = Ip6Of("2001:db8:7::fe");
  EXPECT_LKL_ERR(lkl_if_set_ipv6_gateway(sit_, a6.b, 64, nullptr), LKL_EINVAL);
  // This kernel has no IPv6 policy routing: the kernel's error, and no default route appears.
  const long ret6 = lkl_if_set_ipv6_gateway(sit_, a6.b, 64, gw6.b);
  EXPECT_TRUE(ret6 == 0 || ret6 == -LKL_EAFNOSUPPORT) << DescribeRet(ret6);
  if (ret6 < 0) {
    EXPECT_TRUE(Lines("/proc/net/ipv6_route", {Hex6(gw6)}).empty());
  }

  ASSERT_LKL_OK(lkl_if_del_ip(sit_, LKL_AF_INET, const_cast<uint32_t *>(&a), 24));
  lkl_if_del_ip(sit_, LKL_AF_INET6, a6.b, 64);
  ASSERT_LKL_OK(lkl_if_down(sit_));
}

// sit0's link-layer addresses are 4 bytes (an IPv4 tunnel endpoint): the kernel keeps the first
// four of the six given, which is enough to see the entry arrive.
TEST_F(NetConfigTest, Neighbor) {
  ASSERT_LKL_OK(lkl_if_up(sit_));
  uint32_t a = Ip4("10.6.0.1");
  ASSERT_LKL_OK(lkl_if_set_ipv4(sit_, a, 24));
  uint32_t peer = Ip4("10.6.0.9");
  unsigned char mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
  ASSERT_LKL_OK(lkl_add_neighbor(sit_, LKL_AF_INET, &peer, mac));
  // Flags 0x6: ATF_COM | ATF_PERM, a complete permanent entry.
  EXPECT_EQ(Lines("/proc/net/arp", {"10.6.0.9 ", "0x6", "02:11:22:33", "sit0"}).size(), 1u)
      << ReadFile("/proc/net/arp");
  EXPECT_LKL_OK(lkl_add_neighbor(sit_, LKL_AF_INET, &peer, mac));  // replaces

  Ip6 peer6 = Ip6Of("2001:db8:6::9");
  EXPECT_LKL_OK(lkl_add_neighbor(sit_, LKL_AF_INET6, peer6.b, mac));
  EXPECT_LKL_ERR(lkl_add_neighbor(12345, LKL_AF_INET, &peer, mac), LKL_ENODEV);

  ASSERT_LKL_OK(lkl_if_del_ip(sit_, LKL_AF_INET, &a, 24));
  ASSERT_LKL_OK(lkl_if_down(sit_));
}

TEST_F(NetConfigTest, BadAddressArguments) {
  uint32_t a = Ip4("10.2.0.1");
  Ip6 a6 = Ip6Of("2001:db8:2::1");
  EXPECT_LKL_ERR(lkl_if_set_ipv4(lo_, a, 33), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_if_set_ipv6(lo_, a6.b, 129), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_if_set_ipv6(lo_, nullptr, 64), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_if_add_ip(lo_, LKL_AF_INET, nullptr, 24), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_if_add_ip(lo_, LKL_AF_PACKET, &a, 24), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_if_add_ip(lo_, LKL_AF_INET, &a, 40), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_if_del_ip(lo_, LKL_AF_INET6, a6.b, 200), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_if_del_ip(-3, LKL_AF_INET6, a6.b, 64), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_set_ipv6_gateway(nullptr), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_if_wait_ipv6_dad(lo_, nullptr), LKL_EINVAL);
  unsigned char mac[6] = {2, 0, 0, 0, 0, 1};
  EXPECT_LKL_ERR(lkl_add_neighbor(lo_, LKL_AF_INET, &a, nullptr), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_add_neighbor(lo_, 99, &a, mac), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_add_neighbor(0, LKL_AF_INET, &a, mac), LKL_EINVAL);
  EXPECT_LKL_ERR(BindTo(LKL_AF_INET, &a), LKL_EADDRNOTAVAIL);  // nothing was added
}

// sit0 stands in for a device: scatter-gather, checksum offload, TSO, GSO and GRO, all of which
// ethtool may switch.
TEST_F(NetConfigTest, Features) {
  for (const char *name : {"tx", "sg", "tso", "gso", "gro"})
    EXPECT_EQ(lkl_if_get_feature(sit_, name), 1) << name;

  ASSERT_LKL_OK(lkl_if_set_feature(sit_, "gso", 0));
  EXPECT_EQ(EthtoolGet("sit0", LKL_ETHTOOL_GGSO), 0);
  EXPECT_EQ(lkl_if_get_feature(sit_, "gso"), 0);
  ASSERT_LKL_OK(lkl_if_set_feature(sit_, "gro", 0));
  EXPECT_EQ(EthtoolGet("sit0", LKL_ETHTOOL_GGRO), 0);
  EXPECT_EQ(lkl_if_get_feature(sit_, "gro"), 0);
  EXPECT_EQ(EthtoolGet("sit0", LKL_ETHTOOL_GTSO), 1);  // the others stay
  EXPECT_LKL_OK(lkl_if_set_feature(sit_, "gro", 0));   // idempotent

  ASSERT_LKL_OK(lkl_if_set_feature(sit_, "gso", 1));
  EXPECT_EQ(EthtoolGet("sit0", LKL_ETHTOOL_GGSO), 1);
  ASSERT_LKL_OK(lkl_if_set_feature(sit_, "gro", 2));  // any non-zero value is on
  EXPECT_EQ(EthtoolGet("sit0", LKL_ETHTOOL_GGRO), 1);

  // Without scatter-gather the kernel drops TSO and GSO, and keeps them off when asked.
  ASSERT_LKL_OK(lkl_if_set_feature(sit_, "sg", 0));
  EXPECT_EQ(lkl_if_get_feature(sit_, "tso"), 0);
  EXPECT_EQ(EthtoolGet("sit0", LKL_ETHTOOL_GGSO), 0);
  EXPECT_LKL_ERR(lkl_if_set_feature(sit_, "tso", 1), LKL_EOPNOTSUPP);
  EXPECT_LKL_ERR(lkl_if_set_feature(sit_, "gso", 1), LKL_EOPNOTSUPP);
  ASSERT_LKL_OK(lkl_if_set_feature(sit_, "sg", 1));  // and brings them back with it
  EXPECT_EQ(lkl_if_get_feature(sit_, "tso"), 1);
  EXPECT_EQ(lkl_if_get_feature(sit_, "gso"), 1);

  // lo cannot switch its receive checksum (it has nothing to verify).
  EXPECT_EQ(lkl_if_get_feature(lo_, "rx"), 1);
  EXPECT_LKL_ERR(lkl_if_set_feature(lo_, "rx", 0), LKL_EOPNOTSUPP);

  EXPECT_LKL_ERR(lkl_if_set_feature(sit_, "nosuch", 0), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_if_set_feature(sit_, nullptr, 0), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_if_get_feature(sit_, "GRO"), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_if_get_feature(0, "gro"), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_if_set_feature(-1, "gro", 0), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_if_get_feature(12345, "gro"), LKL_ENODEV);
  EXPECT_LKL_ERR(lkl_if_set_feature(12345, "gro", 0), LKL_ENODEV);
}

TEST_F(NetConfigTest, Sysctl) {
  char value[64];
  ASSERT_LKL_OK(lkl_sysctl("net.ipv4.tcp_congestion_control", "bbr"));
  ASSERT_LKL_OK(lkl_sysctl_get("net.ipv4.tcp_congestion_control", value, sizeof(value)));
  EXPECT_STREQ(value, "bbr");
  ASSERT_LKL_OK(lkl_sysctl("net/ipv4/tcp_congestion_control", "cubic"));
  ASSERT_LKL_OK(lkl_sysctl_get("/net/ipv4/tcp_congestion_control", value, sizeof(value)));
  EXPECT_STREQ(value, "cubic");
  // A congestion control the kernel lacks is the kernel's error.
  EXPECT_LKL_ERR(lkl_sysctl("net.ipv4.tcp_congestion_control", "nosuch"), LKL_ENOENT);

  ASSERT_LKL_OK(lkl_sysctl("net.core.somaxconn", "1024"));
  ASSERT_LKL_OK(lkl_sysctl_get("net.core.somaxconn", value, sizeof(value)));
  EXPECT_STREQ(value, "1024");

  // Interface names may hold dots: slashes make that unambiguous.
  ASSERT_LKL_OK(lkl_sysctl_get("net/ipv6/conf/lo/mtu", value, sizeof(value)));
  EXPECT_GT(std::atoi(value), 0);

  // Multi-value sysctls come back as the kernel prints them.
  ASSERT_LKL_OK(lkl_sysctl_get("net.ipv4.tcp_rmem", value, sizeof(value)));
  EXPECT_EQ(std::count(value, value + std::strlen(value), '\t'), 2) << value;
}

TEST_F(NetConfigTest, SysctlErrors) {
  char value[8];
  EXPECT_LKL_ERR(lkl_sysctl("net.ipv4.no_such_sysctl", "1"), LKL_ENOENT);
  EXPECT_LKL_ERR(lkl_sysctl_get("net.ipv4.no_such_sysctl", value, sizeof(value)), LKL_ENOENT);
  EXPECT_LKL_ERR(lkl_sysctl(nullptr, "1"), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_sysctl("net.core.somaxconn", nullptr), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_sysctl("", "1"), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_sysctl("net/../../etc/passwd", "1"), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_sysctl("net//core", "1"), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_sysctl_get("net.core.", value, sizeof(value)), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_sysctl_get("net.core.somaxconn", nullptr, 8), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_sysctl_get("net.core.somaxconn", value, 0), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_sysctl(std::string(300, 'a').c_str(), "1"), LKL_ENAMETOOLONG);
  EXPECT_LKL_ERR(lkl_sysctl("net.core.somaxconn", "not-a-number"), LKL_EINVAL);

  // Too small a buffer: ERANGE, with as much of the value as fits.
  ASSERT_LKL_OK(lkl_sysctl("net.core.somaxconn", "4096"));
  char small[3];
  EXPECT_LKL_ERR(lkl_sysctl_get("net.core.somaxconn", small, sizeof(small)), LKL_ERANGE);
  EXPECT_STREQ(small, "40");
  char exact[5];  // "4096" and the NUL: the newline is dropped
  EXPECT_LKL_OK(lkl_sysctl_get("net.core.somaxconn", exact, sizeof(exact)));
  EXPECT_STREQ(exact, "4096");
  char one[1];
  EXPECT_LKL_ERR(lkl_sysctl_get("net.core.somaxconn", one, sizeof(one)), LKL_ERANGE);
  EXPECT_STREQ(one, "");
}

TEST_F(NetConfigTest, CppLayer) {
  lkl::Interface lo = lkl::Interface::named("lo");
  EXPECT_EQ(lo.index(), lo_);
  try {
    lkl::Interface::named("nosuch0");
    ADD_FAILURE() << "no exception";
  } catch (const lkl::Error &e) {
    EXPECT_EQ(e.err(), LKL_ENODEV);
    EXPECT_NE(std::string(e.what()).find("nosuch0"), std::string::npos) << e.what();
  }

  const auto p = lkl::IpPrefix::parse("10.3.0.1/16");
  EXPECT_EQ(p.length, 16u);
  EXPECT_EQ(p.addr.family(), LKL_AF_INET);
  EXPECT_EQ(p.str(), "10.3.0.1/16");
  lo.add_address(p);
  EXPECT_THROW(lo.add_address(p), lkl::Error);
  uint32_t a = p.addr.v4();
  EXPECT_LKL_OK(BindTo(LKL_AF_INET, &a));
  lo.remove_address(p);

  const auto p6 = lkl::IpPrefix::parse("fd00:3::1");
  EXPECT_EQ(p6.length, 128u);
  EXPECT_EQ(p6.addr.family(), LKL_AF_INET6);
  lo.set_address(p6);
  lo.wait_dad(p6.addr);
  lo.remove_address(p6);

  EXPECT_THROW(lkl::IpPrefix::parse("10.0.0.1/33"), lkl::Error);
  EXPECT_THROW(lkl::IpPrefix::parse("10.0.0.1/"), lkl::Error);
  EXPECT_THROW(lkl::IpPrefix::parse("10.0.0.1/2x"), lkl::Error);
  EXPECT_THROW(lkl::IpAddress::parse("10.0.0.300"), lkl::Error);
  EXPECT_THROW(lkl::Interface(12345).up(), lkl::Error);

  lkl::Interface sit = lkl::Interface::named("sit0");
  EXPECT_THROW(sit.set_address_with_gateway(p, lkl::IpAddress::parse("fd00::1")), lkl::Error);

  sit.set_feature("gro", false);
  EXPECT_FALSE(sit.feature("gro"));
  sit.set_feature("gro", true);
  EXPECT_TRUE(sit.feature("gro"));
  EXPECT_THROW(lo.set_feature("rx", false), lkl::Error);
  EXPECT_THROW(sit.feature("nosuch"), lkl::Error);

  lkl::sysctl("net.ipv4.tcp_congestion_control", "bbr");
  EXPECT_EQ(lkl::sysctl("net.ipv4.tcp_congestion_control"), "bbr");
  EXPECT_THROW(lkl::sysctl("net.nosuch"), lkl::Error);
}

}  // namespace
