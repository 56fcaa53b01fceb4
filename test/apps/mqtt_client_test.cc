// mqtt::Client against the scripted broker on the fake kernel.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "CppUTest/TestHarness.h"
#include "apps/common/snapshot.h"
#include "apps/mqtt/client.h"
#include "apps/mqtt/settings.h"
#include "loop/static_loop.h"
#include "test/apps/mqtt_broker.h"
#include "test/apps/snapshot_move.h"
#include "test/fake/kernel.h"

using evl::kMs;
using evl::kSec;

namespace {

using TestLoop = evl::StaticLoop<8, 16, 2, 1, 4>;

struct Seen {
  int ups = 0;
  int delivering = 0;
  std::vector<int> downs;
  std::vector<int> refusals;
  std::vector<uint32_t> acked;
  std::vector<std::pair<uint32_t, size_t>> closed_on;
  std::vector<uint32_t> sessions_ended;
  std::vector<uint32_t> unanswered;
  std::vector<std::string> messages;  // "topic payload"
};

void on_up(void* ctx) { ++static_cast<Seen*>(ctx)->ups; }
void on_delivering(void* ctx) { ++static_cast<Seen*>(ctx)->delivering; }
void on_down(void* ctx, int err) { static_cast<Seen*>(ctx)->downs.push_back(err); }
void on_refused(void* ctx, uint8_t code) { static_cast<Seen*>(ctx)->refusals.push_back(code); }
void on_acked(void* ctx, uint32_t tag) { static_cast<Seen*>(ctx)->acked.push_back(tag); }
void on_closed_on(void* ctx, uint32_t tag, size_t bytes) {
  static_cast<Seen*>(ctx)->closed_on.emplace_back(tag, bytes);
}
void on_sessions_ended(void* ctx, uint32_t n) {
  static_cast<Seen*>(ctx)->sessions_ended.push_back(n);
}
void on_unanswered(void* ctx, uint32_t n) { static_cast<Seen*>(ctx)->unanswered.push_back(n); }
void on_message(void* ctx, const char* t, size_t tl, const uint8_t* p, size_t pl, bool) {
  static_cast<Seen*>(ctx)->messages.push_back(std::string(t, tl) + " " +
                                              std::string(reinterpret_cast<const char*>(p), pl));
}

struct Fixture {
  fake::Kernel k;
  std::unique_ptr<TestLoop> loop{new TestLoop()};
  std::unique_ptr<testmqtt::Broker> broker;
  mqtt::Client client;
  Seen seen;
  app::LinkConfig lc;
  mqtt::ClientConfig cc;

  Fixture() {
    CHECK_EQUAL(0, loop->init());
    broker.reset(new testmqtt::Broker(loop.get(), "127.0.0.1:1883"));
    lc.backoff_initial_ms = 100;
    lc.backoff_max_ms = 1000;
    lc.connect_timeout_ms = 2000;
    lc.stable_ms = 500;
    std::snprintf(cc.client_id, sizeof cc.client_id, "board-7");
    cc.keepalive_s = 10;
    std::snprintf(cc.will_topic, sizeof cc.will_topic, "evl/board-7/status");
    std::snprintf(cc.will_message, sizeof cc.will_message, "offline");
  }
  ~Fixture() {
    client.stop();
    CHECK_TEXT(broker->ok(), broker->failure().c_str());
  }
  void start() {
    app::Url url;
    CHECK_EQUAL(0, app::parse_url("mqtt://127.0.0.1:1883", &url));
    mqtt::ClientEvents ev;
    ev.up = on_up;
    ev.delivering = on_delivering;
    ev.down = on_down;
    ev.refused = on_refused;
    ev.acked = on_acked;
    ev.closed_on = on_closed_on;
    ev.sessions_ended = on_sessions_ended;
    ev.unanswered = on_unanswered;
    ev.message = on_message;
    ev.ctx = &seen;
    CHECK_EQUAL(0, client.start(*loop, url, lc, cc, ev));
  }
  void run_for(int64_t ns) {
    const int64_t end = k.monotonic_ns() + ns;
    while (k.monotonic_ns() < end) {
      const int r = loop->run_once(static_cast<int>((end - k.monotonic_ns() + kMs - 1) / kMs));
      CHECK(r >= 0 || r == -EINTR);
    }
  }
};

}  // namespace

TEST_GROUP(MqttClient){};

TEST(MqttClient, a_session_connects_with_id_keepalive_and_will_then_publishes_both_qos) {
  Fixture f;
  f.broker->up();
  f.start();
  CHECK_EQUAL(0, f.client.subscribe("evl/board-7/cmd"));
  f.run_for(100 * kMs);
  CHECK(f.client.up());
  CHECK_EQUAL(1, f.seen.ups);
  STRCMP_EQUAL("board-7", f.broker->client_id.c_str());
  CHECK_EQUAL(10, f.broker->keepalive_s);
  CHECK_FALSE(f.broker->clean_session);
  STRCMP_EQUAL("evl/board-7/status", f.broker->will_topic.c_str());
  STRCMP_EQUAL("offline", f.broker->will_message.c_str());
  CHECK_EQUAL(1u, f.broker->subscriptions.size());
  CHECK_EQUAL(0, f.client.publish0("evl/board-7/heartbeat", "HB 1", 4, false));
  CHECK_EQUAL(0, f.client.publish1("evl/board-7/telemetry", "gps x=1", 7, false, 42));
  f.run_for(100 * kMs);
  CHECK_EQUAL(2u, f.broker->published.size());
  CHECK_EQUAL(0, f.broker->published[0].qos);
  CHECK_EQUAL(1, f.broker->published[1].qos);
  CHECK_FALSE(f.broker->published[1].dup);
  CHECK_EQUAL(1u, f.seen.acked.size());
  CHECK_EQUAL(42u, f.seen.acked[0]);
  CHECK_EQUAL(0u, f.client.inflight());
  f.run_for(kSec);
  CHECK_EQUAL(1, f.seen.delivering);
}

TEST(MqttClient, a_refused_connack_is_reported_once_and_retried_with_back_off) {
  Fixture f;
  f.broker->script.connack_code = 4;  // bad user name or password
  f.broker->up();
  f.start();
  f.run_for(5 * kSec);
  CHECK_FALSE(f.client.up());
  CHECK_EQUAL(1u, f.seen.refusals.size());
  CHECK_EQUAL(4, f.seen.refusals[0]);
  CHECK(f.client.stats().refusals >= 3);
  CHECK(f.broker->connects < 40);     // the link's back-off, not a storm
  f.broker->script.connack_code = 0;  // the credentials were fixed
  f.run_for(3 * kSec);
  CHECK(f.client.up());
  STRCMP_EQUAL("bad user name or password", mqtt::refusal_name(4));
}

TEST(MqttClient, a_lost_puback_means_a_resend_with_dup_after_reconnect_and_one_ack) {
  Fixture f;
  f.broker->up();
  f.start();
  f.run_for(100 * kMs);
  f.broker->script.drop_pubacks = 1;
  CHECK_EQUAL(0, f.client.publish1("t", "rec", 3, false, 7));
  f.run_for(100 * kMs);
  CHECK_EQUAL(1u, f.client.inflight());
  f.broker->close_client();  // the connection dies with the PUBACK lost
  f.run_for(3 * kSec);
  CHECK(f.client.up());
  CHECK_EQUAL(2u, f.broker->published.size());
  CHECK(f.broker->published[1].dup);
  CHECK_EQUAL(f.broker->published[0].id, f.broker->published[1].id);
  CHECK_EQUAL(1u, f.seen.acked.size());
  CHECK_EQUAL(1u, f.client.stats().resent);
}

// A broker that closes the connection on a message (over its size limit):
// the client sends it again at every session, with DUP, as MQTT 3.1.1
// requires, and says so once, at the third connection that ended on it.
TEST(MqttClient, a_message_the_broker_keeps_closing_on_is_reported_once_and_still_resent) {
  Fixture f;
  f.cc.report_after_drops = 3;
  f.broker->script.max_body = 100;
  f.broker->up();
  f.start();
  f.run_for(500 * kMs);
  const std::string big(200, 'x');
  CHECK_EQUAL(0, f.client.publish1("evl/board-7/t", big.data(), big.size(), false, 41));
  f.run_for(20 * kSec);
  CHECK(f.broker->oversize_closes > 5);
  CHECK_EQUAL(1u, f.seen.closed_on.size());
  CHECK_EQUAL(41u, f.seen.closed_on[0].first);
  CHECK(f.seen.closed_on[0].second > big.size());  // the whole PUBLISH
  CHECK_EQUAL(1u, f.client.stats().closed_on);
  CHECK(f.seen.sessions_ended.empty());  // explained by the message, not another client
  CHECK_EQUAL(1u, f.client.inflight());
  CHECK(f.client.stats().resent >= 5);
  // The limit goes (the broker reconfigured): the same message goes through.
  f.broker->script.max_body = 0;
  f.run_for(5 * kSec);
  CHECK_EQUAL(1u, f.seen.acked.size());
  CHECK_EQUAL(41u, f.seen.acked[0]);
  CHECK_EQUAL(0u, f.client.inflight());
}

// Two boards with one client id: the broker ends one's session at each
// connect of the other (mosquitto: "Client dev0 already connected, closing
// old connection"), and each side saw only "closed by the server" for ever.
// Reported once per row of three; a failed connect between two (a broker
// restart) or a long session starts a new row.
TEST(MqttClient, sessions_the_broker_keeps_ending_soon_are_reported_once_per_row) {
  Fixture f;
  f.cc.report_after_closes = 3;  // "soon": within 2 x max(keepalive 10 s, back-off 1 s)
  f.broker->up();
  f.start();
  auto brief_session = [&] {
    f.run_for(1 * kSec);
    CHECK(f.client.up());
    f.broker->close_client();
    f.run_for(10 * kMs);  // the client sees the end
  };
  for (int i = 0; i < 5; ++i) brief_session();
  CHECK_EQUAL(1u, f.seen.sessions_ended.size());
  CHECK_EQUAL(3u, f.seen.sessions_ended[0]);
  CHECK_EQUAL(5u, f.client.stats().broker_closes);
  // The broker goes away for 3 s: failed connects end the row.
  f.broker->down();
  f.run_for(3 * kSec);
  f.broker->up();
  brief_session();
  brief_session();
  CHECK_EQUAL(1u, f.seen.sessions_ended.size());
  brief_session();
  CHECK_EQUAL(2u, f.seen.sessions_ended.size());
  // A session of 25 s is not "soon": the row starts again after it.
  f.run_for(25 * kSec);
  CHECK(f.client.up());
  f.broker->close_client();
  f.run_for(10 * kMs);
  brief_session();
  brief_session();
  CHECK_EQUAL(2u, f.seen.sessions_ended.size());
  brief_session();
  CHECK_EQUAL(3u, f.seen.sessions_ended.size());
}

// A TLS port given as mqtt:// (mosquitto resets each plain connect): the
// connections end before any CONNACK, and after report_after_closes in a
// row the client says so, once per row. A CONNACK, even a refusal, ends the
// row; a connect that fails (nothing listening) is not counted.
TEST(MqttClient, connections_that_end_before_any_connack_are_reported_once_per_row) {
  Fixture f;
  f.cc.report_after_closes = 3;
  f.lc.connect_timeout_ms = 300;  // also the CONNACK timeout
  f.broker->script.answer_connect = false;
  f.broker->up();
  f.start();
  f.run_for(6 * kSec);
  CHECK(f.client.stats().connack_timeouts >= 4);
  CHECK_EQUAL(1u, f.seen.unanswered.size());
  CHECK_EQUAL(3u, f.seen.unanswered[0]);
  CHECK(f.seen.sessions_ended.empty());
  // A refusal is an answer: the row ends, and refusals never make one.
  f.broker->script.answer_connect = true;
  f.broker->script.connack_code = 5;
  f.run_for(6 * kSec);
  CHECK(!f.seen.refusals.empty());
  f.broker->script.connack_code = 0;
  f.broker->script.answer_connect = false;
  f.run_for(6 * kSec);
  CHECK_EQUAL(2u, f.seen.unanswered.size());
  CHECK(f.client.stats().sessions == 0);
}

// A broker URL that points at an HTTP server (influxd's 8086 for 1883):
// its "HTTP/1.1 400" ends each connection as kErrHttpServer, and such
// connections do not count towards the "a TLS port?" question.
TEST(MqttClient, an_http_answer_is_said_to_be_one_and_not_taken_for_tls) {
  Fixture f;
  f.cc.report_after_closes = 3;
  f.broker->script.answer_connect = false;
  f.broker->up();
  f.start();
  for (int i = 0; i < 4; ++i) {
    // The server answers at once: each connection, after a back-off of at
    // most 1 s.
    for (int t = 0; t < 110 && !(f.broker->connected() && f.client.link().up()); ++t) {
      f.run_for(10 * kMs);
    }
    CHECK(f.broker->connected());
    f.broker->send_raw("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    f.run_for(10 * kMs);
    CHECK(!f.client.link().up());
  }
  CHECK_EQUAL(1u, f.seen.downs.size());  // one per outage
  CHECK_EQUAL(app::kErrHttpServer, f.seen.downs[0]);
  CHECK(f.client.link().stats().http >= 4);
  CHECK(f.seen.unanswered.empty());
}

TEST(MqttClient, a_duplicate_puback_acknowledges_once) {
  Fixture f;
  f.broker->up();
  f.start();
  f.run_for(100 * kMs);
  f.broker->script.dup_pubacks = 1;
  CHECK_EQUAL(0, f.client.publish1("t", "rec", 3, false, 9));
  f.run_for(100 * kMs);
  CHECK_EQUAL(1u, f.seen.acked.size());
  CHECK_EQUAL(1u, f.client.stats().unknown_acks);
  CHECK(f.client.up());
}

TEST(MqttClient, a_broker_that_closes_mid_packet_is_a_reconnect) {
  Fixture f;
  f.broker->up();
  f.start();
  f.run_for(100 * kMs);
  f.broker->send_raw(std::string("\x40\x02\x00", 3));  // half a PUBACK
  f.broker->close_client();
  f.run_for(3 * kSec);
  CHECK(f.client.up());
  CHECK_EQUAL(0u, f.client.stats().protocol_errors);
  CHECK_EQUAL(2, f.broker->connects);
}

TEST(MqttClient, malformed_and_oversized_packets_are_counted_and_dropped) {
  Fixture f;
  f.broker->up();
  f.start();
  f.run_for(100 * kMs);
  f.broker->send_raw(std::string("\x36\x05\x00\x01t\x00\x01", 7));  // QoS 3
  f.run_for(3 * kSec);
  CHECK_EQUAL(1u, f.client.stats().protocol_errors);
  CHECK(f.client.up());
  f.broker->send_raw(std::string("\x30\xff\x7f", 3));  // 16 KiB announced
  f.run_for(3 * kSec);
  CHECK_EQUAL(1u, f.client.stats().oversized);
  CHECK(f.client.up());
  CHECK_EQUAL(3, f.broker->connects);
}

TEST(MqttClient, an_unanswered_ping_drops_the_link) {
  Fixture f;
  f.broker->up();
  f.start();
  f.run_for(100 * kMs);
  f.broker->script.answer_pings = false;
  // Ticks every 5 s: the CONNECT counts for the first, a ping at 10 s, no
  // answer by the tick at 15 s.
  f.run_for(16 * kSec);
  CHECK(f.client.stats().ping_timeouts >= 1);
  CHECK(f.broker->pings >= 1);
  CHECK(f.broker->connects >= 2);
}

void publish_every_second(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  (void)static_cast<mqtt::Client*>(ctx)->publish0("evl/board-7/heartbeat", "HB", 2, false);
}

// A client that only publishes QoS 0 (heartbeat) hears nothing from its
// broker: without a ping it never learnt that a hung broker (its kernel
// acknowledging for it) stopped answering.
TEST(MqttClient, an_unanswered_ping_drops_the_link_while_the_client_publishes) {
  Fixture f;
  f.broker->up();
  f.start();
  evl::TimerSpec every;
  every.period_ns = kSec;
  evl::TimerHandle t;
  CHECK_EQUAL(0, f.loop->timer_start(every, publish_every_second, &f.client, &t));
  f.run_for(30 * kSec);
  CHECK(f.broker->published.size() >= 29);
  CHECK(f.broker->pings >= 1);  // sent beside the publishes, answered
  CHECK_EQUAL(0u, f.client.stats().ping_timeouts);
  CHECK_EQUAL(1, f.broker->connects);
  f.broker->script.answer_pings = false;
  f.run_for(11 * kSec);  // a ping at a tick, no answer by the next (ticks every 5 s)
  CHECK_EQUAL(1u, f.client.stats().ping_timeouts);
  CHECK(f.broker->connects >= 2);
}

// delivered_ns(): what the broker took within a session; connections whose
// CONNECT is never answered do not move it.
TEST(MqttClient, delivered_counts_only_within_a_session) {
  Fixture f;
  f.broker->up();
  f.start();
  CHECK_EQUAL(0, f.client.delivered_ns());
  f.run_for(3 * kSec);
  const int64_t in_session = f.client.delivered_ns();
  CHECK(in_session > 0);
  f.broker->script.answer_connect = false;
  f.broker->close_client();
  const int64_t closed_ns = f.k.monotonic_ns();
  f.run_for(20 * kSec);  // connections accepted, CONNECT taken by TCP, never answered
  CHECK(f.client.stats().connack_timeouts >= 2);
  CHECK(f.client.link().delivered_ns() > closed_ns);  // the link saw its bytes taken
  CHECK(f.client.delivered_ns() >= in_session);
  CHECK(f.client.delivered_ns() <= closed_ns);
  f.broker->script.answer_connect = true;
  f.run_for(5 * kSec);
  CHECK(f.client.up());
  CHECK(f.client.delivered_ns() > in_session + 20 * kSec);
}

TEST(MqttClient, pings_keep_an_idle_session_up) {
  Fixture f;
  f.broker->up();
  f.start();
  f.run_for(60 * kSec);
  CHECK(f.broker->pings >= 5);
  CHECK_EQUAL(0u, f.client.stats().ping_timeouts);
  CHECK_EQUAL(1, f.broker->connects);
}

TEST(MqttClient, no_connack_is_a_timeout) {
  Fixture f;
  f.broker->script.answer_connect = false;
  f.broker->up();
  f.start();
  f.run_for(2500 * kMs);
  CHECK_EQUAL(1u, f.client.stats().connack_timeouts);
  CHECK_FALSE(f.client.up());
}

TEST(MqttClient, publishes_from_the_broker_are_delivered_and_qos1_acknowledged) {
  Fixture f;
  f.broker->up();
  f.start();
  f.run_for(100 * kMs);
  f.broker->publish("evl/board-7/cmd", "ping", 1);
  f.run_for(100 * kMs);
  CHECK_EQUAL(1u, f.seen.messages.size());
  STRCMP_EQUAL("evl/board-7/cmd ping", f.seen.messages[0].c_str());
  CHECK_EQUAL(1u, f.client.stats().received);
}

TEST(MqttClient, qos1_publishes_wait_through_an_outage_in_order) {
  Fixture f;
  f.start();  // no broker yet
  f.run_for(kSec);
  CHECK_EQUAL(0, f.client.publish1("t", "a", 1, false, 1));
  CHECK_EQUAL(0, f.client.publish1("t", "b", 1, false, 2));
  CHECK_EQUAL(-ENOTCONN, f.client.publish0("t", "c", 1, false));
  f.broker->up();
  f.run_for(3 * kSec);
  CHECK(f.client.up());
  CHECK_EQUAL(2u, f.broker->published.size());
  STRCMP_EQUAL("a", f.broker->published[0].payload.c_str());
  STRCMP_EQUAL("b", f.broker->published[1].payload.c_str());
  CHECK_EQUAL(2u, f.seen.acked.size());
  CHECK_EQUAL(0u, f.client.stats().resent);  // never sent before: no DUP
}

TEST(MqttClient, the_inflight_window_is_fixed) {
  Fixture f;
  f.start();
  for (uint32_t i = 0; i < mqtt::Client::kMaxInflight; ++i) {
    CHECK_EQUAL(0, f.client.publish1("t", "x", 1, false, i));
  }
  CHECK_EQUAL(-ENOSPC, f.client.publish1("t", "x", 1, false, 99));
  f.client.stop();
}

TEST(MqttClient, stop_sends_disconnect_so_the_will_does_not_fire) {
  Fixture f;
  f.broker->up();
  f.start();
  f.run_for(100 * kMs);
  f.client.stop();
  f.run_for(100 * kMs);
  CHECK_EQUAL(1, f.broker->disconnects);
  CHECK_EQUAL(0, f.broker->wills);
}

TEST(MqttClient, an_abrupt_loss_fires_the_will) {
  Fixture f;
  f.broker->up();
  f.start();
  f.run_for(100 * kMs);
  f.broker->close_client();
  CHECK_EQUAL(1, f.broker->wills);
  STRCMP_EQUAL("offline", f.broker->retained["evl/board-7/status"].c_str());
}

// Found against mosquitto: a second connection loss within one outage (no
// down event: the link reports one per outage) left the session marked up,
// and the next CONNACK was taken for a protocol error, for ever.
TEST(MqttClient, every_connection_loss_ends_the_session_not_only_the_first_of_an_outage) {
  Fixture f;
  f.broker->up();
  f.start();
  f.run_for(100 * kMs);
  for (int i = 0; i < 3; ++i) {
    f.broker->close_client();  // before the link could prove it delivers
    f.run_for(2 * kSec);
    CHECK(f.client.up());
  }
  CHECK_EQUAL(0u, f.client.stats().protocol_errors);
  CHECK_EQUAL(4u, f.client.stats().sessions);
}

// A packet of the QoS 2 flow (PUBREC), which this client never starts: a
// broker that sends it is broken; the connection is dropped and made again.
TEST(MqttClient, a_packet_the_client_never_asked_for_is_a_protocol_error) {
  Fixture f;
  f.broker->up();
  f.start();
  f.run_for(100 * kMs);
  f.broker->send_raw(std::string("\x50\x02\x00\x01", 4));
  f.run_for(3 * kSec);
  CHECK_EQUAL(1u, f.client.stats().protocol_errors);
  CHECK(f.client.up());
  CHECK_EQUAL(2, f.broker->connects);
}

// --id, --topic-prefix and the credentials: what cannot make a client id, a
// topic level or a login is one clear error.
TEST(MqttClient, settings_that_cannot_make_a_session_are_one_clear_error) {
  fake::Kernel k;
  mqtt::Settings s;
  mqtt::ClientConfig c;
  char err[160] = {};
  CHECK_EQUAL(0, mqtt::client_config(s, "board-7", &c, err, sizeof err));
  STRCMP_EQUAL("evl/board-7/status", c.will_topic);
  CHECK_EQUAL(-EINVAL, mqtt::client_config(s, "board/7", &c, err, sizeof err));
  STRCMP_EQUAL("--id 'board/7' cannot be an MQTT client id and topic level", err);
  std::snprintf(s.topic_prefix, sizeof s.topic_prefix, "evl/#");
  CHECK_EQUAL(-EINVAL, mqtt::client_config(s, "board-7", &c, err, sizeof err));
  STRCMP_EQUAL("--topic-prefix 'evl/#' is empty, too long or holds + or #", err);
  s = mqtt::Settings{};
  std::snprintf(s.password_file, sizeof s.password_file, "/etc/evl/mqtt-pw");
  CHECK_EQUAL(-EINVAL, mqtt::client_config(s, "board-7", &c, err, sizeof err));
  STRCMP_EQUAL("--mqtt-password-file needs --mqtt-user", err);
  std::snprintf(s.user, sizeof s.user, "board");
  CHECK_EQUAL(-EINVAL, mqtt::client_config(s, "board-7", &c, err, sizeof err));
  STRCMP_CONTAINS("password file /etc/evl/mqtt-pw", err);  // missing
  k.add_regular_path("/etc/evl/mqtt-pw", "hunter2\n");
  CHECK_EQUAL(0, mqtt::client_config(s, "board-7", &c, err, sizeof err));
  STRCMP_EQUAL("board", c.user);
  STRCMP_EQUAL("hunter2", c.password);
}

// Snapshots (apps/common/snapshot.h): the session, the message in flight and
// the packet ids go into another client with the connection (as a replay
// restores a recorded session into a client its start built; here the
// connection is kept open across the first client's drop by a dup).
TEST(MqttClient, a_restored_session_goes_on_with_its_message_in_flight_and_its_ids) {
  Fixture f;
  f.broker->up();
  f.start();
  f.run_for(100 * kMs);
  CHECK(f.client.up());
  f.broker->script.drop_pubacks = 1;
  CHECK_EQUAL(0, f.client.publish1("evl/board-7/telemetry", "a=1", 3, false, 7));
  f.run_for(50 * kMs);
  CHECK_EQUAL(1u, f.client.inflight());
  // The other client, started towards a port nobody serves, then dropped.
  mqtt::Client other;
  Seen seen;
  app::Url url;
  CHECK_EQUAL(0, app::parse_url("mqtt://127.0.0.1:1884", &url));
  mqtt::ClientEvents ev;
  ev.acked = on_acked;
  ev.down = on_down;
  ev.ctx = &seen;
  CHECK_EQUAL(0, other.start(*f.loop, url, f.lc, f.cc, ev));
  other.drop();
  static uint8_t bytes[64 * 1024];
  const size_t size = testsnap::move_by_snapshot(
      *f.loop, f.client, other, [&f](flight::SnapWriter& w) { f.client.save(w); }, bytes,
      sizeof bytes);
  CHECK(other.up());
  CHECK_EQUAL(1u, other.inflight());
  CHECK_EQUAL(1u, other.stats().published1);
  CHECK_EQUAL(1u, other.stats().sessions);
  CHECK_EQUAL(0, other.publish1("evl/board-7/telemetry", "b=2", 3, false, 8));
  f.run_for(25 * kSec);  // keepalive pings go on, answered
  CHECK(seen.downs.empty());
  CHECK_EQUAL(2u, f.broker->published.size());
  CHECK_EQUAL(f.broker->published[0].id + 1, f.broker->published[1].id);
  CHECK_EQUAL(1u, seen.acked.size());
  CHECK_EQUAL(8u, seen.acked[0]);
  CHECK_EQUAL(1u, other.inflight());  // the first waits for the next session
  other.stop();
  // A snapshot cut short is refused.
  flight::SnapReader cut(bytes, size - 10);
  app::Restore r2(*f.loop, cut);
  mqtt::Client third;
  third.restore(r2);
  CHECK_EQUAL(-EINVAL, r2.finish());
}
