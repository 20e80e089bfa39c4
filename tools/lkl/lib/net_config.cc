// Network configuration of the library kernel (<lkl/net_config.h>): rtnetlink requests sent from
// inside the kernel, ethtool ioctls for device features, plus sysctl files under /proc/sys.
//
// Like the rest of the C API this file needs nothing from the C++ runtime (no exceptions, no
// operator new, no guarded statics): requests and replies live in fixed buffers on the stack.
#include <time.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <lkl.h>
#include <lkl/linux/ethtool.h>
#include <lkl/linux/fib_rules.h>
#include <lkl/linux/if_addr.h>
#include <lkl/linux/if_link.h>
#include <lkl/linux/neighbour.h>
#include <lkl/linux/netlink.h>
#include <lkl/linux/rtnetlink.h>

namespace {

constexpr unsigned kIpv4Len = 4;
constexpr unsigned kIpv6Len = 16;
constexpr unsigned kMacLen = 6;

// Large enough for any reply to the requests below, and for one part of an address dump: the
// kernel sizes dump parts by the receive buffer the reader offered before (capped at 32 KiB).
constexpr size_t kRecvSize = 16384;

constexpr long kReplyTimeoutSec = 5;

// A reply that never completes the exchange (at most this many reads) is a protocol error.
constexpr int kMaxReads = 256;

unsigned int Fd(long fd) { return static_cast<unsigned int>(fd); }

int Ret(long ret) { return static_cast<int>(ret); }

// Byte length of an address of family af, or 0 for an unsupported family.
unsigned AddrLen(int af) {
  if (af == LKL_AF_INET) return kIpv4Len;
  if (af == LKL_AF_INET6) return kIpv6Len;
  return 0;
}

// LKL_NLMSG_OK and LKL_NLMSG_NEXT, without their signed/unsigned comparison.
bool MessageOk(const lkl_nlmsghdr *msg, size_t len) {
  return len >= sizeof(*msg) && msg->nlmsg_len >= sizeof(*msg) && msg->nlmsg_len <= len;
}

lkl_nlmsghdr *NextMessage(lkl_nlmsghdr *msg, size_t *len) {
  const size_t step = LKL_NLMSG_ALIGN(msg->nlmsg_len);
  *len = step < *len ? *len - step : 0;
  return reinterpret_cast<lkl_nlmsghdr *>(reinterpret_cast<unsigned char *>(msg) + step);
}

// One request: the netlink header, a family header and attributes, built in place.
class Request {
 public:
  Request(uint16_t type, uint16_t flags) {
    std::memset(buf_, 0, sizeof(buf_));
    Header()->nlmsg_len = LKL_NLMSG_HDRLEN;
    Header()->nlmsg_type = type;
    Header()->nlmsg_flags = static_cast<uint16_t>(flags | LKL_NLM_F_REQUEST);
  }

  lkl_nlmsghdr *Header() { return reinterpret_cast<lkl_nlmsghdr *>(buf_); }

  // Appends the zeroed family header (struct ifinfomsg, ifaddrmsg, rtmsg, ...) and returns it.
  template <typename T>
  T *Body() {
    return static_cast<T *>(Append(nullptr, sizeof(T)));
  }

  void Attr(uint16_t type, const void *data, size_t len) {
    lkl_rtattr rta;
    rta.rta_len = static_cast<unsigned short>(LKL_RTA_LENGTH(len));
    rta.rta_type = type;
    if (LKL_NLMSG_ALIGN(Header()->nlmsg_len) + LKL_RTA_SPACE(len) > sizeof(buf_)) {
      overflow_ = true;
      return;
    }
    Append(&rta, sizeof(rta));  // 4 bytes: already aligned
    Append(data, len);
  }

  void Attr32(uint16_t type, uint32_t value) { Attr(type, &value, sizeof(value)); }

  bool overflow() const { return overflow_; }

 private:
  // Appends len bytes (zeroes if data is null) at the aligned end; returns where they went.
  void *Append(const void *data, size_t len) {
    const size_t at = LKL_NLMSG_ALIGN(Header()->nlmsg_len);
    if (at + LKL_NLMSG_ALIGN(len) > sizeof(buf_)) {
      overflow_ = true;
      return scratch_;
    }
    if (data) std::memcpy(buf_ + at, data, len);
    Header()->nlmsg_len = static_cast<uint32_t>(at + LKL_NLMSG_ALIGN(len));
    return buf_ + at;
  }

  alignas(8) unsigned char buf_[512];
  alignas(8) unsigned char scratch_[64];  // target of Body() on overflow; never sent
  bool overflow_ = false;
};

// Called for each message of a dump; returns 0 to go on, anything else to stop the dump with it.
using DumpFn = int (*)(const lkl_nlmsghdr *msg, void *ctx);

// A NETLINK_ROUTE socket inside the kernel.
class RouteSocket {
 public:
  ~RouteSocket() {
    if (fd_ >= 0) lkl_sys_close(Fd(fd_));
  }

  int Open() {
    fd_ = lkl_sys_socket(LKL_AF_NETLINK, LKL_SOCK_RAW | LKL_SOCK_CLOEXEC, LKL_NETLINK_ROUTE);
    if (fd_ < 0) return Ret(fd_);
    // Acks carry only the header of the request, not all of it back.
    int one = 1;
    lkl_sys_setsockopt(static_cast<int>(fd_), LKL_SOL_NETLINK, LKL_NETLINK_CAP_ACK,
                       reinterpret_cast<char *>(&one), sizeof(one));
    // rtnetlink answers before sendto() returns, so a read that blocks means a reply went
    // missing: fail (EAGAIN) rather than hang the caller.
    __lkl__kernel_sock_timeval timeout = {kReplyTimeoutSec, 0};
    lkl_sys_setsockopt(static_cast<int>(fd_), LKL_SOL_SOCKET, LKL_SO_RCVTIMEO_NEW,
                       reinterpret_cast<char *>(&timeout), sizeof(timeout));
    return 0;
  }

  // Sends req with NLM_F_ACK and returns the kernel's verdict: 0 or a negative errno.
  int Transact(Request &req) {
    req.Header()->nlmsg_flags |= LKL_NLM_F_ACK;
    return Exchange(req, nullptr, nullptr);
  }

  // Sends a dump request and passes each reply message to fn until NLMSG_DONE.
  int Dump(Request &req, DumpFn fn, void *ctx) {
    req.Header()->nlmsg_flags |= LKL_NLM_F_DUMP;
    return Exchange(req, fn, ctx);
  }

 private:
  int Exchange(Request &req, DumpFn fn, void *ctx) {
    if (req.overflow()) return -LKL_EMSGSIZE;
    const uint32_t seq = ++seq_;
    req.Header()->nlmsg_seq = seq;

    lkl_sockaddr_nl kernel{};
    kernel.nl_family = LKL_AF_NETLINK;
    long ret = lkl_sys_sendto(static_cast<int>(fd_), req.Header(), req.Header()->nlmsg_len, 0,
                              reinterpret_cast<lkl_sockaddr *>(&kernel), sizeof(kernel));
    if (ret < 0) return Ret(ret);
    if (ret != static_cast<long>(req.Header()->nlmsg_len)) return -LKL_EIO;

    alignas(8) unsigned char buf[kRecvSize];
    for (int reads = 0; reads < kMaxReads; reads++) {
      // MSG_TRUNC: the return value is the datagram's real length, so that a reply too large
      // for buf is reported instead of parsed in part.
      ret = lkl_sys_recvfrom(static_cast<int>(fd_), buf, sizeof(buf), LKL_MSG_TRUNC, nullptr,
                             nullptr);
      if (ret < 0) return Ret(ret);
      if (ret > static_cast<long>(sizeof(buf))) return -LKL_EMSGSIZE;

      size_t len = static_cast<size_t>(ret);
      for (auto *msg = reinterpret_cast<lkl_nlmsghdr *>(buf); MessageOk(msg, len);
           msg = NextMessage(msg, &len)) {
        if (msg->nlmsg_seq != seq) continue;  // a late reply to an earlier request
        if (msg->nlmsg_type == LKL_NLMSG_ERROR) return AckResult(msg);
        if (msg->nlmsg_type == LKL_NLMSG_DONE) return fn ? 0 : -LKL_EPROTO;
        if (msg->nlmsg_type < LKL_NLMSG_MIN_TYPE) continue;  // NOOP, OVERRUN
        if (fn) {
          if (msg->nlmsg_flags & LKL_NLM_F_DUMP_INTR) return -LKL_EAGAIN;
          const int stop = fn(msg, ctx);
          if (stop) return stop;
        }
      }
      if (len != 0) return -LKL_EPROTO;  // a message overran the datagram
    }
    return -LKL_EPROTO;
  }

  // The error of an NLMSG_ERROR message: 0 for an ack, else the negative errno it carries.
  static int AckResult(const lkl_nlmsghdr *msg) {
    if (msg->nlmsg_len < LKL_NLMSG_LENGTH(sizeof(int))) return -LKL_EPROTO;
    int error;
    std::memcpy(&error, LKL_NLMSG_DATA(msg), sizeof(error));
    return error <= 0 ? error : -LKL_EPROTO;
  }

  long fd_ = -1;
  uint32_t seq_ = 0;
};

// Opens a socket, performs one acknowledged request, closes the socket.
int Transact(Request &req) {
  RouteSocket sock;
  int ret = sock.Open();
  return ret < 0 ? ret : sock.Transact(req);
}

int SetLinkFlags(int ifindex, unsigned int flags, unsigned int change) {
  if (ifindex <= 0) return -LKL_EINVAL;
  Request req(LKL_RTM_NEWLINK, 0);
  auto *ifi = req.Body<lkl_ifinfomsg>();
  ifi->ifi_family = LKL_AF_UNSPEC;
  ifi->ifi_index = ifindex;
  ifi->ifi_flags = flags;
  ifi->ifi_change = change;
  return Transact(req);
}

// RTM_NEWADDR / RTM_DELADDR for addr/prefix_len on ifindex.
int ChangeAddress(uint16_t type, uint16_t flags, int ifindex, int af, const void *addr,
                  unsigned int prefix_len) {
  const unsigned len = AddrLen(af);
  if (ifindex <= 0 || !addr || !len || prefix_len > len * 8) return -LKL_EINVAL;

  Request req(type, flags);
  auto *ifa = req.Body<lkl_ifaddrmsg>();
  ifa->ifa_family = static_cast<uint8_t>(af);
  ifa->ifa_prefixlen = static_cast<uint8_t>(prefix_len);
  ifa->ifa_scope = LKL_RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<uint32_t>(ifindex);
  // IFA_LOCAL is the interface's own address; IFA_ADDRESS the peer on point-to-point links,
  // which for other links is the same address.
  req.Attr(LKL_IFA_LOCAL, addr, len);
  req.Attr(LKL_IFA_ADDRESS, addr, len);
  return Transact(req);
}

// Replaces the default route of the main table with one through gateway gw.
int SetDefaultGateway(int af, const void *gw) {
  const unsigned len = AddrLen(af);
  if (!gw || !len) return -LKL_EINVAL;

  Request req(LKL_RTM_NEWROUTE, LKL_NLM_F_CREATE | LKL_NLM_F_REPLACE);
  auto *rtm = req.Body<lkl_rtmsg>();
  rtm->rtm_family = static_cast<uint8_t>(af);
  rtm->rtm_dst_len = 0;
  rtm->rtm_table = LKL_RT_TABLE_MAIN;
  rtm->rtm_protocol = LKL_RTPROT_BOOT;
  rtm->rtm_scope = LKL_RT_SCOPE_UNIVERSE;
  rtm->rtm_type = LKL_RTN_UNICAST;
  req.Attr(LKL_RTA_GATEWAY, gw, len);
  return Transact(req);
}

// The routing table of lkl_if_set_ipv*_gateway() for interface ifindex.
constexpr uint32_t kInterfaceTableBase = 1000;

// Source routing for one interface: traffic from addr (given to ifindex with prefix_len) looks up
// a table of its own, whose default route goes through gw on ifindex.
int SetInterfaceGateway(int ifindex, int af, const void *addr, unsigned int prefix_len,
                        const void *gw) {
  const unsigned len = AddrLen(af);
  if (ifindex <= 0 || !addr || !gw || !len || prefix_len > len * 8) return -LKL_EINVAL;
  int ret = ChangeAddress(LKL_RTM_NEWADDR, LKL_NLM_F_CREATE | LKL_NLM_F_REPLACE, ifindex, af, addr,
                          prefix_len);
  if (ret < 0) return ret;
  const uint32_t table = kInterfaceTableBase + static_cast<uint32_t>(ifindex);

  // The rule first: without policy routing for this family, fail before touching any table.
  Request rule(LKL_RTM_NEWRULE, LKL_NLM_F_CREATE | LKL_NLM_F_EXCL);
  auto *frh = rule.Body<lkl_fib_rule_hdr>();
  frh->family = static_cast<uint8_t>(af);
  frh->src_len = static_cast<uint8_t>(len * 8);
  frh->action = LKL_FR_ACT_TO_TBL;
  rule.Attr(LKL_FRA_SRC, addr, len);
  rule.Attr32(LKL_FRA_TABLE, table);
  ret = Transact(rule);
  if (ret < 0 && ret != -LKL_EEXIST) return ret;

  Request route(LKL_RTM_NEWROUTE, LKL_NLM_F_CREATE | LKL_NLM_F_REPLACE);
  auto *rtm = route.Body<lkl_rtmsg>();
  rtm->rtm_family = static_cast<uint8_t>(af);
  rtm->rtm_table = LKL_RT_TABLE_UNSPEC;  // the table is the RTA_TABLE attribute (> 255)
  rtm->rtm_protocol = LKL_RTPROT_BOOT;
  rtm->rtm_scope = LKL_RT_SCOPE_UNIVERSE;
  rtm->rtm_type = LKL_RTN_UNICAST;
  route.Attr32(LKL_RTA_TABLE, table);
  route.Attr(LKL_RTA_GATEWAY, gw, len);
  route.Attr32(LKL_RTA_OIF, static_cast<uint32_t>(ifindex));
  return Transact(route);
}

// State of one IPv6 address in an address dump.
struct DadProbe {
  int ifindex;
  unsigned char addr[kIpv6Len];
  bool found;
  uint32_t flags;
};

int InspectAddress(const lkl_nlmsghdr *msg, void *ctx) {
  auto *probe = static_cast<DadProbe *>(ctx);
  if (msg->nlmsg_type != LKL_RTM_NEWADDR ||
      msg->nlmsg_len < LKL_NLMSG_LENGTH(sizeof(lkl_ifaddrmsg)))
    return 0;
  const auto *ifa = static_cast<const lkl_ifaddrmsg *>(LKL_NLMSG_DATA(msg));
  if (ifa->ifa_family != LKL_AF_INET6 || static_cast<int>(ifa->ifa_index) != probe->ifindex)
    return 0;

  bool match = false;
  uint32_t flags = ifa->ifa_flags;
  int len = static_cast<int>(LKL_IFA_PAYLOAD(msg));
  for (auto *rta = LKL_IFA_RTA(ifa); LKL_RTA_OK(rta, len); rta = LKL_RTA_NEXT(rta, len)) {
    const auto payload = static_cast<size_t>(LKL_RTA_PAYLOAD(rta));
    if (rta->rta_type == LKL_IFA_ADDRESS && payload == kIpv6Len)
      match = std::memcmp(LKL_RTA_DATA(rta), probe->addr, kIpv6Len) == 0;
    else if (rta->rta_type == LKL_IFA_FLAGS && payload == sizeof(uint32_t))
      std::memcpy(&flags, LKL_RTA_DATA(rta), sizeof(flags));
  }
  if (match) {
    probe->found = true;
    probe->flags = flags;
  }
  return 0;
}

// The ethtool commands that get and set one feature, by ethtool -K's name for it.
struct Feature {
  const char *name;
  uint32_t get, set;
};

constexpr Feature kFeatures[] = {
    {"rx", LKL_ETHTOOL_GRXCSUM, LKL_ETHTOOL_SRXCSUM},
    {"tx", LKL_ETHTOOL_GTXCSUM, LKL_ETHTOOL_STXCSUM},
    {"sg", LKL_ETHTOOL_GSG, LKL_ETHTOOL_SSG},
    {"tso", LKL_ETHTOOL_GTSO, LKL_ETHTOOL_STSO},
    {"gso", LKL_ETHTOOL_GGSO, LKL_ETHTOOL_SGSO},
    {"gro", LKL_ETHTOOL_GGRO, LKL_ETHTOOL_SGRO},
};

const Feature *FindFeature(const char *name) {
  if (!name) return nullptr;
  for (const Feature &f : kFeatures)
    if (std::strcmp(f.name, name) == 0) return &f;
  return nullptr;
}

// One ethtool_value command (cmd) on interface ifindex; for a get, *value receives the data.
int EthtoolValue(int ifindex, uint32_t cmd, uint32_t *value) {
  if (ifindex <= 0) return -LKL_EINVAL;
  long sock = lkl_sys_socket(LKL_AF_INET, LKL_SOCK_DGRAM | LKL_SOCK_CLOEXEC, 0);
  if (sock < 0) return Ret(sock);
  lkl_ifreq ifr{};
  ifr.ifr_ifru.ifru_ivalue = ifindex;
  // The ethtool ioctl names the interface: look the name up (-ENODEV for an unknown index).
  long ret = lkl_sys_ioctl(Fd(sock), LKL_SIOCGIFNAME, reinterpret_cast<unsigned long>(&ifr));
  if (ret >= 0) {
    lkl_ethtool_value ev{};
    ev.cmd = cmd;
    ev.data = *value;
    ifr.ifr_ifru.ifru_data = &ev;
    ret = lkl_sys_ioctl(Fd(sock), LKL_SIOCETHTOOL, reinterpret_cast<unsigned long>(&ifr));
    *value = ev.data;
  }
  lkl_sys_close(Fd(sock));
  return Ret(ret);
}

// Turns a sysctl name into "/proc/sys/<path>" in out; dots separate components unless the name
// has a slash.
int SysctlPath(const char *name, char *out, size_t size) {
  static const char kPrefix[] = "/proc/sys/";
  if (!name) return -LKL_EINVAL;
  while (*name == '/') name++;
  const size_t len = std::strlen(name);
  if (len == 0) return -LKL_EINVAL;
  if (sizeof(kPrefix) + len > size) return -LKL_ENAMETOOLONG;

  const bool dotted = std::strchr(name, '/') == nullptr;
  std::memcpy(out, kPrefix, sizeof(kPrefix) - 1);
  char *p = out + sizeof(kPrefix) - 1;
  for (size_t i = 0; i <= len; i++) p[i] = dotted && name[i] == '.' ? '/' : name[i];

  // Stay below /proc/sys: no "." or ".." component, no empty one.
  for (const char *c = p; *c;) {
    const char *end = std::strchr(c, '/');
    const size_t n = end ? static_cast<size_t>(end - c) : std::strlen(c);
    if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
      return -LKL_EINVAL;
    c += n + (end ? 1 : 0);
    if (end && !*c) return -LKL_EINVAL;  // trailing slash
  }
  return 0;
}

// Opens the sysctl file name with flags, mounting proc first if needed.
long OpenSysctl(const char *name, int flags) {
  char path[256];
  int ret = SysctlPath(name, path, sizeof(path));
  if (ret < 0) return ret;
  ret = lkl_mount_fs("proc");
  if (ret < 0) return ret;
  return lkl_sys_openat(LKL_AT_FDCWD, path, flags | LKL_O_CLOEXEC, 0);
}

}  // namespace

extern "C" int lkl_ifname_to_ifindex(const char *name) {
  if (!name || !*name || std::strlen(name) >= LKL_IFNAMSIZ) return -LKL_EINVAL;
  long sock = lkl_sys_socket(LKL_AF_INET, LKL_SOCK_DGRAM | LKL_SOCK_CLOEXEC, 0);
  if (sock < 0) return Ret(sock);
  lkl_ifreq ifr{};
  std::strcpy(ifr.ifr_ifrn.ifrn_name, name);
  long ret = lkl_sys_ioctl(Fd(sock), LKL_SIOCGIFINDEX, reinterpret_cast<unsigned long>(&ifr));
  lkl_sys_close(Fd(sock));
  return ret < 0 ? Ret(ret) : ifr.ifr_ifru.ifru_ivalue;
}

extern "C" int lkl_if_up(int ifindex) { return SetLinkFlags(ifindex, LKL_IFF_UP, LKL_IFF_UP); }

extern "C" int lkl_if_down(int ifindex) { return SetLinkFlags(ifindex, 0, LKL_IFF_UP); }

extern "C" int lkl_if_set_mtu(int ifindex, int mtu) {
  if (ifindex <= 0 || mtu <= 0) return -LKL_EINVAL;
  Request req(LKL_RTM_NEWLINK, 0);
  auto *ifi = req.Body<lkl_ifinfomsg>();
  ifi->ifi_family = LKL_AF_UNSPEC;
  ifi->ifi_index = ifindex;
  req.Attr32(LKL_IFLA_MTU, static_cast<uint32_t>(mtu));
  return Transact(req);
}

extern "C" int lkl_if_set_ipv4(int ifindex, unsigned int addr, unsigned int netmask_len) {
  return ChangeAddress(LKL_RTM_NEWADDR, LKL_NLM_F_CREATE | LKL_NLM_F_REPLACE, ifindex, LKL_AF_INET,
                       &addr, netmask_len);
}

extern "C" int lkl_if_set_ipv6(int ifindex, void *addr, unsigned int netprefix_len) {
  return ChangeAddress(LKL_RTM_NEWADDR, LKL_NLM_F_CREATE | LKL_NLM_F_REPLACE, ifindex, LKL_AF_INET6,
                       addr, netprefix_len);
}

extern "C" int lkl_if_add_ip(int ifindex, int af, void *addr, unsigned int netprefix_len) {
  return ChangeAddress(LKL_RTM_NEWADDR, LKL_NLM_F_CREATE | LKL_NLM_F_EXCL, ifindex, af, addr,
                       netprefix_len);
}

extern "C" int lkl_if_del_ip(int ifindex, int af, void *addr, unsigned int netprefix_len) {
  return ChangeAddress(LKL_RTM_DELADDR, 0, ifindex, af, addr, netprefix_len);
}

extern "C" int lkl_if_wait_ipv6_dad(int ifindex, void *addr) {
  if (ifindex <= 0 || !addr) return -LKL_EINVAL;
  DadProbe probe{};
  probe.ifindex = ifindex;
  std::memcpy(probe.addr, addr, kIpv6Len);

  constexpr int kPolls = 1000;  // 10 ms apart: DAD takes about one second by default
  for (int i = 0; i < kPolls; i++) {
    RouteSocket sock;
    int ret = sock.Open();
    if (ret < 0) return ret;
    Request req(LKL_RTM_GETADDR, 0);
    req.Body<lkl_ifaddrmsg>()->ifa_family = LKL_AF_INET6;
    probe.found = false;
    ret = sock.Dump(req, InspectAddress, &probe);
    if (ret < 0 && ret != -LKL_EAGAIN) return ret;
    if (ret == 0) {
      if (!probe.found || (probe.flags & LKL_IFA_F_DADFAILED)) return -LKL_EADDRNOTAVAIL;
      if (!(probe.flags & LKL_IFA_F_TENTATIVE)) return 0;
    }
    const timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, nullptr);
  }
  return -LKL_ETIMEDOUT;
}

extern "C" int lkl_set_ipv4_gateway(unsigned int addr) {
  if (addr == 0) return -LKL_EINVAL;  // 0.0.0.0 is no gateway
  return SetDefaultGateway(LKL_AF_INET, &addr);
}

extern "C" int lkl_set_ipv6_gateway(void *addr) { return SetDefaultGateway(LKL_AF_INET6, addr); }

extern "C" int lkl_if_set_ipv4_gateway(int ifindex, unsigned int addr, unsigned int netmask_len,
                                       unsigned int gw_addr) {
  if (gw_addr == 0) return -LKL_EINVAL;
  return SetInterfaceGateway(ifindex, LKL_AF_INET, &addr, netmask_len, &gw_addr);
}

extern "C" int lkl_if_set_ipv6_gateway(int ifindex, void *addr, unsigned int netprefix_len,
                                       void *gw_addr) {
  return SetInterfaceGateway(ifindex, LKL_AF_INET6, addr, netprefix_len, gw_addr);
}

extern "C" int lkl_add_neighbor(int ifindex, int af, void *addr, void *mac) {
  const unsigned len = AddrLen(af);
  if (ifindex <= 0 || !addr || !mac || !len) return -LKL_EINVAL;
  Request req(LKL_RTM_NEWNEIGH, LKL_NLM_F_CREATE | LKL_NLM_F_REPLACE);
  auto *ndm = req.Body<lkl_ndmsg>();
  ndm->ndm_family = static_cast<uint8_t>(af);
  ndm->ndm_ifindex = ifindex;
  ndm->ndm_state = LKL_NUD_PERMANENT;
  req.Attr(LKL_NDA_DST, addr, len);
  req.Attr(LKL_NDA_LLADDR, mac, kMacLen);
  return Transact(req);
}

extern "C" int lkl_if_get_feature(int ifindex, const char *name) {
  const Feature *f = FindFeature(name);
  if (!f) return -LKL_EINVAL;
  uint32_t value = 0;
  const int ret = EthtoolValue(ifindex, f->get, &value);
  return ret < 0 ? ret : value != 0;
}

extern "C" int lkl_if_set_feature(int ifindex, const char *name, int on) {
  const Feature *f = FindFeature(name);
  if (!f) return -LKL_EINVAL;
  uint32_t value = on != 0;
  int ret = EthtoolValue(ifindex, f->set, &value);
  if (ret < 0) return ret;
  // The kernel takes the wish and applies what the other features allow: check what it did.
  ret = lkl_if_get_feature(ifindex, name);
  if (ret < 0) return ret;
  return ret == (on != 0) ? 0 : -LKL_EOPNOTSUPP;
}

extern "C" int lkl_sysctl(const char *path, const char *value) {
  if (!value) return -LKL_EINVAL;
  long fd = OpenSysctl(path, LKL_O_WRONLY | LKL_O_TRUNC);
  if (fd < 0) return Ret(fd);
  const size_t len = std::strlen(value);
  long ret = lkl_sys_write(Fd(fd), const_cast<char *>(value), len);
  lkl_sys_close(Fd(fd));
  if (ret < 0) return Ret(ret);
  return static_cast<size_t>(ret) == len ? 0 : -LKL_EIO;  // sysctls take a value in one write
}

extern "C" int lkl_sysctl_get(const char *path, char *buffer, int size) {
  if (!buffer || size <= 0) return -LKL_EINVAL;
  buffer[0] = '\0';
  // Numeric sysctls print their value in the first read() only, cut to its size: read up to two
  // bytes more than fit, so that "fits once the newline is dropped" can be told from "too long".
  const size_t room = static_cast<size_t>(size) - 1;
  const size_t want = room + 2;
  auto *value = static_cast<char *>(std::malloc(want));
  if (!value) return -LKL_ENOMEM;
  long fd = OpenSysctl(path, LKL_O_RDONLY);
  if (fd < 0) {
    std::free(value);
    return Ret(fd);
  }

  long ret = 0;
  size_t len = 0;
  while (len < want) {
    ret = lkl_sys_read(Fd(fd), value + len, want - len);
    if (ret <= 0) break;
    len += static_cast<size_t>(ret);
  }
  lkl_sys_close(Fd(fd));

  if (ret >= 0) {
    if (len > 0 && value[len - 1] == '\n') len--;
    const size_t copy = len < room ? len : room;
    std::memcpy(buffer, value, copy);
    buffer[copy] = '\0';
    if (len > room) ret = -LKL_ERANGE;
  }
  std::free(value);
  return ret < 0 ? Ret(ret) : 0;
}
