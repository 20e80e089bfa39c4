/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Network devices: a virtio-net device emulated by the host side over a backend (a TAP
 * interface, a raw AF_PACKET socket, a shared-memory link), which the kernel's virtio-net driver
 * sees as ethN. Included by <lkl.h>; names and signatures follow upstream LKL.
 *
 *   struct lkl_netdev *nd = lkl_netdev_tap_create("tap0", offload);
 *   int id = lkl_netdev_add(nd, NULL);           // before or after lkl_start_kernel()
 *   ...
 *   int ifindex = lkl_netdev_get_ifindex(id);    // once the kernel runs
 *   ...
 *   lkl_netdev_remove(id);
 *   lkl_netdev_free(nd);
 *
 * offload masks are made of (1 << LKL_VIRTIO_NET_F_*) bits: CSUM, GUEST_CSUM, HOST_TSO4/6,
 * HOST_ECN, GUEST_TSO4/6, GUEST_ECN and MRG_RXBUF. A device offers the driver what both the
 * backend and the lkl_netdev_add() arguments allow, minus features whose prerequisite is missing
 * (TSO needs checksum offload in the same direction). Guest TSO without MRG_RXBUF makes the
 * driver post chains of pages ("big packets").
 *
 * Devices added before boot go on the kernel command line through lkl_host_ops.virtio_devices,
 * so the kernel must be started with lkl_init(&lkl_host_ops). Adding a device to a running
 * kernel mounts sysfs on /sysfs if it is not mounted there yet.
 */
#ifndef _LKL_NETDEV_H
#define _LKL_NETDEV_H

#include <lkl/linux/virtio_net.h>

/* Ring feature numbers of <lkl/linux/virtio_ring.h>, whose legacy part does not compile as C++. */
#ifndef LKL_VIRTIO_RING_F_INDIRECT_DESC
#define LKL_VIRTIO_RING_F_INDIRECT_DESC 28
#endif
#ifndef LKL_VIRTIO_RING_F_EVENT_IDX
#define LKL_VIRTIO_RING_F_EVENT_IDX 29
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* A backend, created by one of the lkl_netdev_*_create() functions. */
struct lkl_netdev;

struct lkl_netdev_args {
  /* 6-byte MAC address offered to the driver; NULL: the driver picks a random one. */
  void *mac;
  /* Offloads the device may offer: (1 << LKL_VIRTIO_NET_F_*) bits; 0: none. */
  unsigned int offload;
  /*
   * Features withheld from the driver although the device has them: 1 << LKL_VIRTIO_NET_F_STATUS,
   * 1 << LKL_VIRTIO_RING_F_INDIRECT_DESC, 1 << LKL_VIRTIO_RING_F_EVENT_IDX.
   */
  unsigned int disable_features;
  /*
   * Receive polling: 0 blocks in poll() as soon as the backend is idle; otherwise the
   * device's poll thread spins for up to this many microseconds after the last frame.
   */
  unsigned int busy_poll_us;
};

/* Device counters, see lkl_netdev_get_stats(). */
struct lkl_netdev_stats {
  unsigned long long rx_frames, rx_bytes;
  unsigned long long rx_dropped;     /* all receive drops below */
  unsigned long long rx_runt;        /* shorter than an Ethernet header */
  unsigned long long rx_bad_header;  /* malformed virtio-net header from the backend */
  unsigned long long rx_gso_dropped; /* GSO frame the driver did not negotiate */
  unsigned long long rx_oversize;    /* larger than the driver's buffers */
  unsigned long long rx_sw_checksum; /* partial checksums completed in software */
  unsigned long long rx_errors;      /* backend receive errors */
  unsigned long long rx_starved;     /* waits for receive buffers */
  unsigned long long tx_frames, tx_bytes;
  unsigned long long tx_dropped;     /* all transmit drops below */
  unsigned long long tx_bad_header;  /* header the negotiated features do not allow */
  unsigned long long tx_errors;      /* backend refused the frame */
  unsigned long long tx_deferred;    /* backend would block: finished by the poll thread */
  unsigned long long bad_chains;     /* malformed descriptor chains, given back unused */
  unsigned long long broken_queues;  /* head index out of range: device needs a reset */
  unsigned long long rejected_rings; /* queue setups refused (size, alignment, memory) */
  unsigned long long interrupts;
  /*
   * What the offloads did, per frame delivered to the driver (rx_*) or sent by it (tx_*). Large
   * frames are longer than 1518 bytes (more than a 1500-byte MTU carries, Ethernet header and a
   * VLAN tag included), i.e. segments left for the receiver to cut (TSO) or jumbo frames. A
   * frame with NEEDS_CSUM carries a partial checksum: its sender computed none (the driver with
   * CSUM, the other side with GUEST_CSUM). One with DATA_VALID had its checksum verified already.
   */
  unsigned long long rx_large, rx_gso, rx_csum_partial, rx_csum_valid;
  unsigned long long tx_large, tx_gso, tx_csum_partial;
  /*
   * GSO frames with VIRTIO_NET_HDR_GSO_ECN: segments whose first carries TCP CWR, sent as one
   * (HOST_ECN) or received as one (GUEST_ECN). Without the feature the sender cuts them itself.
   */
  unsigned long long rx_gso_ecn, tx_gso_ecn;
  /*
   * Frames received by a kernel thread spinning in cpu_relax() (a recv() busy-polling with
   * SO_BUSY_POLL or net.core.busy_read) instead of the device's poll thread: no hand-off.
   */
  unsigned long long rx_spin_polled;
};

/**
 * lkl_netdev_tap_create - open (creating it if needed) the TAP interface @ifname
 * @offload: offloads the interface may carry, (1 << LKL_VIRTIO_NET_F_*) bits
 *
 * Return: the backend, or NULL with errno set.
 */
struct lkl_netdev *lkl_netdev_tap_create(const char *ifname, int offload);

/**
 * lkl_netdev_raw_create - an AF_PACKET socket bound to the host interface @ifname
 *
 * The interface is put in promiscuous mode while the backend exists. Return: the backend, or
 * NULL with errno set.
 */
struct lkl_netdev *lkl_netdev_raw_create(const char *ifname);

/**
 * lkl_netdev_shm_create - one end of a shared-memory link named @name to another process
 * @name: the link's name, 1 to 90 bytes
 * @offload: offloads this end may use, (1 << LKL_VIRTIO_NET_F_*) bits; each end offers its
 *	driver a send offload (CSUM, HOST_*) only if the other end's mask has the matching receive
 *	offload (GUEST_*), and the reverse, so the two masks need not match
 *
 * The first process to call it with a given @name waits (up to 30 s) for the second; both must
 * be in the same network namespace (they meet on an abstract Unix socket) and run with the same
 * effective uid: the waiting process closes connections from other users and keeps waiting, a
 * joining process fails with EACCES if the waiting one belongs to another user. Frames then
 * travel through a pair of rings in shared memory, without a system call per frame; a side that
 * goes idle is woken through an eventfd. A link joins one pair of processes: once they have met,
 * the name is free for another pair. Return: the backend, or NULL with errno set (ETIMEDOUT if no
 * peer came, EACCES as above, EPROTO if the peer did not hand over a sealed memfd of the right
 * size and non-blocking eventfds, EADDRINUSE if a socket that takes no connection holds the name
 * for 30 s).
 */
struct lkl_netdev *lkl_netdev_shm_create(const char *name, int offload);

/**
 * lkl_netdev_add - make @nd a virtio-net device of the kernel
 * @args: options, or NULL for the defaults (no offloads, random MAC)
 *
 * Return: a device id (>= 0), or a negative LKL errno. A backend serves one device at a time.
 */
int lkl_netdev_add(struct lkl_netdev *nd, struct lkl_netdev_args *args);

/**
 * lkl_netdev_remove - detach device @id from the kernel and stop it
 *
 * After boot the driver is unbound (the interface disappears); the device's MMIO window and irq
 * stay reserved for the next lkl_netdev_add().
 */
void lkl_netdev_remove(int id);

/**
 * lkl_netdev_free - release a backend (removing its device first if it still has one)
 */
void lkl_netdev_free(struct lkl_netdev *nd);

/**
 * lkl_netdev_get_ifindex - the kernel's interface index for device @id
 *
 * Return: the index, or a negative LKL errno (-LKL_ENODEV if the driver did not take the device).
 */
int lkl_netdev_get_ifindex(int id);

/**
 * lkl_netdev_get_stats - the counters of device @id
 *
 * Return: 0, or -LKL_EINVAL for an unknown id.
 */
int lkl_netdev_get_stats(int id, struct lkl_netdev_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* _LKL_NETDEV_H */
