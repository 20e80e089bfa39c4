/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Kernel ABI that system calls use but the uapi headers do not define, because the kernel keeps
 * it in internal headers (linux/socket.h, linux/net.h, linux/dirent.h) and the C library
 * supplies it to programs: socket families, types and flags, the message structures, and
 * struct linux_dirent64. Spelled with the lkl_/LKL_ prefix of the installed headers; the tags are
 * the ones the generated lkl_sys_*() wrappers name. Included by <lkl.h>.
 */
#ifndef _LKL_ABI_H
#define _LKL_ABI_H

#include <lkl/linux/types.h>
#include <lkl/linux/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct lkl_sockaddr {
  __lkl__kernel_sa_family_t sa_family;
  char sa_data[14];
};

/* Address (= protocol) families. */
#define LKL_AF_UNSPEC 0
#define LKL_AF_UNIX 1
#define LKL_AF_LOCAL LKL_AF_UNIX
#define LKL_AF_INET 2
#define LKL_AF_BRIDGE 7
#define LKL_AF_INET6 10
#define LKL_AF_KEY 15
#define LKL_AF_NETLINK 16
#define LKL_AF_ROUTE LKL_AF_NETLINK
#define LKL_AF_PACKET 17
#define LKL_AF_VSOCK 40
#define LKL_AF_XDP 44
#define LKL_AF_MCTP 45
#define LKL_AF_MAX 46

#define LKL_PF_UNSPEC LKL_AF_UNSPEC
#define LKL_PF_UNIX LKL_AF_UNIX
#define LKL_PF_LOCAL LKL_AF_LOCAL
#define LKL_PF_INET LKL_AF_INET
#define LKL_PF_BRIDGE LKL_AF_BRIDGE
#define LKL_PF_INET6 LKL_AF_INET6
#define LKL_PF_KEY LKL_AF_KEY
#define LKL_PF_NETLINK LKL_AF_NETLINK
#define LKL_PF_ROUTE LKL_AF_ROUTE
#define LKL_PF_PACKET LKL_AF_PACKET
#define LKL_PF_VSOCK LKL_AF_VSOCK
#define LKL_PF_XDP LKL_AF_XDP
#define LKL_PF_MCTP LKL_AF_MCTP
#define LKL_PF_MAX LKL_AF_MAX

/* Socket types, and flags that socket() and accept4() take with them. */
#define LKL_SOCK_STREAM 1
#define LKL_SOCK_DGRAM 2
#define LKL_SOCK_RAW 3
#define LKL_SOCK_RDM 4
#define LKL_SOCK_SEQPACKET 5
#define LKL_SOCK_DCCP 6
#define LKL_SOCK_PACKET 10
#define LKL_SOCK_TYPE_MASK 0xf
#define LKL_SOCK_CLOEXEC LKL_O_CLOEXEC
#define LKL_SOCK_NONBLOCK LKL_O_NONBLOCK

/* send/recv flags. */
#define LKL_MSG_OOB 0x1
#define LKL_MSG_PEEK 0x2
#define LKL_MSG_DONTROUTE 0x4
#define LKL_MSG_CTRUNC 0x8
#define LKL_MSG_PROBE 0x10
#define LKL_MSG_TRUNC 0x20
#define LKL_MSG_DONTWAIT 0x40
#define LKL_MSG_EOR 0x80
#define LKL_MSG_WAITALL 0x100
#define LKL_MSG_FIN 0x200
#define LKL_MSG_SYN 0x400
#define LKL_MSG_CONFIRM 0x800
#define LKL_MSG_RST 0x1000
#define LKL_MSG_ERRQUEUE 0x2000
#define LKL_MSG_NOSIGNAL 0x4000
#define LKL_MSG_MORE 0x8000
#define LKL_MSG_WAITFORONE 0x10000
#define LKL_MSG_BATCH 0x40000
#define LKL_MSG_ZEROCOPY 0x4000000
#define LKL_MSG_FASTOPEN 0x20000000
#define LKL_MSG_CMSG_CLOEXEC 0x40000000

/* setsockopt levels other than LKL_SOL_SOCKET (which the uapi has). */
#define LKL_SOL_IP 0
#define LKL_SOL_TCP 6
#define LKL_SOL_UDP 17
#define LKL_SOL_IPV6 41
#define LKL_SOL_ICMPV6 58
#define LKL_SOL_RAW 255
#define LKL_SOL_PACKET 263
#define LKL_SOL_NETLINK 270
#define LKL_SOL_TLS 282
#define LKL_SOL_XDP 283
#define LKL_SOL_MPTCP 284

/* shutdown() */
#define LKL_SHUT_RD 0
#define LKL_SHUT_WR 1
#define LKL_SHUT_RDWR 2

/* Default listen() backlog limit (net.core.somaxconn). */
#define LKL_SOMAXCONN 4096

struct lkl_linger {
  int l_onoff;
  int l_linger;
};

struct lkl_ucred {
  __lkl__u32 pid;
  __lkl__u32 uid;
  __lkl__u32 gid;
};

/* sendmsg/recvmsg; the kernel calls it user_msghdr. */
struct lkl_user_msghdr {
  void *msg_name;
  int msg_namelen;
  struct lkl_iovec *msg_iov;
  __lkl__kernel_size_t msg_iovlen;
  void *msg_control;
  __lkl__kernel_size_t msg_controllen;
  unsigned int msg_flags;
};

struct lkl_mmsghdr {
  struct lkl_user_msghdr msg_hdr;
  unsigned int msg_len;
};

/* Ancillary data: a sequence of (header, data) pairs in msg_control. */
struct lkl_cmsghdr {
  __lkl__kernel_size_t cmsg_len;
  int cmsg_level;
  int cmsg_type;
};

#define LKL_CMSG_ALIGN(len) (((len) + sizeof(long) - 1) & ~(sizeof(long) - 1))
#define LKL_CMSG_DATA(cmsg) ((unsigned char *)(cmsg) + sizeof(struct lkl_cmsghdr))
#define LKL_CMSG_SPACE(len) (sizeof(struct lkl_cmsghdr) + LKL_CMSG_ALIGN(len))
#define LKL_CMSG_LEN(len) (sizeof(struct lkl_cmsghdr) + (len))
#define LKL_CMSG_FIRSTHDR(msg)                                                                    \
  ((msg)->msg_controllen >= sizeof(struct lkl_cmsghdr) ? (struct lkl_cmsghdr *)(msg)->msg_control \
                                                       : (struct lkl_cmsghdr *)0)
#define LKL_CMSG_NXTHDR(msg, cmsg) lkl_cmsg_nxthdr((msg), (cmsg))

static inline struct lkl_cmsghdr *lkl_cmsg_nxthdr(const struct lkl_user_msghdr *msg,
                                                  const struct lkl_cmsghdr *cmsg) {
  const unsigned char *control = (const unsigned char *)msg->msg_control;
  const unsigned char *next = (const unsigned char *)cmsg + LKL_CMSG_ALIGN(cmsg->cmsg_len);

  if (cmsg->cmsg_len < sizeof(struct lkl_cmsghdr) ||
      (unsigned long)(next + sizeof(struct lkl_cmsghdr) - control) > msg->msg_controllen)
    return (struct lkl_cmsghdr *)0;
  return (struct lkl_cmsghdr *)next;
}

/* getdents64() records. */
struct lkl_linux_dirent64 {
  __lkl__u64 d_ino;
  __lkl__s64 d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

#ifdef __cplusplus
}
#endif

#endif /* _LKL_ABI_H */
