// Both daemons over MQTT on the fake kernel, against the scripted broker,
// for hours of virtual time through broker outages and lost PUBACKs.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "CppUTest/TestHarness.h"
#include "apps/heartbeat/heartbeat.h"
#include "apps/sensor_sim/sim.h"
#include "apps/telemetry/telemetry.h"
#include "loop/static_loop.h"
#include "test/apps/mqtt_broker.h"
#include "test/fake/kernel.h"
#include "test/fake/serial.h"

using evl::kMs;
using evl::kSec;

namespace {

using TestLoop = evl::StaticLoop<16, 32, 4, 1, 4>;

struct Sensor {
  fake::SerialDevice* dev;
  sim::SentenceSource* source;
  int64_t t = 0;
};

void on_sensor(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  auto* s = static_cast<Sensor*>(ctx);
  char buf[1024];
  s->dev->emit(std::string(buf, s->source->report(s->t++, buf, sizeof buf)));
}

// Every `every` seconds the broker goes down for `for_s`, and while up it
// loses one PUBACK in five (the connection then dies with it).
struct Weather {
  testmqtt::Broker* broker;
  int64_t every_s;
  int64_t for_s;
  int outages = 0;
  bool down = false;
};

void on_weather(evl::Loop& loop, evl::TimerHandle h, uint32_t, void* ctx) {
  auto* w = static_cast<Weather*>(ctx);
  if (w->down) {
    w->broker->up();
    w->down = false;
    CHECK_EQUAL(0, loop.timer_restart(h, w->every_s * kSec));
    return;
  }
  w->broker->down();
  w->down = true;
  ++w->outages;
  CHECK_EQUAL(0, loop.timer_restart(h, w->for_s * kSec));
}

void lose_a_puback(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  auto* b = static_cast<testmqtt::Broker*>(ctx);
  if (!b->connected()) return;
  b->script.drop_pubacks = 1;
  b->script.close_after_next_publish = false;
}

void close_after_lost_ack(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  auto* b = static_cast<testmqtt::Broker*>(ctx);
  if (b->script.drop_pubacks == 0 && b->connected()) b->close_client();  // the ack was lost
}

void on_end(evl::Loop& loop, evl::TimerHandle, uint32_t, void*) { loop.stop(); }

// telemetry reading /dev/ttyS1 (fed one sensor report a second) towards the
// scripted broker at 127.0.0.1:1883, as board-7, its errors logged.
struct MqttTelemetry {
  app::Log log{"telemetry"};
  std::unique_ptr<telemetry::App> app;
  sim::SimConfig sc;
  sim::SentenceSource source{sc};
  Sensor sensor;
  evl::TimerHandle sensor_timer;
  MqttTelemetry(fake::SerialDevice& dev, evl::Loop& loop, telemetry::Config cfg)
      : sensor{&dev, &source} {
    std::snprintf(cfg.serial, sizeof cfg.serial, "/dev/ttyS1");
    std::snprintf(cfg.collector, sizeof cfg.collector, "mqtt://127.0.0.1:1883");
    std::snprintf(cfg.id, sizeof cfg.id, "board-7");
    log.set_level(app::Level::kError);
    app.reset(new telemetry::App(cfg, &log));
    char err[256] = {};
    CHECK_EQUAL(0, app->start(loop, err, sizeof err));
    evl::TimerSpec every_second;
    every_second.period_ns = kSec;
    CHECK_EQUAL(0, loop.timer_start(every_second, on_sensor, &sensor, &sensor_timer));
  }
};

}  // namespace

TEST_GROUP(MqttE2e){};

TEST(MqttE2e, telemetry_over_mqtt_for_six_hours_of_outages_and_lost_acks_counts_every_record_once) {
  fake::Kernel k;
  fake::SerialDevice& dev = k.add_serial("/dev/ttyS1");
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  testmqtt::Broker broker(loop.get(), "127.0.0.1:1883");
  broker.up();
  telemetry::Config cfg;
  cfg.buffer_records = 1024;
  cfg.link.backoff_max_ms = 5000;
  MqttTelemetry t(dev, *loop, cfg);
  std::unique_ptr<telemetry::App>& app = t.app;
  evl::TimerSpec every_minute;
  every_minute.period_ns = 60 * kSec;
  evl::TimerSpec after_minute;
  after_minute.period_ns = 60 * kSec;
  after_minute.deadline_ns = k.monotonic_ns() + 61 * kSec;
  evl::TimerHandle weather_timer, lose, closer, end;
  Weather weather{&broker, 1800, 600};  // every 30 min, 10 min without a broker
  CHECK_EQUAL(0, loop->timer_after(1800 * kSec, on_weather, &weather, &weather_timer));
  CHECK_EQUAL(0, loop->timer_start(every_minute, lose_a_puback, &broker, &lose));
  CHECK_EQUAL(0, loop->timer_start(after_minute, close_after_lost_ack, &broker, &closer));
  CHECK_EQUAL(0, loop->timer_after(6 * 3600 * kSec, on_end, nullptr, &end));
  CHECK_EQUAL(0, loop->run());
  const telemetry::Store& st = app->store();
  const size_t in_flight_at_end = st.in_flight();
  app->stop();
  CHECK_EQUAL(st.accepted(), st.delivered() + st.dropped() + st.size());
  CHECK_EQUAL(9, weather.outages);        // one per 40 min
  CHECK(st.dropped() > 0);                // 10 min at 3 records a second is 1800 > 1024 buffered
  CHECK(app->mqtt().stats().resent > 0);  // lost PUBACKs were resent...
  CHECK_EQUAL(0u, app->mqtt().stats().unknown_acks);
  // Every record in exactly one first (non-DUP) PUBLISH: the client never
  // delivers a record twice; resends carry DUP.
  std::map<std::string, int> first_sends;
  std::set<std::string> received;
  for (const testmqtt::Message& m : broker.published) {
    if (m.topic != "evl/board-7/telemetry") continue;
    CHECK_EQUAL(1, m.qos);
    size_t pos = 0, nl;
    while ((nl = m.payload.find('\n', pos)) != std::string::npos) {
      const std::string line = m.payload.substr(pos, nl - pos);
      received.insert(line);
      if (!m.dup) ++first_sends[line];
      pos = nl + 1;
    }
  }
  for (const auto& e : first_sends) CHECK_EQUAL(1, e.second);
  // Delivered means the broker has it: all of them arrived, and at most the
  // batch still in flight at the end arrived without being counted.
  CHECK(received.size() >= st.delivered());
  CHECK(received.size() <= st.delivered() + in_flight_at_end);
  STRCMP_EQUAL("offline", broker.retained["evl/board-7/status"].c_str());  // a clean stop says so
  CHECK_TEXT(broker.ok(), broker.failure().c_str());
}

// A broker that closes the connection on a message over its size limit
// (mosquitto's max_packet_size; it logs only "disconnected due to oversize
// packet"): telemetry resends the batch at each connection, as MQTT
// requires, and says once, as an error, what is wrong and what to change;
// the records wait in the store.
TEST(MqttE2e, telemetry_says_why_a_broker_that_closes_on_large_messages_gets_nothing) {
  fake::Kernel k;
  fake::SerialDevice& dev = k.add_serial("/dev/ttyS1");
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  testmqtt::Broker broker(loop.get(), "127.0.0.1:1883");
  broker.script.max_body = 900;
  broker.up();
  telemetry::Config cfg;
  cfg.batch_max = 20;
  cfg.batch_delay_ms = 10000;
  cfg.link.backoff_initial_ms = 100;
  cfg.link.backoff_max_ms = 1000;
  MqttTelemetry t(dev, *loop, cfg);
  std::unique_ptr<telemetry::App>& app = t.app;
  evl::TimerHandle end;
  CHECK_EQUAL(0, loop->timer_after(120 * kSec, on_end, nullptr, &end));
  CHECK_EQUAL(0, loop->run());
  const telemetry::Store& st = app->store();
  CHECK(broker.oversize_closes > 10);
  CHECK_EQUAL(0u, st.delivered());
  CHECK_EQUAL(0u, st.dropped());
  CHECK_EQUAL(st.accepted(), st.size());
  const std::string said = k.written(2);
  STRCMP_CONTAINS(
      "telemetry: error: broker mqtt://127.0.0.1:1883 closed the connection 3 times in a row "
      "with a batch of 20 records",
      said.c_str());
  STRCMP_CONTAINS("a smaller --batch-max makes smaller messages\n", said.c_str());
  CHECK_EQUAL(1, static_cast<int>(std::count(said.begin(), said.end(), '\n')));  // once
  app->stop();
  CHECK_TEXT(broker.ok(), broker.failure().c_str());
}

TEST(MqttE2e, heartbeat_over_mqtt_beats_reports_status_and_publishes_the_alarm_once_back) {
  fake::Kernel k;
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  testmqtt::Broker broker(loop.get(), "127.0.0.1:1883");
  broker.up();
  heartbeat::Config cfg;
  std::snprintf(cfg.server, sizeof cfg.server, "mqtt://127.0.0.1:1883");
  std::snprintf(cfg.id, sizeof cfg.id, "board-7");
  cfg.alarm_after_ms = 5000;
  cfg.link.backoff_max_ms = 2000;
  app::Log log("heartbeat");
  log.set_level(app::Level::kError);
  heartbeat::App hb(cfg, &log);
  char err[256] = {};
  CHECK_EQUAL(0, hb.start(*loop, err, sizeof err));
  Weather weather{&broker, 100, 20};  // up 100 s, down 20 s (> the 5 s alarm)
  evl::TimerHandle weather_timer, end;
  CHECK_EQUAL(0, loop->timer_after(60 * kSec, on_weather, &weather, &weather_timer));
  CHECK_EQUAL(0, loop->timer_after(170 * kSec, on_end, nullptr, &end));  // the broker is up
  CHECK_EQUAL(0, loop->run());
  // The will fired when the broker lost us, "online" came back after.
  STRCMP_EQUAL("online", broker.retained["evl/board-7/status"].c_str());
  CHECK_EQUAL(1, broker.wills);
  int beats = 0;
  std::string alarms;
  for (const testmqtt::Message& m : broker.published) {
    if (m.topic == "evl/board-7/heartbeat") {
      ++beats;
      CHECK_EQUAL(0, m.qos);
      CHECK(m.payload.compare(0, 17, "HB id=board-7 seq") == 0);
    }
    if (m.topic == "evl/board-7/alarm") {
      CHECK(m.retain);
      CHECK_EQUAL(1, m.qos);
      alarms += m.payload + ";";
    }
  }
  CHECK(beats >= 140);                           // 170 s less the 20 s outage and the reconnect
  STRCMP_EQUAL("raise;clear;", alarms.c_str());  // both sent once the broker was back
  CHECK_EQUAL(1u, hb.counters().alarms_raised);
  CHECK_EQUAL(1u, hb.counters().alarms_cleared);
  // The command topic: a ping is answered.
  broker.publish("evl/board-7/cmd", "ping", 1);
  CHECK(loop->run_once(0) >= 0);
  bool pong = false;
  for (const testmqtt::Message& m : broker.published) pong = pong || m.topic == "evl/board-7/pong";
  CHECK(pong);
  hb.stop();
  CHECK_TEXT(broker.ok(), broker.failure().c_str());
}

// A broker that accepts connections and never answers CONNECT (a hung
// mosquitto: the kernel accepts and acknowledges for it) delivers no beat:
// the alarm rises. Its TCP took the CONNECT, which made the link look
// delivering, and the alarm counted from that (seen against a SIGSTOPped
// mosquitto: no alarm in 14 s with --alarm-after-ms 3000).
TEST(MqttE2e, heartbeat_raises_the_alarm_against_a_broker_that_never_answers_connect) {
  fake::Kernel k;
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  testmqtt::Broker broker(loop.get(), "127.0.0.1:1883");
  broker.up();
  heartbeat::Config cfg;
  std::snprintf(cfg.server, sizeof cfg.server, "mqtt://127.0.0.1:1883");
  std::snprintf(cfg.id, sizeof cfg.id, "board-7");
  cfg.alarm_after_ms = 20000;
  app::Log log("heartbeat");
  log.set_level(app::Level::kError);
  heartbeat::App hb(cfg, &log);
  char err[256] = {};
  CHECK_EQUAL(0, hb.start(*loop, err, sizeof err));
  evl::TimerHandle end;
  // 30 s of a working session first, then the broker hangs: its next
  // sessions are accepted and never answered.
  CHECK_EQUAL(0, loop->timer_after(30 * kSec, on_end, nullptr, &end));
  CHECK_EQUAL(0, loop->run());
  CHECK(hb.mqtt().up());
  CHECK_EQUAL(0u, hb.counters().alarms_raised);
  broker.script.answer_connect = false;
  broker.close_client();
  CHECK_EQUAL(0, loop->timer_after(19 * kSec, on_end, nullptr, &end));
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(0u, hb.counters().alarms_raised);  // not yet: 19 s without a beat
  CHECK_EQUAL(0, loop->timer_after(2 * kSec, on_end, nullptr, &end));
  CHECK_EQUAL(0, loop->run());
  CHECK(broker.connects >= 3);  // it went on accepting
  CHECK(!hb.mqtt().up());
  CHECK_EQUAL(1u, hb.counters().alarms_raised);
  // The broker answers again: the first beat of a session clears it.
  broker.script.answer_connect = true;
  CHECK_EQUAL(0, loop->timer_after(30 * kSec, on_end, nullptr, &end));
  CHECK_EQUAL(0, loop->run());
  CHECK(hb.mqtt().up());
  CHECK_EQUAL(1u, hb.counters().alarms_cleared);
  hb.stop();
  CHECK_TEXT(broker.ok(), broker.failure().c_str());
}

TEST(MqttE2e, bad_credentials_are_one_line_and_a_retry_not_a_crash) {
  fake::Kernel k;
  k.add_regular_path("/etc/evl/mqtt-password", "s3cret\n");
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  testmqtt::Broker broker(loop.get(), "127.0.0.1:1883");
  broker.script.connack_code = 4;
  broker.up();
  heartbeat::Config cfg;
  std::snprintf(cfg.server, sizeof cfg.server, "mqtt://127.0.0.1:1883");
  std::snprintf(cfg.mqtt.user, sizeof cfg.mqtt.user, "board");
  std::snprintf(cfg.mqtt.password_file, sizeof cfg.mqtt.password_file, "/etc/evl/mqtt-password");
  app::Log log("heartbeat");
  heartbeat::App hb(cfg, &log);
  char err[256] = {};
  CHECK_EQUAL(0, hb.start(*loop, err, sizeof err));
  evl::TimerHandle end;
  CHECK_EQUAL(0, loop->timer_after(10 * kSec, on_end, nullptr, &end));
  CHECK_EQUAL(0, loop->run());
  STRCMP_EQUAL("board", broker.user.c_str());
  STRCMP_EQUAL("s3cret", broker.password.c_str());  // the line end is not part of it
  CHECK(hb.mqtt().stats().refusals >= 2);
  hb.stop();
  heartbeat::Config bad = cfg;
  std::snprintf(bad.mqtt.password_file, sizeof bad.mqtt.password_file, "/etc/evl/missing");
  heartbeat::App hb2(bad, &log);
  CHECK_EQUAL(-EINVAL, hb2.start(*loop, err, sizeof err));
  STRCMP_EQUAL("cannot open password file /etc/evl/missing: No such file or directory", err);
}

namespace {

void run_for(evl::Loop& loop, int64_t ns) {
  evl::TimerHandle end;
  CHECK_EQUAL(0, loop.timer_after(ns, on_end, nullptr, &end));
  CHECK_EQUAL(0, loop.run());
}

}  // namespace

// telemetry's side of what heartbeat's tests show: a broker that refuses
// it is said and retried; a broker that keeps ending its
// sessions (another board with its client id) is said with the likely
// cause; a ping on its command topic is answered.
TEST(MqttE2e, telemetry_says_refusals_and_a_shared_client_id_and_answers_a_ping) {
  fake::Kernel k;
  fake::SerialDevice& dev = k.add_serial("/dev/ttyS1");
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  testmqtt::Broker broker(loop.get(), "127.0.0.1:1883");
  broker.script.connack_code = 5;
  broker.up();
  telemetry::Config cfg;
  cfg.link.backoff_initial_ms = 100;
  cfg.link.backoff_max_ms = 1000;
  MqttTelemetry t(dev, *loop, cfg);
  run_for(*loop, 5 * kSec);
  CHECK(broker.connects >= 2);
  STRCMP_CONTAINS(
      "telemetry: error: broker mqtt://127.0.0.1:1883 refused the connection: not authorized; "
      "retrying\n",
      k.written(2).c_str());
  CHECK_EQUAL(0u, t.app->store().delivered());
  broker.script.connack_code = 0;
  broker.script.refuse_subscriptions = true;
  run_for(*loop, 3 * kSec);
  CHECK(broker.connected());
  STRCMP_CONTAINS(
      "telemetry: error: broker mqtt://127.0.0.1:1883 refused the subscription to "
      "evl/board-7/cmd (its access rules?)",
      k.written(2).c_str());
  const size_t before = k.written(2).size();
  for (int i = 0; i < 3; ++i) {
    run_for(*loop, 1 * kSec);
    CHECK(broker.connected());
    broker.close_client();
    run_for(*loop, 10 * kMs);
  }
  STRCMP_CONTAINS(
      "telemetry: error: broker mqtt://127.0.0.1:1883 ended 3 sessions in a row soon after "
      "accepting them: is another client connecting with the client id 'board-7'?",
      k.written(2).substr(before).c_str());
  run_for(*loop, 2 * kSec);
  // A retained "ping" (as a broker sends one kept from a `-r` publish, at
  // each subscription) is not a command: said, not answered.
  t.log.set_level(app::Level::kWarning);
  broker.publish("evl/board-7/cmd", "ping", 1, true);
  run_for(*loop, 1 * kSec);
  STRCMP_CONTAINS(
      "telemetry: warning: a retained message on evl/board-7/cmd ignored: a command is not kept "
      "for later (publish it without retain; an empty retained message clears it)\n",
      k.written(2).c_str());
  broker.publish("evl/board-7/cmd", "ping", 1);
  run_for(*loop, 1 * kSec);
  int pongs = 0;
  for (const testmqtt::Message& m : broker.published) pongs += m.topic == "evl/board-7/pong";
  CHECK_EQUAL(1, pongs);
  CHECK(t.app->store().delivered() > 0);
  t.app->stop();
  CHECK_TEXT(broker.ok(), broker.failure().c_str());
}

// A broker whose access rules refuse the command topic (SUBACK 0x80:
// EMQX, HiveMQ; mosquitto grants and then delivers nothing) is said once,
// not at every reconnect, and again after a session that granted it.
TEST(MqttE2e, a_refused_command_subscription_is_said_once_per_refusal_row) {
  fake::Kernel k;
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  testmqtt::Broker broker(loop.get(), "127.0.0.1:1883");
  broker.script.refuse_subscriptions = true;
  broker.up();
  heartbeat::Config cfg;
  std::snprintf(cfg.server, sizeof cfg.server, "mqtt://127.0.0.1:1883");
  std::snprintf(cfg.id, sizeof cfg.id, "board-7");
  cfg.link.backoff_initial_ms = 100;
  cfg.link.backoff_max_ms = 200;
  app::Log log("heartbeat");
  heartbeat::App hb(cfg, &log);
  char err[256] = {};
  CHECK_EQUAL(0, hb.start(*loop, err, sizeof err));
  const std::string line =
      "heartbeat: error: broker mqtt://127.0.0.1:1883 refused the subscription to "
      "evl/board-7/cmd (its access rules?): commands sent there (ping) will not reach this board\n";
  auto said = [&] {
    const std::string all = k.written(2);
    size_t n = 0;
    for (size_t at = all.find(line); at != std::string::npos; at = all.find(line, at + 1)) ++n;
    return n;
  };
  run_for(*loop, 2 * kSec);
  CHECK_EQUAL(1u, said());
  for (int i = 0; i < 3; ++i) {  // reconnects: refused again, not said again
    broker.close_client();
    run_for(*loop, 1 * kSec);
  }
  CHECK(hb.mqtt().stats().sub_refusals >= 4);
  CHECK_EQUAL(1u, said());
  broker.script.refuse_subscriptions = false;  // granted: the next refusal is news
  broker.close_client();
  run_for(*loop, 1 * kSec);
  broker.script.refuse_subscriptions = true;
  broker.close_client();
  run_for(*loop, 1 * kSec);
  CHECK_EQUAL(2u, said());
  hb.stop();
  CHECK_TEXT(broker.ok(), broker.failure().c_str());
}
