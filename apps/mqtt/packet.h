// MQTT 3.1.1 packets: encoders into caller buffers, and a parser for what a
// broker sends a client (CONNACK, PUBLISH, PUBACK, SUBACK, PINGRESP).
//
// The parser never trusts the bytes: a remaining length of more than four
// bytes, a packet larger than the caller's limit, reserved flags set, a
// length field that runs past the packet, a topic with a NUL, a QoS of 3 or
// a packet id of 0 are each an error (-EPROTO, or -EMSGSIZE for the size),
// never a crash and never a read past `len`. Pointers in a parsed Packet
// point into the caller's bytes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mqtt {

enum class Type : uint8_t {
  kConnect = 1,
  kConnack = 2,
  kPublish = 3,
  kPuback = 4,
  kPubrec = 5,
  kPubrel = 6,
  kPubcomp = 7,
  kSubscribe = 8,
  kSuback = 9,
  kUnsubscribe = 10,
  kUnsuback = 11,
  kPingreq = 12,
  kPingresp = 13,
  kDisconnect = 14,
};

// CONNACK return codes (3.2.2.3).
enum class Refusal : uint8_t {
  kAccepted = 0,
  kProtocolVersion = 1,
  kIdentifierRejected = 2,
  kServerUnavailable = 3,
  kBadCredentials = 4,
  kNotAuthorized = 5,
};
const char* refusal_name(uint8_t code);

struct Packet {
  Type type;
  uint8_t flags;         // the low nibble of the first byte
  uint16_t id;           // PUBLISH (QoS > 0), PUBACK, SUBACK
  uint8_t code;          // CONNACK return code, SUBACK's first return code
  bool session_present;  // CONNACK
  uint8_t qos;           // PUBLISH
  bool retain;           // PUBLISH
  bool dup;              // PUBLISH
  const char* topic;     // PUBLISH, not NUL-terminated
  size_t topic_len;
  const uint8_t* payload;  // PUBLISH
  size_t payload_len;
};

// Parses one packet from data[0..len). Returns its size (> 0) with *out
// filled, 0 when more bytes are needed, -EMSGSIZE when its size exceeds
// max_packet (known from the header alone), -EPROTO when malformed or a
// type a broker does not send a client.
[[nodiscard]] long parse(const uint8_t* data, size_t len, size_t max_packet, Packet* out);

struct Will {
  const char* topic = nullptr;  // null: no will
  const char* message = "";
  uint8_t qos = 1;
  bool retain = true;
};

struct ConnectOptions {
  const char* client_id = "";
  uint16_t keepalive_s = 30;
  bool clean_session = false;
  Will will;
  const char* user = nullptr;      // null: none
  const char* password = nullptr;  // null: none (only with a user)
};

// Each encoder writes one packet into out[0..cap) and returns its size, or 0
// when it does not fit (or a field is longer than MQTT allows).
size_t encode_connect(const ConnectOptions& o, uint8_t* out, size_t cap);
size_t encode_publish(const char* topic, const void* payload, size_t len, uint8_t qos, bool retain,
                      bool dup, uint16_t id, uint8_t* out, size_t cap);
size_t encode_puback(uint16_t id, uint8_t* out, size_t cap);
size_t encode_subscribe(const char* filter, uint8_t qos, uint16_t id, uint8_t* out, size_t cap);
size_t encode_pingreq(uint8_t* out, size_t cap);
size_t encode_disconnect(uint8_t* out, size_t cap);

// The largest size of a packet with a remaining length of n.
constexpr size_t packet_size(size_t remaining) {
  return 1 +
         (remaining < 128       ? 1
          : remaining < 16384   ? 2
          : remaining < 2097152 ? 3
                                : 4) +
         remaining;
}

}  // namespace mqtt
