// lkl-demo: boot the library kernel, show what it is, and time a trivial syscall against the host.
//
//   lkl-demo [-n iterations] [kernel command line]
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <lkl/kernel.hpp>

namespace {

constexpr long kWarmup = 1000;

// Mean nanoseconds per call of fn over n calls, after a warm-up.
template <typename Fn>
double mean_ns(long n, Fn fn) {
  for (long i = 0; i < kWarmup; i++) fn();
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < n; i++) fn();
  const std::chrono::duration<double, std::nano> elapsed = std::chrono::steady_clock::now() - start;
  return elapsed.count() / static_cast<double>(n);
}

void usage(const char *prog) {
  std::fprintf(stderr, "usage: %s [-n iterations] [kernel command line]\n", prog);
}

}  // namespace

int main(int argc, char **argv) {
  long iterations = 100000;
  std::string cmdline = "mem=64M loglevel=7";
  int arg = 1;
  if (arg + 1 < argc && std::strcmp(argv[arg], "-n") == 0) {
    char *end;
    iterations = std::strtol(argv[arg + 1], &end, 10);
    if (*end || iterations <= 0) {
      usage(argv[0]);
      return 2;
    }
    arg += 2;
  }
  if (arg < argc) cmdline = argv[arg++];
  if (arg != argc) {
    usage(argv[0]);
    return 2;
  }

  try {
    lkl::Kernel kernel(cmdline);

    lkl_new_utsname uts{};
    lkl::check(lkl_sys_uname(&uts), "uname");
    std::printf("uname: %s %s %s %s\n", uts.sysname, uts.release, uts.version, uts.machine);

    // The host side goes through syscall(2): glibc's getpid() may be served from a cache.
    const double host = mean_ns(iterations, [] { syscall(SYS_getpid); });
    long pid = 0;
    const double lkl = mean_ns(iterations, [&pid] { pid = lkl_sys_getpid(); });
    lkl::check(pid, "getpid");
    std::printf("getpid latency: host %.0f ns, lkl %.0f ns (%.1fx), %ld iterations\n", host, lkl,
                lkl / host, iterations);
    std::fflush(stdout);

    const long halted = kernel.halt();
    std::printf("halt: %ld (%s)\n", halted, lkl_strerror(static_cast<int>(halted)));
    return halted == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
  } catch (const lkl::Error &e) {
    std::fprintf(stderr, "lkl-demo: %s\n", e.what());
    return EXIT_FAILURE;
  }
}
