// C++ layer over the LKL C API: errors as exceptions, the kernel instance and descriptors as RAII.
//
//   lkl::Kernel kernel("mem=64M loglevel=4");  // boots; halts and cleans up when destroyed
//   lkl::Fd fd(lkl::check(lkl_sys_open("/f", LKL_O_CREAT | LKL_O_RDWR, 0644), "open /f"));
//
// The kernel's state is global: one Kernel per process, booted once.
#ifndef LKL_KERNEL_HPP
#define LKL_KERNEL_HPP

#include <lkl.h>
#include <lkl_host.h>

#include <string>
#include <system_error>
#include <utility>

namespace lkl {

// Error codes are LKL errnos, described by lkl_strerror(). They compare equal to the matching
// std::errc conditions: the kernel and Linux hosts share the asm-generic numbering.
class ErrorCategory final : public std::error_category {
 public:
  const char *name() const noexcept override { return "lkl"; }
  std::string message(int err) const override { return lkl_strerror(err); }
  std::error_condition default_error_condition(int err) const noexcept override {
    return {err, std::generic_category()};
  }
};

inline const std::error_category &category() noexcept {
  static const ErrorCategory instance;
  return instance;
}

// An LKL errno with context; what() reads "<context>: <message>".
class Error : public std::system_error {
 public:
  // err may be negative, as syscalls return it.
  Error(int err, const std::string &context)
      : std::system_error(err < 0 ? -err : err, category(), context) {}

  // The positive LKL errno.
  int err() const noexcept { return code().value(); }
};

// Returns ret if it is not an error, throws Error(-ret, what) otherwise.
inline long check(long ret, const char *what) {
  if (ret < 0) throw Error(static_cast<int>(-ret), what);
  return ret;
}

// The kernel instance: boots in the constructor, halts (if still running) and releases host
// resources in the destructor.
class Kernel {
 public:
  // Throws Error if the host operations are rejected or the kernel does not boot.
  explicit Kernel(std::string cmdline = "mem=64M loglevel=4",
                  lkl_host_operations *ops = &lkl_host_ops)
      : cmdline_(std::move(cmdline)) {
    check(lkl_init(ops), "lkl_init");
    const int ret = lkl_start_kernel("%s", cmdline_.c_str());
    if (ret < 0) {
      lkl_cleanup();
      throw Error(ret, "lkl_start_kernel(\"" + cmdline_ + "\")");
    }
  }

  ~Kernel() {
    if (running()) lkl_sys_halt();
    lkl_cleanup();
  }

  Kernel(const Kernel &) = delete;
  Kernel &operator=(const Kernel &) = delete;

  // Stops the kernel: 0, or a negative LKL errno (e.g. already halted).
  long halt() noexcept { return lkl_sys_halt(); }

  bool running() const noexcept { return lkl_is_running() != 0; }

  const std::string &cmdline() const noexcept { return cmdline_; }

 private:
  std::string cmdline_;
};

// Owns an LKL file descriptor (not a host one) and closes it with lkl_sys_close.
class Fd {
 public:
  explicit Fd(int fd = -1) noexcept : fd_(fd) {}
  ~Fd() { reset(); }

  Fd(Fd &&other) noexcept : fd_(other.release()) {}
  Fd &operator=(Fd &&other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  Fd(const Fd &) = delete;
  Fd &operator=(const Fd &) = delete;

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }

  // Gives up ownership without closing.
  int release() noexcept { return std::exchange(fd_, -1); }

  // Closes the current descriptor (unless it is fd) and owns fd.
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0 && fd_ != fd) lkl_sys_close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

}  // namespace lkl

#endif  // LKL_KERNEL_HPP
