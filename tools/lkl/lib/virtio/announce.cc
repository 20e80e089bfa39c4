// See announce.h.
#include "virtio/announce.h"

#include <pthread.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <lkl.h>
#include <lkl_host.h>

namespace lkl::virtio {
namespace {

constexpr const char *kDeviceParam = "/sysfs/module/virtio_mmio/parameters/device";
constexpr const char *kDriverDir = "/sysfs/bus/platform/drivers/virtio-mmio";
constexpr const char *kDevicesDir = "/sysfs/bus/platform/devices";
constexpr int kMaxEntries = 64;
constexpr std::size_t kEntryLen = 64;

struct Entry {
  long base;
  unsigned long size;
  int irq;
};

// Devices declared before boot, and the command-line text built from them.
pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
Entry entries[kMaxEntries];
int entry_count;
char cmdline[kMaxEntries * kEntryLen];

void rebuild_cmdline() {
  std::size_t len = 0;
  cmdline[0] = '\0';
  for (int i = 0; i < entry_count; i++)
    len +=
        std::snprintf(cmdline + len, sizeof(cmdline) - len, " virtio_mmio.device=%lu@%#lx:%d",
                      entries[i].size, static_cast<unsigned long>(entries[i].base), entries[i].irq);
  lkl_host_ops.virtio_devices = entry_count ? cmdline : nullptr;
}

int write_file(const char *path, const char *text) {
  long ret = lkl_mount_fs("sysfs");
  if (ret < 0) return static_cast<int>(ret);
  const long fd = lkl_sys_openat(LKL_AT_FDCWD, path, LKL_O_WRONLY | LKL_O_CLOEXEC, 0);
  if (fd < 0) return static_cast<int>(fd);
  ret = lkl_sys_write(static_cast<unsigned>(fd), text, std::strlen(text));
  lkl_sys_close(static_cast<unsigned>(fd));
  return ret < 0 ? static_cast<int>(ret) : 0;
}

// Reads a small sysfs file into buf (NUL terminated); returns its length or a negative errno.
long read_file(const char *path, char *buf, std::size_t size) noexcept {
  long ret = lkl_mount_fs("sysfs");
  if (ret < 0) return ret;
  const long fd = lkl_sys_openat(LKL_AT_FDCWD, path, LKL_O_RDONLY | LKL_O_CLOEXEC, 0);
  if (fd < 0) return fd;
  std::size_t len = 0;
  while (len + 1 < size) {
    ret = lkl_sys_read(static_cast<unsigned>(fd), buf + len, size - 1 - len);
    if (ret <= 0) break;
    len += static_cast<std::size_t>(ret);
  }
  lkl_sys_close(static_cast<unsigned>(fd));
  buf[len] = '\0';
  return ret < 0 ? ret : static_cast<long>(len);
}

// The platform device number n of "virtio-mmio.<n>" for the window at base: the driver's
// parameter lists every device it registered as "<size>@<base>:<irq>:<n>".
int platform_id(long base) {
  char text[4096];  // the kernel fills at most a page
  const long ret = read_file(kDeviceParam, text, sizeof(text));
  if (ret < 0) return static_cast<int>(ret);
  for (const char *line = text; *line;) {
    unsigned long long size, start, irq;
    int id;
    if (std::sscanf(line, "%llx@%llx:%llu:%d", &size, &start, &irq, &id) == 4 &&
        start == static_cast<unsigned long>(base))
      return id;
    const char *next = std::strchr(line, '\n');
    if (!next) break;
    line = next + 1;
  }
  return -LKL_ENOENT;
}

int bind_op(long base, const char *op) {
  const int id = platform_id(base);
  if (id < 0) return id;
  char path[128], name[32];
  std::snprintf(path, sizeof(path), "%s/%s", kDriverDir, op);
  std::snprintf(name, sizeof(name), "virtio-mmio.%d", id);
  return write_file(path, name);
}

// The first entry of directory dir whose name starts with prefix, appended to dir in path.
int find_entry(const char *dir, const char *prefix, char *path, std::size_t size) noexcept {
  const long fd =
      lkl_sys_openat(LKL_AT_FDCWD, dir, LKL_O_RDONLY | LKL_O_DIRECTORY | LKL_O_CLOEXEC, 0);
  if (fd < 0) return static_cast<int>(fd);
  alignas(8) char buf[2048];
  int ret = -LKL_ENODEV;
  long n;
  while (ret == -LKL_ENODEV &&
         (n = lkl_sys_getdents64(static_cast<unsigned>(fd),
                                 reinterpret_cast<lkl_linux_dirent64 *>(buf), sizeof(buf))) > 0) {
    for (long off = 0; off < n;) {
      const auto *d = reinterpret_cast<const lkl_linux_dirent64 *>(buf + off);
      off += d->d_reclen;
      if (d->d_name[0] != '.' && std::strncmp(d->d_name, prefix, std::strlen(prefix)) == 0) {
        const int len = std::snprintf(path, size, "%s/%s", dir, d->d_name);
        ret = len > 0 && static_cast<std::size_t>(len) < size ? 0 : -LKL_ENAMETOOLONG;
        break;
      }
    }
  }
  lkl_sys_close(static_cast<unsigned>(fd));
  return ret;
}

}  // namespace

int announce(long base, unsigned long size, int irq) noexcept {
  if (lkl_is_running()) {
    char text[kEntryLen];
    std::snprintf(text, sizeof(text), "%lu@%#lx:%d", size, static_cast<unsigned long>(base), irq);
    return write_file(kDeviceParam, text);
  }
  pthread_mutex_lock(&lock);
  int ret = -LKL_ENOSPC;
  if (entry_count < kMaxEntries) {
    entries[entry_count++] = {base, size, irq};
    rebuild_cmdline();
    ret = 0;
  }
  pthread_mutex_unlock(&lock);
  return ret;
}

int withdraw(long base) noexcept {
  pthread_mutex_lock(&lock);
  int ret = -LKL_ENOENT;
  for (int i = 0; i < entry_count; i++) {
    if (entries[i].base == base) {
      entries[i] = entries[--entry_count];
      rebuild_cmdline();
      ret = 0;
      break;
    }
  }
  pthread_mutex_unlock(&lock);
  // An entry that made it to a running kernel is a platform device now.
  if (lkl_is_running()) ret = bind_op(base, "unbind");
  return ret;
}

int rebind(long base) noexcept {
  if (!lkl_is_running()) return -LKL_EINVAL;
  return bind_op(base, "bind");
}

long sysfs_read(const char *path, char *buf, std::size_t size) noexcept {
  return read_file(path, buf, size);
}

int sysfs_find(const char *dir, const char *prefix, char *path, std::size_t size) noexcept {
  const int ret = lkl_mount_fs("sysfs");
  return ret < 0 ? ret : find_entry(dir, prefix, path, size);
}

int device_sysfs_dir(long base, char *path, std::size_t size) noexcept {
  if (!lkl_is_running()) return -LKL_ENODEV;
  const int id = platform_id(base);
  if (id < 0) return id == -LKL_ENOENT ? -LKL_ENODEV : id;
  char dir[96];
  std::snprintf(dir, sizeof(dir), "%s/virtio-mmio.%d", kDevicesDir, id);
  return find_entry(dir, "virtio", path, size);
}

}  // namespace lkl::virtio
