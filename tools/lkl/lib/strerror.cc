// Messages for LKL errno values, keyed by the prefixed LKL_E* constants so that they never
// depend on the host C library's numbering.
#include <cstdio>

#include <lkl.h>

namespace {

const char *message(long err) {
  switch (err) {
#define LKL_ERRNO(name, text) \
  case LKL_##name:            \
    return text;
    LKL_ERRNO(EPERM, "Operation not permitted")
    LKL_ERRNO(ENOENT, "No such file or directory")
    LKL_ERRNO(ESRCH, "No such process")
    LKL_ERRNO(EINTR, "Interrupted system call")
    LKL_ERRNO(EIO, "Input/output error")
    LKL_ERRNO(ENXIO, "No such device or address")
    LKL_ERRNO(E2BIG, "Argument list too long")
    LKL_ERRNO(ENOEXEC, "Exec format error")
    LKL_ERRNO(EBADF, "Bad file descriptor")
    LKL_ERRNO(ECHILD, "No child processes")
    LKL_ERRNO(EAGAIN, "Resource temporarily unavailable")
    LKL_ERRNO(ENOMEM, "Cannot allocate memory")
    LKL_ERRNO(EACCES, "Permission denied")
    LKL_ERRNO(EFAULT, "Bad address")
    LKL_ERRNO(ENOTBLK, "Block device required")
    LKL_ERRNO(EBUSY, "Device or resource busy")
    LKL_ERRNO(EEXIST, "File exists")
    LKL_ERRNO(EXDEV, "Invalid cross-device link")
    LKL_ERRNO(ENODEV, "No such device")
    LKL_ERRNO(ENOTDIR, "Not a directory")
    LKL_ERRNO(EISDIR, "Is a directory")
    LKL_ERRNO(EINVAL, "Invalid argument")
    LKL_ERRNO(ENFILE, "Too many open files in system")
    LKL_ERRNO(EMFILE, "Too many open files")
    LKL_ERRNO(ENOTTY, "Inappropriate ioctl for device")
    LKL_ERRNO(ETXTBSY, "Text file busy")
    LKL_ERRNO(EFBIG, "File too large")
    LKL_ERRNO(ENOSPC, "No space left on device")
    LKL_ERRNO(ESPIPE, "Illegal seek")
    LKL_ERRNO(EROFS, "Read-only file system")
    LKL_ERRNO(EMLINK, "Too many links")
    LKL_ERRNO(EPIPE, "Broken pipe")
    LKL_ERRNO(EDOM, "Numerical argument out of domain")
    LKL_ERRNO(ERANGE, "Numerical result out of range")
    LKL_ERRNO(EDEADLK, "Resource deadlock avoided")
    LKL_ERRNO(ENAMETOOLONG, "File name too long")
    LKL_ERRNO(ENOLCK, "No locks available")
    LKL_ERRNO(ENOSYS, "Function not implemented")
    LKL_ERRNO(ENOTEMPTY, "Directory not empty")
    LKL_ERRNO(ELOOP, "Too many levels of symbolic links")
    LKL_ERRNO(ENOMSG, "No message of desired type")
    LKL_ERRNO(EIDRM, "Identifier removed")
    LKL_ERRNO(ECHRNG, "Channel number out of range")
    LKL_ERRNO(EL2NSYNC, "Level 2 not synchronized")
    LKL_ERRNO(EL3HLT, "Level 3 halted")
    LKL_ERRNO(EL3RST, "Level 3 reset")
    LKL_ERRNO(ELNRNG, "Link number out of range")
    LKL_ERRNO(EUNATCH, "Protocol driver not attached")
    LKL_ERRNO(ENOCSI, "No CSI structure available")
    LKL_ERRNO(EL2HLT, "Level 2 halted")
    LKL_ERRNO(EBADE, "Invalid exchange")
    LKL_ERRNO(EBADR, "Invalid request descriptor")
    LKL_ERRNO(EXFULL, "Exchange full")
    LKL_ERRNO(ENOANO, "No anode")
    LKL_ERRNO(EBADRQC, "Invalid request code")
    LKL_ERRNO(EBADSLT, "Invalid slot")
    LKL_ERRNO(EBFONT, "Bad font file format")
    LKL_ERRNO(ENOSTR, "Device not a stream")
    LKL_ERRNO(ENODATA, "No data available")
    LKL_ERRNO(ETIME, "Timer expired")
    LKL_ERRNO(ENOSR, "Out of streams resources")
    LKL_ERRNO(ENONET, "Machine is not on the network")
    LKL_ERRNO(ENOPKG, "Package not installed")
    LKL_ERRNO(EREMOTE, "Object is remote")
    LKL_ERRNO(ENOLINK, "Link has been severed")
    LKL_ERRNO(EADV, "Advertise error")
    LKL_ERRNO(ESRMNT, "Srmount error")
    LKL_ERRNO(ECOMM, "Communication error on send")
    LKL_ERRNO(EPROTO, "Protocol error")
    LKL_ERRNO(EMULTIHOP, "Multihop attempted")
    LKL_ERRNO(EDOTDOT, "RFS specific error")
    LKL_ERRNO(EBADMSG, "Bad message")
    LKL_ERRNO(EOVERFLOW, "Value too large for defined data type")
    LKL_ERRNO(ENOTUNIQ, "Name not unique on network")
    LKL_ERRNO(EBADFD, "File descriptor in bad state")
    LKL_ERRNO(EREMCHG, "Remote address changed")
    LKL_ERRNO(ELIBACC, "Can not access a needed shared library")
    LKL_ERRNO(ELIBBAD, "Accessing a corrupted shared library")
    LKL_ERRNO(ELIBSCN, ".lib section in a.out corrupted")
    LKL_ERRNO(ELIBMAX, "Attempting to link in too many shared libraries")
    LKL_ERRNO(ELIBEXEC, "Cannot exec a shared library directly")
    LKL_ERRNO(EILSEQ, "Invalid or incomplete multibyte or wide character")
    LKL_ERRNO(ERESTART, "Interrupted system call should be restarted")
    LKL_ERRNO(ESTRPIPE, "Streams pipe error")
    LKL_ERRNO(EUSERS, "Too many users")
    LKL_ERRNO(ENOTSOCK, "Socket operation on non-socket")
    LKL_ERRNO(EDESTADDRREQ, "Destination address required")
    LKL_ERRNO(EMSGSIZE, "Message too long")
    LKL_ERRNO(EPROTOTYPE, "Protocol wrong type for socket")
    LKL_ERRNO(ENOPROTOOPT, "Protocol not available")
    LKL_ERRNO(EPROTONOSUPPORT, "Protocol not supported")
    LKL_ERRNO(ESOCKTNOSUPPORT, "Socket type not supported")
    LKL_ERRNO(EOPNOTSUPP, "Operation not supported")
    LKL_ERRNO(EPFNOSUPPORT, "Protocol family not supported")
    LKL_ERRNO(EAFNOSUPPORT, "Address family not supported by protocol")
    LKL_ERRNO(EADDRINUSE, "Address already in use")
    LKL_ERRNO(EADDRNOTAVAIL, "Cannot assign requested address")
    LKL_ERRNO(ENETDOWN, "Network is down")
    LKL_ERRNO(ENETUNREACH, "Network is unreachable")
    LKL_ERRNO(ENETRESET, "Network dropped connection on reset")
    LKL_ERRNO(ECONNABORTED, "Software caused connection abort")
    LKL_ERRNO(ECONNRESET, "Connection reset by peer")
    LKL_ERRNO(ENOBUFS, "No buffer space available")
    LKL_ERRNO(EISCONN, "Transport endpoint is already connected")
    LKL_ERRNO(ENOTCONN, "Transport endpoint is not connected")
    LKL_ERRNO(ESHUTDOWN, "Cannot send after transport endpoint shutdown")
    LKL_ERRNO(ETOOMANYREFS, "Too many references: cannot splice")
    LKL_ERRNO(ETIMEDOUT, "Connection timed out")
    LKL_ERRNO(ECONNREFUSED, "Connection refused")
    LKL_ERRNO(EHOSTDOWN, "Host is down")
    LKL_ERRNO(EHOSTUNREACH, "No route to host")
    LKL_ERRNO(EALREADY, "Operation already in progress")
    LKL_ERRNO(EINPROGRESS, "Operation now in progress")
    LKL_ERRNO(ESTALE, "Stale file handle")
    LKL_ERRNO(EUCLEAN, "Structure needs cleaning")
    LKL_ERRNO(ENOTNAM, "Not a XENIX named type file")
    LKL_ERRNO(ENAVAIL, "No XENIX semaphores available")
    LKL_ERRNO(EISNAM, "Is a named type file")
    LKL_ERRNO(EREMOTEIO, "Remote I/O error")
    LKL_ERRNO(EDQUOT, "Disk quota exceeded")
    LKL_ERRNO(ENOMEDIUM, "No medium found")
    LKL_ERRNO(EMEDIUMTYPE, "Wrong medium type")
    LKL_ERRNO(ECANCELED, "Operation canceled")
    LKL_ERRNO(ENOKEY, "Required key not available")
    LKL_ERRNO(EKEYEXPIRED, "Key has expired")
    LKL_ERRNO(EKEYREVOKED, "Key has been revoked")
    LKL_ERRNO(EKEYREJECTED, "Key was rejected by service")
    LKL_ERRNO(EOWNERDEAD, "Owner died")
    LKL_ERRNO(ENOTRECOVERABLE, "State not recoverable")
    LKL_ERRNO(ERFKILL, "Operation not possible due to RF-kill")
    LKL_ERRNO(EHWPOISON, "Memory page has hardware error")
#undef LKL_ERRNO
    case 0:
      return "Success";
    default:
      return nullptr;
  }
}

}  // namespace

extern "C" const char *lkl_strerror(int err) {
  const long code = err < 0 ? -static_cast<long>(err) : err;
  if (const char *text = message(code)) return text;
  static thread_local char unknown[32];
  std::snprintf(unknown, sizeof(unknown), "Unknown error %ld", code);
  return unknown;
}

extern "C" void lkl_perror(const char *msg, int err) {
  if (msg && *msg)
    std::fprintf(stderr, "%s: %s\n", msg, lkl_strerror(err));
  else
    std::fprintf(stderr, "%s\n", lkl_strerror(err));
}
