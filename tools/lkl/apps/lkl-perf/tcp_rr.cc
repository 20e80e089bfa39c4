// TCP_RR: one request of request_size bytes, one response of response_size bytes, repeated on
// one connection; each round trip is a latency sample.
#include <chrono>
#include <vector>

#include "histogram.h"
#include "tests.h"

namespace perf {

using Clock = std::chrono::steady_clock;

nlohmann::ordered_json rr_client(Socket &conn, const TestSpec &spec) {
  std::vector<unsigned char> request(spec.request_size, 'q');
  std::vector<unsigned char> response(spec.response_size);
  auto transact = [&] {
    conn.send_all(request.data(), request.size());
    if (!conn.recv_all(response.data(), response.size()))
      throw Error("the server closed the connection during the test");
  };

  for (uint64_t i = 0; i < spec.warmup; i++) transact();

  Histogram latency;
  const bool timed = spec.duration_s > 0;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(timed ? spec.duration_s : 0));
  auto end = start;
  for (uint64_t i = 0; timed || i < spec.transactions; i++) {
    const auto t0 = end;
    if (timed && t0 >= deadline) break;
    transact();
    end = Clock::now();
    latency.add(static_cast<uint64_t>(std::chrono::nanoseconds(end - t0).count()));
  }
  const double elapsed = std::chrono::duration<double>(end - start).count();

  // Half-close: the server sees the end of the requests, finishes and closes.
  conn.check(conn.ops().shutdown_write(conn.fd()), "shutdown");
  unsigned char rest;
  if (conn.recv_some(&rest, 1) != 0) throw Error("the server sent more than the responses");

  const auto us = [](double ns) { return ns / 1000.0; };
  nlohmann::ordered_json r;
  r["request_size"] = spec.request_size;
  r["response_size"] = spec.response_size;
  r["warmup"] = spec.warmup;
  r["transactions"] = latency.count();
  r["elapsed_s"] = elapsed;
  r["transactions_per_s"] = elapsed > 0 ? static_cast<double>(latency.count()) / elapsed : 0.0;
  r["latency_us"] = {{"mean", us(latency.mean())},
                     {"min", us(static_cast<double>(latency.min()))},
                     {"p50", us(static_cast<double>(latency.quantile(0.5)))},
                     {"p90", us(static_cast<double>(latency.quantile(0.9)))},
                     {"p99", us(static_cast<double>(latency.quantile(0.99)))},
                     {"p99.9", us(static_cast<double>(latency.quantile(0.999)))},
                     {"max", us(static_cast<double>(latency.max()))}};
  return r;
}

std::string rr_server(Socket &conn, const Hello &hello) {
  std::vector<unsigned char> request(hello.request_size);
  std::vector<unsigned char> response(hello.response_size, 'r');
  uint64_t served = 0;
  while (conn.recv_all(request.data(), request.size())) {
    conn.send_all(response.data(), response.size());
    served++;
  }
  return "TCP_RR " + std::to_string(hello.request_size) + "/" +
         std::to_string(hello.response_size) + " bytes, " + std::to_string(served) +
         " transactions";
}

}  // namespace perf
