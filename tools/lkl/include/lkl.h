/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * LKL public C API: Linux as a library.
 *
 *   #include <lkl.h>
 *   #include <lkl_host.h>
 *   lkl_init(&lkl_host_ops);
 *   lkl_start_kernel("mem=64M loglevel=4");
 *   long fd = lkl_sys_open("/f", LKL_O_CREAT | LKL_O_RDWR, 0644);
 *   lkl_sys_halt();
 *
 * Every lkl_sys_*() call returns the syscall result, or a negative LKL errno (LKL_E*) on error;
 * nothing touches the host's errno. All kernel types and constants carry an lkl_/LKL_ prefix so
 * that this header coexists with the C library's headers.
 *
 * Link: cc prog.c $(pkg-config --cflags --libs lkl) (liblkl.so), or <lib>/liblkl.a -lpthread.
 * C++ programs may use the RAII layer in <lkl/kernel.hpp>.
 */
#ifndef _LKL_H
#define _LKL_H

#ifdef __cplusplus
extern "C" {
#endif

#include <lkl/asm/host_ops.h>
#include <lkl/asm/stat.h>
#include <lkl/asm/statfs.h>
#include <lkl/linux/errno.h>
#include <lkl/linux/eventfd.h>
#include <lkl/linux/eventpoll.h>
#include <lkl/linux/fcntl.h>
#include <lkl/linux/fs.h>
#include <lkl/linux/if.h>
#include <lkl/linux/in.h>
#include <lkl/linux/in6.h>
#include <lkl/linux/mount.h>
#include <lkl/linux/net.h>
#include <lkl/linux/poll.h>
#include <lkl/linux/socket.h>
#include <lkl/linux/sockios.h>
#include <lkl/linux/stat.h>
#include <lkl/linux/sysinfo.h>
#include <lkl/linux/tcp.h>
#include <lkl/linux/time.h>
#include <lkl/linux/types.h>
#include <lkl/linux/uio.h>
#include <lkl/linux/utsname.h>

/* The socket and dirent ABI the uapi lacks comes before the wrappers, which name its structs. */
#include <lkl/abi.h>
#include <lkl/asm/syscalls.h>
#include <lkl/net_config.h>
#include <lkl/netdev.h>

/**
 * lkl_strerror - description of an LKL errno
 * @err: an LKL_E* value, positive or negative (so a syscall result can be passed as is)
 *
 * Return: a static string; "Success" for 0 and "Unknown error <n>" (in a thread-local buffer)
 * for values with no LKL_E* name.
 */
const char *lkl_strerror(int err);

/**
 * lkl_perror - print "@msg: <lkl_strerror(@err)>" on the host's stderr
 */
void lkl_perror(const char *msg, int err);

/**
 * lkl_mount_fs - mount a pseudo file system at /@fstype, e.g. lkl_mount_fs("proc") on /proc
 *
 * Return: 0 when mounted, 1 if something is already mounted there, or a negative LKL errno.
 */
int lkl_mount_fs(const char *fstype);

/*
 * Compatibility wrappers for calls the 64-bit generic syscall table lacks (it only has the *at,
 * pipe2, ppoll, epoll_pwait ... forms), so that programs written for other LKL trees build. A
 * table that has the real call wins.
 */
static inline long lkl_compat_call(long no, long a1, long a2, long a3, long a4, long a5, long a6) {
  long params[6] = {a1, a2, a3, a4, a5, a6};

  return lkl_syscall(no, params);
}

#ifndef __lkl__NR_open
static inline long lkl_sys_open(const char *file, int flags, int mode) {
  return lkl_compat_call(__lkl__NR_openat, LKL_AT_FDCWD, (long)file, flags, mode, 0, 0);
}
#endif

#ifndef __lkl__NR_creat
static inline long lkl_sys_creat(const char *file, int mode) {
  return lkl_compat_call(__lkl__NR_openat, LKL_AT_FDCWD, (long)file,
                         LKL_O_CREAT | LKL_O_WRONLY | LKL_O_TRUNC, mode, 0, 0);
}
#endif

#ifndef __lkl__NR_mkdir
static inline long lkl_sys_mkdir(const char *path, int mode) {
  return lkl_compat_call(__lkl__NR_mkdirat, LKL_AT_FDCWD, (long)path, mode, 0, 0, 0);
}
#endif

#ifndef __lkl__NR_rmdir
static inline long lkl_sys_rmdir(const char *path) {
  return lkl_compat_call(__lkl__NR_unlinkat, LKL_AT_FDCWD, (long)path, LKL_AT_REMOVEDIR, 0, 0, 0);
}
#endif

#ifndef __lkl__NR_unlink
static inline long lkl_sys_unlink(const char *path) {
  return lkl_compat_call(__lkl__NR_unlinkat, LKL_AT_FDCWD, (long)path, 0, 0, 0, 0);
}
#endif

#ifndef __lkl__NR_link
static inline long lkl_sys_link(const char *existing, const char *path) {
  return lkl_compat_call(__lkl__NR_linkat, LKL_AT_FDCWD, (long)existing, LKL_AT_FDCWD, (long)path,
                         0, 0);
}
#endif

#ifndef __lkl__NR_symlink
static inline long lkl_sys_symlink(const char *target, const char *path) {
  return lkl_compat_call(__lkl__NR_symlinkat, (long)target, LKL_AT_FDCWD, (long)path, 0, 0, 0);
}
#endif

#ifndef __lkl__NR_readlink
static inline long lkl_sys_readlink(const char *path, char *buf, int size) {
  return lkl_compat_call(__lkl__NR_readlinkat, LKL_AT_FDCWD, (long)path, (long)buf, size, 0, 0);
}
#endif

#ifndef __lkl__NR_rename
static inline long lkl_sys_rename(const char *from, const char *to) {
#ifdef __lkl__NR_renameat2
  return lkl_compat_call(__lkl__NR_renameat2, LKL_AT_FDCWD, (long)from, LKL_AT_FDCWD, (long)to, 0,
                         0);
#else
  return lkl_compat_call(__lkl__NR_renameat, LKL_AT_FDCWD, (long)from, LKL_AT_FDCWD, (long)to, 0,
                         0);
#endif
}
#endif

#ifndef __lkl__NR_access
static inline long lkl_sys_access(const char *path, int mode) {
  return lkl_compat_call(__lkl__NR_faccessat, LKL_AT_FDCWD, (long)path, mode, 0, 0, 0);
}
#endif

#ifndef __lkl__NR_chmod
static inline long lkl_sys_chmod(const char *path, int mode) {
  return lkl_compat_call(__lkl__NR_fchmodat, LKL_AT_FDCWD, (long)path, mode, 0, 0, 0);
}
#endif

#ifndef __lkl__NR_chown
static inline long lkl_sys_chown(const char *path, unsigned int uid, unsigned int gid) {
  return lkl_compat_call(__lkl__NR_fchownat, LKL_AT_FDCWD, (long)path, uid, gid, 0, 0);
}
#endif

#ifndef __lkl__NR_lchown
static inline long lkl_sys_lchown(const char *path, unsigned int uid, unsigned int gid) {
  return lkl_compat_call(__lkl__NR_fchownat, LKL_AT_FDCWD, (long)path, uid, gid,
                         LKL_AT_SYMLINK_NOFOLLOW, 0);
}
#endif

#ifndef __lkl__NR_mknod
static inline long lkl_sys_mknod(const char *path, int mode, unsigned int dev) {
  return lkl_compat_call(__lkl__NR_mknodat, LKL_AT_FDCWD, (long)path, mode, dev, 0, 0);
}
#endif

#if !defined(__lkl__NR_stat) && defined(__lkl__NR_newfstatat)
static inline long lkl_sys_stat(const char *path, struct lkl_stat *buf) {
  return lkl_compat_call(__lkl__NR_newfstatat, LKL_AT_FDCWD, (long)path, (long)buf, 0, 0, 0);
}
#endif

#if !defined(__lkl__NR_lstat) && defined(__lkl__NR_newfstatat)
static inline long lkl_sys_lstat(const char *path, struct lkl_stat *buf) {
  return lkl_compat_call(__lkl__NR_newfstatat, LKL_AT_FDCWD, (long)path, (long)buf,
                         LKL_AT_SYMLINK_NOFOLLOW, 0, 0);
}
#endif

#ifndef __lkl__NR_pipe
static inline long lkl_sys_pipe(int fds[2]) {
  return lkl_compat_call(__lkl__NR_pipe2, (long)fds, 0, 0, 0, 0, 0);
}
#endif

#ifndef __lkl__NR_dup2
/* dup3 rejects oldfd == newfd; dup2 returns newfd if it is open. */
static inline long lkl_sys_dup2(int oldfd, int newfd) {
  if (oldfd == newfd) {
    long ret = lkl_compat_call(__lkl__NR_fcntl, oldfd, LKL_F_GETFD, 0, 0, 0, 0);

    return ret < 0 ? ret : newfd;
  }
  return lkl_compat_call(__lkl__NR_dup3, oldfd, newfd, 0, 0, 0, 0);
}
#endif

/* sizeof(lkl_sigset_t) (64 signals), as ppoll and epoll_pwait expect it. */
#define LKL_COMPAT_SIGSET_SIZE 8

#ifndef __lkl__NR_poll
static inline long lkl_sys_poll(struct lkl_pollfd *fds, int n, int timeout_ms) {
  struct __lkl__kernel_timespec ts;

  if (timeout_ms >= 0) {
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = (timeout_ms % 1000) * 1000000LL;
  }
  return lkl_compat_call(__lkl__NR_ppoll, (long)fds, n, timeout_ms >= 0 ? (long)&ts : 0, 0,
                         LKL_COMPAT_SIGSET_SIZE, 0);
}
#endif

#ifndef __lkl__NR_epoll_create
static inline long lkl_sys_epoll_create(int size) {
  if (size <= 0) return -LKL_EINVAL;
  return lkl_compat_call(__lkl__NR_epoll_create1, 0, 0, 0, 0, 0, 0);
}
#endif

#ifndef __lkl__NR_epoll_wait
static inline long lkl_sys_epoll_wait(int epfd, struct lkl_epoll_event *events, int maxevents,
                                      int timeout_ms) {
  return lkl_compat_call(__lkl__NR_epoll_pwait, epfd, (long)events, maxevents, timeout_ms, 0,
                         LKL_COMPAT_SIGSET_SIZE);
}
#endif

#if !defined(__lkl__NR_select) && defined(__lkl__NR_pselect6)
/* Like Linux select(), leaves the time not slept in *timeout. */
static inline long lkl_sys_select(int n, __lkl__kernel_fd_set *rfds, __lkl__kernel_fd_set *wfds,
                                  __lkl__kernel_fd_set *efds, struct lkl_timeval *timeout) {
  struct __lkl__kernel_timespec ts;
  long ret;

  if (timeout) {
    ts.tv_sec = timeout->tv_sec;
    ts.tv_nsec = timeout->tv_usec * 1000LL;
  }
  ret = lkl_compat_call(__lkl__NR_pselect6, n, (long)rfds, (long)wfds, (long)efds,
                        timeout ? (long)&ts : 0, 0);
  if (timeout) {
    timeout->tv_sec = ts.tv_sec;
    timeout->tv_usec = ts.tv_nsec / 1000;
  }
  return ret;
}
#endif

#if !defined(__lkl__NR_send) && defined(__lkl__NR_sendto)
static inline long lkl_sys_send(int fd, const void *buf, unsigned long len, int flags) {
  return lkl_compat_call(__lkl__NR_sendto, fd, (long)buf, (long)len, flags, 0, 0);
}
#endif

#if !defined(__lkl__NR_recv) && defined(__lkl__NR_recvfrom)
static inline long lkl_sys_recv(int fd, void *buf, unsigned long len, int flags) {
  return lkl_compat_call(__lkl__NR_recvfrom, fd, (long)buf, (long)len, flags, 0, 0);
}
#endif

#ifdef __cplusplus
}
#endif

#endif /* _LKL_H */
