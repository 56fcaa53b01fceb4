// Both daemons' start when a step of it cannot be done: a loop whose timers
// run out at every possible point, a link or a serial rate it cannot use.
// Each failure is one clear error and leaves nothing started: no watcher
// of the daemon's in the loop, no fd of its open (a start that fails
// returns, and systemd starts the daemon again; a half-started one would
// leak at every try in a daemon that embeds it).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <string>

#include "CppUTest/TestHarness.h"
#include "apps/common/log.h"
#include "apps/heartbeat/heartbeat.h"
#include "apps/telemetry/telemetry.h"
#include "loop/static_loop.h"
#include "test/fake/kernel.h"
#include "test/fake/serial.h"

namespace {

using TestLoop = evl::StaticLoop<16, 32, 4, 1, 4>;
constexpr int kTimers = 32;

void never(evl::Loop&, evl::TimerHandle, uint32_t, void*) {}

// Starts the daemon once for each number of free timers, from none up to
// the first start that succeeds. Every failure's message goes into *said;
// each must leave the loop's watchers and the kernel's fds as they were.
// Returns the free timers the successful start needed (-1: none did).
template <class App, class Config>
int sweep_timers(fake::Kernel& k, const Config& cfg, app::Log* log, std::set<std::string>* said) {
  const int base = k.open_fd_count();
  for (int free = 0; free <= kTimers; ++free) {
    std::unique_ptr<TestLoop> loop(new TestLoop());
    CHECK_EQUAL(0, loop->init());
    for (int i = 0; i < kTimers - free; ++i) {
      evl::TimerHandle h;
      CHECK_EQUAL(0, loop->timer_after(3600 * evl::kSec, never, nullptr, &h));
    }
    // A timerfd a start opens for another clock is the loop's (closed by
    // close()), so the fds are counted after close().
    const uint32_t active = loop->active();
    App a(cfg, log);
    char err[256] = {};
    const int r = a.start(*loop, err, sizeof err);
    if (r == 0) {
      a.stop();
      loop->close();
      CHECK_EQUAL(base, k.open_fd_count());
      return free;
    }
    said->insert(err);
    CHECK_EQUAL(active, loop->active());
    a.stop();  // a second stop is harmless
    loop->close();
    CHECK_EQUAL(base, k.open_fd_count());
  }
  return -1;
}

telemetry::Config telemetry_config() {
  telemetry::Config cfg;
  std::snprintf(cfg.serial, sizeof cfg.serial, "/dev/ttyS1");
  std::snprintf(cfg.collector, sizeof cfg.collector, "tcp://127.0.0.1:8094");
  std::snprintf(cfg.id, sizeof cfg.id, "board-7");
  std::snprintf(cfg.spool, sizeof cfg.spool, "/var/lib/evl/telemetry.spool");
  cfg.spool_every_s = 10;
  return cfg;
}

}  // namespace

TEST_GROUP(StartFailure){};

TEST(StartFailure, telemetry_out_of_timers_at_any_step_is_said_and_leaves_nothing) {
  fake::Kernel k;
  (void)k.add_serial("/dev/ttyS1");
  app::Log log("telemetry");
  std::set<std::string> said;
  const int needed = sweep_timers<telemetry::App>(k, telemetry_config(), &log, &said);
  CHECK(needed > 0);
  CHECK(said.count("cannot start the health timer: No space left on device") == 1);
  CHECK(said.count("cannot start the spool timer: No space left on device") == 1);
  for (const std::string& s : said) {
    CHECK_TEXT(s.find("No space left on device") != std::string::npos, s.c_str());
  }
}

TEST(StartFailure, heartbeat_out_of_timers_at_any_step_is_said_and_leaves_nothing) {
  fake::Kernel k;
  app::Log log("heartbeat");
  heartbeat::Config cfg;
  std::snprintf(cfg.server, sizeof cfg.server, "tcp://127.0.0.1:9000");
  std::set<std::string> said;
  const int needed = sweep_timers<heartbeat::App>(k, cfg, &log, &said);
  CHECK(needed > 0);
  CHECK(said.count("cannot start timers: No space left on device") == 1);
  for (const std::string& s : said) {
    CHECK_TEXT(s.find("No space left on device") != std::string::npos, s.c_str());
  }
}

// Settings the command line refuses, given to the App directly (a firmware
// that embeds it): still one error, nothing started.
TEST(StartFailure, a_link_or_a_rate_the_daemon_cannot_use_is_refused_at_start) {
  fake::Kernel k;
  (void)k.add_serial("/dev/ttyS1");
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  app::Log log("telemetry");
  const int fds = k.open_fd_count();
  char err[256] = {};
  telemetry::Config no_rate = telemetry_config();
  no_rate.baud = 0;
  {
    telemetry::App a(no_rate, &log);
    CHECK_EQUAL(-EINVAL, a.start(*loop, err, sizeof err));
    STRCMP_EQUAL("--baud 0 is not a usable rate", err);
  }
  telemetry::Config no_backoff = telemetry_config();
  no_backoff.link.backoff_initial_ms = 0;
  {
    telemetry::App a(no_backoff, &log);
    CHECK_EQUAL(-EINVAL, a.start(*loop, err, sizeof err));
    STRCMP_EQUAL("cannot start the collector link: Invalid argument", err);
  }
  heartbeat::Config hb;
  std::snprintf(hb.server, sizeof hb.server, "tcp://127.0.0.1:9000");
  hb.link.backoff_initial_ms = 0;
  {
    heartbeat::App a(hb, &log);
    CHECK_EQUAL(-EINVAL, a.start(*loop, err, sizeof err));
    STRCMP_EQUAL("cannot start the link: Invalid argument", err);
  }
  CHECK_EQUAL(0u, loop->active());
  CHECK_EQUAL(fds, k.open_fd_count());
}
