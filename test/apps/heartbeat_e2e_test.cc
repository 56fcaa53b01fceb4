// The heartbeat daemon for 24 virtual hours on the fake kernel: a server that
// acknowledges, three outages (10 s, 45 s, 10 min), systemd's watchdog.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "CppUTest/TestHarness.h"
#include "apps/common/snapshot.h"
#include "apps/heartbeat/heartbeat.h"
#include "hal/socket.h"
#include "loop/static_loop.h"
#include "test/apps/hb_server.h"
#include "test/fake/kernel.h"

namespace {

using evl::kMs;
using evl::kSec;

using TestLoop = evl::StaticLoop<16, 32, 4, 1, 4>;

using testhb::on_conn;
using testhb::on_listener;
using testhb::on_outage;
using testhb::Outage;
using testhb::Server;
using testhb::server_down;
using testhb::server_up;

void on_end(evl::Loop& loop, evl::TimerHandle, uint32_t, void*) { loop.stop(); }

struct Notified {
  int ready = 0;
  int pets = 0;
  int stopping = 0;
  int out_of_order = 0;
};

void read_notify(int fd, Notified* n) {
  char msg[64];
  long len;
  while ((len = hal::dgram_recv(fd, msg, sizeof msg - 1, nullptr, nullptr)) > 0) {
    msg[len] = '\0';
    if (std::strcmp(msg, "READY=1") == 0) {
      if (n->ready + n->pets > 0) ++n->out_of_order;  // READY=1 must come first
      ++n->ready;
    }
    if (std::strcmp(msg, "WATCHDOG=1") == 0) ++n->pets;
    if (std::strcmp(msg, "STOPPING=1") == 0) ++n->stopping;
  }
}

void on_notify(evl::Loop& loop, evl::IoHandle h, uint32_t, void* ctx) {
  read_notify(loop.io_fd(h), static_cast<Notified*>(ctx));
}

}  // namespace

TEST_GROUP(HeartbeatE2e){};

// Found by clang-tidy (cert-err34-c): sscanf("ACK seq=%llu") took a sign,
// wrapped on overflow and ignored what followed the number.
TEST(HeartbeatE2e, ack_lines_are_parsed_strictly) {
  uint64_t seq = 0;
  const auto ack = [&seq](const char* s) { return heartbeat::parse_ack(s, std::strlen(s), &seq); };
  CHECK(ack("ACK seq=42"));
  CHECK_EQUAL(42u, seq);
  CHECK(ack("ACK seq=18446744073709551615"));
  CHECK(seq == UINT64_MAX);
  CHECK_FALSE(ack("ACK seq=18446744073709551616"));  // overflows
  CHECK_FALSE(ack("ACK seq=99999999999999999999999"));
  CHECK_FALSE(ack("ACK seq=-18446744073709551574"));  // wrapped to 42 before
  CHECK_FALSE(ack("ACK seq=+42"));
  CHECK_FALSE(ack("ACK seq= 42"));
  CHECK_FALSE(ack("ACK seq=42x"));
  CHECK_FALSE(ack("ACK seq=42 "));
  CHECK_FALSE(ack("ACK seq=0"));
  CHECK_FALSE(ack("ACK seq="));
  CHECK_FALSE(ack("ACK seq"));
  CHECK_FALSE(ack(""));
  CHECK(heartbeat::parse_ack("ACK seq=42", 9, &seq));  // only len bytes count
  CHECK_EQUAL(4u, seq);
}

TEST(HeartbeatE2e, a_day_with_three_outages_keeps_phase_and_alarms_once_per_long_outage) {
  fake::Kernel k;
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  Server server;
  server.loop = loop.get();
  CHECK_EQUAL(0, hal::parse_address("127.0.0.1:9000", &server.at));
  server_up(&server);
  int notify = -1;
  hal::SockAddr notify_at;
  CHECK_EQUAL(0, hal::parse_address("@hb-notify", &notify_at));
  CHECK_EQUAL(0, hal::dgram_bind(notify_at, &notify));
  Notified notified;
  evl::IoHandle notify_watch;
  CHECK_EQUAL(0, loop->io_start(notify, evl::kIn, on_notify, &notified, &notify_watch));

  heartbeat::Config cfg;
  std::snprintf(cfg.server, sizeof cfg.server, "tcp://127.0.0.1:9000");
  std::snprintf(cfg.id, sizeof cfg.id, "board-7");
  std::snprintf(cfg.alarm_command, sizeof cfg.alarm_command, "/usr/local/bin/board-alarm");
  k.add_special_path(cfg.alarm_command, fake::Kernel::Special::kExecutable);
  std::snprintf(cfg.watchdog.notify_socket, sizeof cfg.watchdog.notify_socket, "@hb-notify");
  cfg.watchdog.watchdog_usec = 4000000;  // systemd WatchdogSec=4: pet every 2 s
  app::Log log("heartbeat");
  heartbeat::App hb(cfg, &log);
  char err[256] = {};
  server.start_ns = k.monotonic_ns();
  CHECK_EQUAL(0, hb.start(*loop, err, sizeof err));

  Outage outages[] = {{&server, 3600, 10}, {&server, 6 * 3600, 45}, {&server, 12 * 3600, 600}};
  evl::TimerHandle th[3];
  for (int i = 0; i < 3; ++i) {
    CHECK_EQUAL(0, loop->timer_after(outages[i].at_s * kSec, on_outage, &outages[i], &th[i]));
  }
  evl::TimerHandle end;
  CHECK_EQUAL(0, loop->timer_after(24 * 3600 * kSec + kMs, on_end, nullptr, &end));
  CHECK_EQUAL(0, loop->run());
  hb.stop();

  const heartbeat::Counters& c = hb.counters();
  CHECK_EQUAL(86400u, c.sent + c.missed_down + c.missed_full);
  // A beat written just before the server vanished is lost with the server's
  // socket (at most one per outage: the outages start on a beat's tick).
  CHECK(server.received <= c.sent);
  CHECK(c.sent - server.received <= 3);
  CHECK_EQUAL(0u, server.off_phase);
  CHECK(c.missed_down >= 10 + 45 + 600);
  CHECK(c.missed_down <= 10 + 45 + 600 + 3 * 31);  // + at most one back-off each
  CHECK_EQUAL(3u, c.outages);
  CHECK_EQUAL(2u, c.alarms_raised);  // 45 s and 10 min, not 10 s
  CHECK_EQUAL(2u, c.alarms_cleared);
  CHECK_EQUAL(server.received, c.acks);
  CHECK_EQUAL(0, c.rtt_us_max);  // the fake answers in zero virtual time
  const auto& spawned = k.spawned();
  CHECK_EQUAL(4u, spawned.size());
  const char* order[] = {"raise", "clear", "raise", "clear"};
  for (size_t i = 0; i < spawned.size(); ++i) {
    CHECK_EQUAL(2u, spawned[i].size());
    STRCMP_EQUAL("/usr/local/bin/board-alarm", spawned[i][0].c_str());
    STRCMP_EQUAL(order[i], spawned[i][1].c_str());
  }
  // systemd got READY=1 first, then a WATCHDOG=1 every 2 s, then STOPPING=1.
  read_notify(notify, &notified);
  CHECK_EQUAL(1, notified.ready);
  CHECK_EQUAL(0, notified.out_of_order);
  CHECK_EQUAL(43200, notified.pets);
  CHECK_EQUAL(1, notified.stopping);
  CHECK_EQUAL(0u, hb.watchdog().notify_errors);
  CHECK_EQUAL(0u, hb.watchdog().skipped);
  CHECK(loop->verify());
}

namespace {

void stall(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  static_cast<fake::Kernel*>(ctx)->advance(2 * kSec);  // a callback that hangs for 2 s
}

}  // namespace

TEST(HeartbeatE2e, a_stuck_loop_does_not_pet_the_watchdog_device) {
  fake::Kernel k;
  k.add_special_path("/dev/watchdog", fake::Kernel::Special::kWatchdog);
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  heartbeat::Config cfg;
  std::snprintf(cfg.server, sizeof cfg.server, "udp://127.0.0.1:9001");
  std::snprintf(cfg.watchdog.device, sizeof cfg.watchdog.device, "/dev/watchdog");
  cfg.watchdog.interval_ms = 1000;
  cfg.watchdog.max_lag_ms = 500;
  app::Log log("heartbeat");
  heartbeat::App hb(cfg, &log);
  char err[256] = {};
  CHECK_EQUAL(0, hb.start(*loop, err, sizeof err));
  evl::TimerHandle t, end;
  CHECK_EQUAL(0, loop->timer_after(10 * kSec + 300 * kMs, stall, &k, &t));
  CHECK_EQUAL(0, loop->timer_after(20 * kSec + kMs, on_end, nullptr, &end));
  CHECK_EQUAL(0, loop->run());
  hb.stop();
  CHECK(hb.watchdog().skipped >= 1);
  CHECK(hb.watchdog().pets >= 15);
  CHECK_EQUAL(hb.watchdog().pets, k.watchdog_pets());  // each one a WDIOC_KEEPALIVE
}

namespace {

// Hostile servers: one that accepts and closes at once (a load balancer with
// a dead backend), one that accepts and never reads.
struct Hostile {
  evl::Loop* loop = nullptr;
  bool close_at_once = true;
  evl::IoHandle listener;
  std::vector<int> held;
  int accepts = 0;
};

void on_hostile_accept(evl::Loop& loop, evl::IoHandle h, uint32_t, void* ctx) {
  auto* s = static_cast<Hostile*>(ctx);
  int fd = -1;
  while (hal::stream_accept(loop.io_fd(h), &fd, nullptr) == 0) {
    ++s->accepts;
    if (s->close_at_once) {
      (void)hal::close(fd);
    } else {
      s->held.push_back(fd);
    }
  }
}

struct HostileRun {
  uint64_t raised = 0;
  uint64_t delivered_outages = 0;
  int accepts = 0;
  int64_t alarm_at_ms = -1;
};

// Runs heartbeat (period 250 ms, alarm after 3 s) for 12 s against s.
HostileRun run_against(bool close_at_once) {
  fake::Kernel k;
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  Hostile s;
  s.loop = loop.get();
  s.close_at_once = close_at_once;
  hal::SockAddr at;
  CHECK_EQUAL(0, hal::parse_address("127.0.0.1:9010", &at));
  int lfd = -1;
  CHECK_EQUAL(0, hal::stream_listen(at, 64, &lfd));
  CHECK_EQUAL(0, loop->io_start(lfd, evl::kIn, on_hostile_accept, &s, &s.listener));
  heartbeat::Config cfg;
  std::snprintf(cfg.server, sizeof cfg.server, "tcp://127.0.0.1:9010");
  cfg.period_ms = 250;
  cfg.alarm_after_ms = 3000;
  app::Log log("heartbeat");
  log.set_level(app::Level::kError);
  heartbeat::App hb(cfg, &log);
  char err[256] = {};
  const int64_t t0 = k.monotonic_ns();
  CHECK_EQUAL(0, hb.start(*loop, err, sizeof err));
  HostileRun out;
  while (k.monotonic_ns() - t0 < 12 * kSec) {
    const int r = loop->run_once(100);
    CHECK(r >= 0 || r == -EINTR);
    if (out.alarm_at_ms < 0 && hb.alarm_raised()) out.alarm_at_ms = (k.monotonic_ns() - t0) / kMs;
  }
  out.raised = hb.counters().alarms_raised;
  out.delivered_outages = hb.counters().alarms_cleared;
  out.accepts = s.accepts;
  hb.stop();
  (void)loop->io_close(s.listener);
  for (int fd : s.held) (void)hal::close(fd);
  return out;
}

}  // namespace

// The field fault: ~4 reconnects/s, zero beats delivered, and no alarm in
// 12 s with --alarm-after-ms 3000, because every connect ended the outage.
TEST(HeartbeatE2e, a_server_that_accepts_and_closes_raises_the_alarm) {
  const HostileRun r = run_against(true);
  CHECK_EQUAL(1u, r.raised);
  CHECK_EQUAL(0u, r.delivered_outages);
  CHECK(r.alarm_at_ms >= 3000 && r.alarm_at_ms <= 3200);
  CHECK(r.accepts < 30);  // the back-off grows: not 4 connects a second
}

// The field fault: 90 s and 9,388 beats into kernel buffers, link "up", no
// alarm. A stall (here the 5 s default: three periods, at least 5 s) drops
// the connection; the outage began when the link went down.
TEST(HeartbeatE2e, a_server_that_stops_reading_raises_the_alarm) {
  const HostileRun r = run_against(false);
  CHECK_EQUAL(1u, r.raised);
  CHECK_EQUAL(0u, r.delivered_outages);
  CHECK(r.alarm_at_ms >= 3000);
}

// The field fault: the alarm command was spawned and reaped with
// waitpid(-1); a hung command was never killed.
TEST(HeartbeatE2e, a_hung_alarm_command_is_killed_after_its_timeout_and_logged) {
  fake::Kernel k;
  k.spawn_behaviour(-1, 0);  // every command hangs
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  heartbeat::Config cfg;
  std::snprintf(cfg.server, sizeof cfg.server, "tcp://127.0.0.1:9020");  // nobody listens
  std::snprintf(cfg.alarm_command, sizeof cfg.alarm_command, "/usr/local/bin/board-alarm");
  k.add_special_path(cfg.alarm_command, fake::Kernel::Special::kExecutable);
  cfg.alarm_after_ms = 2000;
  cfg.alarm_timeout_ms = 3000;
  app::Log log("heartbeat");
  log.set_level(app::Level::kError);
  heartbeat::App hb(cfg, &log);
  char err[256] = {};
  CHECK_EQUAL(0, hb.start(*loop, err, sizeof err));
  evl::TimerHandle end;
  CHECK_EQUAL(0, loop->timer_after(10 * kSec, on_end, nullptr, &end));
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(1u, hb.counters().alarms_raised);
  CHECK_EQUAL(1u, k.spawned().size());
  CHECK_EQUAL(1u, hb.counters().alarm_command_timeouts);
  CHECK_EQUAL(1u, hb.counters().alarm_command_failures);  // ended by SIGKILL
  CHECK_EQUAL(0, k.running_processes());
  hb.stop();
}

TEST(HeartbeatE2e, a_failing_alarm_command_is_counted_and_one_runs_at_a_time) {
  fake::Kernel k;
  k.spawn_behaviour(100 * kMs, 2 << 8);  // exit(2) after 100 ms
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  heartbeat::Config cfg;
  std::snprintf(cfg.server, sizeof cfg.server, "tcp://127.0.0.1:9021");
  std::snprintf(cfg.alarm_command, sizeof cfg.alarm_command, "/usr/local/bin/board-alarm");
  k.add_special_path(cfg.alarm_command, fake::Kernel::Special::kExecutable);
  cfg.alarm_after_ms = 1000;
  app::Log log("heartbeat");
  log.set_level(app::Level::kError);
  heartbeat::App hb(cfg, &log);
  char err[256] = {};
  CHECK_EQUAL(0, hb.start(*loop, err, sizeof err));
  evl::TimerHandle end;
  CHECK_EQUAL(0, loop->timer_after(5 * kSec, on_end, nullptr, &end));
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(1u, hb.counters().alarm_command_failures);
  CHECK_EQUAL(0u, hb.counters().alarm_command_timeouts);
  CHECK_EQUAL(0, k.running_processes());
  CHECK_EQUAL(-ECHILD, hal::waitpid(-1, nullptr, hal::kWnohang));  // reaped, no zombie
  hb.stop();
}

namespace {

struct Pause {
  Server* s;
  bool paused = false;
  int fd = -1;
};

// The server stops reading (its watcher stops; its socket stays open, so
// the peer's TCP keeps the bytes unacknowledged), then reads again.
void on_pause(evl::Loop& loop, evl::TimerHandle, uint32_t, void* ctx) {
  auto* p = static_cast<Pause*>(ctx);
  p->paused = !p->paused;
  if (p->paused) {
    p->fd = loop.io_fd(p->s->conn);
    CHECK_EQUAL(0, loop.io_stop(p->s->conn));
  } else {
    CHECK_EQUAL(0, loop.io_start(p->fd, evl::kIn, on_conn, p->s, &p->s->conn));
  }
}

}  // namespace

// Found by the netfaults stage: a black hole of 15 s with --alarm-after-ms
// 5000 raised nothing, because the alarm counted from the link going down,
// and the link saw the black hole only when its stall timeout (5 s) ended
// the connection: the alarm came 10 s after the last delivered beat, and a
// black hole shorter than that raised none. Here the stall timeout is 30 s:
// the connection never drops, and the alarm still rises 3 s after the last
// beat the server took, and clears when it takes beats again.
TEST(HeartbeatE2e, a_black_hole_shorter_than_the_stall_timeout_raises_and_clears_the_alarm) {
  fake::Kernel k;
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  Server server;
  server.loop = loop.get();
  server.period_ns = 250 * kMs;
  CHECK_EQUAL(0, hal::parse_address("127.0.0.1:9020", &server.at));
  server_up(&server);
  heartbeat::Config cfg;
  std::snprintf(cfg.server, sizeof cfg.server, "tcp://127.0.0.1:9020");
  std::snprintf(cfg.id, sizeof cfg.id, "board-7");
  cfg.period_ms = 250;
  cfg.alarm_after_ms = 3000;
  cfg.link.stall_timeout_ms = 30000;
  app::Log log("heartbeat");
  log.set_level(app::Level::kError);
  heartbeat::App hb(cfg, &log);
  char err[256] = {};
  const int64_t t0 = k.monotonic_ns();
  server.start_ns = t0;
  CHECK_EQUAL(0, hb.start(*loop, err, sizeof err));
  Pause pause{&server};
  evl::TimerHandle p1, p2;
  CHECK_EQUAL(0, loop->timer_after(10 * kSec, on_pause, &pause, &p1));  // 8 s without reading
  CHECK_EQUAL(0, loop->timer_after(18 * kSec, on_pause, &pause, &p2));
  int64_t raised_ms = -1, cleared_ms = -1;
  while (k.monotonic_ns() - t0 < 25 * kSec) {
    const int r = loop->run_once(50);
    CHECK(r >= 0 || r == -EINTR);
    const int64_t at = (k.monotonic_ns() - t0) / kMs;
    if (raised_ms < 0 && hb.alarm_raised()) raised_ms = at;
    if (raised_ms >= 0 && cleared_ms < 0 && !hb.alarm_raised()) cleared_ms = at;
  }
  hb.stop();
  const heartbeat::Counters& c = hb.counters();
  std::printf("\nraised at %lld ms, cleared at %lld ms\n", static_cast<long long>(raised_ms),
              static_cast<long long>(cleared_ms));
  CHECK_EQUAL(1u, c.alarms_raised);
  CHECK_EQUAL(1u, c.alarms_cleared);
  CHECK_EQUAL(1u, hb.link().stats().connects);  // never dropped
  // The last beat taken left at 10.0 s; deliveries are seen on the link's
  // check tick (1 s), so the alarm rises 3 s after the last tick that saw
  // one: within a tick of 13 s (12.75 s here).
  CHECK(raised_ms >= 13000 - 1000);
  CHECK(raised_ms <= 13000 + 1000);
  CHECK(cleared_ms >= 18000);
  CHECK(cleared_ms <= 18000 + 1000);
}

namespace {

void on_server_up(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  server_up(static_cast<Server*>(ctx));
}

// An alarm command's outcome when nobody listens for 2 s (the alarm rises
// at 1 s), then a server takes beats (the alarm clears); the log goes to a
// pipe, read at the end.
struct CommandRun {
  uint64_t raised = 0, cleared = 0, spawn_errors = 0, failures = 0;
  std::string log;
};

CommandRun command_run(fake::Kernel& k, int port) {
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  Server server;
  server.loop = loop.get();
  server.period_ns = 100 * kMs;
  char at[32];
  std::snprintf(at, sizeof at, "127.0.0.1:%d", port);
  CHECK_EQUAL(0, hal::parse_address(at, &server.at));
  heartbeat::Config cfg;
  std::snprintf(cfg.server, sizeof cfg.server, "tcp://%s", at);
  std::snprintf(cfg.id, sizeof cfg.id, "board-7");
  std::snprintf(cfg.alarm_command, sizeof cfg.alarm_command, "/usr/local/bin/board-alarm");
  k.add_special_path(cfg.alarm_command, fake::Kernel::Special::kExecutable);
  cfg.period_ms = 100;
  cfg.alarm_after_ms = 1000;
  cfg.alarm_timeout_ms = 60000;
  cfg.link.backoff_initial_ms = 100;
  cfg.link.backoff_max_ms = 200;
  int fds[2];
  CHECK_EQUAL(0, hal::pipe2(fds, hal::kCloexec | hal::kNonblock));
  app::Log log("heartbeat", fds[1]);
  log.set_level(app::Level::kError);
  heartbeat::App hb(cfg, &log);
  char err[256] = {};
  server.start_ns = k.monotonic_ns();
  CHECK_EQUAL(0, hb.start(*loop, err, sizeof err));
  evl::TimerHandle up;
  evl::TimerHandle end;
  CHECK_EQUAL(0, loop->timer_after(2 * kSec, on_server_up, &server, &up));
  CHECK_EQUAL(0, loop->timer_after(6 * kSec, on_end, nullptr, &end));
  CHECK_EQUAL(0, loop->run());
  CommandRun r{hb.counters().alarms_raised, hb.counters().alarms_cleared,
               hb.counters().spawn_errors, hb.counters().alarm_command_failures,
               fake::read_all(fds[0])};
  hb.stop();
  server_down(&server);
  (void)hal::close(fds[0]);
  (void)hal::close(fds[1]);
  return r;
}

}  // namespace

// One command at a time: the raise's command, still running when the alarm
// clears, is killed and said so; then the clear's runs.
TEST(HeartbeatE2e, a_command_still_running_at_the_next_transition_is_killed_and_logged) {
  fake::Kernel k;
  k.spawn_behaviour(-1, 0);  // every command hangs
  const CommandRun r = command_run(k, 9022);
  CHECK_EQUAL(1u, r.raised);
  CHECK_EQUAL(1u, r.cleared);
  CHECK_EQUAL(2u, k.spawned().size());
  STRCMP_EQUAL("raise", k.spawned()[0][1].c_str());
  STRCMP_EQUAL("clear", k.spawned()[1][1].c_str());
  STRCMP_CONTAINS(
      "heartbeat: error: /usr/local/bin/board-alarm raise still running at the next alarm "
      "transition: killed\n",
      r.log.c_str());
}

// A command that cannot be started is counted and logged; the daemon goes on.
TEST(HeartbeatE2e, an_alarm_command_that_cannot_be_spawned_is_counted_and_logged) {
  fake::Kernel k;
  k.fail_next(fake::Call::kSpawn, ENOENT, 2);
  const CommandRun r = command_run(k, 9023);
  CHECK_EQUAL(1u, r.raised);
  CHECK_EQUAL(1u, r.cleared);
  CHECK_EQUAL(2u, r.spawn_errors);
  CHECK_EQUAL(0u, k.spawned().size());
  STRCMP_CONTAINS(
      "heartbeat: error: cannot run /usr/local/bin/board-alarm raise: No such file or directory",
      r.log.c_str());
}

// A command the loop cannot watch (no pidfd left) could hang for ever
// unseen: it is killed and reaped at once, and counted as failed.
TEST(HeartbeatE2e, an_alarm_command_that_cannot_be_watched_is_killed_and_reaped) {
  fake::Kernel k;
  k.spawn_behaviour(-1, 0);  // it would hang
  k.fail_next(fake::Call::kPidfdOpen, EMFILE);
  const CommandRun r = command_run(k, 9024);
  CHECK_EQUAL(1u, r.raised);
  CHECK_EQUAL(2u, k.spawned().size());
  CHECK_EQUAL(1u, r.failures);  // the raise's; the clear's is watched
  CHECK(r.log.find("cannot watch /usr/local/bin/board-alarm raise (pid ") != std::string::npos);
  CHECK(r.log.find("Too many open files; killed") != std::string::npos);
  CHECK_EQUAL(1, k.running_processes());                     // the clear's, hung
  CHECK_EQUAL(0, hal::waitpid(-1, nullptr, hal::kWnohang));  // the raise's was reaped: no zombie
}

// Over UDP each datagram is one line: the server's ACKs are counted and
// give the round trip.
// Snapshots (apps/common/snapshot.h): a heartbeat rebuilt from another's
// saved state goes on where that one was: the same connection, the next
// sequence number, the same phase, the counters continued. (The flight
// stage does this through a replay; here the saved daemon's loop is simply
// no longer run, and the server moves to the new loop.)
TEST(HeartbeatE2e, a_heartbeat_restored_from_a_snapshot_goes_on_where_the_saved_one_was) {
  fake::Kernel k;
  std::unique_ptr<TestLoop> first(new TestLoop());
  std::unique_ptr<TestLoop> second(new TestLoop());
  CHECK_EQUAL(0, first->init());
  CHECK_EQUAL(0, second->init());
  Server server;
  server.loop = first.get();
  CHECK_EQUAL(0, hal::parse_address("127.0.0.1:9000", &server.at));
  server_up(&server);
  heartbeat::Config cfg;
  std::snprintf(cfg.server, sizeof cfg.server, "tcp://127.0.0.1:9000");
  std::snprintf(cfg.id, sizeof cfg.id, "board-7");
  app::Log log("heartbeat");
  heartbeat::App saved(cfg, &log);
  char err[256] = {};
  server.start_ns = k.monotonic_ns();
  CHECK_EQUAL(0, saved.start(*first, err, sizeof err));
  evl::TimerHandle end;
  CHECK_EQUAL(0, first->timer_after(10 * kSec + 500 * kMs, on_end, nullptr, &end));
  CHECK_EQUAL(0, first->run());
  CHECK_EQUAL(10u, server.received);
  CHECK(saved.link().state() == app::Link::State::kDelivering);

  static uint8_t bytes[flight::kMaxOutBytes];
  flight::SnapWriter w(bytes, sizeof bytes);
  CHECK(saved.save(w));
  CHECK(w.ok());

  // The server moves to the second loop with its two fds.
  const int listener = first->io_fd(server.listener);
  const int conn = first->io_fd(server.conn);
  server.loop = second.get();
  CHECK_EQUAL(0, second->io_start(listener, evl::kIn, on_listener, &server, &server.listener));
  CHECK_EQUAL(0, second->io_start(conn, evl::kIn, on_conn, &server, &server.conn));
  // The new heartbeat starts as a daemon does (towards a port nobody
  // serves, so that its own connection does not take the server's), then
  // drops that state for the saved one.
  heartbeat::Config cfg2 = cfg;
  std::snprintf(cfg2.server, sizeof cfg2.server, "tcp://127.0.0.1:9001");
  app::Log log2("heartbeat");
  heartbeat::App restored(cfg2, &log2);
  CHECK_EQUAL(0, restored.start(*second, err, sizeof err));
  restored.drop();
  flight::SnapReader in(bytes, w.size());
  app::Restore r(*second, in);
  restored.restore(r);
  CHECK_EQUAL(0, r.finish());
  CHECK_EQUAL(0u, in.left());
  CHECK(restored.link().state() == app::Link::State::kDelivering);
  CHECK_EQUAL(saved.counters().sent, restored.counters().sent);

  CHECK_EQUAL(0, second->timer_after(10 * kSec, on_end, nullptr, &end));
  CHECK_EQUAL(0, second->run());
  CHECK_EQUAL(20u, server.received);  // on_conn checks that seq only grows
  CHECK_EQUAL(20u, server.last_seq);
  CHECK_EQUAL(0u, server.off_phase);  // at start + seq * period, as before
  CHECK_EQUAL(20u, restored.counters().sent);
  CHECK_EQUAL(20u, restored.counters().acks);
  CHECK_EQUAL(saved.link().stats().connects, restored.link().stats().connects);

  // Cut short, a snapshot is refused whole.
  heartbeat::App third(cfg2, &log2);
  CHECK_EQUAL(0, third.start(*second, err, sizeof err));
  third.drop();
  flight::SnapReader cut(bytes, w.size() - 8);
  app::Restore r3(*second, cut);
  third.restore(r3);
  CHECK_EQUAL(-EINVAL, r3.finish());
  third.stop();
  restored.stop();
  server_down(&server);
}
