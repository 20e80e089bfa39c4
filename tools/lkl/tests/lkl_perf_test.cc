// SPDX-License-Identifier: GPL-2.0
//
// lkl-perf as a user runs it: each case starts the tool (LKL_BUILD_DIR/bin/lkl-perf, or
// ../bin/lkl-perf next to this binary) and checks its exit status and its JSON report. Counts
// must match what was asked for; times only have to be positive (no timing assertions).
#include <fcntl.h>
#include <poll.h>
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
