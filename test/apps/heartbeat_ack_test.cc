// heartbeat and servers that answer beats with ACK lines (tcp and udp) on
// the fake kernel: the round trips, and a server that stops answering
// while its kernel still takes the beats (a hung process) raising the alarm.
#include <cstdio>
#include <memory>

#include "CppUTest/TestHarness.h"
#include "apps/heartbeat/heartbeat.h"
#include "hal/socket.h"
#include "loop/static_loop.h"
#include "test/apps/hb_server.h"
#include "test/fake/kernel.h"

namespace {

using evl::kMs;
using evl::kSec;

using TestLoop = evl::StaticLoop<16, 32, 4, 1, 4>;

using testhb::on_udp_beat;
using testhb::Server;
using testhb::server_down;
using testhb::server_up;
using testhb::UdpAcker;

void on_end(evl::Loop& loop, evl::TimerHandle, uint32_t, void*) { loop.stop(); }

}  // namespace

TEST_GROUP(HeartbeatAcks){};

// A server that answers beats with ACK lines and then stops answering
// while its kernel still takes them (a hung server process: the connection
// stays up, TCP acknowledges every beat) raises the alarm: once a server
// acknowledged a beat on a connection, its ACK lines are what "delivered"
// means there. Before, the alarm waited for the receive window to fill
// (minutes of beats) and the stall timeout after it.
TEST(HeartbeatAcks, a_server_that_stops_acknowledging_beats_raises_the_alarm) {
  fake::Kernel k;
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  Server server;
  server.loop = loop.get();
  CHECK_EQUAL(0, hal::parse_address("127.0.0.1:9000", &server.at));
  server_up(&server);
  heartbeat::Config cfg;
  std::snprintf(cfg.server, sizeof cfg.server, "tcp://127.0.0.1:9000");
  std::snprintf(cfg.id, sizeof cfg.id, "board-7");
  cfg.alarm_after_ms = 5000;
  app::Log log("heartbeat");
  heartbeat::App hb(cfg, &log);
  char err[256] = {};
  server.start_ns = k.monotonic_ns();
  CHECK_EQUAL(0, hb.start(*loop, err, sizeof err));
  evl::TimerHandle end;
  CHECK_EQUAL(0, loop->timer_after(30 * kSec + 500 * kMs, on_end, nullptr, &end));
  CHECK_EQUAL(0, loop->run());
  CHECK(hb.counters().acks >= 29);
  server.ack = false;  // hung: beats still read (acknowledged by TCP), none answered
  CHECK_EQUAL(0, loop->timer_after(4 * kSec, on_end, nullptr, &end));
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(0u, hb.counters().alarms_raised);
  CHECK_EQUAL(0, loop->timer_after(2 * kSec, on_end, nullptr, &end));
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(1u, hb.counters().alarms_raised);
  CHECK_EQUAL(0u, hb.counters().outages);  // the connection did not go down
  STRCMP_CONTAINS("the server stopped answering them (ACK lines): is it hung?",
                  k.written(2).c_str());
  // Its connection ends (a stall, a restart of the hung process's socket)
  // and the next is taken by its kernel, still unanswered: that new
  // connection's TCP says nothing of the server, and the alarm stays.
  (void)loop->io_close(server.conn);
  server.conn = evl::IoHandle{};
  CHECK_EQUAL(0, loop->timer_after(5 * kSec, on_end, nullptr, &end));
  CHECK_EQUAL(0, loop->run());
  CHECK(hb.link().stats().connects >= 2);
  CHECK_EQUAL(0u, hb.counters().alarms_cleared);
  CHECK(hb.alarm_raised());
  server.ack = true;  // back: the next beat's ACK clears it
  CHECK_EQUAL(0, loop->timer_after(3 * kSec, on_end, nullptr, &end));
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(1u, hb.counters().alarms_cleared);
  // A server that never answers is believed by its TCP: no alarm.
  hb.stop();
  server_down(&server);
  Server quiet;
  quiet.loop = loop.get();
  quiet.ack = false;
  CHECK_EQUAL(0, hal::parse_address("127.0.0.1:9001", &quiet.at));
  server_up(&quiet);
  std::snprintf(cfg.server, sizeof cfg.server, "tcp://127.0.0.1:9001");
  heartbeat::App hb2(cfg, &log);
  quiet.start_ns = k.monotonic_ns();
  CHECK_EQUAL(0, hb2.start(*loop, err, sizeof err));
  CHECK_EQUAL(0, loop->timer_after(60 * kSec, on_end, nullptr, &end));
  CHECK_EQUAL(0, loop->run());
  CHECK(quiet.received >= 59);
  CHECK_EQUAL(0u, hb2.counters().alarms_raised);
  hb2.stop();
}

TEST(HeartbeatAcks, udp_acks_are_counted_and_a_server_that_stops_them_raises_the_alarm) {
  fake::Kernel k;
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  UdpAcker u;
  hal::SockAddr at;
  CHECK_EQUAL(0, hal::parse_address("127.0.0.1:9031", &at));
  CHECK_EQUAL(0, hal::dgram_bind(at, &u.fd));
  evl::IoHandle watch;
  CHECK_EQUAL(0, loop->io_start(u.fd, evl::kIn, on_udp_beat, &u, &watch));
  heartbeat::Config cfg;
  std::snprintf(cfg.server, sizeof cfg.server, "udp://127.0.0.1:9031");
  std::snprintf(cfg.id, sizeof cfg.id, "board-7");
  cfg.period_ms = 100;
  cfg.alarm_after_ms = 1000;
  app::Log log("heartbeat");
  heartbeat::App hb(cfg, &log);
  char err[256] = {};
  CHECK_EQUAL(0, hb.start(*loop, err, sizeof err));
  evl::TimerHandle end;
  CHECK_EQUAL(0, loop->timer_after(2050 * kMs, on_end, nullptr, &end));
  CHECK_EQUAL(0, loop->run());
  CHECK(u.beats >= 19);
  CHECK_EQUAL(static_cast<uint64_t>(u.beats), hb.counters().acks);
  CHECK(hb.counters().rtt_us_last >= 0);
  CHECK(hb.counters().rtt_us_max >= hb.counters().rtt_us_last);
  // The server hangs: its socket stays bound (no ICMP error ever comes), it
  // reads and answers nothing. Its ACKs were all that said it got beats.
  CHECK_EQUAL(0, loop->io_stop(watch));
  CHECK_EQUAL(0, loop->timer_after(1500 * kMs, on_end, nullptr, &end));
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(1u, hb.counters().alarms_raised);
  CHECK_EQUAL(0, loop->io_start(u.fd, evl::kIn, on_udp_beat, &u, &watch));
  CHECK_EQUAL(0, loop->timer_after(500 * kMs, on_end, nullptr, &end));
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(1u, hb.counters().alarms_cleared);
  hb.stop();
  (void)loop->io_stop(watch);
  (void)hal::close(u.fd);
}
