#include "apps/mqtt/packet.h"

#include <cerrno>
#include <cstring>

namespace mqtt {
namespace {

constexpr size_t kMaxRemaining = 268435455;  // four bytes of varint

// A bounded writer: every put checks the room left.
struct Out {
  uint8_t* p;
  size_t cap;
  size_t n = 0;
  bool ok = true;
  void byte(uint8_t b) {
    if (n >= cap) {
      ok = false;
      return;
    }
    p[n++] = b;
  }
  void u16(uint16_t v) {
    byte(static_cast<uint8_t>(v >> 8));
    byte(static_cast<uint8_t>(v & 0xff));
  }
  void bytes(const void* d, size_t len) {
    if (len > cap - n || n > cap) {
      ok = false;
      return;
    }
    std::memcpy(p + n, d, len);
    n += len;
  }
  void str(const char* s, size_t len) {
    if (len > 0xffff) {
      ok = false;
      return;
    }
    u16(static_cast<uint16_t>(len));
    bytes(s, len);
  }
  void varint(size_t v) {
    do {
      uint8_t b = static_cast<uint8_t>(v % 128);
      v /= 128;
      if (v > 0) b |= 0x80;
      byte(b);
    } while (v > 0);
  }
};

size_t finish(uint8_t first, const Out& body, uint8_t* out, size_t cap) {
  if (!body.ok || body.n > kMaxRemaining) return 0;
  const size_t total = packet_size(body.n);
  if (total > cap) return 0;
  // The body was written at out + 5 (the most a header can take): move it
  // to sit right after the real header.
  Out head{out, cap};
  head.byte(first);
  head.varint(body.n);
  std::memmove(out + head.n, out + 5, body.n);
  return head.n + body.n;
}

uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

long bad() { return -EPROTO; }

}  // namespace

const char* refusal_name(uint8_t code) {
  switch (code) {
    case 0: return "accepted";
    case 1: return "unacceptable protocol version";
    case 2: return "identifier rejected";
    case 3: return "server unavailable";
    case 4: return "bad user name or password";
    case 5: return "not authorized";
    default: return "unknown return code";
  }
}

size_t encode_connect(const ConnectOptions& o, uint8_t* out, size_t cap) {
  if (cap < 5) return 0;
  Out b{out + 5, cap - 5};
  b.str("MQTT", 4);
  b.byte(4);  // protocol level 3.1.1
  uint8_t flags = o.clean_session ? 0x02 : 0;
  if (o.will.topic != nullptr) {
    flags |= static_cast<uint8_t>(0x04 | (o.will.qos & 3) << 3 | (o.will.retain ? 0x20 : 0));
  }
  if (o.user != nullptr) flags |= 0x80;
  if (o.user != nullptr && o.password != nullptr) flags |= 0x40;
  b.byte(flags);
  b.u16(o.keepalive_s);
  b.str(o.client_id, std::strlen(o.client_id));
  if (o.will.topic != nullptr) {
    b.str(o.will.topic, std::strlen(o.will.topic));
    b.str(o.will.message, std::strlen(o.will.message));
  }
  if (o.user != nullptr) b.str(o.user, std::strlen(o.user));
  if (o.user != nullptr && o.password != nullptr) b.str(o.password, std::strlen(o.password));
  return finish(static_cast<uint8_t>(Type::kConnect) << 4, b, out, cap);
}

size_t encode_publish(const char* topic, const void* payload, size_t len, uint8_t qos, bool retain,
                      bool dup, uint16_t id, uint8_t* out, size_t cap) {
  if (cap < 5 || qos > 1 || (qos > 0 && id == 0)) return 0;
  Out b{out + 5, cap - 5};
  b.str(topic, std::strlen(topic));
  if (qos > 0) b.u16(id);
  b.bytes(payload, len);
  const uint8_t first = static_cast<uint8_t>(static_cast<uint8_t>(Type::kPublish) << 4 |
                                             (dup ? 0x08 : 0) | qos << 1 | (retain ? 1 : 0));
  return finish(first, b, out, cap);
}

size_t encode_puback(uint16_t id, uint8_t* out, size_t cap) {
  if (cap < 4) return 0;
  out[0] = static_cast<uint8_t>(Type::kPuback) << 4;
  out[1] = 2;
  out[2] = static_cast<uint8_t>(id >> 8);
  out[3] = static_cast<uint8_t>(id & 0xff);
  return 4;
}

size_t encode_subscribe(const char* filter, uint8_t qos, uint16_t id, uint8_t* out, size_t cap) {
  if (cap < 5 || id == 0) return 0;
  Out b{out + 5, cap - 5};
  b.u16(id);
  b.str(filter, std::strlen(filter));
  b.byte(qos);
  return finish(static_cast<uint8_t>(static_cast<uint8_t>(Type::kSubscribe) << 4 | 0x02), b, out,
                cap);
}

size_t encode_pingreq(uint8_t* out, size_t cap) {
  if (cap < 2) return 0;
  out[0] = static_cast<uint8_t>(Type::kPingreq) << 4;
  out[1] = 0;
  return 2;
}

size_t encode_disconnect(uint8_t* out, size_t cap) {
  if (cap < 2) return 0;
  out[0] = static_cast<uint8_t>(Type::kDisconnect) << 4;
  out[1] = 0;
  return 2;
}

long parse(const uint8_t* data, size_t len, size_t max_packet, Packet* out) {
  if (len < 2) return 0;
  size_t remaining = 0;
  size_t header = 1;
  for (int shift = 0;; shift += 7) {
    if (header > 4) return bad();  // a fifth length byte
    if (header >= len) return 0;
    const uint8_t b = data[header++];
    remaining |= static_cast<size_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) break;
  }
  if (remaining > max_packet || header + remaining > max_packet) return -EMSGSIZE;
  if (header + remaining > len) return 0;
  const uint8_t* p = data + header;
  Packet k{};
  k.type = static_cast<Type>(data[0] >> 4);
  k.flags = data[0] & 0x0f;
  switch (k.type) {
    case Type::kConnack:
      if (k.flags != 0 || remaining != 2 || (p[0] & 0xfe) != 0) return bad();
      k.session_present = (p[0] & 1) != 0;
      k.code = p[1];
      break;
    case Type::kPuback:
    case Type::kUnsuback:
      if (k.flags != 0 || remaining != 2) return bad();
      k.id = get16(p);
      if (k.id == 0) return bad();
      break;
    case Type::kSuback:
      if (k.flags != 0 || remaining < 3) return bad();
      k.id = get16(p);
      k.code = p[2];
      if (k.id == 0 || (k.code > 2 && k.code != 0x80)) return bad();
      break;
    case Type::kPingresp:
      if (k.flags != 0 || remaining != 0) return bad();
      break;
    case Type::kPublish: {
      k.dup = (k.flags & 0x08) != 0;
      k.qos = (k.flags >> 1) & 3;
      k.retain = (k.flags & 1) != 0;
      if (k.qos == 3 || remaining < 2) return bad();
      const size_t tlen = get16(p);
      size_t used = 2 + tlen + (k.qos > 0 ? 2 : 0);
      if (used > remaining || tlen == 0) return bad();
      k.topic = reinterpret_cast<const char*>(p + 2);
      k.topic_len = tlen;
      if (std::memchr(k.topic, '\0', tlen) != nullptr) return bad();
      if (k.qos > 0) {
        k.id = get16(p + 2 + tlen);
        if (k.id == 0) return bad();
      }
      k.payload = p + used;
      k.payload_len = remaining - used;
      break;
    }
    default: return bad();  // CONNECT, SUBSCRIBE, ... or QoS 2 flows: not from a broker to us
  }
  *out = k;
  return static_cast<long>(header + remaining);
}

}  // namespace mqtt
