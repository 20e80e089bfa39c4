// TCP_STREAM: bulk transfer one way, client to server or (reversed) server to client. The
// receiver's count is the result; the time runs from the first byte sent to the last received.
#include <endian.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "tests.h"

namespace perf {
namespace {

using Clock = std::chrono::steady_clock;

Clock::time_point deadline_after(Clock::time_point start, double seconds) {
  return start +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

nlohmann::ordered_json report(const TestSpec &spec, uint64_t bytes, Clock::duration elapsed) {
  const double s = std::chrono::duration<double>(elapsed).count();
  nlohmann::ordered_json r;
  r["direction"] = spec.direction();
  r["message_size"] = spec.message_size;
  r["bytes"] = bytes;
  r["elapsed_s"] = s;
  r["throughput_gbit_s"] = s > 0 ? static_cast<double>(bytes) * 8 / s / 1e9 : 0.0;
  r["throughput_mib_s"] = s > 0 ? static_cast<double>(bytes) / s / (1 << 20) : 0.0;
  return r;
}

// Client sends; the server answers the end of stream with the byte count it received.
nlohmann::ordered_json send_client(Socket &conn, const TestSpec &spec) {
  std::vector<unsigned char> buf(spec.message_size, 's');
  const bool timed = spec.duration_s > 0;
  const auto start = Clock::now();
  const auto deadline = deadline_after(start, spec.duration_s);
  uint64_t sent = 0;
  while (timed ? Clock::now() < deadline : sent < spec.bytes) {
    const size_t n = timed ? buf.size() : std::min<uint64_t>(buf.size(), spec.bytes - sent);
    conn.send_all(buf.data(), n);
    sent += n;
  }
  conn.check(conn.ops().shutdown_write(conn.fd()), "shutdown");
  uint64_t received;
  if (!conn.recv_all(&received, sizeof(received)))
    throw Error("the server closed the connection without its byte count");
  const auto end = Clock::now();
  received = be64toh(received);
  if (received != sent)
    throw Error("the server received " + std::to_string(received) + " of " + std::to_string(sent) +
                " bytes sent");
  return report(spec, received, end - start);
}

// Server sends `bytes` and shuts down its side, or (bytes == 0) sends until the client resets.
nlohmann::ordered_json receive_client(Socket &conn, const TestSpec &spec) {
  std::vector<unsigned char> buf(spec.message_size);
  const bool timed = spec.duration_s > 0;
  const auto start = Clock::now();
  const auto deadline = deadline_after(start, spec.duration_s);
  auto end = start;
  uint64_t received = 0;
  for (;;) {
    const size_t n = conn.recv_some(buf.data(), buf.size());
    if (n == 0) break;
    received += n;
    end = Clock::now();
    if (timed && end >= deadline) break;
  }
  if (!timed && received != spec.bytes)
    throw Error("received " + std::to_string(received) + " of " + std::to_string(spec.bytes) +
                " bytes");
  return report(spec, received, end - start);
}

}  // namespace

nlohmann::ordered_json stream_client(Socket &conn, const TestSpec &spec) {
  return spec.kind == TestKind::kStream ? send_client(conn, spec) : receive_client(conn, spec);
}

std::string stream_server(Socket &conn, const Hello &hello) {
  std::vector<unsigned char> buf(hello.message_size, 'm');
  uint64_t total = 0;
  if (hello.kind == TestKind::kStream) {
    for (;;) {
      const size_t n = conn.recv_some(buf.data(), buf.size());
      if (n == 0) break;
      total += n;
    }
    const uint64_t wire = htobe64(total);
    conn.send_all(&wire, sizeof(wire));
    return "TCP_STREAM received " + std::to_string(total) + " bytes";
  }

  if (hello.bytes == 0) {
    // Until the client has seen enough and closes: its reset ends the sends with an error.
    for (;;) {
      const long n = conn.ops().send(conn.fd(), buf.data(), buf.size());
      if (n <= 0) break;
      total += static_cast<uint64_t>(n);
    }
    return "TCP_STREAM (reverse) sent " + std::to_string(total) + " bytes until reset";
  }
  while (total < hello.bytes) {
    const size_t n = std::min<uint64_t>(buf.size(), hello.bytes - total);
    conn.send_all(buf.data(), n);
    total += n;
  }
  conn.check(conn.ops().shutdown_write(conn.fd()), "shutdown");
  // Wait for the client to close, so that the data is not cut off by a reset.
  while (conn.recv_some(buf.data(), buf.size()) != 0) {
  }
  return "TCP_STREAM (reverse) sent " + std::to_string(total) + " bytes";
}

}  // namespace perf
