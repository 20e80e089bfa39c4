// lkl-perf: netperf-style TCP benchmarks, and timed system calls, over the library kernel or the
// host kernel, through the same code (SocketOps), so that their numbers compare.
//
//   lkl-perf loopback --stack lkl -t TCP_RR -n 100000 --json     both ends in one process
//   lkl-perf loopback --stack lkl -t GETPID,PIPE_READ --lkl-syscall direct --lkl-pin auto
//   lkl-perf server --stack lkl --lkl-netdev tap:tap0 --lkl-ip 10.0.0.2/24
//   lkl-perf client --stack host -H 10.0.0.2 -t TCP_STREAM -b 1G
//   lkl-perf server --stack lkl --lkl-netdev shm:link0 --lkl-ip 10.0.1.1/24
//   lkl-perf client --stack lkl --lkl-netdev shm:link0 --lkl-ip 10.0.1.2/24 -H 10.0.1.1
//       -t TCP_RR,TCP_STREAM,TCP_MAERTS --connect-wait 30     several tests over one shm link
//
// Exit status: 0 success, 1 failure while running, 2 bad arguments.
#include <getopt.h>
#include <sched.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "lkl_sockets.h"
#include "socket_ops.h"
#include "tests.h"

namespace perf {
namespace {

constexpr uint16_t kDefaultPort = 12866;
constexpr int kBacklog = 128;
constexpr double kMaxDuration = 24 * 3600;

enum class Role { kServer, kClient, kLoopback };

struct Options {
  Role role = Role::kLoopback;
  std::string stack = "lkl";
  std::string host = "127.0.0.1";  // client: where the server is
  std::string bind = "0.0.0.0";    // server: the address it listens on
  uint16_t port = kDefaultPort;
  TestSpec spec;                // the parameters the tests share (their kind is in tests)
  std::vector<TestSpec> tests;  // client, loopback: the tests to run, in order (at least one)
  bool json = false;
  int timeout_s = 30;
  double connect_wait_s = 0;  // client: retry a refused or unreachable connect for this long
  uint64_t max_tests = 0;     // server: exit after this many tests (0: until a signal)
  LklConfig lkl;
  bool lkl_options = false;  // some --lkl-* option was given
};

void usage(FILE *out) {
  std::fputs(
      "usage: lkl-perf server|client|loopback [options]\n"
      "  server     listen and serve tests until a signal (or --max-tests)\n"
      "  client     connect to a server (-H) and run its tests, one connection each\n"
      "  loopback   run server and client in this process, over 127.0.0.1 of one stack\n"
      "\n"
      "  -s, --stack host|lkl        whose TCP/IP stack to use (default lkl)\n"
      "  -t, --test NAME[,NAME...]   TCP_RR (default), TCP_STREAM, or TCP_MAERTS\n"
      "                              (= TCP_STREAM --reverse); repeatable: the tests run in\n"
      "                              order in one process, --json then prints an array of\n"
      "                              their reports (a failed one: {\"test\", \"error\"}), and\n"
      "                              a failure does not stop the others (exit status 1)\n"
      "                              System calls, timed in this process (client, loopback):\n"
      "                              GETPID     getpid() in batches (--batch), ns per call\n"
      "                              PIPE_READ  1-byte write, then a timed 1-byte read on one\n"
      "                                         pipe and thread (the read never waits)\n"
      "                              SLEEP      nanosleep(--sleep-us) and how late it returns\n"
      "                              IDLE       the kernel left alone (-l, default 10 s): the\n"
      "                                         process's CPU time and host context switches,\n"
      "                                         the library's timer interrupts\n"
      "  -H, --host ADDR             client: server address (default 127.0.0.1)\n"
      "  -B, --bind ADDR             server: listen address (default 0.0.0.0)\n"
      "  -p, --port N                server port (default 12866; loopback: any free port)\n"
      "  -n, --transactions N        TCP_RR: transactions to measure (default 10000);\n"
      "                              GETPID, PIPE_READ: calls, in whole batches (default 100\n"
      "                              batches); SLEEP: sleeps (default 1000)\n"
      "  -w, --warmup N              TCP_RR, GETPID, PIPE_READ: unmeasured transactions or\n"
      "                              calls first (default 0; GETPID and PIPE_READ always run\n"
      "                              one unmeasured batch)\n"
      "      --batch N               GETPID, PIPE_READ: calls per timed batch (default 1000);\n"
      "                              the report's p50/p99 are over the batches\n"
      "      --sleep-us US           SLEEP: microseconds per nanosleep (default 100)\n"
      "  -r, --request-size SIZE     TCP_RR: request bytes (default 1)\n"
      "  -R, --response-size SIZE    TCP_RR: response bytes (default 1)\n"
      "  -b, --bytes SIZE            TCP_STREAM: bytes to transfer (default 1G)\n"
      "  -m, --message-size SIZE     TCP_STREAM: bytes per send/recv call (default 128K)\n"
      "      --reverse               TCP_STREAM: the server sends, the client receives\n"
      "  -l, --duration SECONDS      run for this long instead of -n / -b\n"
      "      --timeout SECONDS       give up on a silent peer after this long (default 30)\n"
      "      --connect-wait SECONDS  client: retry while the server refuses or is unreachable,\n"
      "                              for up to this long (default 0: fail at once)\n"
      "      --max-tests N           server: exit after serving N tests\n"
      "  -j, --json                  print the result as JSON\n"
      "  library kernel (--stack lkl):\n"
      "      --lkl-cmdline STR       kernel command line (default \"mem=256M loglevel=4\")\n"
      "      --lkl-syscall MODE      shadow or direct: how this process's threads enter the\n"
      "                              kernel (boot parameter lkl.syscall=MODE)\n"
      "      --lkl-pin off|auto|N    host CPU of the library's own threads (boot parameter\n"
      "                              lkl.pin_cpu=); auto: the last CPU this process may use.\n"
      "                              The JSON's stack.observed shows the threads' CPUs\n"
      "      --lkl-boot-param KEY=VALUE  a boot parameter appended to the command line\n"
      "                              (repeatable), e.g. lkl.direct_irq=0; the JSON's\n"
      "                              stack.observed.boot_params has the value the kernel\n"
      "                              shows in /sys/module (null: unknown to it)\n"
      "      --lkl-netdev DEV        loopback (default), tap:<ifname>, raw:<ifname>, or\n"
      "                              shm:<name>: a shared-memory link to the one other\n"
      "                              process that names it (same network namespace); the\n"
      "                              first waits up to 30 s for the second; a link serves\n"
      "                              one pair of processes: give the client all its tests\n"
      "                              at once (-t list)\n"
      "      --lkl-offload MASK      device offloads: all (default), none, or a bit mask\n"
      "      --lkl-busy-poll US      device receive busy polling, microseconds (default 0)\n"
      "      --lkl-ip ADDR/LEN       address of the device (repeatable, IPv4 or IPv6)\n"
      "      --lkl-gateway ADDR      default route\n"
      "      --lkl-sysctl KEY=VALUE  set a sysctl after boot (repeatable)\n"
      "      --lkl-features F=on|off[,...]  switch features of the device (lo without one)\n"
      "                              as ethtool -K does: rx, tx, sg, tso, gso, gro, e.g.\n"
      "                              gso=off,gro=off (repeatable; the JSON reports them)\n"
      "SIZE takes a K, M or G suffix (powers of 1024).\n",
      out);
  std::fprintf(out, "network devices (--lkl-netdev tap/raw/shm) in this build: %s\n",
               lkl_has_netdevs() ? "yes" : "no");
}

uint64_t parse_number(const char *opt, const char *text, uint64_t min, uint64_t max,
                      bool suffixes) {
  char *end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text, &end, 10);
  uint64_t scale = 1;
  if (suffixes && end && *end && !end[1]) {
    switch (*end) {
      case 'k':
      case 'K':
        scale = 1ull << 10;
        end++;
        break;
      case 'm':
      case 'M':
        scale = 1ull << 20;
        end++;
        break;
      case 'g':
      case 'G':
        scale = 1ull << 30;
        end++;
        break;
    }
  }
  if (!*text || *text == '-' || errno || !end || *end || v > max / scale || v * scale < min)
    throw UsageError(std::string(opt) + ": expected a number in [" + std::to_string(min) + ", " +
                     std::to_string(max) + "]" + (suffixes ? " (K/M/G suffix allowed)" : "") +
                     ", got \"" + text + "\"");
  return v * scale;
}

double parse_seconds(const char *opt, const char *text) {
  char *end = nullptr;
  errno = 0;
  const double v = std::strtod(text, &end);
  if (!*text || errno || *end || !std::isfinite(v) || v <= 0 || v > kMaxDuration)
    throw UsageError(std::string(opt) + ": expected seconds in (0, " +
                     std::to_string(static_cast<int>(kMaxDuration)) + "], got \"" + text + "\"");
  return v;
}

// --lkl-features: a comma-separated list of NAME=on|off, NAME one of kFeatureNames.
void parse_features(const std::string &list, std::vector<std::pair<std::string, bool>> *out) {
  for (size_t start = 0;;) {
    const size_t comma = list.find(',', start);
    const std::string item = list.substr(start, comma - start);
    const size_t eq = item.find('=');
    const std::string name = item.substr(0, eq),
                      value = eq == std::string::npos ? "" : item.substr(eq + 1);
    bool known = false;
    for (const char *n : kFeatureNames) known = known || name == n;
    if (!known || (value != "on" && value != "off"))
      throw UsageError(
          "--lkl-features: expected NAME=on|off (NAME: rx, tx, sg, tso, gso or gro), got \"" +
          item + "\"");
    out->emplace_back(name, value == "on");
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
}

// --lkl-pin: off, auto, or a CPU this process may run on.
std::string parse_pin(const std::string &text) {
  if (text == "off" || text == "auto") return text;
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
    throw UsageError("--lkl-pin: expected off, auto or a CPU number, got \"" + text + "\"");
  const auto cpu =
      static_cast<int>(parse_number("--lkl-pin", text.c_str(), 0, CPU_SETSIZE - 1, false));
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0 && !CPU_ISSET(cpu, &allowed)) {
    std::string list;
    for (int c = 0; c < CPU_SETSIZE; c++)
      if (CPU_ISSET(c, &allowed)) list += (list.empty() ? "" : ",") + std::to_string(c);
    throw UsageError("--lkl-pin: CPU " + text + " is not one this process may run on (" + list +
                     ")");
  }
  return std::to_string(cpu);
}

// --lkl-boot-param: KEY=VALUE, one word of the command line (no blanks or quotes, which the
// kernel would split or strip).
std::string parse_boot_param(const std::string &text) {
  const size_t eq = text.find('=');
  if (eq == 0 || eq == std::string::npos || text.find_first_of(" \t\n\"") != std::string::npos)
    throw UsageError("--lkl-boot-param: expected KEY=VALUE without blanks or quotes, got \"" +
                     text + "\"");
  return text;
}

Options parse(int argc, char **argv) {
  if (argc < 2) throw UsageError("missing role: server, client or loopback");
  Options o;
  const std::string role = argv[1];
  if (role == "server") {
    o.role = Role::kServer;
  } else if (role == "client") {
    o.role = Role::kClient;
  } else if (role == "loopback") {
    o.role = Role::kLoopback;
  } else if (role == "-h" || role == "--help") {
    usage(stdout);
    std::exit(0);
  } else {
    throw UsageError("unknown role \"" + role + "\": expected server, client or loopback");
  }

  enum : int {
    kReverse = 256,
    kTimeout,
    kConnectWait,
    kMaxTests,
    kLklCmdline,
    kLklNetdev,
    kLklOffload,
    kLklBusyPoll,
    kLklIp,
    kLklGateway,
    kLklSysctl,
    kLklFeatures,
    kLklSyscall,
    kLklPin,
    kLklBootParam,
    kBatch,
    kSleepUs,
  };
  static const option longopts[] = {
      {"stack", required_argument, nullptr, 's'},
      {"test", required_argument, nullptr, 't'},
      {"host", required_argument, nullptr, 'H'},
      {"bind", required_argument, nullptr, 'B'},
      {"port", required_argument, nullptr, 'p'},
      {"transactions", required_argument, nullptr, 'n'},
      {"warmup", required_argument, nullptr, 'w'},
      {"request-size", required_argument, nullptr, 'r'},
      {"response-size", required_argument, nullptr, 'R'},
      {"bytes", required_argument, nullptr, 'b'},
      {"message-size", required_argument, nullptr, 'm'},
      {"reverse", no_argument, nullptr, kReverse},
      {"duration", required_argument, nullptr, 'l'},
      {"timeout", required_argument, nullptr, kTimeout},
      {"connect-wait", required_argument, nullptr, kConnectWait},
      {"max-tests", required_argument, nullptr, kMaxTests},
      {"json", no_argument, nullptr, 'j'},
      {"help", no_argument, nullptr, 'h'},
      {"lkl-cmdline", required_argument, nullptr, kLklCmdline},
      {"lkl-netdev", required_argument, nullptr, kLklNetdev},
      {"lkl-offload", required_argument, nullptr, kLklOffload},
      {"lkl-busy-poll", required_argument, nullptr, kLklBusyPoll},
      {"lkl-ip", required_argument, nullptr, kLklIp},
      {"lkl-gateway", required_argument, nullptr, kLklGateway},
      {"lkl-sysctl", required_argument, nullptr, kLklSysctl},
      {"lkl-features", required_argument, nullptr, kLklFeatures},
      {"lkl-syscall", required_argument, nullptr, kLklSyscall},
      {"lkl-pin", required_argument, nullptr, kLklPin},
      {"lkl-boot-param", required_argument, nullptr, kLklBootParam},
      {"batch", required_argument, nullptr, kBatch},
      {"sleep-us", required_argument, nullptr, kSleepUs},
      {nullptr, 0, nullptr, 0},
  };

  bool reverse = false, port_given = false, bind_given = false, connect_wait_given = false,
       count_given = false;
  std::vector<std::string> tests;
  opterr = 0;  // errors are reported here, with the usage hint
  optind = 2;
  int c;
  while ((c = getopt_long(argc, argv, ":s:t:H:B:p:n:w:r:R:b:m:l:jh", longopts, nullptr)) != -1) {
    const char *arg = optarg;
    switch (c) {
      case 's':
        o.stack = arg;
        if (o.stack != "host" && o.stack != "lkl")
          throw UsageError("--stack: expected host or lkl, got \"" + o.stack + "\"");
        break;
      case 't': {
        // A comma-separated list; an empty name (",", "A,") is an error below.
        const std::string list = arg;
        for (size_t start = 0;;) {
          const size_t comma = list.find(',', start);
          tests.push_back(list.substr(start, comma - start));
          if (comma == std::string::npos) break;
          start = comma + 1;
        }
        break;
      }
      case 'H':
        o.host = arg;
        break;
      case 'B':
        o.bind = arg;
        bind_given = true;
        break;
      case 'p':
        o.port = static_cast<uint16_t>(parse_number("--port", arg, 1, 65535, false));
        port_given = true;
        break;
      case 'n':
        o.spec.transactions = parse_number("--transactions", arg, 1, 1ull << 40, true);
        o.spec.calls = o.spec.transactions;
        count_given = true;
        break;
      case 'w':
        o.spec.warmup = parse_number("--warmup", arg, 0, 1ull << 40, true);
        break;
      case 'r':
        o.spec.request_size =
            static_cast<uint32_t>(parse_number("--request-size", arg, 1, kMaxMessage, true));
        break;
      case 'R':
        o.spec.response_size =
            static_cast<uint32_t>(parse_number("--response-size", arg, 1, kMaxMessage, true));
        break;
      case 'b':
        o.spec.bytes = parse_number("--bytes", arg, 1, 1ull << 50, true);
        break;
      case 'm':
        o.spec.message_size =
            static_cast<uint32_t>(parse_number("--message-size", arg, 1, kMaxMessage, true));
        break;
      case kReverse:
        reverse = true;
        break;
      case 'l':
        o.spec.duration_s = parse_seconds("--duration", arg);
        break;
      case kTimeout:
        o.timeout_s = static_cast<int>(parse_number("--timeout", arg, 1, 86400, false));
        break;
      case kConnectWait:
        o.connect_wait_s = parse_seconds("--connect-wait", arg);
        connect_wait_given = true;
        break;
      case kMaxTests:
        o.max_tests = parse_number("--max-tests", arg, 1, 1ull << 40, false);
        break;
      case 'j':
        o.json = true;
        break;
      case 'h':
        usage(stdout);
        std::exit(0);
      case kLklCmdline:
        o.lkl.cmdline = arg;
        o.lkl_options = true;
        break;
      case kLklNetdev:
        o.lkl.netdev = arg;
        o.lkl_options = true;
        break;
      case kLklOffload:
        o.lkl.offload = arg;
        o.lkl_options = true;
        break;
      case kLklBusyPoll:
        o.lkl.busy_poll_us =
            static_cast<unsigned>(parse_number("--lkl-busy-poll", arg, 0, 10000000, false));
        o.lkl_options = true;
        break;
      case kLklIp:
        o.lkl.addresses.push_back(arg);
        o.lkl_options = true;
        break;
      case kLklGateway:
        o.lkl.gateway = arg;
        o.lkl_options = true;
        break;
      case kLklSysctl: {
        const std::string kv = arg;
        const auto eq = kv.find('=');
        if (eq == 0 || eq == std::string::npos)
          throw UsageError("--lkl-sysctl: expected KEY=VALUE, got \"" + kv + "\"");
        o.lkl.sysctls.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
        o.lkl_options = true;
        break;
      }
      case kLklFeatures:
        parse_features(arg, &o.lkl.features);
        o.lkl_options = true;
        break;
      case kLklSyscall:
        o.lkl.syscall_mode = arg;
        if (o.lkl.syscall_mode != "shadow" && o.lkl.syscall_mode != "direct")
          throw UsageError("--lkl-syscall: expected shadow or direct, got \"" + o.lkl.syscall_mode +
                           "\"");
        o.lkl_options = true;
        break;
      case kLklPin:
        o.lkl.pin_cpu = parse_pin(arg);
        o.lkl_options = true;
        break;
      case kLklBootParam:
        o.lkl.boot_params.push_back(parse_boot_param(arg));
        o.lkl_options = true;
        break;
      case kBatch:
        o.spec.batch = static_cast<uint32_t>(parse_number("--batch", arg, 1, 1000000, true));
        break;
      case kSleepUs:
        o.spec.sleep_ns = 1000 * parse_number("--sleep-us", arg, 1, 10000000, false);
        break;
      case ':':
        throw UsageError(std::string("option ") + argv[optind - 1] + " needs a value");
      default:
        throw UsageError(std::string("unknown option ") + argv[optind - 1]);
    }
  }
  if (optind != argc) throw UsageError(std::string("unexpected argument \"") + argv[optind] + "\"");

  if (tests.empty()) tests.push_back("TCP_RR");
  for (const std::string &test : tests) {
    TestSpec spec = o.spec;
    if (test == "GETPID" || test == "PIPE_READ" || test == "SLEEP" || test == "IDLE") {
      spec.syscall = test == "GETPID"      ? SyscallTest::kGetpid
                     : test == "PIPE_READ" ? SyscallTest::kPipeRead
                     : test == "SLEEP"     ? SyscallTest::kSleep
                                           : SyscallTest::kIdle;
      if (!count_given)
        spec.calls = spec.syscall == SyscallTest::kSleep ? 1000 : uint64_t{100} * spec.batch;
      if (o.role == Role::kServer)
        throw UsageError(test + " runs in the client or loopback role (the server serves TCP)");
    } else if (test == "TCP_RR") {
      spec.kind = TestKind::kRequestResponse;
      if (reverse)
        throw UsageError(
            "--reverse applies to TCP_STREAM only (TCP_MAERTS names the reverse test in a list)");
    } else if (test == "TCP_STREAM") {
      spec.kind = reverse ? TestKind::kMaerts : TestKind::kStream;
    } else if (test == "TCP_MAERTS") {
      spec.kind = TestKind::kMaerts;
    } else {
      throw UsageError(
          "--test: expected TCP_RR, TCP_STREAM, TCP_MAERTS, GETPID, PIPE_READ, SLEEP "
          "or IDLE, got \"" +
          test + "\"" + (test.empty() ? " (an empty name in a comma-separated list)" : ""));
    }
    o.tests.push_back(spec);
  }
  if (o.lkl_options && o.stack != "lkl") throw UsageError("--lkl-* options need --stack lkl");
  if (o.role == Role::kLoopback && (port_given || bind_given))
    throw UsageError("loopback picks its own address and port: no --port or --bind");
  if (o.role == Role::kServer && o.spec.duration_s > 0)
    throw UsageError("--duration is the client's choice, not the server's");
  if (o.role != Role::kClient && connect_wait_given)
    throw UsageError("--connect-wait is for the client role only");
  return o;
}

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop = true; }

// A listening socket on ep.
Socket listen_on(SocketOps &ops, const Endpoint &ep) {
  Socket s = Socket::open(ops, ep.family());
  s.set_option(SockOpt::kReuseAddr, 1, "SO_REUSEADDR");
  s.check(ops.bind(s.fd(), ep), ("bind " + ep.str()).c_str());
  s.check(ops.listen(s.fd(), kBacklog), "listen");
  return s;
}

Socket accept_one(Socket &listener, int timeout_s) {
  Socket conn(listener.ops(),
              static_cast<int>(listener.check(listener.ops().accept(listener.fd()), "accept")));
  conn.check(conn.ops().set_timeout(conn.fd(), std::chrono::seconds(timeout_s)), "timeout");
  return conn;
}

int run_server(SocketOps &ops, const Options &o) {
  Socket listener = listen_on(ops, Endpoint::parse(o.bind, o.port));
  Endpoint local;
  listener.check(ops.local_endpoint(listener.fd(), &local), "getsockname");
  std::fprintf(stderr, "lkl-perf: %s stack listening on %s\n", ops.name(), local.str().c_str());

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  uint64_t tests = 0;
  while (!g_stop && (o.max_tests == 0 || tests < o.max_tests)) {
    // Poll, so that a signal is noticed within a fifth of a second.
    const int ready = ops.wait_readable(listener.fd(), 200);
    if (ready == 0 || ready == -EINTR) continue;
    listener.check(ready, "poll");
    try {
      Socket conn = accept_one(listener, o.timeout_s);
      const std::string what = serve(conn);
      if (!what.empty()) {
        tests++;
        std::fprintf(stderr, "lkl-perf: served %s\n", what.c_str());
      }
    } catch (const Error &e) {
      tests++;
      std::fprintf(stderr, "lkl-perf: test failed: %s\n", e.what());
    }
  }
  return 0;
}

nlohmann::ordered_json header(SocketOps &ops, const Options &o, const TestSpec &spec,
                              const std::string &server) {
  nlohmann::ordered_json j;
  j["tool"] = "lkl-perf";
  j["test"] = spec.name();
  j["role"] = o.role == Role::kLoopback ? "loopback" : "client";
  j["stack"] = ops.describe();
  if (spec.syscall == SyscallTest::kNone) j["server"] = server;
  if (spec.duration_s > 0) j["duration_s"] = spec.duration_s;
  return j;
}

void print(const nlohmann::ordered_json &r, bool json) {
  if (json) {
    std::cout << r.dump(2) << std::endl;
    return;
  }
  const std::string stack = r["stack"]["stack"];
  const std::string test = r["test"];
  std::printf("%s over %s (%s%s%s)\n", test.c_str(), stack.c_str(),
              r["role"].get<std::string>().c_str(), r.contains("server") ? ", " : "",
              r.value("server", "").c_str());
  // The library's timer interrupts over the test, when the kernel is the process's own.
  const auto irqs = [&r] {
    return r["timer_interrupts"].is_number()
               ? ", " + std::to_string(r["timer_interrupts"].get<long long>()) + " timer interrupts"
               : std::string();
  };
  if (r.contains("ns_per_call")) {
    const auto &n = r["ns_per_call"];
    std::printf(
        "  %llu calls in %llu batches of %llu: %.0f calls/s\n"
        "  ns per call: mean %.1f  p50 %.1f  p99 %.1f  (over the batches)\n"
        "  host context switches per call %.2f%s\n",
        r["calls"].get<unsigned long long>(), r["batches"].get<unsigned long long>(),
        r["batch"].get<unsigned long long>(), r["calls_per_s"].get<double>(),
        n["mean"].get<double>(), n["p50"].get<double>(), n["p99"].get<double>(),
        r["host_switches_per_call"].get<double>(), irqs().c_str());
    if (r.contains("write_ns_mean"))
      std::printf("  (write mean %.1f ns; one clock reading %.1f ns, in each figure)\n",
                  r["write_ns_mean"].get<double>(), r["clock_ns"].get<double>());
  } else if (test == "SLEEP") {
    const auto &l = r["lateness_us"];
    std::printf(
        "  %llu sleeps of %.0f us: late by us mean %.1f  p50 %.1f  p99 %.1f  max %.1f\n"
        "  host context switches per sleep %.2f%s\n",
        r["sleeps"].get<unsigned long long>(), r["sleep_us"].get<double>(), l["mean"].get<double>(),
        l["p50"].get<double>(), l["p99"].get<double>(), l["max"].get<double>(),
        r["host_switches_per_call"].get<double>(), irqs().c_str());
  } else if (test == "IDLE") {
    std::printf("  %.1f s idle: CPU %.3f %%, %.1f host context switches/s",
                r["elapsed_s"].get<double>(), r["cpu_percent"].get<double>(),
                r["host_switches_per_s"].get<double>());
    if (r["timer_interrupts_per_s"].is_number())
      std::printf(", %.1f timer interrupts/s", r["timer_interrupts_per_s"].get<double>());
    std::printf("\n");
  } else if (r.contains("latency_us")) {
    const auto &l = r["latency_us"];
    std::printf(
        "  %llu transactions of %llu/%llu bytes in %.3f s: %.0f transactions/s\n"
        "  latency us: mean %.2f  p50 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n",
        r["transactions"].get<unsigned long long>(), r["request_size"].get<unsigned long long>(),
        r["response_size"].get<unsigned long long>(), r["elapsed_s"].get<double>(),
        r["transactions_per_s"].get<double>(), l["mean"].get<double>(), l["p50"].get<double>(),
        l["p99"].get<double>(), l["p99.9"].get<double>(), l["max"].get<double>());
  } else {
    std::printf("  %s: %llu bytes in %.3f s: %.3f Gbit/s (%.1f MiB/s)\n",
                r["direction"].get<std::string>().c_str(), r["bytes"].get<unsigned long long>(),
                r["elapsed_s"].get<double>(), r["throughput_gbit_s"].get<double>(),
                r["throughput_mib_s"].get<double>());
  }
}

// Runs o.tests in order, each through measure (which returns the measured fields of the report)
// and prints the reports. One test: its report as ever (a JSON object), and a failure is thrown.
// Several: a failure is reported on stderr and, in the JSON array of reports, as the header with
// "error"; the other tests still run and the exit status is 1.
int run_tests(SocketOps &ops, const Options &o, const std::string &server,
              const std::function<nlohmann::ordered_json(const TestSpec &)> &measure) {
  auto report = [&](const TestSpec &spec) {
    nlohmann::ordered_json j = header(ops, o, spec, server);
    const nlohmann::ordered_json measured = measure(spec);  // items() does not keep it alive
    for (const auto &[key, value] : measured.items()) j[key] = value;
    return j;
  };
  if (o.tests.size() == 1) {
    print(report(o.tests.front()), o.json);
    return 0;
  }
  nlohmann::ordered_json reports = nlohmann::ordered_json::array();
  bool failed = false;
  for (const TestSpec &spec : o.tests) {
    try {
      reports.push_back(report(spec));
      if (!o.json) print(reports.back(), false);
    } catch (const Error &e) {
      failed = true;
      std::fprintf(stderr, "lkl-perf: %s: %s\n", spec.label().c_str(), e.what());
      nlohmann::ordered_json j = header(ops, o, spec, server);
      if (!spec.direction().empty()) j["direction"] = spec.direction();
      j["error"] = e.what();
      reports.push_back(std::move(j));
    }
  }
  if (o.json) std::cout << reports.dump(2) << std::endl;
  return failed ? 1 : 0;
}

// Whether a failed connect may succeed later: nobody listens yet, or the address is not
// configured or resolved yet. The errno values are Linux's in both stacks.
bool retryable_connect_error(int err) {
  return err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH || err == ETIMEDOUT ||
         err == EINPROGRESS;  // a blocking connect cut short by the send timeout
}

// A socket connected to server; retries for up to o.connect_wait_s while that may help.
Socket connect_to(SocketOps &ops, const Endpoint &server, const Options &o) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(o.connect_wait_s));
  for (;;) {
    Socket conn = Socket::open(ops, server.family());
    conn.check(ops.set_timeout(conn.fd(), std::chrono::seconds(o.timeout_s)), "timeout");
    const int ret = ops.connect(conn.fd(), server);
    if (ret >= 0) return conn;
    const bool retryable = retryable_connect_error(-ret);
    if (retryable && o.connect_wait_s > 0 && Clock::now() >= deadline) {
      char waited[32];
      std::snprintf(waited, sizeof(waited), "%g", o.connect_wait_s);
      throw Error(std::string(ops.name()) + " connect " + server.str() + ": " +
                  ops.error_text(-ret) + " (still, after --connect-wait " + waited + ")");
    }
    if (!retryable || Clock::now() >= deadline)
      conn.check(ret, ("connect " + server.str()).c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

int run_client_role(SocketOps &ops, const Options &o) {
  const Endpoint server = Endpoint::parse(o.host, o.port);
  return run_tests(ops, o, server.str(), [&](const TestSpec &spec) {
    if (spec.syscall != SyscallTest::kNone) return run_syscall_test(ops, spec);
    Socket conn = connect_to(ops, server, o);
    return run_client(conn, spec);
  });
}

// Both ends over 127.0.0.1 of one stack: for each test, the server on a thread, serving that
// test's one connection.
int run_loopback(SocketOps &ops, const Options &o) {
  Socket listener = listen_on(ops, Endpoint::parse("127.0.0.1", 0));
  Endpoint server;
  listener.check(ops.local_endpoint(listener.fd(), &server), "getsockname");

  return run_tests(ops, o, server.str(), [&](const TestSpec &spec) {
    if (spec.syscall != SyscallTest::kNone) return run_syscall_test(ops, spec);
    std::exception_ptr server_error;
    std::thread server_thread([&] {
      try {
        Socket conn = accept_one(listener, o.timeout_s);
        serve(conn);
      } catch (...) {
        server_error = std::current_exception();
      }
    });

    nlohmann::ordered_json result;
    std::exception_ptr client_error;
    try {
      Socket conn = connect_to(ops, server, o);
      result = run_client(conn, spec);
    } catch (...) {
      client_error = std::current_exception();
    }
    // A client that failed before connecting leaves the server in accept(): wake it.
    if (client_error) {
      try {
        Socket poke = Socket::open(ops, server.family());
        ops.connect(poke.fd(), server);
      } catch (const Error &) {
      }
    }
    server_thread.join();
    if (client_error) std::rethrow_exception(client_error);
    if (server_error) std::rethrow_exception(server_error);
    return result;
  });
}

int run(int argc, char **argv) {
  Options o;
  try {
    o = parse(argc, argv);
  } catch (const UsageError &e) {
    std::fprintf(stderr, "lkl-perf: %s\n(lkl-perf --help lists the options)\n", e.what());
    return 2;
  }
  try {
    std::unique_ptr<SocketOps> ops =
        o.stack == "lkl" ? make_lkl_sockets(o.lkl) : make_host_sockets();
    switch (o.role) {
      case Role::kServer:
        return run_server(*ops, o);
      case Role::kClient:
        return run_client_role(*ops, o);
      case Role::kLoopback:
        return run_loopback(*ops, o);
    }
  } catch (const UsageError &e) {
    std::fprintf(stderr, "lkl-perf: %s\n", e.what());
    return 2;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "lkl-perf: %s\n", e.what());
    return 1;
  }
  return 1;
}

}  // namespace
}  // namespace perf

int main(int argc, char **argv) { return perf::run(argc, argv); }
