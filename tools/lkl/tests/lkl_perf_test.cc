// SPDX-License-Identifier: GPL-2.0
//
// lkl-perf as a user runs it: each case starts the tool (LKL_BUILD_DIR/bin/lkl-perf, or
// ../bin/lkl-perf next to this binary) and checks its exit status and its JSON report. Counts
// must match what was asked for; times only have to be positive (no timing assertions).
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using json = nlohmann::json;

std::string ToolPath() {
  if (const char *dir = std::getenv("LKL_BUILD_DIR"); dir && *dir) {
    std::string p = std::string(dir) + "/bin/lkl-perf";
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return "lkl-perf";
  self[n] = '\0';
  std::string dir(self);
  dir.resize(dir.rfind('/'));
  return dir + "/../bin/lkl-perf";
}

struct ToolRun {
  int status = -1;  // exit code; -1 if killed or timed out
  std::string out, err;
};

std::string Describe(const std::vector<std::string> &args, const ToolRun &r) {
  std::string s = "lkl-perf";
  for (const auto &a : args) s += " " + a;
  return s + "\nexit " + std::to_string(r.status) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

// Runs command (argv[0] a path), killing it after limit.
ToolRun RunCommand(const std::vector<std::string> &command,
                   std::chrono::seconds limit = std::chrono::seconds(120)) {
  ToolRun r;
  int out[2], err[2];
  if (command.empty() || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return r;
  const std::string path = command[0];
  std::vector<char *> argv;
  for (const auto &a : command) argv.push_back(const_cast<char *>(a.c_str()));
  argv.push_back(nullptr);

  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    execv(path.c_str(), argv.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);

  const auto deadline = std::chrono::steady_clock::now() + limit;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string *sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  bool timed_out = false;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    if (poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; i++) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      const ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        open_fds--;
      }
    }
  }
  for (auto &f : fds)
    if (f.fd >= 0) close(f.fd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.status = !timed_out && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Runs lkl-perf with args (inside network namespace netns if given).
ToolRun RunTool(const std::vector<std::string> &args, const std::string &netns = "") {
  std::vector<std::string> command;
  if (!netns.empty()) command = {"/usr/bin/env", "ip", "netns", "exec", netns};
  command.push_back(ToolPath());
  command.insert(command.end(), args.begin(), args.end());
  return RunCommand(command);
}

// Runs a test that must succeed and returns its JSON report.
json Report(const std::vector<std::string> &args, const std::string &netns = "") {
  const ToolRun r = RunTool(args, netns);
  EXPECT_EQ(r.status, 0) << Describe(args, r);
  const json j = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << Describe(args, r);
  return j.is_discarded() ? json::object() : j;
}

void ExpectRr(const json &j, const std::string &stack, uint64_t transactions) {
  ASSERT_TRUE(j.is_object()) << j;
  EXPECT_EQ(j.value("test", ""), "TCP_RR") << j;
  EXPECT_EQ(j["stack"].value("stack", ""), stack) << j;
  EXPECT_EQ(j.value("transactions", uint64_t{0}), transactions) << j;
  EXPECT_GT(j.value("elapsed_s", 0.0), 0.0) << j;
  EXPECT_GT(j.value("transactions_per_s", 0.0), 0.0) << j;
  ASSERT_TRUE(j.contains("latency_us")) << j;
  const auto &l = j["latency_us"];
  for (const char *k : {"mean", "min", "p50", "p90", "p99", "p99.9", "max"})
    EXPECT_TRUE(l.contains(k) && l[k].is_number()) << k << " in " << l;
  const double min = l.value("min", 0.0), max = l.value("max", 0.0);
  EXPECT_GT(min, 0.0) << l;
  EXPECT_LE(min, l.value("p50", 0.0)) << l;
  EXPECT_LE(l.value("p50", 0.0), l.value("p99", 0.0)) << l;
  EXPECT_LE(l.value("p99", 0.0), l.value("p99.9", 0.0)) << l;
  EXPECT_LE(l.value("p99.9", 0.0), max) << l;
  EXPECT_LE(min, l.value("mean", 0.0)) << l;
  EXPECT_LE(l.value("mean", 0.0), max) << l;
}

void ExpectStream(const json &j, const std::string &stack, const std::string &direction,
                  uint64_t bytes) {
  ASSERT_TRUE(j.is_object()) << j;
  EXPECT_EQ(j.value("test", ""), "TCP_STREAM") << j;
  EXPECT_EQ(j["stack"].value("stack", ""), stack) << j;
  EXPECT_EQ(j.value("direction", ""), direction) << j;
  EXPECT_EQ(j.value("bytes", uint64_t{0}), bytes) << j;
  EXPECT_GT(j.value("elapsed_s", 0.0), 0.0) << j;
  EXPECT_GT(j.value("throughput_gbit_s", 0.0), 0.0) << j;
}

constexpr uint64_t k64M = 64ull << 20;

// What every system-call test reports about the process meanwhile: CPU time, host context
// switches, and the library's timer interrupts (null on the host: its count is the machine's).
void ExpectUsage(const json &j, const std::string &stack) {
  EXPECT_GE(j.value("cpu_s", -1.0), 0.0) << j;
  EXPECT_GE(j.value("cpu_percent", -1.0), 0.0) << j;
  EXPECT_GE(j.value("host_switches_per_s", -1.0), 0.0) << j;
  ASSERT_TRUE(j.contains("timer_interrupts")) << j;
  if (stack == "lkl") {
    EXPECT_TRUE(j["timer_interrupts"].is_number_integer()) << j;
    EXPECT_GE(j.value("timer_interrupts", -1), 0) << j;
    EXPECT_GE(j.value("timer_interrupts_per_s", -1.0), 0.0) << j;
  } else {
    EXPECT_TRUE(j["timer_interrupts"].is_null()) << j;
  }
}

// GETPID and PIPE_READ: whole batches, per-call figures ordered.
void ExpectCalls(const json &j, const std::string &test, const std::string &stack, uint64_t calls,
                 uint64_t batch) {
  ASSERT_TRUE(j.is_object()) << j;
  EXPECT_EQ(j.value("test", ""), test) << j;
  EXPECT_EQ(j["stack"].value("stack", ""), stack) << j;
  EXPECT_FALSE(j.contains("server")) << j;
  EXPECT_EQ(j.value("calls", uint64_t{0}), calls) << j;
  EXPECT_EQ(j.value("batch", uint64_t{0}), batch) << j;
  EXPECT_EQ(j.value("batches", uint64_t{0}), calls / batch) << j;
  EXPECT_GT(j.value("elapsed_s", 0.0), 0.0) << j;
  EXPECT_GT(j.value("calls_per_s", 0.0), 0.0) << j;
  EXPECT_GE(j.value("host_switches_per_call", -1.0), 0.0) << j;
  ASSERT_TRUE(j.contains("ns_per_call")) << j;
  const auto &n = j["ns_per_call"];
  for (const char *k : {"mean", "min", "p50", "p99", "max"})
    EXPECT_TRUE(n.contains(k) && n[k].is_number()) << k << " in " << n;
  EXPECT_GT(n.value("min", 0.0), 0.0) << n;
  EXPECT_LE(n.value("min", 0.0), n.value("p50", 0.0)) << n;
  EXPECT_LE(n.value("p50", 0.0), n.value("p99", 0.0)) << n;
  EXPECT_LE(n.value("p99", 0.0), n.value("max", 0.0)) << n;
  // The mean is over all calls, the others over the batches' per-call figures (in picosecond
  // buckets of under 0.8 %): the mean lies within the batches' range, give or take a bucket.
  EXPECT_LE(n.value("mean", 0.0), n.value("max", 0.0) * 1.01) << n;
  EXPECT_GE(n.value("mean", 0.0), n.value("min", 0.0) * 0.99) << n;
  ExpectUsage(j, stack);
}

TEST(LklPerfTest, HostLoopbackRr) {
  ExpectRr(Report({"loopback", "--stack", "host", "-t", "TCP_RR", "-n", "1000", "--json"}), "host",
           1000);
}

TEST(LklPerfTest, LklLoopbackRr) {
  const json j = Report({"loopback", "--stack", "lkl", "-t", "TCP_RR", "-n", "1000", "-r", "100",
                         "-R", "2000", "-w", "10", "--json"});
  ExpectRr(j, "lkl", 1000);
  EXPECT_EQ(j.value("request_size", 0), 100);
  EXPECT_EQ(j.value("response_size", 0), 2000);
  EXPECT_EQ(j["stack"].value("netdev", ""), "loopback");
}

TEST(LklPerfTest, HostLoopbackStreamBothWays) {
  ExpectStream(Report({"loopback", "-s", "host", "-t", "TCP_STREAM", "-b", "64M", "--json"}),
               "host", "client_to_server", k64M);
  ExpectStream(
      Report({"loopback", "-s", "host", "-t", "TCP_STREAM", "--reverse", "-b", "64M", "--json"}),
      "host", "server_to_client", k64M);
}

TEST(LklPerfTest, LklLoopbackStreamBothWays) {
  ExpectStream(Report({"loopback", "-s", "lkl", "-t", "TCP_STREAM", "-b", "64M", "--json"}), "lkl",
               "client_to_server", k64M);
  // An odd size and message size: the last send is short.
  ExpectStream(Report({"loopback", "-s", "lkl", "-t", "TCP_MAERTS", "-b", "1000003", "-m", "3000",
                       "--json"}),
               "lkl", "server_to_client", 1000003);
}

TEST(LklPerfTest, DurationMode) {
  const json rr = Report({"loopback", "-s", "lkl", "-l", "0.3", "--json"});
  EXPECT_GT(rr.value("transactions", 0), 0) << rr;
  EXPECT_EQ(rr.value("duration_s", 0.0), 0.3) << rr;
  const json st =
      Report({"loopback", "-s", "lkl", "-t", "TCP_STREAM", "--reverse", "-l", "0.3", "--json"});
  EXPECT_GT(st.value("bytes", 0), 0) << st;
  const json hs = Report({"loopback", "-s", "host", "-t", "TCP_STREAM", "-l", "0.2", "--json"});
  EXPECT_GT(hs.value("bytes", 0), 0) << hs;
}

TEST(LklPerfTest, TextOutput) {
  const ToolRun r = RunTool({"loopback", "-s", "host", "-n", "10"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("10 transactions"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("p99"), std::string::npos) << r.out;
}

// The server and the client as two processes (host stack: the library has no device here).
TEST(LklPerfTest, SeparateServerAndClient) {
  // A port the host kernel picks as free now; a clash would only fail this test.
  const uint16_t port = static_cast<uint16_t>(20000 + getpid() % 20000);
  const std::string p = std::to_string(port);
  ToolRun server;
  std::thread t([&] {
    server = RunTool({"server", "-s", "host", "-B", "127.0.0.1", "-p", p, "--max-tests", "2"});
  });
  json rr, st;
  for (int attempt = 0; attempt < 50; attempt++) {  // until the server listens
    const ToolRun probe = RunTool({"client", "-s", "host", "-H", "127.0.0.1", "-p", p, "-n", "500",
                                   "-r", "32", "-R", "64", "--json"});
    if (probe.status == 0) {
      rr = json::parse(probe.out, nullptr, false);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ExpectRr(rr, "host", 500);
  st = Report({"client", "-s", "host", "-H", "127.0.0.1", "-p", p, "-t", "TCP_STREAM", "-b", "8M",
               "--json"});
  ExpectStream(st, "host", "client_to_server", 8ull << 20);
  t.join();
  EXPECT_EQ(server.status, 0) << server.err;
  EXPECT_NE(server.err.find("TCP_RR 32/64 bytes, 500 transactions"), std::string::npos)
      << server.err;
  EXPECT_NE(server.err.find("received 8388608 bytes"), std::string::npos) << server.err;
}

TEST(LklPerfTest, ConnectionRefused) {
  // Port 1 on 127.0.0.1: nothing listens there unless as root on purpose.
  const ToolRun r = RunTool({"client", "-s", "host", "-H", "127.0.0.1", "-p", "1", "-n", "1"});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("connect 127.0.0.1:1"), std::string::npos) << r.err;
}

TEST(LklPerfTest, BadArguments) {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"sideways"},
      {"loopback", "--stack", "bsd"},
      {"loopback", "-t", "UDP_RR"},
      {"loopback", "-n", "0"},
      {"loopback", "-n", "-5"},
      {"loopback", "-n", "12x"},
      {"loopback", "-r", "65M"},
      {"loopback", "-b", "99999999999G"},
      {"loopback", "-l", "0"},
      {"loopback", "-l", "soon"},
      {"loopback", "--reverse"},
      {"loopback", "--port", "5000"},
      {"loopback", "--nosuch"},
      {"loopback", "-n"},
      {"loopback", "extra"},
      {"client", "-s", "host", "-H", "not-an-ip"},
      {"client", "-s", "host", "--lkl-ip", "10.0.0.1/24"},
      {"server", "-l", "3"},
      {"loopback", "--lkl-netdev", "bogus"},
      {"loopback", "--lkl-netdev", "tap:"},
      {"loopback", "--lkl-ip", "10.0.0.1/24"},  // an address needs a device
      {"loopback", "--lkl-sysctl", "novalue"},
      {"loopback", "--lkl-features", "gso"},
      {"loopback", "--lkl-features", "gso=maybe"},
      {"loopback", "--lkl-features", "lro=off"},
      {"loopback", "--lkl-features", "gso=off,"},
      {"loopback", "-s", "host", "--lkl-features", "gro=off"},
      {"loopback", "--lkl-netdev", "shm:"},
      {"loopback", "--lkl-netdev", "shm:" + std::string(91, 'x')},
      {"loopback", "--lkl-netdev", "ring:x"},
      {"loopback", "-t", "TCP_RR,"},
      {"loopback", "-t", ",TCP_RR"},
      {"loopback", "-t", "TCP_RR,UDP_RR"},
      {"loopback", "-t", "TCP_STREAM", "-t", "TCP_RR", "--reverse"},
      {"loopback", "--connect-wait", "5"},
      {"server", "-s", "host", "--connect-wait", "5"},
      {"client", "-s", "host", "--connect-wait", "0"},
      {"client", "-s", "host", "--connect-wait", "soon"},
      {"loopback", "-t", "getpid"},
      {"loopback", "-t", "GETPID", "--batch", "0"},
      {"loopback", "-t", "GETPID", "--batch", "2M"},
      {"loopback", "-t", "SLEEP", "--sleep-us", "0"},
      {"loopback", "-t", "SLEEP", "--sleep-us", "1ms"},
      {"server", "-s", "host", "-t", "GETPID"},
      {"loopback", "--lkl-syscall", "fast"},
      {"loopback", "--lkl-syscall", ""},
      {"loopback", "-s", "host", "--lkl-syscall", "direct"},
      {"loopback", "-s", "host", "--lkl-pin", "auto"},
      {"loopback", "--lkl-pin", "on"},
      {"loopback", "--lkl-pin", "-1"},
      {"loopback", "--lkl-pin", "1.5"},
      {"loopback", "--lkl-pin", "4096"},
      {"loopback", "--lkl-boot-param", "novalue"},
      {"loopback", "--lkl-boot-param", "=1"},
      {"loopback", "--lkl-boot-param", "lkl.a=1 lkl.b=2"},
      {"loopback", "--lkl-boot-param", "lkl.a=\"1\""},
      {"loopback", "-s", "host", "--lkl-boot-param", "lkl.a=1"},
  };
  for (const auto &args : cases) {
    const ToolRun r = RunTool(args);
    EXPECT_EQ(r.status, 2) << Describe(args, r);
    EXPECT_NE(r.err.find("lkl-perf: "), std::string::npos) << Describe(args, r);
    EXPECT_TRUE(r.out.empty()) << Describe(args, r);
  }
}

// Several tests in one process: a JSON array of their reports, in the order given.
void ExpectRrStreamMaerts(const json &j, const std::string &stack, uint64_t transactions,
                          uint64_t bytes) {
  ASSERT_TRUE(j.is_array()) << j;
  ASSERT_EQ(j.size(), 3u) << j;
  ExpectRr(j[0], stack, transactions);
  ExpectStream(j[1], stack, "client_to_server", bytes);
  ExpectStream(j[2], stack, "server_to_client", bytes);
}

TEST(LklPerfTest, SeveralTestsInOneProcess) {
  // A list and a repeated -t mix; each kind takes its own parameters.
  ExpectRrStreamMaerts(Report({"loopback", "-s", "host", "-t", "TCP_RR,TCP_STREAM", "-t",
                               "TCP_MAERTS", "-n", "300", "-b", "8M", "--json"}),
                       "host", 300, 8ull << 20);
  ExpectRrStreamMaerts(Report({"loopback", "-s", "lkl", "-t", "TCP_RR", "-t", "TCP_STREAM", "-t",
                               "TCP_MAERTS", "-n", "300", "-b", "8M", "--json"}),
                       "lkl", 300, 8ull << 20);
  // --reverse turns every TCP_STREAM of the list around.
  const json rev = Report(
      {"loopback", "-s", "host", "-t", "TCP_STREAM,TCP_MAERTS", "--reverse", "-b", "1M", "--json"});
  ASSERT_TRUE(rev.is_array() && rev.size() == 2) << rev;
  ExpectStream(rev[0], "host", "server_to_client", 1ull << 20);
  ExpectStream(rev[1], "host", "server_to_client", 1ull << 20);
  // Text: one block per test.
  const ToolRun r =
      RunTool({"loopback", "-s", "host", "-t", "TCP_RR,TCP_STREAM", "-n", "10", "-b", "1M"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("TCP_RR over host"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("TCP_STREAM over host"), std::string::npos) << r.out;
  // One -t still prints one object, not an array.
  EXPECT_TRUE(Report({"loopback", "-s", "host", "-n", "10", "--json"}).is_object());
}

// A client started before its server, connecting with --connect-wait; then a list whose last test
// finds the server gone: the others still report, the failure is named, the exit status is 1.
TEST(LklPerfTest, ClientWaitsForServerAndReportsFailures) {
  const uint16_t port = static_cast<uint16_t>(20000 + (getpid() + 7) % 20000);
  const std::string p = std::to_string(port);
  ToolRun client;
  std::thread c([&] {
    client = RunTool({"client", "-s", "host", "-H", "127.0.0.1", "-p", p, "-t",
                      "TCP_RR,TCP_STREAM,TCP_MAERTS", "-n", "200", "-b", "4M", "--connect-wait",
                      "30", "--json"});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the client is refused first
  const ToolRun server =
      RunTool({"server", "-s", "host", "-B", "127.0.0.1", "-p", p, "--max-tests", "3"});
  c.join();
  EXPECT_EQ(server.status, 0) << server.err;
  EXPECT_EQ(client.status, 0) << client.err;
  ExpectRrStreamMaerts(json::parse(client.out, nullptr, false), "host", 200, 4ull << 20);

  ToolRun partial;
  std::thread c2([&] {
    partial =
        RunTool({"client", "-s", "host", "-H", "127.0.0.1", "-p", p, "-t", "TCP_RR,TCP_STREAM",
                 "-n", "100", "-b", "1M", "--connect-wait", "2", "--json"});
  });
  const ToolRun one =
      RunTool({"server", "-s", "host", "-B", "127.0.0.1", "-p", p, "--max-tests", "1"});
  c2.join();
  EXPECT_EQ(one.status, 0) << one.err;
  EXPECT_EQ(partial.status, 1) << partial.err;
  EXPECT_NE(partial.err.find("lkl-perf: TCP_STREAM: "), std::string::npos) << partial.err;
  const json j = json::parse(partial.out, nullptr, false);
  ASSERT_TRUE(j.is_array() && j.size() == 2) << partial.out;
  ExpectRr(j[0], "host", 100);
  EXPECT_EQ(j[1].value("test", ""), "TCP_STREAM") << j[1];
  EXPECT_EQ(j[1].value("direction", ""), "client_to_server") << j[1];
  EXPECT_FALSE(j[1].value("error", "").empty()) << j[1];
}

TEST(LklPerfTest, LklSysctlOption) {
  const json j = Report({"loopback", "-s", "lkl", "-n", "10", "--lkl-sysctl",
                         "net.ipv4.tcp_congestion_control=bbr", "--json"});
  ExpectRr(j, "lkl", 10);
  const ToolRun r = RunTool({"loopback", "-s", "lkl", "-n", "10", "--lkl-sysctl", "net.nosuch=1"});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("net.nosuch"), std::string::npos) << r.err;
}

// --lkl-features switches features of lo here (of the device with --lkl-netdev), as ethtool -K,
// and the report says what is in effect.
TEST(LklPerfTest, LklFeaturesOption) {
  const json j = Report({"loopback", "-s", "lkl", "-n", "10", "--lkl-features", "gso=off,gro=off",
                         "--lkl-features", "tso=off", "--json"});
  ExpectRr(j, "lkl", 10);
  const json f = j["stack"].value("features", json::object());
  EXPECT_EQ(f.value("gso", true), false) << j;
  EXPECT_EQ(f.value("gro", true), false) << j;
  EXPECT_EQ(f.value("tso", true), false) << j;
  EXPECT_EQ(f.value("sg", false), true) << j;
  // Without the option the loopback report has no features; with it, all six.
  EXPECT_FALSE(
      Report({"loopback", "-s", "lkl", "-n", "10", "--json"})["stack"].contains("features"));
  EXPECT_EQ(f.size(), 6u) << j;
  // lo cannot switch its receive checksum: the kernel's refusal is a failure, exit status 1.
  const ToolRun r = RunTool({"loopback", "-s", "lkl", "-n", "10", "--lkl-features", "rx=off"});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("feature rx off"), std::string::npos) << r.err;
}

TEST(LklPerfTest, GetpidBothStacks) {
  ExpectCalls(
      Report({"loopback", "-s", "host", "-t", "GETPID", "-n", "3000", "--batch", "500", "--json"}),
      "GETPID", "host", 3000, 500);
  ExpectCalls(Report({"loopback", "-s", "lkl", "-t", "GETPID", "-n", "2000", "--json"}), "GETPID",
              "lkl", 2000, 1000);
  // -n is rounded up to whole batches.
  ExpectCalls(
      Report({"loopback", "-s", "host", "-t", "GETPID", "-n", "2500", "--batch", "1000", "--json"}),
      "GETPID", "host", 3000, 1000);
}

TEST(LklPerfTest, PipeReadBothStacks) {
  for (const std::string stack : {"host", "lkl"}) {
    const json j = Report({"loopback", "-s", stack, "-t", "PIPE_READ", "-n", "1000", "--batch",
                           "250", "-w", "100", "--json"});
    ExpectCalls(j, "PIPE_READ", stack, 1000, 250);
    EXPECT_GT(j.value("write_ns_mean", 0.0), 0.0) << j;
    EXPECT_GT(j.value("clock_ns", 0.0), 0.0) << j;
  }
}

TEST(LklPerfTest, SleepBothStacks) {
  for (const std::string stack : {"host", "lkl"}) {
    const json j =
        Report({"loopback", "-s", stack, "-t", "SLEEP", "-n", "50", "--sleep-us", "200", "--json"});
    ASSERT_TRUE(j.is_object()) << j;
    EXPECT_EQ(j.value("test", ""), "SLEEP") << j;
    EXPECT_EQ(j.value("sleeps", 0), 50) << j;
    EXPECT_EQ(j.value("sleep_us", 0.0), 200.0) << j;
    // nanosleep never returns before its time (both clocks are the host's CLOCK_MONOTONIC).
    EXPECT_EQ(j.value("early", -1), 0) << j;
    const auto &l = j["lateness_us"];
    EXPECT_LE(l.value("min", -1.0), l.value("p50", -2.0)) << l;
    EXPECT_LE(l.value("p50", 0.0), l.value("p99", -1.0)) << l;
    EXPECT_LE(l.value("p99", 0.0), l.value("max", -1.0)) << l;
    EXPECT_GE(l.value("min", -1.0), 0.0) << l;
    ExpectUsage(j, stack);
  }
}

TEST(LklPerfTest, IdleBothStacks) {
  for (const std::string stack : {"host", "lkl"}) {
    const json j = Report({"loopback", "-s", stack, "-t", "IDLE", "-l", "0.3", "--json"});
    ASSERT_TRUE(j.is_object()) << j;
    EXPECT_EQ(j.value("test", ""), "IDLE") << j;
    EXPECT_GE(j.value("elapsed_s", 0.0), 0.3) << j;  // it slept at least that long
    EXPECT_FALSE(j.contains("host_switches_per_call")) << j;
    ExpectUsage(j, stack);
  }
}

// System-call and TCP tests in one list, for a time (-l) rather than a count; and as text.
TEST(LklPerfTest, SyscallTestsInAList) {
  const json j =
      Report({"loopback", "-s", "lkl", "-t", "GETPID,PIPE_READ,TCP_RR", "-l", "0.2", "--json"});
  ASSERT_TRUE(j.is_array() && j.size() == 3) << j;
  EXPECT_EQ(j[0].value("test", ""), "GETPID") << j[0];
  EXPECT_GE(j[0].value("batches", 0), 1) << j[0];
  EXPECT_EQ(j[1].value("test", ""), "PIPE_READ") << j[1];
  EXPECT_GE(j[1].value("batches", 0), 1) << j[1];
  EXPECT_EQ(j[2].value("test", ""), "TCP_RR") << j[2];
  EXPECT_GT(j[2].value("transactions", 0), 0) << j[2];

  const ToolRun r = RunTool({"loopback", "-s", "host", "-t", "GETPID,PIPE_READ,SLEEP,IDLE", "-n",
                             "1000", "--batch", "100", "-l", "0.1"});
  EXPECT_EQ(r.status, 0) << r.err;
  for (const char *text : {"GETPID over host", "ns per call", "PIPE_READ over host",
                           "SLEEP over host", "late by us", "IDLE over host", "s idle: CPU"})
    EXPECT_NE(r.out.find(text), std::string::npos) << text << " in\n" << r.out;
}

// --lkl-syscall and --lkl-pin become boot parameters; the report records what was asked for
// and what the host shows of the library's threads. (Whether the kernel honours them is the
// kernel's tests' business.)
TEST(LklPerfTest, LklSyscallAndPinOptions) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  ASSERT_EQ(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
  int cpu = 0;
  while (cpu < CPU_SETSIZE - 1 && !CPU_ISSET(cpu, &allowed)) cpu++;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"shadow", "off"}, {"direct", "auto"}, {"shadow", std::to_string(cpu)}};
  for (const auto &[mode, pin] : cases) {
    const json j = Report({"loopback", "-s", "lkl", "-t", "GETPID,TCP_RR", "-n", "1000",
                           "--lkl-syscall", mode, "--lkl-pin", pin, "--json"});
    ASSERT_TRUE(j.is_array() && j.size() == 2) << j;
    ExpectCalls(j[0], "GETPID", "lkl", 1000, 1000);
    ExpectRr(j[1], "lkl", 1000);
    const json &s = j[0]["stack"];
    EXPECT_EQ(s.value("syscall_mode", ""), mode) << s;
    EXPECT_EQ(s.value("pin_cpu", ""), pin) << s;
    const std::string cmdline = s.value("cmdline", "");
    EXPECT_NE(cmdline.find(" lkl.syscall=" + mode), std::string::npos) << s;
    EXPECT_NE(cmdline.find(" lkl.pin_cpu=" + pin), std::string::npos) << s;
    ASSERT_TRUE(s.contains("observed")) << s;
    EXPECT_FALSE(s["observed"].value("caller_cpus_allowed", "").empty()) << s;
    EXPECT_GT(s["observed"]["other_threads"].value("count", 0), 0) << s;
    EXPECT_TRUE(s["observed"]["kernel_notes"].is_array()) << s;
  }
  // Without them: the kernel's defaults, nothing added to the command line.
  const json d = Report({"loopback", "-s", "lkl", "-t", "GETPID", "-n", "1000", "--json"});
  EXPECT_TRUE(d["stack"]["syscall_mode"].is_null()) << d;
  EXPECT_TRUE(d["stack"]["pin_cpu"].is_null()) << d;
  EXPECT_EQ(d["stack"].value("cmdline", ""), "mem=256M loglevel=4") << d;
}

// --lkl-boot-param appends KEY=VALUE to the command line, after --lkl-syscall's and --lkl-pin's
// parameters, in order (so it overrides them: the kernel takes the last); the report lists them
// and what the kernel shows of each in /sys/module (null: a parameter it does not know).
TEST(LklPerfTest, LklBootParamOption) {
  const json j = Report({"loopback", "-s", "lkl", "-t", "GETPID", "-n", "1000", "--lkl-syscall",
                         "direct", "--lkl-boot-param", "lkl.syscall=shadow", "--lkl-boot-param",
                         "lkl.no_such_param=1", "--json"});
  ExpectCalls(j, "GETPID", "lkl", 1000, 1000);
  const json &s = j["stack"];
  EXPECT_EQ(s.value("cmdline", ""),
            "mem=256M loglevel=4 lkl.syscall=direct lkl.syscall=shadow lkl.no_such_param=1")
      << s;
  EXPECT_EQ(s["boot_params"], json({"lkl.syscall=shadow", "lkl.no_such_param=1"})) << s;
  const json &seen = s["observed"]["boot_params"];
  EXPECT_EQ(seen.value("lkl.syscall", ""), "shadow") << s;
  ASSERT_TRUE(seen.contains("lkl.no_such_param")) << s;
  EXPECT_TRUE(seen["lkl.no_such_param"].is_null()) << s;
  // With --lkl-cmdline too: the parameters follow the line given.
  const json c = Report({"loopback", "-s", "lkl", "-t", "GETPID", "-n", "1000", "--lkl-cmdline",
                         "mem=128M", "--lkl-boot-param", "printk.time=0", "--json"});
  EXPECT_EQ(c["stack"].value("cmdline", ""), "mem=128M printk.time=0") << c;
  EXPECT_EQ(c["stack"]["observed"]["boot_params"].value("printk.time", ""), "N") << c;
  // Without it, no "boot_params" in the report.
  const json d = Report({"loopback", "-s", "lkl", "-t", "GETPID", "-n", "1000", "--json"});
  EXPECT_FALSE(d["stack"].contains("boot_params")) << d;
}

// The new options' refusals name the option and what it takes.
TEST(LklPerfTest, BadSyscallOptionsSayWhy) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"loopback", "--lkl-syscall", "fast"}, "--lkl-syscall: expected shadow or direct"},
      {{"loopback", "--lkl-pin", "on"}, "--lkl-pin: expected off, auto or a CPU number"},
      {{"loopback", "--lkl-boot-param", "quiet"}, "--lkl-boot-param: expected KEY=VALUE"},
      {{"loopback", "-t", "GETPID", "--batch", "0"}, "--batch: expected a number"},
      {{"server", "-s", "host", "-t", "PIPE_READ"}, "PIPE_READ runs in the client or loopback"},
      {{"loopback", "-t", "GETPID,NOPE"}, "GETPID, PIPE_READ, SLEEP or IDLE"},
  };
  for (const auto &[args, why] : cases) {
    const ToolRun r = RunTool(args);
    EXPECT_EQ(r.status, 2) << Describe(args, r);
    EXPECT_NE(r.err.find(why), std::string::npos) << Describe(args, r);
  }
  // A CPU number this process may not run on (the first one past its affinity mask).
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  ASSERT_EQ(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
  int outside = 0;
  while (outside < CPU_SETSIZE - 1 && CPU_ISSET(outside, &allowed)) outside++;
  const std::vector<std::string> args = {"loopback", "--lkl-pin", std::to_string(outside)};
  const ToolRun r = RunTool(args);
  EXPECT_EQ(r.status, 2) << Describe(args, r);
  EXPECT_NE(r.err.find("is not one this process may run on"), std::string::npos)
      << Describe(args, r);
}

TEST(LklPerfTest, Help) {
  const ToolRun r = RunTool({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("usage: lkl-perf"), std::string::npos) << r.out;
}

}  // namespace

namespace {

// Library to library over a shared-memory link: two lkl-perf processes in this network namespace
// (no root), the client running all three tests on its one link.
TEST(LklPerfTest, LklToLklOverShm) {
  if (RunTool({"--help"}).out.find("in this build: yes") == std::string::npos)
    GTEST_SKIP() << "lkl-perf was built without network devices";
  const std::string dev = "shm:lkl-perf-test-" + std::to_string(getpid());
  ToolRun server;
  std::thread t([&] {
    server = RunTool({"server", "-s", "lkl", "--lkl-netdev", dev, "--lkl-ip", "10.79.0.1/24", "-B",
                      "10.79.0.1", "--max-tests", "3"});
  });
  const json j =
      Report({"client",       "-s",    "lkl",        "--lkl-netdev", dev,      "--lkl-ip",
              "10.79.0.2/24", "-H",    "10.79.0.1",  "-t",           "TCP_RR", "-t",
              "TCP_STREAM",   "-t",    "TCP_MAERTS", "-n",           "1000",   "-r",
              "100",          "-R",    "3000",       "-b",           "64M",    "--connect-wait",
              "30",           "--json"});
  t.join();
  ExpectRrStreamMaerts(j, "lkl", 1000, k64M);
  if (j.is_array() && !j.empty()) {
    EXPECT_EQ(j[0]["stack"].value("netdev", ""), dev) << j[0];
    EXPECT_EQ(j[0]["stack"].value("offload", ""), "all") << j[0];
  }
  EXPECT_EQ(server.status, 0) << server.err;
  EXPECT_NE(server.err.find("TCP_RR 100/3000 bytes, 1000 transactions"), std::string::npos)
      << server.err;
  EXPECT_NE(server.err.find("received 67108864 bytes"), std::string::npos) << server.err;
}

// A network namespace with a TAP device, removed (with the device) when destroyed.
class TapNamespace {
 public:
  TapNamespace() : name_("lklperf" + std::to_string(getpid())) {
    ok_ = Ip({"netns", "add", name_}) && Ip({"-n", name_, "link", "set", "lo", "up"}) &&
          Ip({"-n", name_, "tuntap", "add", "dev", "lpt0", "mode", "tap"}) &&
          Ip({"-n", name_, "addr", "add", "10.78.0.1/24", "dev", "lpt0"}) &&
          Ip({"-n", name_, "addr", "add", "fd00:78::1/64", "dev", "lpt0", "nodad"}) &&
          Ip({"-n", name_, "link", "set", "lpt0", "up"});
  }
  ~TapNamespace() { Ip({"netns", "del", name_}); }

  bool ok() const { return ok_; }
  const std::string &name() const { return name_; }

 private:
  static bool Ip(std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/env", "ip"});
    const ToolRun r = RunCommand(args, std::chrono::seconds(30));
    EXPECT_EQ(r.status, 0) << r.err;
    return r.status == 0;
  }

  std::string name_;
  bool ok_ = false;
};

// The library as a server on a TAP device, the host kernel as its client: the path of a real
// deployment (needs root and a build with the network devices).
TEST(LklPerfTest, LklServerOverTap) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespace, TAP device)";
  if (RunTool({"--help"}).out.find("in this build: yes") == std::string::npos)
    GTEST_SKIP() << "lkl-perf was built without network devices";
  TapNamespace ns;
  ASSERT_TRUE(ns.ok());

  const std::vector<std::string> client4 = {"client", "-s", "host", "-H", "10.78.0.2"};
  const std::vector<std::string> client6 = {"client", "-s", "host", "-H", "fd00:78::2"};
  ToolRun server;
  std::thread t([&] {
    server = RunTool({"server", "-s", "lkl", "--lkl-netdev", "tap:lpt0", "--lkl-ip", "10.78.0.2/24",
                      "--lkl-ip", "fd00:78::2/64", "-B", "::", "--max-tests", "5"},
                     ns.name());
  });
  auto with = [](std::vector<std::string> a, std::initializer_list<std::string> more) {
    a.insert(a.end(), more);
    return a;
  };
  bool up = false;
  for (int attempt = 0; attempt < 100 && !up; attempt++) {  // boot, device, DAD
    up = RunTool(with(client4, {"-n", "1"}), ns.name()).status == 0;
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(up);
  if (up) {
    ExpectRr(Report(with(client4, {"-n", "1000", "--json"}), ns.name()), "host", 1000);
    ExpectRr(Report(with(client6, {"-n", "1000", "-r", "1000", "-R", "3000", "--json"}), ns.name()),
             "host", 1000);
    ExpectStream(Report(with(client4, {"-t", "TCP_STREAM", "-b", "64M", "--json"}), ns.name()),
                 "host", "client_to_server", k64M);
    ExpectStream(
        Report(with(client6, {"-t", "TCP_STREAM", "--reverse", "-b", "64M", "--json"}), ns.name()),
        "host", "server_to_client", k64M);
  }
  t.join();
  EXPECT_EQ(server.status, 0) << server.err;
  EXPECT_NE(server.err.find("1000 transactions"), std::string::npos) << server.err;
}

}  // namespace
