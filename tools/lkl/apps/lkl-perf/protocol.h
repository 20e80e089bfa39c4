// What a client tells a server before a test: a fixed 32-byte hello in network byte order,
// answered by a 4-byte status. The test's own traffic follows on the same connection.
#ifndef LKL_PERF_PROTOCOL_H
#define LKL_PERF_PROTOCOL_H

#include <endian.h>

#include <cstdint>
#include <cstring>

namespace perf {

enum class TestKind : uint16_t {
  kRequestResponse = 1,  // TCP_RR: request_size bytes up, response_size bytes down, repeated
  kStream = 2,           // TCP_STREAM: the client sends until it shuts down its side
  kMaerts = 3,           // TCP_STREAM reversed: the server sends `bytes`, or until reset
};

enum class Status : uint32_t { kOk = 0, kBadHello = 1, kBadParameters = 2 };

// Bounds a server accepts (buffers are allocated from them).
constexpr uint32_t kMaxMessage = 64u << 20;

struct Hello {
  static constexpr uint32_t kMagic = 0x4c4b4c50;  // "LKLP"
  static constexpr uint16_t kVersion = 1;
  static constexpr size_t kSize = 32;

  TestKind kind = TestKind::kRequestResponse;
  uint32_t request_size = 0;
  uint32_t response_size = 0;
  uint32_t message_size = 0;  // send/receive size of the stream tests
  uint64_t bytes = 0;         // kMaerts: bytes the server sends; 0: until the client resets

  void encode(unsigned char out[kSize]) const {
    std::memset(out, 0, kSize);
    put32(out, kMagic);
    put16(out + 4, kVersion);
    put16(out + 6, static_cast<uint16_t>(kind));
    put32(out + 8, request_size);
    put32(out + 12, response_size);
    put32(out + 16, message_size);
    const uint64_t b = htobe64(bytes);
    std::memcpy(out + 20, &b, sizeof(b));
  }

  // The status a server answers with.
  Status decode(const unsigned char in[kSize]) {
    if (get32(in) != kMagic || get16(in + 4) != kVersion) return Status::kBadHello;
    kind = static_cast<TestKind>(get16(in + 6));
    request_size = get32(in + 8);
    response_size = get32(in + 12);
    message_size = get32(in + 16);
    uint64_t b;
    std::memcpy(&b, in + 20, sizeof(b));
    bytes = be64toh(b);
    switch (kind) {
      case TestKind::kRequestResponse:
        return request_size && response_size && request_size <= kMaxMessage &&
                       response_size <= kMaxMessage
                   ? Status::kOk
                   : Status::kBadParameters;
      case TestKind::kStream:
      case TestKind::kMaerts:
        return message_size && message_size <= kMaxMessage ? Status::kOk : Status::kBadParameters;
    }
    return Status::kBadParameters;
  }

  static void put16(unsigned char *p, uint16_t v) {
    v = htobe16(v);
    std::memcpy(p, &v, sizeof(v));
  }
  static void put32(unsigned char *p, uint32_t v) {
    v = htobe32(v);
    std::memcpy(p, &v, sizeof(v));
  }
  static uint16_t get16(const unsigned char *p) {
    uint16_t v;
    std::memcpy(&v, p, sizeof(v));
    return be16toh(v);
  }
  static uint32_t get32(const unsigned char *p) {
    uint32_t v;
    std::memcpy(&v, p, sizeof(v));
    return be32toh(v);
  }
};

}  // namespace perf

#endif  // LKL_PERF_PROTOCOL_H
