// C++ layer over <lkl/net_config.h>: addresses parsed from text, errors as lkl::Error.
//
//   lkl::Interface eth = lkl::Interface::named("eth0");
//   eth.up();
//   eth.set_address(lkl::IpPrefix::parse("10.0.0.2/24"));
//   lkl::set_gateway(lkl::IpAddress::parse("10.0.0.1"));
//   lkl::sysctl("net.ipv4.tcp_congestion_control", "bbr");
//   eth.set_feature("gro", false);                  // ethtool -K eth0 gro off
#ifndef LKL_NETCFG_HPP
#define LKL_NETCFG_HPP

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <lkl/kernel.hpp>

namespace lkl {

// An IPv4 or IPv6 address, in network byte order.
class IpAddress {
 public:
  // Throws Error(EINVAL) if text is neither a dotted quad nor an IPv6 address.
  static IpAddress parse(std::string_view text) {
    const std::string s(text);
    IpAddress a;
    if (inet_pton(AF_INET, s.c_str(), a.bytes_) == 1) {
      a.family_ = LKL_AF_INET;
    } else if (inet_pton(AF_INET6, s.c_str(), a.bytes_) == 1) {
      a.family_ = LKL_AF_INET6;
    } else {
      throw Error(LKL_EINVAL, "not an IP address: \"" + s + "\"");
    }
    return a;
  }

  static IpAddress v4(uint32_t network_order) {
    IpAddress a;
    a.family_ = LKL_AF_INET;
    std::memcpy(a.bytes_, &network_order, sizeof(network_order));
    return a;
  }

  int family() const noexcept { return family_; }  // LKL_AF_INET or LKL_AF_INET6
  unsigned max_prefix() const noexcept { return family_ == LKL_AF_INET ? 32 : 128; }
  const void *data() const noexcept { return bytes_; }
  void *data() noexcept { return bytes_; }

  // The IPv4 address as the C API takes it (network byte order).
  uint32_t v4() const noexcept {
    uint32_t v;
    std::memcpy(&v, bytes_, sizeof(v));
    return v;
  }

  std::string str() const {
    char text[INET6_ADDRSTRLEN];
    inet_ntop(family_ == LKL_AF_INET ? AF_INET : AF_INET6, bytes_, text, sizeof(text));
    return text;
  }

 private:
  IpAddress() = default;

  int family_ = LKL_AF_INET;
  unsigned char bytes_[16] = {};
};

// An address with a prefix length: "10.0.0.2/24", "fd00::2/64" (no length: a host address).
struct IpPrefix {
  IpAddress addr;
  unsigned length;

  static IpPrefix parse(std::string_view text) {
    const auto slash = text.find('/');
    IpAddress addr = IpAddress::parse(text.substr(0, slash));
    if (slash == std::string_view::npos) return {addr, addr.max_prefix()};

    const std::string_view digits = text.substr(slash + 1);
    unsigned length = 0;
    bool ok = !digits.empty() && digits.size() <= 3;
    for (char c : digits) {
      ok = ok && c >= '0' && c <= '9';
      length = length * 10 + static_cast<unsigned>(c - '0');
    }
    if (!ok || length > addr.max_prefix())
      throw Error(LKL_EINVAL, "bad prefix length in \"" + std::string(text) + "\"");
    return {addr, length};
  }

  std::string str() const { return addr.str() + "/" + std::to_string(length); }
};

// A network interface of the library kernel, by index.
class Interface {
 public:
  explicit Interface(int ifindex) : index_(ifindex) {}

  // Throws Error(ENODEV) if the kernel has no interface of that name.
  static Interface named(const std::string &name) {
    return Interface(static_cast<int>(
        check(lkl_ifname_to_ifindex(name.c_str()), ("interface \"" + name + "\"").c_str())));
  }

  int index() const noexcept { return index_; }

  void up() const { run(lkl_if_up(index_), "up"); }
  void down() const { run(lkl_if_down(index_), "down"); }
  void set_mtu(int mtu) const { run(lkl_if_set_mtu(index_, mtu), "set mtu"); }

  // Adds the address, or updates it if present (lkl_if_set_ipv4/6).
  void set_address(const IpPrefix &p) const {
    IpAddress a = p.addr;
    const int ret = a.family() == LKL_AF_INET ? lkl_if_set_ipv4(index_, a.v4(), p.length)
                                              : lkl_if_set_ipv6(index_, a.data(), p.length);
    run(ret, "set address " + p.str());
  }

  // Adds the address; Error(EEXIST) if present.
  void add_address(const IpPrefix &p) const {
    IpAddress a = p.addr;
    run(lkl_if_add_ip(index_, a.family(), a.data(), p.length), "add address " + p.str());
  }

  void remove_address(const IpPrefix &p) const {
    IpAddress a = p.addr;
    run(lkl_if_del_ip(index_, a.family(), a.data(), p.length), "remove address " + p.str());
  }

  // Sets the address, and routes packets from it through gw on this interface, whatever the
  // default route says (lkl_if_set_ipv4/6_gateway: policy routing, table 1000 + index()).
  void set_address_with_gateway(const IpPrefix &p, const IpAddress &gw) const {
    IpAddress a = p.addr, g = gw;
    if (a.family() != g.family())
      throw Error(LKL_EINVAL, "gateway " + gw.str() + " for address " + p.str());
    const int ret = a.family() == LKL_AF_INET
                        ? lkl_if_set_ipv4_gateway(index_, a.v4(), p.length, g.v4())
                        : lkl_if_set_ipv6_gateway(index_, a.data(), p.length, g.data());
    run(ret, "set address " + p.str() + " with gateway " + gw.str());
  }

  // Switches a feature by ethtool -K's name ("rx", "tx", "sg", "tso", "gso", "gro"; see
  // lkl_if_set_feature()); Error(EOPNOTSUPP) if the device or the kernel does not follow.
  void set_feature(const std::string &name, bool on) const {
    run(lkl_if_set_feature(index_, name.c_str(), on), "feature " + name + (on ? " on" : " off"));
  }

  bool feature(const std::string &name) const {
    const int ret = lkl_if_get_feature(index_, name.c_str());
    run(ret, "feature " + name);
    return ret != 0;
  }

  // Waits until IPv6 duplicate address detection has accepted addr.
  void wait_dad(const IpAddress &addr) const {
    IpAddress a = addr;
    run(lkl_if_wait_ipv6_dad(index_, a.data()), "wait for DAD of " + addr.str());
  }

 private:
  void run(int ret, const std::string &what) const {
    if (ret < 0) throw Error(ret, "interface " + std::to_string(index_) + ": " + what);
  }

  int index_;
};

// Sets the default route (IPv4 or IPv6, by the family of gw).
inline void set_gateway(const IpAddress &gw) {
  IpAddress a = gw;
  const int ret =
      a.family() == LKL_AF_INET ? lkl_set_ipv4_gateway(a.v4()) : lkl_set_ipv6_gateway(a.data());
  check(ret, ("set gateway " + gw.str()).c_str());
}

inline void sysctl(const std::string &path, const std::string &value) {
  check(lkl_sysctl(path.c_str(), value.c_str()), ("sysctl " + path + "=" + value).c_str());
}

inline std::string sysctl(const std::string &path) {
  char value[4096];
  check(lkl_sysctl_get(path.c_str(), value, sizeof(value)), ("sysctl " + path).c_str());
  return value;
}

}  // namespace lkl

#endif  // LKL_NETCFG_HPP
