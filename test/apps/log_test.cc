// app::Log on the fake kernel: it never blocks the loop, it drops and counts
// what does not fit, it folds repeats; and a daemon with a blocked stderr
// keeps beating and honours SIGTERM.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "CppUTest/TestHarness.h"
#include "apps/common/daemon.h"
#include "apps/common/log.h"
#include "apps/heartbeat/heartbeat.h"
#include "hal/socket.h"
#include "loop/static_loop.h"
#include "test/fake/kernel.h"

using evl::kMs;
using evl::kSec;

namespace {

using TestLoop = evl::StaticLoop<8, 16, 4, 1, 4>;

// Fills a pipe until a write would block: nobody reads stderr.
void fill(int wfd) {
  char junk[4096];
  std::memset(junk, 'j', sizeof junk);
  const int flags = hal::get_status_flags(wfd);
  CHECK_EQUAL(0, hal::set_status_flags(wfd, flags | hal::kNonblock));
  while (hal::write(wfd, junk, sizeof junk) > 0) {
  }
  CHECK_EQUAL(0, hal::set_status_flags(wfd, flags));
}

struct Pipe {
  int r = -1;
  int w = -1;
  Pipe() {
    int fds[2];
    CHECK_EQUAL(0, hal::pipe2(fds, hal::kCloexec));  // blocking, as stderr usually is
    r = fds[0];
    w = fds[1];
    CHECK_EQUAL(0, hal::set_status_flags(r, hal::kNonblock));
  }
  ~Pipe() {
    (void)hal::close(r);
    (void)hal::close(w);
  }
};

// A log attached to a loop, its output a pipe nobody reads, full.
struct BlockedLog {
  fake::Kernel k;
  std::unique_ptr<TestLoop> loop{new TestLoop()};
  Pipe p;
  app::Log log{"hb", p.w};
  BlockedLog() {
    CHECK_EQUAL(0, loop->init());
    fill(p.w);
    CHECK_EQUAL(0, log.attach(*loop));
  }
};

}  // namespace

TEST_GROUP(Log){};

TEST(Log, lines_go_out_whole_with_program_and_level) {
  fake::Kernel k;
  Pipe p;
  app::Log log("hb", p.w);
  log.log(app::Level::kWarning, "link %s down", "tcp://x");
  log.log(app::Level::kDebug, "not shown at the default level");
  STRCMP_EQUAL("hb: warning: link tcp://x down\n", fake::read_all(p.r).c_str());
  CHECK_EQUAL(1u, log.lines());
}

// Bytes from outside in a message (a server's answer with its line end, a
// path with an escape) never make two lines or reach a terminal raw.
TEST(Log, a_message_is_one_line_whatever_bytes_it_carries) {
  fake::Kernel k;
  Pipe p;
  app::Log log("tm", p.w);
  log.log(app::Level::kWarning, "answered 404: %s; retrying", "{\"error\":\"no db\"}\r\n");
  log.log(app::Level::kError, "bad %s", "a\tb\x1b[2Jc\x7f\n\n");
  STRCMP_EQUAL(
      "tm: warning: answered 404: {\"error\":\"no db\"}  ; retrying\n"
      "tm: error: bad a b?[2Jc?\n",
      fake::read_all(p.r).c_str());
  app::write_error("tm", "cannot open %s", "/dev/tty\nUSB0\n");
  STRCMP_EQUAL("tm: cannot open /dev/tty USB0\n", k.written(2).c_str());
}

TEST(Log, a_blocked_output_never_blocks_and_drops_are_counted_then_reported) {
  BlockedLog b;
  fake::Kernel& k = b.k;
  std::unique_ptr<TestLoop>& loop = b.loop;
  Pipe& p = b.p;
  app::Log& log = b.log;
  CHECK(hal::get_status_flags(p.w) & hal::kNonblock);
  for (int i = 0; i < 400; ++i) log.log(app::Level::kInfo, "line %d of a flood", i);
  // Without attach() the first write would have blocked (the fake says
  // EDEADLK for a blocking write on a full pipe); here every call returned.
  CHECK(log.pending() > 0);
  CHECK(log.pending() <= app::Log::kBufferBytes);
  CHECK(log.lost() > 0);
  CHECK_EQUAL(0u, k.would_block());
  const uint64_t lost = log.lost();
  CHECK_EQUAL(0, loop->run_once(0));             // the loop does not block on the log
  const std::string junk = fake::read_all(p.r);  // the reader catches up
  CHECK(junk.size() >= 65536);
  for (int i = 0; i < 5 && log.pending() > 0; ++i) CHECK(loop->run_once(0) >= 0);
  CHECK_EQUAL(0u, log.pending());
  const std::string out = fake::read_all(p.r);
  CHECK(out.find("hb: info: line 0 of a flood\n") != std::string::npos);
  char note[64];
  std::snprintf(note, sizeof note, "hb: warning: %llu log lines dropped\n",
                static_cast<unsigned long long>(lost));
  CHECK(out.find(note) != std::string::npos);
  CHECK_EQUAL(0u, loop->active());  // the watcher is gone once drained
  log.detach();
  CHECK_EQUAL(0, hal::get_status_flags(p.w) & hal::kNonblock);  // flags restored
}

// A socket stderr (journald's stream) is never made non-blocking: systemd
// gives the same one as stdout, and the programs the daemon starts inherit
// it. Each line is sent with MSG_DONTWAIT instead: a full socket costs
// lines, drained by the loop once the journal reads; a broken one costs
// the line (EPIPE), without SIGPIPE.
TEST(Log, a_socket_is_sent_to_without_waiting_and_never_made_nonblocking) {
  fake::Kernel k;
  std::unique_ptr<TestLoop> loop{new TestLoop()};
  CHECK_EQUAL(0, loop->init());
  int sv[2] = {-1, -1};
  CHECK_EQUAL(0, hal::socketpair(hal::kAfUnix, hal::kSockStream | hal::kCloexec, 0, sv));
  CHECK_EQUAL(0, hal::set_status_flags(sv[0], hal::kNonblock));
  app::Log log("hb", sv[1]);
  CHECK_EQUAL(0, log.attach(*loop));
  CHECK_EQUAL(0, hal::get_status_flags(sv[1]) & hal::kNonblock);
  for (int i = 0; i < 4000; ++i) log.log(app::Level::kInfo, "line %d of a flood", i);
  CHECK_EQUAL(0u, k.would_block());  // a blocking send would have said EDEADLK
  CHECK(log.lost() > 0);
  CHECK(log.pending() > 0);
  CHECK_EQUAL(0, hal::get_status_flags(sv[1]) & hal::kNonblock);
  std::string out = fake::read_all(sv[0]);  // the journal catches up
  for (int i = 0; i < 5 && log.pending() > 0; ++i) {
    CHECK(loop->run_once(0) >= 0);
    out += fake::read_all(sv[0]);
  }
  CHECK_EQUAL(0u, log.pending());
  CHECK(out.find("hb: info: line 0 of a flood\n") != std::string::npos);
  CHECK(out.find(" log lines dropped\n") != std::string::npos);

  CHECK_EQUAL(0, hal::close(sv[0]));  // journald gone
  const uint64_t lost = log.lost();
  log.log(app::Level::kWarning, "to nobody");
  CHECK_EQUAL(lost + 1, log.lost());
  CHECK_EQUAL(0u, k.delivered_unblocked(hal::kSigPipe));
  log.detach();
  CHECK_EQUAL(0, hal::get_status_flags(sv[1]) & hal::kNonblock);
  CHECK_EQUAL(0, hal::close(sv[1]));
}

// A regular file is appended to while attached (logrotate's copytruncate:
// test/apps/log_linux_test.cc), its flags given back at detach; a file
// whose flags cannot be set is written as before.
TEST(Log, a_regular_file_is_appended_to_while_attached) {
  fake::Kernel k;
  std::unique_ptr<TestLoop> loop{new TestLoop()};
  CHECK_EQUAL(0, loop->init());
  k.add_regular_path("/var/log/hb.log");
  const int f = hal::open("/var/log/hb.log", hal::kWrOnly, 0);
  CHECK(f >= 0);
  for (const bool fails : {false, true}) {
    app::Log log("hb", f);
    if (fails) k.fail_next(fake::Call::kFcntl, EBADF, 1, 1);  // the set, not the get
    CHECK_EQUAL(0, log.attach(*loop));
    CHECK_EQUAL(fails ? 0 : hal::kAppend, hal::get_status_flags(f) & hal::kAppend);
    CHECK_EQUAL(0, hal::get_status_flags(f) & hal::kNonblock);
    log.log(app::Level::kInfo, "appended");
    log.detach();
    CHECK_EQUAL(0, hal::get_status_flags(f) & hal::kAppend);
  }
  CHECK_EQUAL(0, hal::close(f));
}

TEST(Log, identical_lines_are_folded_and_counted) {
  fake::Kernel k;
  Pipe p;
  app::Log log("hb", p.w);
  for (int i = 0; i < 50; ++i) log.log(app::Level::kWarning, "bad frame");
  log.log(app::Level::kInfo, "something else");
  STRCMP_EQUAL(
      "hb: warning: bad frame\nhb: info: last message repeated 49 times\nhb: info: something "
      "else\n",
      fake::read_all(p.r).c_str());
  CHECK_EQUAL(49u, log.repeats());
  k.advance(app::Log::kRepeatWindowNs);
  log.log(app::Level::kInfo, "something else");  // the window passed: written again
  STRCMP_EQUAL("hb: info: something else\n", fake::read_all(p.r).c_str());
}

TEST(Log, a_closed_output_costs_lines_not_the_process) {
  fake::Kernel k;
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  int fds[2];
  CHECK_EQUAL(0, hal::pipe2(fds, hal::kCloexec));
  CHECK_EQUAL(0, hal::close(fds[0]));
  app::Log log("hb", fds[1]);
  CHECK_EQUAL(0, log.attach(*loop));
  log.log(app::Level::kError, "nobody hears this");
  CHECK_EQUAL(1u, log.lost());
  log.detach();
  CHECK_EQUAL(0, hal::close(fds[1]));
}

namespace {

void send_term(evl::Loop&, evl::TimerHandle, uint32_t, void*) {
  CHECK_EQUAL(0, hal::kill(hal::getpid(), hal::kSigTerm));
}

}  // namespace

// The field fault: with stderr on a pipe nobody reads, the daemon blocked in
// write(2): no beats, no pets, SIGTERM ignored.
TEST(Log, a_daemon_with_a_blocked_stderr_beats_and_stops_on_sigterm) {
  fake::Kernel k;
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  Pipe p;
  fill(p.w);
  int col = -1;
  hal::SockAddr at;
  CHECK_EQUAL(0, hal::parse_address("127.0.0.1:9400", &at));
  CHECK_EQUAL(0, hal::dgram_bind(at, &col));
  heartbeat::Config cfg;
  std::snprintf(cfg.server, sizeof cfg.server, "udp://127.0.0.1:9400");
  cfg.period_ms = 100;
  app::Log log("heartbeat", p.w);
  heartbeat::App hb(cfg, &log);
  app::prepare_output(*loop, log);
  char err[256] = {};
  CHECK_EQUAL(0, hb.start(*loop, err, sizeof err));
  evl::TimerHandle term;
  CHECK_EQUAL(0, loop->timer_after(5 * kSec, send_term, nullptr, &term));
  const int64_t t0 = k.monotonic_ns();
  CHECK_EQUAL(0,
              app::run_daemon(
                  *loop, log, 0,
                  app::DaemonHooks{[](void* c) { static_cast<heartbeat::App*>(c)->stop(); }, &hb}));
  const int64_t took = k.monotonic_ns() - t0;
  CHECK(took >= 5 * kSec && took < 5 * kSec + 100 * kMs);  // stopped at SIGTERM, not later
  CHECK(hb.counters().sent >= 49);                         // beats went on
  CHECK_EQUAL(0u, k.would_block());                        // no write would have hung
  CHECK(log.lines() >= 2);                                 // and the log took lines...
  CHECK(log.pending() > 0 || log.lost() > 0);              // ... that the pipe could not
  log.detach();
  CHECK_EQUAL(0, hal::close(col));
}

// --syslog: each line is one datagram to /dev/log (here a path the test
// binds), "<facility|level>name[pid]: message". A syslog that is not there
// (yet) or goes away sends the lines to stderr, and a line tries it again
// 10 s after the last try; reopen() (SIGHUP) tries at once.
TEST(Log, syslog_lines_are_datagrams_and_a_missing_syslog_sends_them_to_stderr) {
  fake::Kernel k;
  app::Log log("hb");
  CHECK_EQUAL(-ENOTCONN, log.use_syslog("/run/test-log"));  // nobody there yet
  log.log(app::Level::kWarning, "early %d", 1);
  CHECK_EQUAL(0u, log.lost());
  STRCMP_EQUAL("hb: warning: early 1\n", k.written(2).c_str());
  hal::SockAddr at;
  CHECK_EQUAL(0, hal::parse_address("/run/test-log", &at));
  int sys = -1;
  CHECK_EQUAL(0, hal::dgram_bind(at, &sys));
  k.advance(9 * evl::kSec);
  log.log(app::Level::kWarning, "early %d", 2);  // not tried again yet
  k.advance(evl::kSec);
  log.log(app::Level::kWarning, "link %s down", "tcp://x");  // tried: there now
  log.log(app::Level::kDebug, "not shown at the default level");
  STRCMP_EQUAL("hb: warning: early 1\nhb: warning: early 2\n", k.written(2).c_str());
  char got[256] = {};
  const long n = hal::dgram_recv(sys, got, sizeof got - 1, nullptr, nullptr);
  CHECK(n > 0);
  char want[64];
  std::snprintf(want, sizeof want, "<28>hb[%d]: link tcp://x down", hal::getpid());
  STRCMP_EQUAL(want, got);  // daemon (3 << 3) | warning (4)
  CHECK_EQUAL(-EAGAIN, hal::dgram_recv(sys, got, sizeof got, nullptr, nullptr));
  CHECK_EQUAL(3u, log.lines());
  // syslogd goes away: the next line goes to stderr; a new one is found
  // again by SIGHUP's reopen().
  (void)hal::close(sys);
  log.log(app::Level::kError, "after %d", 1);
  STRCMP_CONTAINS("hb: error: after 1\n", k.written(2).c_str());
  CHECK_EQUAL(0, hal::dgram_bind(at, &sys));
  log.reopen();
  log.log(app::Level::kError, "after %d", 2);
  CHECK(hal::dgram_recv(sys, got, sizeof got - 1, nullptr, nullptr) > 0);
  STRCMP_CONTAINS("after 2", got);
  CHECK_EQUAL(0u, log.lost());
  (void)hal::close(sys);
}

// What a daemon says before its log runs goes to stderr through the seam.
TEST(Log, startup_errors_are_one_line_on_stderr) {
  fake::Kernel k;
  app::Log log("heartbeat");
  app::open_log("heartbeat", log, true);  // nothing at /dev/log here
  STRCMP_EQUAL("heartbeat: cannot reach syslog at /dev/log; logging to stderr until it is there\n",
               k.written(2).c_str());
  log.log(app::Level::kInfo, "and %s", "it does");  // (it said so: the lines are not lost)
  STRCMP_CONTAINS("heartbeat: info: and it does\n", k.written(2).c_str());
  heartbeat::Config cfg;
  cfg.link.backoff_initial_ms = 500;
  cfg.link.backoff_max_ms = 100;
  app::DaemonOptions d;
  TestLoop loop;
  CHECK_EQUAL(2, app::serve_app<heartbeat::App>("heartbeat", cfg, d, loop));
  STRCMP_CONTAINS("heartbeat: --backoff-max-ms must be >= --backoff-initial-ms\n",
                  k.written(2).c_str());
  heartbeat::App hb(cfg, &log);
  k.fail_next(fake::Call::kEpollCreate1, EMFILE);
  CHECK_EQUAL(1, app::serve("heartbeat", loop, log, hb, 0));
  STRCMP_CONTAINS("heartbeat: cannot create the event loop: Too many open files\n",
                  k.written(2).c_str());
}

// A daemon logs the start warnings (here: an MQTT password file every
// local user may read) once its log is up, before it serves.
TEST(Log, a_daemon_logs_its_start_warnings) {
  fake::Kernel k;
  char w[256];
  while (app::take_start_warning(w, sizeof w)) {  // other tests' secret files
  }
  k.add_regular_path("/etc/evl/mqtt.pw", "s3cret\n");
  heartbeat::Config cfg;
  std::snprintf(cfg.server, sizeof cfg.server, "mqtt://127.0.0.1:1883");
  std::snprintf(cfg.mqtt.user, sizeof cfg.mqtt.user, "dev0");
  std::snprintf(cfg.mqtt.password_file, sizeof cfg.mqtt.password_file, "/etc/evl/mqtt.pw");
  app::Log log("heartbeat", 2);
  heartbeat::App hb(cfg, &log);
  TestLoop loop;
  CHECK_EQUAL(0, app::serve("heartbeat", loop, log, hb, 100));
  STRCMP_CONTAINS(
      "heartbeat: warning: password file /etc/evl/mqtt.pw is open to every user of this "
      "system (mode 0644): chmod o-rwx it",
      k.written(2).c_str());
  CHECK_FALSE(app::take_start_warning(w, sizeof w));  // logged once
}

namespace {

void send_hup(evl::Loop&, evl::TimerHandle, uint32_t, void*) {
  CHECK_EQUAL(0, hal::kill(hal::getpid(), hal::kSigHup));
}

void no_stop(void*) {}

}  // namespace

// SIGHUP reopens the log (syslog's socket after a restart; logrotate) and
// says so; SIGTERM still ends the daemon.
TEST(Log, sighup_reopens_the_log_and_says_so) {
  fake::Kernel k;
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  Pipe p;
  app::Log log("heartbeat", p.w);
  evl::TimerHandle hup, term;
  CHECK_EQUAL(0, loop->timer_after(1 * kSec, send_hup, nullptr, &hup));
  CHECK_EQUAL(0, loop->timer_after(2 * kSec, send_term, nullptr, &term));
  CHECK_EQUAL(0, app::run_daemon(*loop, log, 0, app::DaemonHooks{no_stop, nullptr}));
  STRCMP_CONTAINS("heartbeat: info: SIGHUP: log reopened\n", fake::read_all(p.r).c_str());
}

// A daemon whose signals cannot be set up says why and stops its app.
TEST(Log, signals_that_cannot_be_set_up_are_an_error) {
  fake::Kernel k;
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  Pipe p;
  app::Log log("heartbeat", p.w);
  k.fail_next(fake::Call::kSignalfd, EMFILE);
  bool stopped = false;
  CHECK_EQUAL(
      -EMFILE,
      app::run_daemon(*loop, log, 0,
                      app::DaemonHooks{[](void* c) { *static_cast<bool*>(c) = true; }, &stopped}));
  CHECK(stopped);
  STRCMP_CONTAINS("heartbeat: error: cannot set up signals: Too many open files\n",
                  fake::read_all(p.r).c_str());
}

// A daemon started with closed standard fds gets /dev/null on them (before
// it opens anything: see Loopback.closed_standard_fds_do_not_send_log_lines_to_the_server).
TEST(Log, closed_standard_fds_are_opened_on_dev_null) {
  fake::Kernel k;
  CHECK_EQUAL(0, hal::close(1));
  CHECK_EQUAL(0, hal::close(2));
  k.add_special_path("/dev/null", fake::Kernel::Special::kZero);
  CHECK_EQUAL(0, app::keep_standard_fds_open());
  CHECK(k.file(0) != nullptr);
  STRCMP_EQUAL("regular", k.file(0)->type());  // left as it was
  STRCMP_EQUAL("special", k.file(1)->type());
  STRCMP_EQUAL("special", k.file(2)->type());
  CHECK_EQUAL(0, k.open_fd_count());              // (counts fds from 3): nothing else was opened
  CHECK_EQUAL(0, app::keep_standard_fds_open());  // all open: nothing to do
  CHECK_EQUAL(0, k.open_fd_count());
}

TEST(Log, without_dev_null_closed_standard_fds_are_an_error) {
  fake::Kernel k;
  CHECK_EQUAL(0, hal::close(0));
  CHECK_EQUAL(-ENOENT, app::keep_standard_fds_open());
}

TEST(Log, utc_times_are_civil_dates) {
  char out[40];
  CHECK_EQUAL(24, app::format_utc(0, out, sizeof out));
  STRCMP_EQUAL("1970-01-01T00:00:00.000Z", out);
  (void)app::format_utc(951782400LL * evl::kSec + 5 * evl::kMs, out, sizeof out);
  STRCMP_EQUAL("2000-02-29T00:00:00.005Z", out);  // a leap day of a century year
  (void)app::format_utc(4107542399LL * evl::kSec + 999999999, out, sizeof out);
  STRCMP_EQUAL("2100-02-28T23:59:59.999Z", out);  // 2100 is not a leap year
  (void)app::format_utc(4107542400LL * evl::kSec, out, sizeof out);
  STRCMP_EQUAL("2100-03-01T00:00:00.000Z", out);
  (void)app::format_utc(-1, out, sizeof out);  // a clock set before 1970
  STRCMP_EQUAL("1969-12-31T23:59:59.999Z", out);
  (void)app::format_utc(1798479123LL * evl::kSec, out, sizeof out);
  STRCMP_EQUAL("2026-12-28T17:32:03.000Z", out);
}

// --log-time: stderr lines begin with the wall clock's UTC time (syslog
// lines do not: syslog stamps its own).
TEST(Log, stamped_lines_begin_with_the_utc_time) {
  fake::Kernel k;
  k.step_realtime(1798479123LL * evl::kSec - k.realtime_ns());
  app::Log log("telemetry");
  log.set_timestamps(true);
  log.log(app::Level::kWarning, "stamped");
  STRCMP_EQUAL("2026-12-28T17:32:03.000Z telemetry: warning: stamped\n", k.written(2).c_str());
}

// The lines a daemon writes before its log runs (a flight recorder that
// cannot start, an event loop that cannot be made) had no time under
// --log-time; once the options are known they have it.
TEST(Log, error_lines_before_the_log_runs_are_stamped_once_asked) {
  fake::Kernel k;
  k.step_realtime(1798479123LL * evl::kSec - k.realtime_ns());
  app::write_error("heartbeat", "plain");
  app::set_error_timestamps(true);
  app::write_error("heartbeat", "stamped");
  app::set_error_timestamps(false);
  STRCMP_EQUAL("heartbeat: plain\n2026-12-28T17:32:03.000Z heartbeat: stamped\n",
               k.written(2).c_str());
}

// A syslog that is behind (its socket's queue full: EAGAIN) costs the line,
// counted, never a wait and never a line on stderr instead.
TEST(Log, a_syslog_that_is_behind_costs_the_line_counted) {
  fake::Kernel k;
  hal::SockAddr at;
  CHECK_EQUAL(0, hal::parse_address("/run/test-log", &at));
  int sys = -1;
  CHECK_EQUAL(0, hal::dgram_bind(at, &sys));
  app::Log log("hb");
  CHECK_EQUAL(0, log.use_syslog("/run/test-log"));
  k.fail_next(fake::Call::kSendto, EAGAIN);
  log.log(app::Level::kWarning, "dropped");
  log.log(app::Level::kWarning, "kept");
  CHECK_EQUAL(1u, log.lost());
  char got[256] = {};
  CHECK(hal::dgram_recv(sys, got, sizeof got - 1, nullptr, nullptr) > 0);
  STRCMP_CONTAINS("]: kept", got);
  CHECK_EQUAL(-EAGAIN, hal::dgram_recv(sys, got, sizeof got, nullptr, nullptr));
  STRCMP_EQUAL("", k.written(2).c_str());
  (void)hal::close(sys);
}

// A message longer than a line is cut and still ends its line.
TEST(Log, an_over_long_message_is_cut_to_one_whole_line) {
  fake::Kernel k;
  Pipe p;
  app::Log log("hb", p.w);
  const std::string longer(3000, 'x');
  log.log(app::Level::kInfo, "%s", longer.c_str());
  log.log(app::Level::kInfo, "next");
  const std::string out = fake::read_all(p.r);
  const size_t first = out.find('\n');
  CHECK(first != std::string::npos);
  CHECK(first > 400 && first < longer.size());
  CHECK(out.compare(0, 10, "hb: info: ") == 0);
  STRCMP_EQUAL("hb: info: next\n", out.substr(first + 1).c_str());
}

// An output that breaks (its reader gone: EPIPE) while lines wait for it:
// they are dropped, counted, and the loop stops watching it.
TEST(Log, lines_waiting_for_an_output_that_breaks_are_dropped_and_counted) {
  BlockedLog b;
  std::unique_ptr<TestLoop>& loop = b.loop;
  Pipe& p = b.p;
  app::Log& log = b.log;
  for (int i = 0; i < 10; ++i) log.log(app::Level::kInfo, "waiting %d", i);
  CHECK(log.pending() > 0);
  const uint64_t lost = log.lost();
  CHECK_EQUAL(1u, loop->active());  // watching for room
  CHECK_EQUAL(0, hal::close(p.r));  // (the pipe is writable now: the reader is gone)
  p.r = -1;
  CHECK(loop->run_once(0) >= 0);
  CHECK_EQUAL(0u, log.pending());
  CHECK_EQUAL(lost + 10, log.lost());  // each line (it was 1 for them all)
  CHECK_EQUAL(0u, loop->active());
  log.detach();
}
