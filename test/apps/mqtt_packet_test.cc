// The MQTT codec: what it writes is what the spec says, and what it parses
// from a broker it parses strictly, never past the bytes it was given.
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "CppUTest/TestHarness.h"
#include "apps/mqtt/packet.h"

using mqtt::Packet;
using mqtt::Type;

namespace {

std::vector<uint8_t> bytes(std::initializer_list<int> v) {
  std::vector<uint8_t> out;
  for (int b : v) out.push_back(static_cast<uint8_t>(b));
  return out;
}

long parse(const std::vector<uint8_t>& b, Packet* p, size_t max = 2048) {
  return mqtt::parse(b.data(), b.size(), max, p);
}

}  // namespace

TEST_GROUP(MqttPacket){};

TEST(MqttPacket, connect_carries_id_keepalive_will_and_credentials) {
  mqtt::ConnectOptions o;
  o.client_id = "board-7";
  o.keepalive_s = 30;
  o.will.topic = "evl/board-7/status";
  o.will.message = "offline";
  o.user = "u";
  o.password = "pw";
  uint8_t buf[256];
  const size_t n = mqtt::encode_connect(o, buf, sizeof buf);
  const std::vector<uint8_t> want = {0x10, 55,                          // CONNECT, remaining 55
                                     0,    4,   'M', 'Q', 'T', 'T', 4,  // protocol name and level
                                     0xEC,      // user, password, will retain, QoS 1, will
                                     0,    30,  // keepalive
                                     0,    7,   'b', 'o', 'a', 'r', 'd', '-', '7',  // client id
                                     0,    18,  'e', 'v', 'l', '/', 'b', 'o', 'a', 'r', 'd', '-',
                                     '7',  '/', 's', 't', 'a', 't', 'u', 's', 0,   7,   'o', 'f',
                                     'f',  'l', 'i', 'n', 'e', 0,   1,   'u', 0,   2,   'p', 'w'};
  CHECK_EQUAL(want.size(), n);
  CHECK(std::memcmp(want.data(), buf, n) == 0);
  CHECK_EQUAL(0u, mqtt::encode_connect(o, buf, 20));  // does not fit: nothing
}

TEST(MqttPacket, publish_qos1_with_dup_and_a_long_payload_uses_a_two_byte_length) {
  std::string payload(200, 'x');
  uint8_t buf[512];
  const size_t n = mqtt::encode_publish("a/b", payload.data(), payload.size(), 1, true, true,
                                        0x1234, buf, sizeof buf);
  CHECK_EQUAL(3u + 2 + 3 + 2 + 200, n);
  CHECK_EQUAL(0x3B, buf[0]);  // PUBLISH, DUP, QoS 1, RETAIN
  CHECK_EQUAL(0xCF, buf[1]);  // 207 = 79 + 1 * 128: 0xCF 0x01
  CHECK_EQUAL(0x01, buf[2]);
  CHECK_EQUAL(0x12, buf[8]);
  CHECK_EQUAL(0x34, buf[9]);
  CHECK_EQUAL(0u, mqtt::encode_publish("a", "x", 1, 1, false, false, 0, buf, sizeof buf));  // id 0
  CHECK_EQUAL(0u, mqtt::encode_publish("a", "x", 1, 2, false, false, 1, buf, sizeof buf));  // QoS 2
}

TEST(MqttPacket, broker_packets_parse) {
  Packet p{};
  CHECK_EQUAL(4, parse(bytes({0x20, 2, 1, 0}), &p));
  CHECK(p.type == Type::kConnack);
  CHECK(p.session_present);
  CHECK_EQUAL(0, p.code);
  CHECK_EQUAL(4, parse(bytes({0x40, 2, 0x12, 0x34}), &p));
  CHECK(p.type == Type::kPuback);
  CHECK_EQUAL(0x1234, p.id);
  CHECK_EQUAL(2, parse(bytes({0xD0, 0}), &p));
  CHECK(p.type == Type::kPingresp);
  CHECK_EQUAL(5, parse(bytes({0x90, 3, 0, 9, 1}), &p));
  CHECK(p.type == Type::kSuback);
  const std::vector<uint8_t> pub = bytes({0x32, 11, 0, 3, 'c', 'm', 'd', 0, 5, 'p', 'i', 'n', 'g'});
  CHECK_EQUAL(13, parse(pub, &p));  // p points into pub
  CHECK(p.type == Type::kPublish);
  CHECK_EQUAL(1, p.qos);
  CHECK_EQUAL(5, p.id);
  CHECK_EQUAL(3u, p.topic_len);
  CHECK_EQUAL(4u, p.payload_len);
  CHECK(std::memcmp(p.payload, "ping", 4) == 0);
}

TEST(MqttPacket, incomplete_packets_ask_for_more) {
  Packet p{};
  CHECK_EQUAL(0, parse(bytes({}), &p));
  CHECK_EQUAL(0, parse(bytes({0x20}), &p));
  CHECK_EQUAL(0, parse(bytes({0x20, 2, 0}), &p));
  CHECK_EQUAL(0, parse(bytes({0x30, 0x80}), &p));  // the length goes on
}

TEST(MqttPacket, malformed_and_oversized_packets_are_refused) {
  Packet p{};
  CHECK_EQUAL(-EPROTO, parse(bytes({0x30, 0x80, 0x80, 0x80, 0x80, 1}), &p));  // 5-byte length
  CHECK_EQUAL(-EMSGSIZE, parse(bytes({0x30, 0xff, 0x7f}), &p));  // 16383 > 2048, from the header
  CHECK_EQUAL(-EPROTO, parse(bytes({0x21, 2, 0, 0}), &p));       // CONNACK reserved flags
  CHECK_EQUAL(-EPROTO, parse(bytes({0x20, 2, 2, 0}), &p));       // CONNACK ack flags
  CHECK_EQUAL(-EPROTO, parse(bytes({0x20, 3, 0, 0, 0}), &p));    // CONNACK length
  CHECK_EQUAL(-EPROTO, parse(bytes({0x40, 2, 0, 0}), &p));       // PUBACK id 0
  CHECK_EQUAL(-EPROTO, parse(bytes({0x36, 5, 0, 1, 'a', 0, 1}), &p));  // QoS 3
  CHECK_EQUAL(-EPROTO, parse(bytes({0x30, 3, 0, 9, 'a'}), &p));        // topic runs past the end
  CHECK_EQUAL(-EPROTO, parse(bytes({0x30, 4, 0, 2, 'a', 0}), &p));     // NUL in the topic
  CHECK_EQUAL(-EPROTO, parse(bytes({0x30, 2, 0, 0}), &p));             // empty topic
  CHECK_EQUAL(-EPROTO, parse(bytes({0x32, 5, 0, 1, 'a', 0, 0}), &p));  // QoS 1 with id 0
  CHECK_EQUAL(-EPROTO, parse(bytes({0x10, 0}), &p));                   // CONNECT: not from a broker
  CHECK_EQUAL(-EPROTO, parse(bytes({0x50, 2, 0, 1}), &p));             // PUBREC: no QoS 2 here
  CHECK_EQUAL(-EPROTO, parse(bytes({0x00, 0}), &p));                   // type 0
  CHECK_EQUAL(-EPROTO, parse(bytes({0x90, 3, 0, 1, 7}), &p));          // SUBACK code 7
}

TEST(MqttPacket, a_publish_fits_exactly_at_the_limit) {
  uint8_t buf[64];
  const size_t n = mqtt::encode_publish("t", "abc", 3, 0, false, false, 0, buf, sizeof buf);
  Packet p{};
  CHECK_EQUAL(static_cast<long>(n), mqtt::parse(buf, n, n, &p));
  CHECK_EQUAL(-EMSGSIZE, mqtt::parse(buf, n, n - 1, &p));
}

// CONNACK return codes of MQTT 3.1.1 (section 3.2.2.3), named for the log.
TEST(MqttPacket, connack_codes_have_their_names) {
  STRCMP_EQUAL("accepted", mqtt::refusal_name(0));
  STRCMP_EQUAL("unacceptable protocol version", mqtt::refusal_name(1));
  STRCMP_EQUAL("identifier rejected", mqtt::refusal_name(2));
  STRCMP_EQUAL("server unavailable", mqtt::refusal_name(3));
  STRCMP_EQUAL("bad user name or password", mqtt::refusal_name(4));
  STRCMP_EQUAL("not authorized", mqtt::refusal_name(5));
  STRCMP_EQUAL("unknown return code", mqtt::refusal_name(6));
  STRCMP_EQUAL("unknown return code", mqtt::refusal_name(255));
}
