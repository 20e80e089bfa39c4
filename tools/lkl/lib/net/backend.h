// The one interface a network backend implements (DESIGN.md §4): a frame goes out or comes in
// together with its virtio-net header, and a pollable descriptor says when to try again.
//
// Frames cross the interface as hdr_len() bytes of header (0; 10, struct virtio_net_hdr; or 12,
// struct virtio_net_hdr_v1 with num_buffers, little-endian) followed by the Ethernet frame, all
// spread over an iovec. The device maps them onto the driver's buffers without copying.
//
// Backends live in lib/net/<kind>.cc, each with its factory below. They are created by the
// application's thread and then used by one device: send() on the thread that processes the
// transmit queue, everything else on the device's poll thread.
#ifndef LKL_LIB_NET_BACKEND_H
#define LKL_LIB_NET_BACKEND_H

#include <poll.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstdint>

namespace lkl::net {

// As for VirtioDevice, defaults instead of pure virtual functions keep the glue free of the C++
// runtime; every real backend overrides all of them.
class Backend {
 public:
  // Sends one frame. Returns the bytes taken, -EAGAIN if that would block (the device retries
  // once poll() reports the descriptor writable), or another negative errno (frame dropped).
  virtual long send(const iovec * /*iov*/, int /*count*/) noexcept { return -ENOSYS; }

  // Receives one frame into iov. Returns its length, header included (a frame longer than iov is
  // cut short: the device always offers more room than the largest frame it accepts), -EAGAIN if
  // there is none, or another negative errno.
  virtual long recv(const iovec * /*iov*/, int /*count*/) noexcept { return -ENOSYS; }

  // Prepares to sleep in poll() until a frame may be received (rx) or sent (tx): fills *pfd and
  // returns true, or returns false if that is already the case and sleeping would miss it.
  virtual bool prepare_poll(bool /*rx*/, bool /*tx*/, pollfd * /*pfd*/) noexcept { return false; }
  // Called once the sleep prepared above is over.
  virtual void finish_poll() noexcept {}

  virtual int hdr_len() const noexcept { return 0; }

  // VIRTIO_NET_F_* offload bits this backend can carry (checksum and segmentation offload in
  // either direction); the device offers no more than these.
  virtual std::uint64_t features() const noexcept { return 0; }

  // The features the driver accepted, so that the backend hands over only frames the driver can
  // take (e.g. TUNSETOFFLOAD). 0 or a negative errno.
  virtual int set_features(std::uint64_t /*negotiated*/) noexcept { return 0; }

  // Releases the backend and its host resources.
  virtual void destroy() noexcept {}

 protected:
  ~Backend() = default;
};

// Factories; on failure they return nullptr with a negative errno in *err.

// A TAP interface (created, or attached if it exists): IFF_TAP | IFF_NO_PI | IFF_VNET_HDR with a
// 12-byte header; offload limits features() (mask of 1 << VIRTIO_NET_F_*).
Backend *create_tap(const char *ifname, std::uint64_t offload, int *err) noexcept;

// An AF_PACKET socket bound to an existing interface, with PACKET_VNET_HDR.
Backend *create_raw(const char *ifname, int *err) noexcept;

// One end of a shared-memory link between two processes (see shm.cc).
Backend *create_shm(const char *name, std::uint64_t offload, int *err) noexcept;

}  // namespace lkl::net

#endif  // LKL_LIB_NET_BACKEND_H
