/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Network configuration of the library kernel: interfaces, addresses, routes, features and
 * sysctls, with the names and signatures of upstream LKL (lkl_if_set/get_feature() are this
 * library's own). Included by <lkl.h>.
 *
 *   int ifindex = lkl_ifname_to_ifindex("eth0");
 *   lkl_if_up(ifindex);
 *   lkl_if_set_ipv4(ifindex, inet_addr("10.0.0.2"), 24);   // address in network byte order
 *   lkl_set_ipv4_gateway(inet_addr("10.0.0.1"));
 *   lkl_sysctl("net.ipv4.tcp_congestion_control", "bbr");
 *   lkl_if_set_feature(ifindex, "gro", 0);                 // ethtool -K eth0 gro off
 *
 * Everything is done inside the running kernel, over rtnetlink (NETLINK_ROUTE) where iproute2 would
 * use it and the ethtool ioctl where ethtool would, so the kernel's own validation applies. Every
 * function returns 0 (or the documented non-negative value) on success and a negative LKL errno
 * (-LKL_E*, see lkl_strerror()) on failure; malformed arguments (NULL pointers, an ifindex <= 0, a
 * prefix length beyond the address size, an unknown address family) give -LKL_EINVAL without
 * reaching the kernel, and an ifindex the kernel does not know gives -LKL_ENODEV. All of them may
 * be called from any host thread once the kernel runs.
 */
#ifndef _LKL_NET_CONFIG_H
#define _LKL_NET_CONFIG_H

#ifdef __cplusplus
extern "C" {
#endif

/**
 * lkl_ifname_to_ifindex - index of the interface named @name ("lo", "eth0", ...)
 *
 * Return: the ifindex (> 0), -LKL_ENODEV if there is no such interface, -LKL_EINVAL if @name is
 * NULL, empty or longer than an interface name can be.
 */
int lkl_ifname_to_ifindex(const char *name);

/** lkl_if_up - set IFF_UP on interface @ifindex (already up is not an error) */
int lkl_if_up(int ifindex);

/** lkl_if_down - clear IFF_UP on interface @ifindex */
int lkl_if_down(int ifindex);

/** lkl_if_set_mtu - set the MTU of @ifindex; the kernel rejects values outside the device's range
 */
int lkl_if_set_mtu(int ifindex, int mtu);

/**
 * lkl_if_set_ipv4 - give @ifindex the IPv4 address @addr/@netmask_len
 * @addr: in network byte order
 * @netmask_len: 0..32
 *
 * Adds the address, or updates it if the interface has it already (so calling it twice is not
 * an error). The kernel adds the prefix route, as for `ip addr add`.
 */
int lkl_if_set_ipv4(int ifindex, unsigned int addr, unsigned int netmask_len);

/**
 * lkl_if_set_ipv6 - give @ifindex the IPv6 address @addr/@netprefix_len
 * @addr: 16 bytes (a struct lkl_in6_addr), network byte order
 * @netprefix_len: 0..128
 *
 * Like lkl_if_set_ipv4(). The address is tentative until duplicate address detection ends on
 * interfaces that do DAD: lkl_if_wait_ipv6_dad() waits for that.
 */
int lkl_if_set_ipv6(int ifindex, void *addr, unsigned int netprefix_len);

/**
 * lkl_if_add_ip - add address @addr/@netprefix_len of family @af to @ifindex
 * @af: LKL_AF_INET (@addr points to 4 bytes) or LKL_AF_INET6 (16 bytes)
 *
 * Return: 0, or -LKL_EEXIST if the interface has this address already.
 */
int lkl_if_add_ip(int ifindex, int af, void *addr, unsigned int netprefix_len);

/**
 * lkl_if_del_ip - remove address @addr/@netprefix_len of family @af from @ifindex
 *
 * Return: 0, or -LKL_EADDRNOTAVAIL if the interface does not have it.
 */
int lkl_if_del_ip(int ifindex, int af, void *addr, unsigned int netprefix_len);

/**
 * lkl_if_wait_ipv6_dad - wait until IPv6 address @addr of @ifindex is no longer tentative
 * @addr: 16 bytes, network byte order
 *
 * Polls for at most about 10 seconds. Return: 0 once the address is usable, -LKL_EADDRNOTAVAIL
 * if @ifindex has no such address or DAD found a duplicate, -LKL_ETIMEDOUT.
 */
int lkl_if_wait_ipv6_dad(int ifindex, void *addr);

/**
 * lkl_set_ipv4_gateway - set the default IPv4 route (main table) to go through @addr
 * @addr: gateway, network byte order; it must be reachable on a configured subnet
 *
 * Replaces an existing default route.
 */
int lkl_set_ipv4_gateway(unsigned int addr);

/**
 * lkl_set_ipv6_gateway - set the default IPv6 route to go through @addr (16 bytes)
 *
 * Replaces an existing default route. A link-local gateway needs the interface, which this
 * call does not take: use a global or unique-local gateway address.
 */
int lkl_set_ipv6_gateway(void *addr);

/**
 * lkl_if_set_ipv4_gateway - give @ifindex address @addr/@netmask_len and a gateway of its own
 * @addr, @gw_addr: network byte order
 *
 * For hosts with several interfaces: packets from @addr go through @gw_addr on @ifindex, whatever
 * the default route says. Sets the address like lkl_if_set_ipv4(), then adds a policy rule "from
 * @addr" to routing table 1000 + @ifindex and a default route through @gw_addr there. Calling it
 * again replaces the gateway.
 */
int lkl_if_set_ipv4_gateway(int ifindex, unsigned int addr, unsigned int netmask_len,
                            unsigned int gw_addr);

/**
 * lkl_if_set_ipv6_gateway - the IPv6 form of lkl_if_set_ipv4_gateway() (16-byte addresses)
 *
 * Needs a kernel with IPv6 policy routing (CONFIG_IPV6_MULTIPLE_TABLES); otherwise the address
 * is set and the call fails with the kernel's error (-LKL_EAFNOSUPPORT) before any route is added.
 */
int lkl_if_set_ipv6_gateway(int ifindex, void *addr, unsigned int netprefix_len, void *gw_addr);

/**
 * lkl_add_neighbor - add a permanent neighbour (ARP or NDP) entry: @addr is at @mac on @ifindex
 * @af: LKL_AF_INET or LKL_AF_INET6
 * @mac: 6-byte Ethernet address
 */
int lkl_add_neighbor(int ifindex, int af, void *addr, void *mac);

/**
 * lkl_if_set_feature - switch feature @name of @ifindex on (@on != 0) or off, as `ethtool -K`
 * @name: one of ethtool's short names: "rx" (receive checksum offload), "tx" (transmit checksum
 *	offload), "sg" (scatter-gather), "tso" (TCP segmentation offload, IPv4 and IPv6), "gso"
 *	(generic segmentation offload) or "gro" (generic receive offload)
 *
 * Sent as the ethtool ioctl (SIOCETHTOOL, ETHTOOL_S*) on a socket inside the kernel, then read
 * back. The kernel keeps the request and applies it once its prerequisites hold (tso and gso
 * need sg, sg needs tx), so the result is checked: Return: 0 once the feature is in the
 * requested state; -LKL_EOPNOTSUPP if the device cannot switch it, or the kernel left it as it
 * was for a missing prerequisite; -LKL_EINVAL for an unknown @name. Note that TCP builds GSO
 * packets whatever "gso" says (since Linux 4.16, segmenting them in software for devices
 * without TSO), so "gso" off changes what UDP and other protocols do, not TCP.
 */
int lkl_if_set_feature(int ifindex, const char *name, int on);

/**
 * lkl_if_get_feature - whether feature @name of @ifindex is on (names: lkl_if_set_feature())
 *
 * Return: 1 if on, 0 if off, or a negative LKL errno (-LKL_EINVAL for an unknown @name).
 */
int lkl_if_get_feature(int ifindex, const char *name);

/**
 * lkl_sysctl - write @value to the sysctl @path
 * @path: "net.ipv4.tcp_congestion_control" or "net/ipv4/tcp_congestion_control"; a path with a
 *        '/' is taken as is (so interface names with dots work), otherwise dots separate the
 *        components. Relative to /proc/sys; ".." components are refused.
 *
 * Mounts proc on /proc first if nothing is mounted there.
 */
int lkl_sysctl(const char *path, const char *value);

/**
 * lkl_sysctl_get - read the sysctl @path into @buffer as a NUL-terminated string
 * @size: size of @buffer in bytes, at least 1
 *
 * One trailing newline is removed. Return: 0, or -LKL_ERANGE if the value does not fit (then
 * @buffer holds its first @size - 1 bytes).
 */
int lkl_sysctl_get(const char *path, char *buffer, int size);

#ifdef __cplusplus
}
#endif

#endif /* _LKL_NET_CONFIG_H */
