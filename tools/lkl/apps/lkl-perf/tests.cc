// The hello exchange that starts every test, and the dispatch to the test's code.
#include "tests.h"

namespace perf {

nlohmann::ordered_json run_client(Socket &conn, const TestSpec &spec) {
  Hello hello;
  hello.kind = spec.kind;
  hello.request_size = spec.request_size;
  hello.response_size = spec.response_size;
  hello.message_size = spec.message_size;
  hello.bytes = spec.kind == TestKind::kMaerts && spec.duration_s <= 0 ? spec.bytes : 0;
  if (spec.kind == TestKind::kRequestResponse) conn.set_option(SockOpt::kNoDelay, 1, "TCP_NODELAY");

  unsigned char wire[Hello::kSize];
  hello.encode(wire);
  conn.send_all(wire, sizeof(wire));
  unsigned char status[4];
  if (!conn.recv_all(status, sizeof(status)))
    throw Error("the server closed the connection instead of answering (not lkl-perf?)");
  const auto s = static_cast<Status>(Hello::get32(status));
  if (s != Status::kOk)
    throw Error(s == Status::kBadHello ? "the server does not speak this lkl-perf protocol"
                                       : "the server refused the test parameters");

  return spec.kind == TestKind::kRequestResponse ? rr_client(conn, spec)
                                                 : stream_client(conn, spec);
}

std::string serve(Socket &conn) {
  unsigned char wire[Hello::kSize];
  if (!conn.recv_all(wire, sizeof(wire))) return "";
  Hello hello;
  const Status s = hello.decode(wire);
  unsigned char status[4];
  Hello::put32(status, static_cast<uint32_t>(s));
  conn.send_all(status, sizeof(status));
  if (s != Status::kOk)
    throw Error(s == Status::kBadHello ? "a client sent a bad hello"
                                       : "a client asked for unsupported parameters");

  if (hello.kind == TestKind::kRequestResponse) {
    conn.set_option(SockOpt::kNoDelay, 1, "TCP_NODELAY");
    return rr_server(conn, hello);
  }
  return stream_server(conn, hello);
}

}  // namespace perf
