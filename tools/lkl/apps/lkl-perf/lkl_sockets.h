// SocketOps over the library kernel, which it boots and configures.
#ifndef LKL_PERF_LKL_SOCKETS_H
#define LKL_PERF_LKL_SOCKETS_H

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "socket_ops.h"

namespace perf {

struct LklConfig {
  std::string cmdline = "mem=256M loglevel=4";
  // "" or "loopback": only the kernel's lo; "tap:<ifname>", "raw:<ifname>", "shm:<name>": a
  // virtio-net device over that backend (builds that have the network devices). shm: the
  // constructor waits (up to 30 s) for the other process of the link.
  std::string netdev;
  std::string offload = "all";         // offloads of the device: "all", "none" or a bit mask
  unsigned busy_poll_us = 0;           // receive busy polling of the device (0: block)
  std::vector<std::string> addresses;  // "10.0.0.2/24", "fd00::2/64" for the device
  std::string gateway;                 // default route, IPv4 or IPv6
  std::vector<std::pair<std::string, std::string>> sysctls;
  // Interface features switched as `ethtool -K` would, in order: ("gro", false), ... (names of
  // kFeatureNames), on the device, or on lo without one.
  std::vector<std::pair<std::string, bool>> features;
  // Boot parameters appended to cmdline when set (empty: the kernel's default):
  std::string syscall_mode;  // lkl.syscall=shadow|direct: how application threads enter it
  std::string pin_cpu;       // lkl.pin_cpu=off|auto|N: the host CPU of its own threads
  // More boot parameters, "KEY=VALUE" each, appended after those above in this order.
  std::vector<std::string> boot_params;

  // cmdline with the boot parameters above.
  std::string boot_cmdline() const;
};

// The feature names --lkl-features takes (those of lkl_if_set_feature()).
inline constexpr const char *kFeatureNames[] = {"rx", "tx", "sg", "tso", "gso", "gro"};

// Throws UsageError for a malformed config, Error if the kernel or the device cannot be set up.
std::unique_ptr<SocketOps> make_lkl_sockets(const LklConfig &config);

// Whether this build has the virtio-net backends (lkl_netdev_*).
bool lkl_has_netdevs();

}  // namespace perf

#endif  // LKL_PERF_LKL_SOCKETS_H
