// Shared-memory link: a point-to-point "cable" between the virtio-net devices of two processes
// (two library instances), the kernel-bypass path of DESIGN.md §4.
//
// A memfd mapping holds one single-producer/single-consumer byte ring per direction. A frame is
// one record, an 8-byte length word then the 12-byte virtio-net header and the frame, padded to
// 8 bytes; records wrap around the end of the ring. Sending and receiving are a copy plus one
// release store of the head or tail: no system call per frame. Each side owns an eventfd that it
// polls when idle; a side announces that it is about to sleep (waiting for data or for room) in
// the ring's control words, and the other side writes the eventfd only then. The store of that
// flag and the re-check of the ring on one side, the index update and the flag check on the
// other, are each separated by a full fence, so a wake-up cannot be lost.
//
// The two processes meet on the abstract Unix socket "lkl-shm/<name>" (so both must share a
// network namespace): the first to arrive creates the mapping and waits (up to 30 s) for the
// second, which receives the memfd and the first one's eventfd and sends back its own
// (SCM_RIGHTS); then the socket is closed and the name is free again. Anyone in the namespace can
// reach an abstract socket, so each side checks the other's credentials (SO_PEERCRED) and requires
// its own effective uid: the waiting side closes a connection from another user and keeps waiting
// (until its 30 s are up); the joining side fails with EACCES if the waiting one is another user's.
//
// The memfd is sealed against shrinking and growing before it is handed over, and the joining side
// maps it only if it carries those seals and has exactly the expected size: a peer cannot truncate
// the file under the other's mapping (SIGBUS). The wake-up descriptors received must be
// non-blocking eventfds (we only ever write them; a blocking file could hang the device). A peer
// that sends anything else is refused with EPROTO.
//
// Offloads travel as headers. Each side publishes its offload mask in the mapping and offers only
// what the other side can take: a checksum or segmentation offload for what it sends (CSUM,
// HOST_TSO*, HOST_ECN) only if the peer asked for the matching receive offload (GUEST_*), and
// the reverse, so a receiving device never sees GSO frames its driver did not ask for, whatever
// masks the two applications chose. Everything read from
// the ring is checked (lengths, ring indices): a peer that corrupts it breaks the link, never
// this process.
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <new>

#include "heap.h"
#include "net/backend.h"
#include "net/vnet_hdr.h"

namespace lkl::net {
namespace {

constexpr std::uint64_t kMagic = 0x32686d732d6c6b6cULL;  // "lkl-shm2"
constexpr std::size_t kRingBytes = 8 << 20;              // per direction, a power of two
constexpr std::size_t kMaxFrame = kVnetHdrLen + 0xffff + kEthHdrLen + 4;
constexpr std::size_t kRecordHdr = 8;
constexpr std::size_t kMaxRecord = kRecordHdr + (kMaxFrame + 7) / 8 * 8;
constexpr int kRendezvousMs = 30000;
// What the first side puts on the memfd: its size can never change again.
constexpr int kSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

std::size_t record_size(std::size_t len) { return kRecordHdr + (len + 7) / 8 * 8; }

struct RingControl {
  alignas(64) std::atomic<std::uint64_t> head;  // bytes produced; written by the producer only
  alignas(64) std::atomic<std::uint64_t> tail;  // bytes consumed; written by the consumer only
  alignas(64) std::atomic<std::uint32_t> consumer_sleeping;
  alignas(64) std::atomic<std::uint32_t> producer_waiting;
};

struct Shared {
  std::uint64_t magic;
  std::uint64_t ring_bytes;
  std::uint64_t offload[2];  // offload[s]: the mask side s was created with
  RingControl ring[2];       // ring[s] carries frames sent by side s
};

// The same offloads seen from the other end: what one side sends, the other receives.
std::uint64_t mirror(std::uint64_t f) {
  constexpr int kPairs[][2] = {{LKL_VIRTIO_NET_F_CSUM, LKL_VIRTIO_NET_F_GUEST_CSUM},
                               {LKL_VIRTIO_NET_F_HOST_TSO4, LKL_VIRTIO_NET_F_GUEST_TSO4},
                               {LKL_VIRTIO_NET_F_HOST_TSO6, LKL_VIRTIO_NET_F_GUEST_TSO6},
                               {LKL_VIRTIO_NET_F_HOST_ECN, LKL_VIRTIO_NET_F_GUEST_ECN}};
  std::uint64_t m = 0;
  for (const auto &pair : kPairs) {
    if (f & (1ULL << pair[0])) m |= 1ULL << pair[1];
    if (f & (1ULL << pair[1])) m |= 1ULL << pair[0];
  }
  return m;
}

constexpr std::size_t kDataOffset = (sizeof(Shared) + 4095) / 4096 * 4096;
constexpr std::size_t kMapBytes = kDataOffset + 2 * kRingBytes;

static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "rings must be address-free");

// One direction of the link, seen by one side.
class Ring {
 public:
  Ring(RingControl *control, unsigned char *data) : c_(control), data_(data) {}

  std::uint64_t used() const {
    return c_->head.load(std::memory_order_acquire) - c_->tail.load(std::memory_order_acquire);
  }

  // Producer side.
  bool has_room(std::size_t bytes) const { return kRingBytes - used() >= bytes; }
  long push(const iovec *iov, int count) {
    std::size_t len = 0;
    for (int i = 0; i < count; i++) len += iov[i].iov_len;
    if (len > kMaxFrame) return -EMSGSIZE;
    const std::uint64_t head = c_->head.load(std::memory_order_relaxed);
    if (kRingBytes - (head - c_->tail.load(std::memory_order_acquire)) < record_size(len))
      return -EAGAIN;
    const std::uint64_t word = len;
    copy_in(head, &word, sizeof(word));
    std::uint64_t pos = head + kRecordHdr;
    for (int i = 0; i < count; i++) {
      copy_in(pos, iov[i].iov_base, iov[i].iov_len);
      pos += iov[i].iov_len;
    }
    c_->head.store(head + record_size(len), std::memory_order_release);
    return static_cast<long>(len);
  }

  // Consumer side: the record's length, -EAGAIN if empty, -EIO if the producer wrote garbage.
  long pop(const iovec *iov, int count) {
    const std::uint64_t tail = c_->tail.load(std::memory_order_relaxed);
    const std::uint64_t avail = c_->head.load(std::memory_order_acquire) - tail;
    if (avail == 0) return -EAGAIN;
    std::uint64_t len;
    if (avail < kRecordHdr || avail > kRingBytes) return -EIO;
    copy_out(tail, &len, sizeof(len));
    if (len > kMaxFrame || record_size(len) > avail) return -EIO;
    std::uint64_t pos = tail + kRecordHdr;
    std::size_t left = len;
    for (int i = 0; i < count && left > 0; i++) {
      const std::size_t n = std::min(left, iov[i].iov_len);
      copy_out(pos, iov[i].iov_base, n);
      pos += n;
      left -= n;
    }
    c_->tail.store(tail + record_size(len), std::memory_order_release);
    return static_cast<long>(len);
  }

  RingControl *control() const { return c_; }

 private:
  void copy_in(std::uint64_t pos, const void *src, std::size_t n) {
    const std::size_t off = pos & (kRingBytes - 1);
    const std::size_t first = std::min(n, kRingBytes - off);
    std::memcpy(data_ + off, src, first);
    std::memcpy(data_, static_cast<const unsigned char *>(src) + first, n - first);
  }
  void copy_out(std::uint64_t pos, void *dst, std::size_t n) const {
    const std::size_t off = pos & (kRingBytes - 1);
    const std::size_t first = std::min(n, kRingBytes - off);
    std::memcpy(dst, data_ + off, first);
    std::memcpy(static_cast<unsigned char *>(dst) + first, data_, n - first);
  }

  RingControl *c_;
  unsigned char *data_;
};

class ShmLink final : public Backend {
 public:
  ShmLink(void *map, int side, int my_efd, int peer_efd, std::uint64_t features)
      : map_(map),
        tx_(ring_control(map, side), ring_data(map, side)),
        rx_(ring_control(map, 1 - side), ring_data(map, 1 - side)),
        my_efd_(my_efd),
        peer_efd_(peer_efd),
        features_(features) {}

  ~ShmLink() {
    munmap(map_, kMapBytes);
    close(my_efd_);
    close(peer_efd_);
  }

  long send(const iovec *iov, int count) noexcept override {
    const long ret = tx_.push(iov, count);
    if (ret >= 0) {
      std::atomic_thread_fence(std::memory_order_seq_cst);
      if (tx_.control()->consumer_sleeping.load(std::memory_order_relaxed)) wake_peer();
    }
    return ret;
  }

  long recv(const iovec *iov, int count) noexcept override {
    const long ret = rx_.pop(iov, count);
    if (ret >= 0) {
      std::atomic_thread_fence(std::memory_order_seq_cst);
      if (rx_.control()->producer_waiting.load(std::memory_order_relaxed)) wake_peer();
    }
    return ret;
  }

  bool prepare_poll(bool rx, bool tx, pollfd *pfd) noexcept override {
    if (rx) rx_.control()->consumer_sleeping.store(1, std::memory_order_relaxed);
    if (tx) tx_.control()->producer_waiting.store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if ((rx && rx_.used() != 0) || (tx && tx_.has_room(kMaxRecord))) {
      finish_poll();
      return false;
    }
    *pfd = {my_efd_, POLLIN, 0};
    return true;
  }

  void finish_poll() noexcept override {
    rx_.control()->consumer_sleeping.store(0, std::memory_order_relaxed);
    tx_.control()->producer_waiting.store(0, std::memory_order_relaxed);
    std::uint64_t v;  // one read takes the whole count (not a semaphore eventfd)
    [[maybe_unused]] ssize_t n = read(my_efd_, &v, sizeof(v));
  }

  int hdr_len() const noexcept override { return kVnetHdrLen; }
  std::uint64_t features() const noexcept override { return features_; }
  void destroy() noexcept override { heap_delete(this); }

 private:
  static RingControl *ring_control(void *map, int side) {
    return &static_cast<Shared *>(map)->ring[side];
  }
  static unsigned char *ring_data(void *map, int side) {
    return static_cast<unsigned char *>(map) + kDataOffset + side * kRingBytes;
  }

  void wake_peer() {
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(peer_efd_, &one, sizeof(one));
  }

  void *map_;
  Ring tx_, rx_;
  const int my_efd_, peer_efd_;
  const std::uint64_t features_;
};

// ---- rendezvous ----------------------------------------------------------------------------

socklen_t socket_name(const char *name, sockaddr_un *addr) {
  *addr = {};
  addr->sun_family = AF_UNIX;
  // Abstract namespace: sun_path[0] == '\0'.
  const int n = std::snprintf(addr->sun_path + 1, sizeof(addr->sun_path) - 1, "lkl-shm/%s", name);
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
}

long long now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

// Waits until @fd is readable (or hung up) or the deadline (now_ms() time) has passed, resuming
// after signals: 0, -ETIMEDOUT or a negative errno.
int wait_readable(int fd, long long deadline) {
  for (;;) {
    const long long left = deadline - now_ms();
    if (left <= 0) return -ETIMEDOUT;
    pollfd pfd = {fd, POLLIN, 0};
    const int n = poll(&pfd, 1, static_cast<int>(left));
    if (n > 0) return 0;
    if (n < 0 && errno != EINTR) return -errno;
  }
}

// 0 if the process at the other end of @sock runs with our effective uid, else -EACCES.
int check_peer(int sock) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -errno;
  return len == sizeof(cred) && cred.uid == geteuid() ? 0 : -EACCES;
}

// The mapping's file must be a memfd that nobody can resize (only a memfd can carry the shrink
// and grow seals), of exactly the size we map: then no access to the mapping can fault.
int check_memfd(int fd) {
  const int seals = fcntl(fd, F_GET_SEALS);
  if (seals < 0 || (seals & kSeals) != kSeals) return -EPROTO;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != static_cast<off_t>(kMapBytes))
    return -EPROTO;
  return 0;
}

// The peer's wake-up descriptor, which we only write: it must be open for writing and
// non-blocking, and be an eventfd (checked by its /proc name when /proc is there).
int check_eventfd(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || (flags & O_ACCMODE) != O_RDWR || !(flags & O_NONBLOCK)) return -EPROTO;
  char path[40], target[32];
  std::snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(path, target, sizeof(target));
  if (n < 0) return 0;  // no /proc: a non-blocking file can at worst take our writes
  static constexpr char kName[] = "anon_inode:[eventfd]";
  return n == sizeof(kName) - 1 && std::memcmp(target, kName, n) == 0 ? 0 : -EPROTO;
}

int send_fds(int sock, const int *fds, int count) {
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
  // The first message on a fresh connection always fits: never wait.
  return sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) == 1 ? 0 : -errno;
}

// Receives exactly count descriptors (closing any surplus) within kRendezvousMs; 0 or a negative
// errno.
int recv_fds(int sock, int *fds, int count) {
  const long long deadline = now_ms() + kRendezvousMs;
  char byte;
  iovec iov = {&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))];
  msghdr msg{};
  ssize_t n;
  do {
    const int ret = wait_readable(sock, deadline);
    if (ret < 0) return ret;
    msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  } while (n < 0 && (errno == EAGAIN || errno == EINTR));
  if (n < 0) return -errno;
  int got = 0;
  for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const int nfds = static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int i = 0; i < nfds; i++) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
      if (got < count)
        fds[got++] = fd;
      else
        close(fd);
    }
  }
  if (n == 1 && got == count) return 0;
  for (int i = 0; i < got; i++) close(fds[i]);
  return -EPROTO;
}

int map_fd(int fd, void **map) {
  *map = mmap(nullptr, kMapBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (*map != MAP_FAILED) return 0;
  *map = nullptr;
  return -errno;
}

// The second side: takes the mapping and the first side's eventfd, gives its own.
int join(int sock, std::uint64_t offload, void **map, int *my_efd, int *peer_efd,
         std::uint64_t *peer_offload) {
  *map = nullptr;
  *my_efd = -1;
  int fds[2];
  int ret = check_peer(sock);
  if (ret == 0) ret = recv_fds(sock, fds, 2);
  if (ret < 0) return ret;
  *peer_efd = fds[1];
  ret = check_memfd(fds[0]);
  if (ret == 0) ret = check_eventfd(*peer_efd);
  if (ret == 0) ret = map_fd(fds[0], map);
  close(fds[0]);
  if (ret == 0) {
    *my_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (*my_efd < 0) ret = -errno;
  }
  if (ret == 0 && (static_cast<Shared *>(*map)->magic != kMagic ||
                   static_cast<Shared *>(*map)->ring_bytes != kRingBytes))
    ret = -EPROTO;
  if (ret == 0) {
    // Published before our reply, which the other side waits for before reading it.
    auto *shared = static_cast<Shared *>(*map);
    __atomic_store_n(&shared->offload[1], offload, __ATOMIC_RELEASE);
    *peer_offload = __atomic_load_n(&shared->offload[0], __ATOMIC_ACQUIRE);
    ret = send_fds(sock, my_efd, 1);
  }
  if (ret < 0) {
    if (*map) munmap(*map, kMapBytes);
    if (*my_efd >= 0) close(*my_efd);
    close(*peer_efd);
  }
  return ret;
}

// Accepts the second side within kRendezvousMs: connections from other users are closed and
// not counted. The connection, or a negative errno.
int accept_peer(int listener) {
  const long long deadline = now_ms() + kRendezvousMs;
  for (;;) {
    const int ret = wait_readable(listener, deadline);
    if (ret < 0) return ret;
    const int conn = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) continue;
      return -errno;
    }
    if (check_peer(conn) == 0) return conn;
    close(conn);
  }
}

// The first side: creates the mapping, waits for the second on the listening socket.
int host(int listener, std::uint64_t offload, void **map, int *my_efd, int *peer_efd,
         std::uint64_t *peer_offload) {
  *map = nullptr;
  const int mem = memfd_create("lkl-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mem < 0) return -errno;
  int ret = ftruncate(mem, kMapBytes) == 0 && fcntl(mem, F_ADD_SEALS, kSeals) == 0 ? 0 : -errno;
  if (ret == 0) ret = map_fd(mem, map);
  *my_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (ret == 0 && *my_efd < 0) ret = -errno;
  // Accept without blocking: poll() said when.
  if (ret == 0 && fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK) != 0)
    ret = -errno;
  if (ret == 0) {
    auto *shared = ::new (*map) Shared{};
    shared->magic = kMagic;
    shared->ring_bytes = kRingBytes;
    shared->offload[0] = offload;
    const int conn = accept_peer(listener);
    ret = conn < 0 ? conn : 0;
    if (ret == 0) {
      const int fds[2] = {mem, *my_efd};
      ret = send_fds(conn, fds, 2);
      if (ret == 0) ret = recv_fds(conn, peer_efd, 1);
      if (ret == 0) {
        ret = check_eventfd(*peer_efd);
        if (ret < 0) close(*peer_efd);
      }
      if (ret == 0) *peer_offload = __atomic_load_n(&shared->offload[1], __ATOMIC_ACQUIRE);
      close(conn);
    }
  }
  close(mem);
  if (ret < 0) {
    if (*map) munmap(*map, kMapBytes);
    if (*my_efd >= 0) close(*my_efd);
  }
  return ret;
}

}  // namespace

Backend *create_shm(const char *name, std::uint64_t offload, int *err) noexcept {
  *err = -EINVAL;
  if (!name || !*name || std::strlen(name) > 90) return nullptr;
  sockaddr_un addr;
  const socklen_t addr_len = socket_name(name, &addr);
  void *map = nullptr;
  int my_efd = -1, peer_efd = -1, side = -1;
  std::uint64_t peer_offload = 0;
  // Join a waiting peer, or become the one who waits. Between the other side's bind() and
  // listen() the name is taken but refuses connections (or both tried to wait at once): try
  // again, a millisecond later, for as long as a peer would be waited for.
  const long long deadline = now_ms() + kRendezvousMs;
  while (side < 0) {
    const int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (sock < 0) {
      *err = -errno;
      return nullptr;
    }
    if (connect(sock, reinterpret_cast<sockaddr *>(&addr), addr_len) == 0) {
      *err = join(sock, offload, &map, &my_efd, &peer_efd, &peer_offload);
      side = 1;
    } else if (bind(sock, reinterpret_cast<sockaddr *>(&addr), addr_len) == 0 &&
               listen(sock, 1) == 0) {
      *err = host(sock, offload, &map, &my_efd, &peer_efd, &peer_offload);
      side = 0;
    } else {
      *err = -errno;
    }
    close(sock);
    if (*err < 0 && (side >= 0 || *err != -EADDRINUSE || now_ms() >= deadline)) return nullptr;
    if (side < 0) {
      const timespec pause = {0, 1000000};
      nanosleep(&pause, nullptr);
    }
  }
  const std::uint64_t features = offload & kHeaderOffloads & mirror(peer_offload);
  Backend *backend = heap_new<ShmLink>(map, side, my_efd, peer_efd, features);
  if (!backend) {
    *err = -ENOMEM;
    munmap(map, kMapBytes);
    close(my_efd);
    close(peer_efd);
  }
  return backend;
}

}  // namespace lkl::net
