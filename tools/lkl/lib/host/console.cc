// Kernel console output and panic.
//
// The console goes to stderr unless the environment variable LKL_CONSOLE says otherwise:
//   LKL_CONSOLE=stderr (default) | stdout | none (discard) | <path> (appended to; created 0644).
// If <path> cannot be opened the console stays on stderr, after one line saying why.
// A panic is always reported on stderr, even when the console is silenced or redirected.
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "host/host.h"

namespace lkl::host {
namespace {

constexpr int kNoConsole = -1;

pthread_once_t console_once = PTHREAD_ONCE_INIT;
int console_fd = STDERR_FILENO;

// Writes everything it can; a console that fails (closed pipe, full disk) is not worth more.
void write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    const ssize_t n = write(fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    buf += n;
    len -= static_cast<size_t>(n);
  }
}

void open_console() {
  const char *target = std::getenv("LKL_CONSOLE");
  if (!target || !*target || std::strcmp(target, "stderr") == 0) return;
  if (std::strcmp(target, "stdout") == 0) {
    console_fd = STDOUT_FILENO;
  } else if (std::strcmp(target, "none") == 0) {
    console_fd = kNoConsole;
  } else {
    const int fd = open(target, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      console_fd = fd;
    } else {
      char msg[512];
      const int len = std::snprintf(msg, sizeof(msg), "lkl: cannot open LKL_CONSOLE=%s: %s\n",
                                    target, std::strerror(errno));
      if (len > 0) write_all(STDERR_FILENO, msg, std::strlen(msg));
    }
  }
}

int console() {
  pthread_once(&console_once, open_console);
  return console_fd;
}

}  // namespace

void print(const char *str, int len) noexcept {
  const int fd = console();
  if (fd != kNoConsole && str && len > 0) write_all(fd, str, static_cast<size_t>(len));
}

void panic() noexcept {
  static const char kMsg[] = "lkl: kernel panic\n";
  const int fd = console();
  if (fd != kNoConsole && fd != STDERR_FILENO) write_all(fd, kMsg, sizeof(kMsg) - 1);
  write_all(STDERR_FILENO, kMsg, sizeof(kMsg) - 1);
  std::abort();
}

}  // namespace lkl::host
