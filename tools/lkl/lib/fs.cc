// lkl_mount_fs(): the upstream-LKL helper that mounts a pseudo file system at /<fstype>.
#include <cstring>

#include <lkl.h>

namespace {

constexpr int kMaxFsType = 64;

long call(long no, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0) {
  long params[6] = {a1, a2, a3, a4, a5, 0};
  return lkl_syscall(no, params);
}

long path_stat(const char *path, lkl_stat *st) {
  return call(__lkl__NR_newfstatat, LKL_AT_FDCWD, reinterpret_cast<long>(path),
              reinterpret_cast<long>(st), 0);
}

}  // namespace

extern "C" int lkl_mount_fs(const char *fstype) {
  if (!fstype || !*fstype || std::strchr(fstype, '/')) return -LKL_EINVAL;
  if (std::strlen(fstype) >= kMaxFsType) return -LKL_ENAMETOOLONG;
  char path[kMaxFsType + 1] = "/";
  std::strcat(path, fstype);

  long ret = call(__lkl__NR_mkdirat, LKL_AT_FDCWD, reinterpret_cast<long>(path), 0700);
  if (ret < 0 && ret != -LKL_EEXIST) return static_cast<int>(ret);

  // A directory on another device than / already has a file system mounted on it. (Mounting
  // again would succeed for most pseudo file systems and stack a second instance.)
  lkl_stat root{}, dir{};
  if (path_stat("/", &root) == 0 && path_stat(path, &dir) == 0 && root.st_dev != dir.st_dev)
    return 1;

  ret = call(__lkl__NR_mount, reinterpret_cast<long>(fstype), reinterpret_cast<long>(path),
             reinterpret_cast<long>(fstype), 0, 0);
  if (ret == -LKL_EBUSY) return 1;
  return static_cast<int>(ret);
}
