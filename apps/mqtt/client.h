// An MQTT 3.1.1 client on the loop, over app::Link, in fixed buffers.
//
// Session: when the link connects the client sends CONNECT (clean session
// off, so the broker keeps subscriptions and unacknowledged QoS 1 state
// across reconnects; optional user/password; optional last will) and waits
// up to the link's connect timeout for CONNACK. A refusal (bad credentials,
// identifier rejected, ...) is reported once per outage through refused()
// and the connection is dropped: the link's back-off decides when to retry.
//
// Keepalive: with keepalive_s > 0 a tick every keepalive_s / 2 sends
// PINGREQ unless packets went both ways since the last tick (as Paho's
// clients: a client that only publishes QoS 0 hears nothing from a broker
// that hung, whose kernel goes on acknowledging); a PINGRESP that has not
// come by the next tick drops the link (a dead or hung broker, a dead path).
//
// Publishing: QoS 0 goes out now or not at all (-ENOTCONN, -ENOBUFS). QoS 1
// messages are copied into one of kMaxInflight slots and kept until their
// PUBACK, which reports the caller's tag through acked(); they may be queued
// while the session is down, and everything unacknowledged is sent again
// (DUP set) in the order it was first published when a session comes up.
// A PUBACK for an id not in flight (a duplicate) is counted and ignored, so
// a message is acknowledged to the caller at most once.
//
// Receiving: PUBLISH from the broker (QoS 0 or 1; QoS 1 is acknowledged)
// goes to message(). Anything malformed, a packet larger than the link's
// in-buffer, or a packet a broker must not send is counted and drops the
// connection; the parser never reads past what arrived.
#pragma once

#include <cstddef>
#include <cstdint>

#include "apps/common/link.h"
#include "apps/mqtt/packet.h"
#include "loop/loop.h"

namespace mqtt {

struct ClientConfig {
  char client_id[64] = {};
  int64_t keepalive_s = 30;
  char user[64] = {};         // empty: no user name
  char password[128] = {};    // used only with a user name
  char will_topic[160] = {};  // empty: no last will
  char will_message[32] = {};
  // > 0: ClientEvents::closed_on is called when this many connections in a
  // row ended with one QoS 1 message sent and unacknowledged. A broker that
  // closes the connection on a message (mosquitto over its
  // max_packet_size) does so at every reconnect, and MQTT 3.1.1 has the
  // client send it again all the same: the app can say why it is stuck.
  int report_after_drops = 0;
  // > 0: ClientEvents::sessions_ended is called when this many sessions in
  // a row were ended by the broker (end of stream or reset) soon after it
  // accepted them (within twice the longer of the keepalive and the link's
  // longest back-off), with no failed connect between them and no message
  // of ours unacknowledged at the close. MQTT allows one session per client
  // id: a second client with the same id (a board configuration copied to
  // another) makes the broker end the other's session at each connect, for
  // ever, and each side sees only "closed by the server".
  int report_after_closes = 0;
  // The same count for connections that ended (reset, closed, or no
  // CONNACK in time) before the broker answered CONNECT at all:
  // ClientEvents::unanswered. A TLS port (mqtts, 8883) given as mqtt://
  // does that to every connect (mosquitto resets it: "wrong version
  // number"), and the daemon saw only "Connection reset by peer".
};

struct ClientEvents {
  void (*up)(void* ctx) = nullptr;             // CONNACK accepted: publish and subscribe now
  void (*delivering)(void* ctx) = nullptr;     // the link proved it delivers, with a session up
  void (*down)(void* ctx, int err) = nullptr;  // once per outage (app::Link's rule)
  void (*refused)(void* ctx, uint8_t code) = nullptr;  // CONNACK refused (once per outage)
  void (*acked)(void* ctx, uint32_t tag) = nullptr;    // a QoS 1 publish was acknowledged
  // A QoS 1 publish of `bytes` that ClientConfig::report_after_drops
  // connections in a row ended on (once per message).
  void (*closed_on)(void* ctx, uint32_t tag, size_t bytes) = nullptr;
  // ClientConfig::report_after_closes sessions in a row ended soon by the
  // broker (once per such row).
  void (*sessions_ended)(void* ctx, uint32_t sessions) = nullptr;
  // ClientConfig::report_after_closes connections in a row ended before
  // any CONNACK (once per such row).
  void (*unanswered)(void* ctx, uint32_t connections) = nullptr;
  // A PUBLISH from the broker; retained: one it kept (sent at subscribe).
  void (*message)(void* ctx, const char* topic, size_t topic_len, const uint8_t* payload,
                  size_t len, bool retained) = nullptr;
  // The broker refused a subscription (SUBACK 0x80: its access rules);
  // once until a later SUBACK grants it.
  void (*sub_refused)(void* ctx, const char* filter) = nullptr;
  void* ctx = nullptr;
};

struct ClientStats {
  uint64_t sessions = 0;         // CONNACKs accepted
  uint64_t refusals = 0;         // CONNACKs refused
  uint64_t protocol_errors = 0;  // malformed or unexpected packets from the broker
  uint64_t oversized = 0;        // packets larger than the in-buffer
  uint64_t connack_timeouts = 0;
  uint64_t ping_timeouts = 0;
  uint64_t published0 = 0;
  uint64_t published1 = 0;     // QoS 1 messages accepted by publish1()
  uint64_t acked = 0;          // of those, acknowledged
  uint64_t closed_on = 0;      // messages ClientEvents::closed_on reported
  uint64_t broker_closes = 0;  // sessions the broker ended (end of stream or reset)
  uint64_t resent = 0;         // QoS 1 sends with DUP after a reconnect
  uint64_t unknown_acks = 0;   // PUBACKs for ids not in flight (duplicates)
  uint64_t received = 0;       // PUBLISHes from the broker
  uint64_t sub_refusals = 0;   // SUBACKs refusing a subscription (0x80)
};

class Client {
 public:
  static constexpr size_t kMaxInflight = 4;
  static constexpr size_t kMaxPublish = 8704;  // a whole QoS 1 packet
  static constexpr size_t kMaxSubscriptions = 2;

  Client() = default;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client() { stop(); }

  // url must be mqtt://. -EINVAL for a bad configuration.
  [[nodiscard]] int start(evl::Loop& loop, const app::Url& url, const app::LinkConfig& link,
                          const ClientConfig& cfg, const ClientEvents& ev);
  // Sends DISCONNECT when a session is up (so the broker does not publish
  // the will: this is a clean stop), then closes.
  void stop();
  bool up() const { return session_; }
  [[nodiscard]] int publish0(const char* topic, const void* data, size_t len, bool retain);
  // -ENOSPC with kMaxInflight in flight, -EMSGSIZE when it does not fit a slot.
  [[nodiscard]] int publish1(const char* topic, const void* data, size_t len, bool retain,
                             uint32_t tag);
  // Subscribed (QoS 1) now if up, and again at every session.
  [[nodiscard]] int subscribe(const char* filter);
  size_t inflight() const;
  const ClientStats& stats() const { return stats_; }
  const app::Link& link() const { return link_; }
  // When the broker last took bytes of a session (its TCP acknowledged
  // everything written: Link::delivered_ns; or the CONNACK of a session on
  // a proven link), or 0. Bytes taken on a connection whose CONNECT was
  // never answered do not count: a hung broker's kernel accepts
  // connections and acknowledges bytes for it.
  int64_t delivered_ns() const;

  // Snapshots (apps/common/snapshot.h): the connection and its state.
  void save(flight::SnapWriter& w) const;
  void drop();
  void restore(app::Restore& r);

 private:
  struct Slot {
    bool used = false;
    bool sent = false;  // in this session
    uint8_t drops = 0;  // connections in a row that closed with it sent, unacknowledged
    uint16_t id = 0;
    uint32_t tag = 0;
    uint64_t order = 0;
    size_t len = 0;
    uint8_t packet[kMaxPublish] = {};
  };

  static void on_up(void* ctx);
  static void on_delivering(void* ctx);
  static void on_down(void* ctx, int err);
  static void on_closed(void* ctx, int err);
  static size_t on_received(void* ctx, const char* data, size_t len);
  static void on_drained(void* ctx);
  static void on_timer(evl::Loop& loop, evl::TimerHandle h, uint32_t missed, void* ctx);
  void handle(const Packet& p);
  void session_up();
  void send_inflight();
  bool send(const uint8_t* data, size_t len);
  uint16_t next_id();
  void protocol_error(int err);
  void count_close(int err);

  evl::Loop* loop_ = nullptr;
  app::Link link_;
  ClientConfig cfg_;
  ClientEvents ev_;
  ClientStats stats_;
  evl::TimerHandle timer_;  // waiting for CONNACK: its timeout; in a session: the keepalive tick
  int64_t connect_timeout_ms_ = 5000;
  // Sessions the broker ended soon, in a row (report_after_closes).
  struct Closes {
    int64_t session_ns = 0;  // when the current session came up
    uint64_t failures = 0;   // the link's failures after the last one counted
    uint64_t row = 0;        // (64 bits: no padding goes into a snapshot)
  };
  Closes closes_;
  uint64_t unanswered_ = 0;          // connections in a row that ended before a CONNACK
  int64_t delivered_before_ns_ = 0;  // delivered_ns() when the last session ended
  bool answered_ = false;            // this connection's CONNACK came (accepted or not)
  int64_t brief_ns_ = 0;             // "soon"
  bool session_ = false;
  bool link_delivering_ = false;
  bool refused_reported_ = false;
  bool ping_out_ = false;
  bool sent_since_tick_ = false;
  bool heard_since_tick_ = false;  // a whole packet came from the broker
  uint16_t last_id_ = 0;
  uint64_t order_ = 0;
  char subs_[kMaxSubscriptions][160] = {};
  // Each subscription's last SUBSCRIBE packet id, and whether its refusal
  // was reported (sub_refused).
  uint16_t sub_ids_[kMaxSubscriptions] = {};
  uint8_t sub_refused_said_[kMaxSubscriptions] = {};  // 0 or 1
  Slot inflight_[kMaxInflight];
  void send_subscribe(size_t i);
  void on_suback(uint16_t id, uint8_t code);
};

}  // namespace mqtt
