// A scripted MQTT broker on the fake kernel, for the client's and the
// daemons' deterministic tests: one client connection at a time, CONNACK
// codes, lost and duplicated PUBACKs, silence to PINGREQ, a close in the
// middle of a packet, raw bytes of the test's choosing, retained messages
// and the last will. Test code: it allocates freely.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hal/socket.h"
#include "loop/loop.h"

namespace testmqtt {

struct Script {
  uint8_t connack_code = 0;
  bool answer_connect = true;  // false: never send CONNACK
  bool answer_pings = true;
  int drop_pubacks = 0;                   // the next n PUBACKs are not sent
  int dup_pubacks = 0;                    // the next n PUBACKs are sent twice
  bool close_after_next_publish = false;  // drop the connection right after it (no PUBACK)
  size_t max_body = 0;  // > 0: a PUBLISH with a longer body ends the connection, unrecorded
  bool refuse_subscriptions = false;  // SUBACK 0x80 (an ACL that forbids them)
};

struct Message {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool retain = false;
  bool dup = false;
  uint16_t id = 0;
};

class Broker {
 public:
  Broker(evl::Loop* loop, const char* address);
  ~Broker();
  // False once the peer did something the model did not expect; failure()
  // says what.
  bool ok() const { return failure_.empty(); }
  const std::string& failure() const { return failure_; }
  void up();
  void down();          // closes the listener and the connection (abruptly: the will fires)
  void close_client();  // closes the connection only (abruptly)
  void send_raw(const std::string& bytes);  // to the connected client
  void publish(const std::string& topic, const std::string& payload, int qos, bool retain = false);

  Script script;
  std::vector<Message> published;  // every PUBLISH from the client
  std::map<std::string, std::string> retained;
  std::vector<std::string> subscriptions;
  std::string client_id, user, password, will_topic, will_message;
  int keepalive_s = -1;
  bool clean_session = true;
  int connects = 0;
  int disconnects = 0;  // clean DISCONNECTs
  int pings = 0;
  int wills = 0;            // wills published
  int oversize_closes = 0;  // connections ended by Script::max_body
  bool connected() const { return conn_ >= 0; }

 private:
  std::string failure_;
  static void on_accept(evl::Loop& loop, evl::IoHandle h, uint32_t events, void* ctx);
  static void on_conn(evl::Loop& loop, evl::IoHandle h, uint32_t events, void* ctx);
  void handle(uint8_t first, const std::string& body);
  void take_packets();
  void lost_client();
  void write(const std::string& bytes);

  evl::Loop* loop_;
  hal::SockAddr at_;
  evl::IoHandle listener_;
  evl::IoHandle conn_io_;
  int conn_ = -1;
  bool will_pending_ = false;
  std::string in_;
  uint16_t next_id_ = 1;
};

}  // namespace testmqtt
