// The tests, each with a client side (which measures) and a server side (which serves).
#ifndef LKL_PERF_TESTS_H
#define LKL_PERF_TESTS_H

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "protocol.h"
#include "socket_ops.h"

namespace perf {

// The tests that time system calls in this process, without a connection (syscall_tests.cc).
enum class SyscallTest {
  kNone,      // a TCP test: kind says which
  kGetpid,    // GETPID: getpid() in timed batches
  kPipeRead,  // PIPE_READ: 1-byte write, then a timed 1-byte read, on one pipe and thread
  kSleep,     // SLEEP: nanosleep(sleep_ns), timed: how late it returns
  kIdle,      // IDLE: the kernel left alone for duration_s: its CPU time and wake-ups
};

// What the client asks for.
struct TestSpec {
  SyscallTest syscall = SyscallTest::kNone;
  TestKind kind = TestKind::kRequestResponse;
  uint32_t request_size = 1;
  uint32_t response_size = 1;
  uint64_t transactions = 10000;  // TCP_RR, unless duration_s is set
  uint64_t warmup = 0;            // TCP_RR transactions run before measuring
  uint64_t bytes = 1ull << 30;    // TCP_STREAM, unless duration_s is set
  uint32_t message_size = 128u << 10;
  double duration_s = 0;       // > 0: run for this long instead of a count
  uint64_t calls = 100000;     // GETPID, PIPE_READ (whole batches), SLEEP: unless duration_s
  uint32_t batch = 1000;       // GETPID, PIPE_READ: calls per timed batch
  uint64_t sleep_ns = 100000;  // SLEEP: each nanosleep
  double idle_s = 10;          // IDLE: unless duration_s

  // The report's "test": TCP_RR or TCP_STREAM (whose "direction" tells a TCP_MAERTS apart), or
  // the system-call test's name.
  std::string name() const {
    switch (syscall) {
      case SyscallTest::kGetpid:
        return "GETPID";
      case SyscallTest::kPipeRead:
        return "PIPE_READ";
      case SyscallTest::kSleep:
        return "SLEEP";
      case SyscallTest::kIdle:
        return "IDLE";
      case SyscallTest::kNone:
        break;
    }
    return kind == TestKind::kRequestResponse ? "TCP_RR" : "TCP_STREAM";
  }
  // The name the user gave: TCP_RR, TCP_STREAM or TCP_MAERTS.
  std::string label() const { return kind == TestKind::kMaerts ? "TCP_MAERTS" : name(); }
  // A stream test's "direction" in the report; empty for TCP_RR.
  std::string direction() const {
    if (syscall != SyscallTest::kNone) return "";
    switch (kind) {
      case TestKind::kStream:
        return "client_to_server";
      case TestKind::kMaerts:
        return "server_to_client";
      case TestKind::kRequestResponse:
        break;
    }
    return "";
  }
};

// Client side: says hello on the connected socket, runs the test, returns the report's
// measurement fields. Throws Error if the server refuses or the connection fails.
nlohmann::ordered_json run_client(Socket &conn, const TestSpec &spec);

// A system-call test (spec.syscall is not kNone) in this thread: the report's measurement
// fields. Throws Error if a call fails.
nlohmann::ordered_json run_syscall_test(SyscallOps &ops, const TestSpec &spec);

// Server side: reads a hello from an accepted connection and serves that test. Returns a short
// description of what was served; false-y (empty) if the client closed before saying hello.
std::string serve(Socket &conn);

// The two halves of each test, after the hello.
nlohmann::ordered_json rr_client(Socket &conn, const TestSpec &spec);
std::string rr_server(Socket &conn, const Hello &hello);
nlohmann::ordered_json stream_client(Socket &conn, const TestSpec &spec);
std::string stream_server(Socket &conn, const Hello &hello);

}  // namespace perf

#endif  // LKL_PERF_TESTS_H
