// Fuzz target: bytes from an MQTT broker. What must hold: the parser never
// claims more than it was given, every pointer it returns lies inside the
// input, and what the encoder writes the parser reads back the same.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "apps/mqtt/packet.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool inside(const void* p, size_t n, const uint8_t* data, size_t size) {
  const auto* b = static_cast<const uint8_t*>(p);
  return b >= data && b + n <= data + size;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  size_t used = 0;
  while (used < size) {
    mqtt::Packet p{};
    const long n = mqtt::parse(data + used, size - used, 2048, &p);
    if (n <= 0) break;
    check(static_cast<size_t>(n) <= size - used && n <= 2048);
    if (p.type == mqtt::Type::kPublish) {
      check(inside(p.topic, p.topic_len, data + used, static_cast<size_t>(n)));
      check(inside(p.payload, p.payload_len, data + used, static_cast<size_t>(n)));
      check(p.qos <= 1 || p.qos == 2);
      check(p.qos == 0 || p.id != 0);
      check(std::memchr(p.topic, 0, p.topic_len) == nullptr);
    }
    used += static_cast<size_t>(n);
  }
  // Round trip: a PUBLISH built from the input parses back to the same.
  if (size >= 3) {
    const size_t tlen = 1 + data[0] % 32;
    if (size > tlen + 2) {
      char topic[40];
      for (size_t i = 0; i < tlen; ++i) topic[i] = static_cast<char>('a' + data[1 + i] % 26);
      topic[tlen] = '\0';
      const uint8_t qos = data[tlen + 1] & 1;
      const uint8_t* payload = data + tlen + 2;
      const size_t plen = size - tlen - 2;
      static uint8_t buf[4096];
      const size_t w =
          mqtt::encode_publish(topic, payload, plen, qos, false, false, 77, buf, sizeof buf);
      if (w > 0) {
        mqtt::Packet p{};
        check(mqtt::parse(buf, w, sizeof buf, &p) == static_cast<long>(w));
        check(p.type == mqtt::Type::kPublish && p.qos == qos && p.topic_len == tlen);
        check(p.payload_len == plen && std::memcmp(p.payload, payload, plen) == 0);
        check(qos == 0 || p.id == 77);
      }
    }
  }
  return 0;
}
