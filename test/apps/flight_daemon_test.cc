// The daemons' side of the flight recorder, on the fake kernel: the options,
// and the dumps on SIGUSR2 and on heartbeat's alarm (the fake seam records
// nothing, so the files hold a header and no calls; hal/flight_test.cc and
// test/flight/ check the records themselves).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "CppUTest/TestHarness.h"
#include "apps/common/daemon.h"
#include "apps/common/log.h"
#include "apps/common/options.h"
#include "apps/heartbeat/heartbeat.h"
#include "hal/flight.h"
#include "loop/static_loop.h"
#include "test/fake/kernel.h"

using evl::kMs;
using evl::kSec;

namespace {

using TestLoop = evl::StaticLoop<8, 16, 4, 1, 4>;

struct Argv {
  char storage[8][128];
  char* argv[9] = {};
  int argc = 0;
  Argv(std::initializer_list<const char*> args) {
    for (const char* a : args) {
      std::snprintf(storage[argc], sizeof storage[argc], "%s", a);
      argv[argc] = storage[argc];
      ++argc;
    }
  }
};

std::string reason_of(const std::string* file) {
  if (file == nullptr || file->size() < sizeof(flight::FileHeader)) return "(no file)";
  flight::FileHeader h;
  std::memcpy(&h, file->data(), sizeof h);
  return h.reason;
}

// Whether run_daemon's snapshot hook would take a snapshot now, into ctx.
void try_snapshot(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  static uint8_t bytes[4096];
  flight::SnapWriter w(bytes, sizeof bytes);
  const flight::SnapshotHooks& h = flight::snapshot_hooks();
  *static_cast<int*>(ctx) = h.save != nullptr && h.save(h.ctx, w) ? 1 : 0;
}

// The recorder started to /var/hb.rec, and a loop; p: a pipe for the log.
std::unique_ptr<TestLoop> recording_loop(int p[2]) {
  CHECK_EQUAL(0, flight::start("heartbeat", 0, nullptr, "/var/hb.rec", flight::kMinRingBytes));
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  CHECK_EQUAL(0, hal::pipe2(p, hal::kCloexec | hal::kNonblock));
  return loop;
}

void send_signal(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  CHECK_EQUAL(0, hal::kill(hal::getpid(), *static_cast<int*>(ctx)));
}

}  // namespace

TEST_GROUP(FlightDaemon) {
  fake::Kernel* k = nullptr;
  app::DaemonOptions d;
  app::OptionTable t;
  char server[64] = {};
  void setup() override {
    k = new fake::Kernel();
    t.add(app::string_option("server", "URL", "server", server, sizeof server));
    app::add_daemon_options(&t, &d);
  }
  void teardown() override {
    flight::stop();
    delete k;
  }
};

TEST(FlightDaemon, the_recorder_starts_from_the_command_line_before_any_file_is_read) {
  Argv a({"heartbeat", "--config", "/etc/missing.conf", "--flight-recorder", "/var/hb.rec",
          "--flight-recorder-kib=256"});
  CHECK_EQUAL(-1, app::start_flight_recorder("heartbeat", t, d, a.argc, a.argv));
  CHECK(flight::recording());
  STRCMP_EQUAL("/var/hb.rec", flight::path());
  // Two opens check the recording's path (its temporary file, the path);
  // the config file is left to handle_options.
  CHECK_EQUAL(2, k->calls(fake::Call::kOpen));
}

TEST(FlightDaemon, no_recorder_without_the_option_or_with_a_bad_command_line) {
  Argv none({"heartbeat", "--server", "tcp://1.2.3.4:5"});
  CHECK_EQUAL(-1, app::start_flight_recorder("heartbeat", t, d, none.argc, none.argv));
  CHECK_FALSE(flight::recording());
  Argv small({"heartbeat", "--flight-recorder", "/var/hb.rec", "--flight-recorder-kib", "8"});
  CHECK_EQUAL(-1, app::start_flight_recorder("heartbeat", t, d, small.argc, small.argv));
  CHECK_FALSE(flight::recording());  // handle_options() then reports the bad size
  Argv help({"heartbeat", "--flight-recorder", "/var/hb.rec", "--help"});
  CHECK_EQUAL(-1, app::start_flight_recorder("heartbeat", t, d, help.argc, help.argv));
  CHECK_FALSE(flight::recording());
}

// The ring lives in static storage sized at build (--define=evl_flight_kib,
// 4096 by default): a larger ring is a bad option, said with the range.
TEST(FlightDaemon, a_ring_larger_than_the_builds_storage_is_refused) {
  char big[32];
  std::snprintf(big, sizeof big, "%zu", (flight::kMaxRingBytes >> 10) + 32);
  Argv a({"heartbeat", "--flight-recorder", "/var/hb.rec", "--flight-recorder-kib", big});
  app::ParseResult r;
  CHECK_EQUAL(-EINVAL, app::parse_options(t.data(), t.size(), a.argc, a.argv, &r));
  char want[64];
  std::snprintf(want, sizeof want, "from 64 to %zu, not", flight::kMaxRingBytes >> 10);
  STRCMP_CONTAINS(want, r.error);
  CHECK_EQUAL(-1, app::start_flight_recorder("heartbeat", t, d, a.argc, a.argv));
  CHECK_FALSE(flight::recording());
}

TEST(FlightDaemon, a_recorder_that_cannot_start_is_exit_code_2) {
  CHECK_EQUAL(0, flight::start("other", 0, nullptr, "/var/x.rec", flight::kMinRingBytes));
  Argv a({"heartbeat", "--flight-recorder", "/var/hb.rec"});
  CHECK_EQUAL(2, app::start_flight_recorder("heartbeat", t, d, a.argc, a.argv));
  STRCMP_EQUAL(
      "heartbeat: cannot start the flight recorder (/var/hb.rec): Operation already in "
      "progress\n",
      k->written(2).c_str());
}

// A path the recording could not be written to is an error at start.
TEST(FlightDaemon, a_recording_path_that_cannot_be_written_is_exit_code_2) {
  k->fail_next(fake::Call::kOpen, EROFS);
  Argv a({"heartbeat", "--flight-recorder", "/var/hb.rec"});
  CHECK_EQUAL(2, app::start_flight_recorder("heartbeat", t, d, a.argc, a.argv));
  CHECK_FALSE(flight::recording());
  STRCMP_EQUAL("heartbeat: cannot start the flight recorder (/var/hb.rec): Read-only file system\n",
               k->written(2).c_str());
}

// A crash (SIGSEGV, SIGABRT, ...) writes the recording too, named after
// the signal; the process then dies of it (hal/flight_test.cc).
TEST(FlightDaemon, a_crash_writes_the_recording) {
  Argv a({"heartbeat", "--flight-recorder", "/var/hb.rec"});
  CHECK_EQUAL(-1, app::start_flight_recorder("heartbeat", t, d, a.argc, a.argv));
  CHECK(k->crash(hal::kSigAbrt));
  CHECK_EQUAL(std::string("SIGABRT"), reason_of(k->created_file("/var/hb.rec")));
  CHECK_EQUAL(1u, k->delivered_unblocked(hal::kSigAbrt));
}

TEST(FlightDaemon, a_crash_handler_that_cannot_be_installed_is_exit_code_2) {
  k->fail_next(fake::Call::kOnCrash, EINVAL);
  Argv a({"heartbeat", "--flight-recorder", "/var/hb.rec"});
  CHECK_EQUAL(2, app::start_flight_recorder("heartbeat", t, d, a.argc, a.argv));
  CHECK_FALSE(k->crash(hal::kSigSegv));
}

TEST(FlightDaemon, a_config_file_cannot_name_the_recorder) {
  k->add_regular_path("/etc/hb.conf", "server = tcp://1.2.3.4:5\nflight-recorder = /var/x\n");
  Argv a({"heartbeat", "--config", "/etc/hb.conf"});
  app::ParseResult r;
  CHECK_EQUAL(-EINVAL, app::parse_options(t.data(), t.size(), a.argc, a.argv, &r));
  STRCMP_EQUAL("/etc/hb.conf:2: 'flight-recorder' is accepted on the command line only", r.error);
}

TEST(FlightDaemon, sigusr2_writes_the_recording_and_says_so) {
  int p[2];
  std::unique_ptr<TestLoop> loop = recording_loop(p);
  app::Log log("heartbeat", p[1]);
  int usr2 = hal::kSigUsr2;
  int term = hal::kSigTerm;
  evl::TimerHandle t1, t2;
  CHECK_EQUAL(0, loop->timer_after(100 * kMs, send_signal, &usr2, &t1));
  CHECK_EQUAL(0, loop->timer_after(200 * kMs, send_signal, &term, &t2));
  CHECK_EQUAL(0, app::run_daemon(*loop, log, 0, app::DaemonHooks{[](void*) {}, nullptr}));
  STRCMP_EQUAL("SIGUSR2", reason_of(k->created_file("/var/hb.rec")).c_str());
  STRCMP_CONTAINS("heartbeat: info: flight recorder: writing /var/hb.rec (SIGUSR2)\n",
                  fake::read_all(p[0]).c_str());
  CHECK_EQUAL(0u, k->delivered_unblocked(hal::kSigUsr2));  // taken by the loop, not the default

  // A dump that fails says why, and the daemon goes on.
  k->fail_next(fake::Call::kOpen, EROFS);
  CHECK_EQUAL(0, loop->timer_after(100 * kMs, send_signal, &usr2, &t1));
  CHECK_EQUAL(0, loop->timer_after(200 * kMs, send_signal, &term, &t2));
  CHECK_EQUAL(0, app::run_daemon(*loop, log, 0, app::DaemonHooks{[](void*) {}, nullptr}));
  STRCMP_CONTAINS(
      "heartbeat: error: flight recorder: cannot write /var/hb.rec: Read-only file system\n",
      fake::read_all(p[0]).c_str());
  CHECK_EQUAL(0, hal::close(p[0]));
  CHECK_EQUAL(0, hal::close(p[1]));
}

// The dump is written by a child, beside the loop: one at a time (a
// SIGUSR2 while the writer is at its fsync is said and skipped), a writer
// still going at exit is ended (the exit's dump replaces it), and where no
// child can be made or watched the dump is written here.
TEST(FlightDaemon, the_dump_is_written_beside_the_loop_one_writer_at_a_time) {
  int p[2];
  std::unique_ptr<TestLoop> loop = recording_loop(p);
  app::Log log("heartbeat", p[1]);
  int usr2 = hal::kSigUsr2;
  int term = hal::kSigTerm;
  evl::TimerHandle t1, t2, t3, s1, s2;
  k->child_work_behaviour(-1);  // the writer hangs (a stalled fsync) until killed
  CHECK_EQUAL(0, loop->timer_after(100 * kMs, send_signal, &usr2, &t1));
  CHECK_EQUAL(0, loop->timer_after(150 * kMs, send_signal, &usr2, &t2));
  CHECK_EQUAL(0, loop->timer_after(200 * kMs, send_signal, &term, &t3));
  // A snapshot before the writer, none while it runs (its watcher is not
  // state a replay rebuilds).
  int before = -1, during = -1;
  CHECK_EQUAL(0, loop->timer_after(50 * kMs, try_snapshot, &before, &s1));
  CHECK_EQUAL(0, loop->timer_after(120 * kMs, try_snapshot, &during, &s2));
  app::DaemonHooks hooks{[](void*) {}, nullptr};
  hooks.save = [](void*, flight::SnapWriter&) { return true; };
  hooks.drop = [](void*) {};
  hooks.restore = [](void*, app::Restore&) {};
  CHECK_EQUAL(0, app::run_daemon(*loop, log, 0, hooks));
  CHECK_EQUAL(1, before);
  CHECK_EQUAL(0, during);
  std::string out = fake::read_all(p[0]);
  STRCMP_CONTAINS("heartbeat: info: flight recorder: writing /var/hb.rec (SIGUSR2)\n", out.c_str());
  STRCMP_CONTAINS(
      "heartbeat: warning: flight recorder: still writing /var/hb.rec; not written again "
      "(SIGUSR2)\n",
      out.c_str());
  CHECK_EQUAL(1, k->children_run());
  CHECK_EQUAL(0, k->running_processes());  // ended at exit
  CHECK(k->process(k->last_pid())->reaped);
  k->child_work_behaviour(0);
  for (const auto& [call, err, said] :
       {std::make_tuple(fake::Call::kRunInChild, EAGAIN, "Resource temporarily unavailable"),
        std::make_tuple(fake::Call::kPidfdOpen, EMFILE, "Too many open files")}) {
    CHECK_EQUAL(0, hal::unlink("/var/hb.rec"));
    k->fail_next(call, err);
    CHECK_EQUAL(0, loop->timer_after(100 * kMs, send_signal, &usr2, &t1));
    CHECK_EQUAL(0, loop->timer_after(200 * kMs, send_signal, &term, &t3));
    CHECK_EQUAL(0, app::run_daemon(*loop, log, 0, app::DaemonHooks{[](void*) {}, nullptr}));
    out = fake::read_all(p[0]);
    STRCMP_CONTAINS((std::string("heartbeat: warning: flight recorder: cannot write /var/hb.rec "
                                 "from a child process: ") +
                     said + "; written here\n")
                        .c_str(),
                    out.c_str());
    STRCMP_EQUAL("SIGUSR2", reason_of(k->created_file("/var/hb.rec")).c_str());
    CHECK_EQUAL(0, k->running_processes());
  }
  CHECK_EQUAL(0, hal::close(p[0]));
  CHECK_EQUAL(0, hal::close(p[1]));
}

TEST(FlightDaemon, without_the_recorder_sigusr2_is_left_alone) {
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  app::Log log("heartbeat", 2);
  int term = hal::kSigTerm;
  evl::TimerHandle t2;
  CHECK_EQUAL(0, loop->timer_after(100 * kMs, send_signal, &term, &t2));
  CHECK_EQUAL(0, app::run_daemon(*loop, log, 0, app::DaemonHooks{[](void*) {}, nullptr}));
  CHECK_EQUAL(0u, k->claimed_signals() & hal::sig_bit(hal::kSigUsr2));
  CHECK(k->created_file("/var/hb.rec") == nullptr);
}

namespace {

// Heartbeat recording, beating every 100 ms towards a server nobody runs
// (its alarm after 1 s), started on its loop.
struct Unreachable {
  std::unique_ptr<TestLoop> loop{new TestLoop()};
  heartbeat::Config cfg;
  app::Log log{"heartbeat", 2};
  std::unique_ptr<heartbeat::App> hb;
  Unreachable() {
    CHECK_EQUAL(0, flight::start("heartbeat", 0, nullptr, "/var/hb.rec", flight::kMinRingBytes));
    CHECK_EQUAL(0, loop->init());
    std::snprintf(cfg.server, sizeof cfg.server, "tcp://127.0.0.1:9401");
    cfg.period_ms = 100;
    cfg.alarm_after_ms = 1000;
    hb.reset(new heartbeat::App(cfg, &log));
    char err[256] = {};
    CHECK_EQUAL(0, hb->start(*loop, err, sizeof err));
  }
};

}  // namespace

TEST(FlightDaemon, heartbeats_alarm_writes_the_recording) {
  Unreachable u;
  int term = hal::kSigTerm;
  evl::TimerHandle t2;
  CHECK_EQUAL(0, u.loop->timer_after(3 * kSec, send_signal, &term, &t2));
  CHECK_EQUAL(0, app::run_daemon(*u.loop, u.log, 0, app::daemon_hooks(*u.hb)));
  CHECK_EQUAL(1u, u.hb->counters().alarms_raised);
  STRCMP_EQUAL("alarm", reason_of(k->created_file("/var/hb.rec")).c_str());
}

// The exit's dump is a child's too, and the stop waits for it (up to the
// stop's budget: test/apps/spool_test.cc, slow_storage_test.cc): the file
// is there when serve() returns, and the writer reaped.
TEST(FlightDaemon, the_exits_dump_is_written_by_a_child_the_stop_waits_for) {
  CHECK_EQUAL(0, flight::start("heartbeat", 0, nullptr, "/var/hb.rec", flight::kMinRingBytes));
  std::unique_ptr<TestLoop> loop(new TestLoop());
  heartbeat::Config cfg;
  std::snprintf(cfg.server, sizeof cfg.server, "tcp://127.0.0.1:9401");
  app::Log log("heartbeat", 2);
  heartbeat::App hb(cfg, &log);
  CHECK_EQUAL(0, app::serve("heartbeat", *loop, log, hb, 500));
  STRCMP_EQUAL("exit", reason_of(k->created_file("/var/hb.rec")).c_str());
  CHECK(k->created_file("/var/hb.rec.tmc") == nullptr);  // the child's, renamed
  CHECK_EQUAL(1, k->children_run());
  CHECK(k->process(k->last_pid())->reaped);
  STRCMP_CONTAINS("heartbeat: info: flight recorder: writing /var/hb.rec (exit)\n",
                  k->written(2).c_str());
}

namespace {

// A log whose stderr is a pipe full to the brim (a slow serial console),
// one line waiting, and the recorder started; at the stop, the exit's dump
// with a reader taking the pipe's bytes after 50 ms (reader) or none.
struct SlowConsole {
  fake::Kernel* k;
  int p[2] = {-1, -1};
  std::unique_ptr<TestLoop> loop{new TestLoop()};
  std::unique_ptr<app::Log> log;
  uint64_t forks_at_read = 99;  // run_in_child calls when the reader came
  explicit SlowConsole(fake::Kernel* kernel) : k(kernel) {
    CHECK_EQUAL(0, flight::start("heartbeat", 0, nullptr, "/var/hb.rec", flight::kMinRingBytes));
    CHECK_EQUAL(0, loop->init());
    CHECK_EQUAL(0, hal::pipe2(p, hal::kCloexec));  // blocking, as stderr is
    CHECK_EQUAL(0, hal::set_status_flags(p[0], hal::kNonblock));
    CHECK_EQUAL(0, hal::set_status_flags(p[1], hal::kNonblock));
    char junk[4096] = {};
    while (hal::write(p[1], junk, sizeof junk) > 0) {
    }
    CHECK_EQUAL(0, hal::set_status_flags(p[1], 0));
    log.reset(new app::Log("heartbeat", p[1]));
    CHECK_EQUAL(0, log->attach(*loop));
    log->log(app::Level::kInfo, "the summary");
    CHECK(log->pending() > 0);
  }
  ~SlowConsole() {
    log->detach();
    for (int fd : p) (void)hal::close(fd);
  }
  static void read_console(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
    auto* c = static_cast<SlowConsole*>(ctx);
    c->forks_at_read = c->k->calls(fake::Call::kRunInChild);
    (void)fake::read_all(c->p[0]);
  }
  // The stop's dump; how long it took (virtual time).
  int64_t dump_at_stop(bool reader) {
    evl::TimerHandle t;
    if (reader) CHECK_EQUAL(0, loop->timer_after(50 * kMs, read_console, this, &t));
    const int64_t began = loop->now(evl::Clock::kMonotonic);
    app::flight_dump_at_stop(*loop, *log, "exit");
    CHECK_EQUAL(1u, k->calls(fake::Call::kRunInChild));
    STRCMP_EQUAL("exit", reason_of(k->created_file("/var/hb.rec")).c_str());
    return loop->now(evl::Clock::kMonotonic) - began;
  }
};

}  // namespace

// The lines still waiting for a slow console at the stop go out before the
// exit's dump is made: the writer's copy of the ring ends where it is made,
// and the board's replay of its heartbeat missed the summary line that went
// out after it. A console that takes nothing delays the dump by
// kStopLogFlushMs, no more.
TEST(FlightDaemon, the_exits_dump_waits_a_while_for_the_logs_waiting_lines) {
  SlowConsole c(k);
  const int64_t took = c.dump_at_stop(true);
  CHECK_EQUAL(0u, c.forks_at_read);  // not made before the console took the lines
  CHECK_EQUAL(0u, c.log->pending());
  const std::string out = fake::read_all(c.p[0]);
  STRCMP_CONTAINS("heartbeat: info: the summary\n", out.c_str());
  STRCMP_CONTAINS("heartbeat: info: flight recorder: writing /var/hb.rec (exit)\n", out.c_str());
  CHECK(took >= 50 * kMs);
  CHECK(took < app::kStopLogFlushMs * kMs);
}

TEST(FlightDaemon, a_console_that_takes_nothing_delays_the_exits_dump_a_while) {
  SlowConsole c(k);
  const int64_t took = c.dump_at_stop(false);
  CHECK(c.log->pending() > 0);
  CHECK(took >= app::kStopLogFlushMs * kMs);
  CHECK(took < app::kStopBudgetMs * kMs);
}

// A daemon that cannot start (here: no server) writes the recording in
// the process, with the reason "error"; a write that fails is said.
TEST(FlightDaemon, a_daemon_that_cannot_start_writes_its_recording_here) {
  CHECK_EQUAL(0, flight::start("heartbeat", 0, nullptr, "/var/hb.rec", flight::kMinRingBytes));
  heartbeat::Config cfg;
  app::Log log("heartbeat", 2);
  for (const bool fails : {false, true}) {
    std::unique_ptr<TestLoop> loop(new TestLoop());
    heartbeat::App hb(cfg, &log);
    if (fails) k->fail_next(fake::Call::kOpen, EROFS);
    CHECK_EQUAL(2, app::serve("heartbeat", *loop, log, hb, 500));
    CHECK_EQUAL(0, k->children_run());
    if (!fails) {
      STRCMP_EQUAL("error", reason_of(k->created_file("/var/hb.rec")).c_str());
      CHECK_EQUAL(0, hal::unlink("/var/hb.rec"));
    }
  }
  CHECK(k->created_file("/var/hb.rec") == nullptr);
  STRCMP_CONTAINS(
      "heartbeat: error: flight recorder: cannot write /var/hb.rec: Read-only file system\n",
      k->written(2).c_str());
}

namespace {

struct SnapAt {
  int saved = -1;     // 1: the hooks wrote a snapshot
  int restored = -1;  // restore()'s result
  size_t bytes = 0;
};

// Takes the daemon's snapshot through the hooks run_daemon registered and
// restores it at once: the daemon must go on as if nothing happened.
void snapshot_and_restore(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  auto* s = static_cast<SnapAt*>(ctx);
  static uint8_t bytes[flight::kMaxSnapshotBytes];
  const flight::SnapshotHooks& h = flight::snapshot_hooks();
  flight::SnapWriter w(bytes, sizeof bytes);
  s->saved = h.save != nullptr && h.save(h.ctx, w) && w.ok() ? 1 : 0;
  s->bytes = w.size();
  flight::SnapReader in(bytes, w.size());
  s->restored = h.restore != nullptr ? h.restore(h.ctx, in) : -1;
  if (in.left() != 0) s->restored = -2;
}

}  // namespace

// The daemon's own part of a snapshot (its run-for deadline, the log, the
// loop's figures) with heartbeat's, through the hooks run_daemon registers
// while recording: restored in the middle of an outage, the daemon still
// ends at its deadline, beats on its phase and raises the alarm once.
TEST(FlightDaemon, a_daemon_restored_from_its_own_snapshot_goes_on_unchanged) {
  Unreachable u;
  SnapAt at;
  evl::TimerHandle t1, t2;
  CHECK_EQUAL(0, u.loop->timer_after(2 * kSec + 50 * kMs, snapshot_and_restore, &at, &t1));
  int term = hal::kSigTerm;  // only if the deadline were lost
  CHECK_EQUAL(0, u.loop->timer_after(10 * kSec, send_signal, &term, &t2));
  const uint64_t iterations = u.loop->health().iterations;
  const int64_t t0 = k->monotonic_ns();
  CHECK_EQUAL(0, app::run_daemon(*u.loop, u.log, 3000, app::daemon_hooks(*u.hb)));
  CHECK_EQUAL(1, at.saved);
  CHECK_EQUAL(0, at.restored);
  CHECK(at.bytes > sizeof(evl::LoopHealth));
  CHECK(k->monotonic_ns() - t0 < 3 * kSec + 100 * kMs);  // the restored deadline ended it
  CHECK_EQUAL(30u, u.hb->counters().missed_down);        // every beat of 3 s, on its phase
  CHECK_EQUAL(1u, u.hb->counters().alarms_raised);
  CHECK(u.loop->health().iterations > iterations);
  CHECK(flight::snapshot_hooks().save == nullptr);  // removed when run_daemon returns
  u.hb->stop();
}

namespace {

struct StepRun {
  fake::Kernel* k = nullptr;
  int64_t start_base = 0;     // the loop's clock-step base when the watch began
  std::vector<int64_t> seen;  // the steps the watcher was told of
  SnapAt at;
};

void note_step(evl::Loop&, int64_t step_ns, void* ctx) {
  static_cast<StepRun*>(ctx)->seen.push_back(step_ns);
}

void step_5s(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  static_cast<StepRun*>(ctx)->k->step_realtime(5 * kSec);
}

void step_3s(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  static_cast<StepRun*>(ctx)->k->step_realtime(3 * kSec);
}

// As a replay restores: the daemon's snapshot goes into a loop whose
// clock-step base is the one the program's start set, before the step.
void restore_as_replayed(evl::Loop& loop, evl::TimerHandle, uint32_t, void* ctx) {
  auto* r = static_cast<StepRun*>(ctx);
  static uint8_t bytes[flight::kMaxSnapshotBytes];
  const flight::SnapshotHooks& h = flight::snapshot_hooks();
  flight::SnapWriter w(bytes, sizeof bytes);
  r->at.saved = h.save != nullptr && h.save(h.ctx, w) && w.ok() ? 1 : 0;
  loop.set_clock_step_base(r->start_base);
  flight::SnapReader in(bytes, w.size());
  r->at.restored = h.restore != nullptr ? h.restore(h.ctx, in) : -1;
}

}  // namespace

// A clock step in the part of a recording the ring lost, then another: the
// restored loop measures the second from the recorded loop's base (the
// snapshot carries it), not from the one its start set.
TEST(FlightDaemon, a_snapshot_carries_the_clock_step_base_past_a_step) {
  Unreachable u;
  StepRun r;
  r.k = k;
  CHECK_EQUAL(0, u.loop->clock_step_watch(note_step, &r));
  r.start_base = u.loop->clock_step_base();
  evl::TimerHandle t1, t2, t3;
  CHECK_EQUAL(0, u.loop->timer_after(1 * kSec, step_5s, &r, &t1));
  CHECK_EQUAL(0, u.loop->timer_after(2 * kSec + 50 * kMs, restore_as_replayed, &r, &t2));
  CHECK_EQUAL(0, u.loop->timer_after(2 * kSec + 500 * kMs, step_3s, &r, &t3));
  CHECK_EQUAL(0, app::run_daemon(*u.loop, u.log, 3000, app::daemon_hooks(*u.hb)));
  CHECK_EQUAL(1, r.at.saved);
  CHECK_EQUAL(0, r.at.restored);
  CHECK_EQUAL(2u, r.seen.size());
  CHECK_EQUAL(5 * kSec, r.seen[0]);
  CHECK_EQUAL(3 * kSec, r.seen[1]);
  CHECK_EQUAL(0, u.loop->clock_step_watch(nullptr, nullptr));
  u.hb->stop();
}
