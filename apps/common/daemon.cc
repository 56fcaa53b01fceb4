#include "apps/common/daemon.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <initializer_list>

namespace app {
namespace {

struct State {
  Log* log = nullptr;
  bool stopping = false;
  int signo = 0;
  evl::Loop* loop = nullptr;
  const DaemonHooks* hooks = nullptr;
  evl::TimerHandle deadline;  // --run-for-ms
};

// The writer of flight_dump_async(), while one runs.
struct DumpWriter {
  int pid = 0;
  evl::ChildHandle watch;
  Log* log = nullptr;
};
DumpWriter g_dump;
// When the loop stopped (run_daemon), 0 outside a stop: stop_deadline().
int64_t g_stop_began = 0;

int dump_in_child(void* reason) { return flight::dump(static_cast<const char*>(reason)); }

void on_dumped(evl::Loop&, evl::ChildHandle, int, int status, void*) {
  g_dump.pid = 0;
  g_dump.watch = evl::ChildHandle{};
  char why[64];
  if (child_succeeded(status, why, sizeof why)) return;
  g_dump.log->log(Level::kError, "flight recorder: cannot write %s: %s", flight::path(), why);
}

// The recording written by this process, and a failure said.
void dump_here(Log& log, const char* reason) {
  if (const int r = flight::dump(reason); r < 0) {
    log.log(Level::kError, "flight recorder: cannot write %s: %s", flight::path(),
            std::strerror(-r));
  }
}

// At run_daemon()'s end: the exit's dump replaces what a writer still
// going would write, so it is ended (and reaped when it can be: not
// waited for).
void end_dump_writer(evl::Loop& loop) {
  if (g_dump.pid == 0) return;
  (void)loop.child_stop(g_dump.watch);
  (void)hal::kill(g_dump.pid, hal::kSigKill);
  (void)hal::waitpid(g_dump.pid, nullptr, hal::kWnohang);
  g_dump = DumpWriter{};
}

// A snapshot's first bytes: which daemon state layout follows.
// "EAS2": the loop's clock-step base after its figures ("EAS1" had none).
constexpr uint32_t kSnapshotMagic = 0x32534145;

void on_deadline(evl::Loop& loop, evl::TimerHandle, uint32_t, void* ctx);

static_assert(sizeof(evl::LoopHealth) == 232, "the loop's figures have one layout on every target");

bool save_state(void* ctx, flight::SnapWriter& w) {
  const auto* s = static_cast<State*>(ctx);
  // Not while a dump's writer runs: its watcher is not state a replay can
  // rebuild.
  if (g_dump.pid != 0) return false;
  w.put(kSnapshotMagic);
  w.put(s->loop->health());
  w.put(s->loop->clock_step_base());
  save_timer(w, *s->loop, s->deadline);
  s->log->save(w);
  return s->hooks->save(s->hooks->ctx, w);
}

int restore_state(void* ctx, flight::SnapReader& in) {
  auto* s = static_cast<State*>(ctx);
  Restore r(*s->loop, in);
  uint32_t magic = 0;
  evl::LoopHealth health;
  int64_t step_base = 0;
  if (!r.get(&magic) || magic != kSnapshotMagic || !r.get(&health) || !r.get(&step_base)) {
    return -EINVAL;
  }
  s->loop->timer_clear(&s->deadline);
  s->log->drop();
  s->hooks->drop(s->hooks->ctx);
  r.timer(&s->deadline, on_deadline, s);
  s->log->restore(r);
  s->hooks->restore(s->hooks->ctx, r);
  const int rc = r.finish();
  // After finish(): its timerfd_settime calls are not the recorded loop's.
  if (rc == 0) {
    s->loop->restore_health(health);
    s->loop->set_clock_step_base(step_base);
  }
  return rc;
}

void on_stop_signal(evl::Loop& loop, evl::SignalHandle, const evl::SignalInfo& info, void* ctx) {
  auto* s = static_cast<State*>(ctx);
  s->signo = info.signo;
  s->stopping = true;
  loop.stop();
}

void on_hup(evl::Loop&, evl::SignalHandle, const evl::SignalInfo&, void* ctx) {
  auto* s = static_cast<State*>(ctx);
  s->log->reopen();
  s->log->log(Level::kInfo, "SIGHUP: log reopened");
}

void on_dump(evl::Loop& loop, evl::SignalHandle, const evl::SignalInfo&, void* ctx) {
  flight_dump_async(loop, *static_cast<State*>(ctx)->log, "SIGUSR2");
}

void on_deadline(evl::Loop& loop, evl::TimerHandle, uint32_t, void* ctx) {
  static_cast<State*>(ctx)->stopping = true;
  loop.stop();
}

}  // namespace

int run_daemon(evl::Loop& loop, Log& log, int64_t run_for_ms, const DaemonHooks& hooks) {
  State st;
  st.log = &log;
  st.loop = &loop;
  st.hooks = &hooks;
  evl::SignalHandle term, intr, hup, usr2;
  evl::TimerHandle& deadline = st.deadline;
  int r = loop.signal_start(hal::kSigTerm, on_stop_signal, &st, &term);
  if (r == 0) r = loop.signal_start(hal::kSigInt, on_stop_signal, &st, &intr);
  if (r == 0) r = loop.signal_start(hal::kSigHup, on_hup, &st, &hup);
  if (r == 0 && flight::recording()) r = loop.signal_start(hal::kSigUsr2, on_dump, &st, &usr2);
  if (r == 0 && run_for_ms > 0)
    r = loop.timer_after(evl::ms_to_ns(run_for_ms), on_deadline, &st, &deadline);
  if (r < 0) {
    log.log(Level::kError, "cannot set up signals: %s", std::strerror(-r));
    hooks.stop(hooks.ctx);
    return r;
  }
  // The recorder snapshots the daemon's state at the start of each of its
  // blocks (hal/flight.h); a replay of a wrapped ring restores one.
  const bool snapshots = flight::recording() && hooks.save != nullptr;
  if (snapshots) flight::set_snapshot_hooks(flight::SnapshotHooks{save_state, restore_state, &st});
  // Returns on stop(), on a loop error, or when nothing is left to watch.
  g_stop_began = 0;
  r = loop.run();
  g_stop_began = loop.now(evl::Clock::kMonotonic);
  if (snapshots) flight::set_snapshot_hooks(flight::SnapshotHooks{});
  if (r < 0) log.log(Level::kError, "event loop failed: %s", std::strerror(-r));
  if (st.signo != 0)
    log.log(Level::kInfo, "%s: stopping", st.signo == hal::kSigInt ? "SIGINT" : "SIGTERM");
  hooks.stop(hooks.ctx);
  end_dump_writer(loop);
  for (evl::SignalHandle h : {term, intr, hup, usr2}) {
    if (h) (void)loop.signal_stop(h);
  }
  if (deadline) (void)loop.timer_stop(deadline);
  return r < 0 ? r : 0;
}

int start_flight_recorder(const char* prog, const OptionTable& t, const DaemonOptions& d, int argc,
                          char** argv) {
  ParseResult pr;
  if (parse_command_line(t.data(), t.size(), argc, argv, &pr) < 0 || pr.help || pr.version ||
      d.flight_recorder[0] == '\0') {
    return -1;
  }
  set_error_timestamps(d.log_time);
  const auto bytes = static_cast<size_t>(d.flight_recorder_kib) * 1024;
  int r = flight::start(prog, argc, argv, d.flight_recorder, bytes);
  if (r == 0) r = flight::dump_on_crash();
  if (r < 0) {
    write_error(prog, "cannot start the flight recorder (%s): %s", d.flight_recorder,
                std::strerror(-r));
    return 2;
  }
  return -1;
}

namespace {

// Runs the loop while more() holds and the monotonic time `until` has not
// passed; whether more() stopped holding (a loop error also ends it).
template <class More>
bool run_while(evl::Loop& loop, int64_t until, More more) {
  while (more()) {
    const int64_t left = until - loop.now(evl::Clock::kMonotonic);
    if (left <= 0) return false;
    const int r = loop.run_once(static_cast<int>((left + evl::kMs - 1) / evl::kMs));
    if (r < 0 && r != -EINTR) return false;
  }
  return true;
}

// flush_until: 0 while the loop runs; at the stop, until when the loop runs
// for the log's waiting lines before the writer is made.
void dump_async(evl::Loop& loop, Log& log, const char* reason, int64_t flush_until) {
  if (!flight::recording()) return;
  if (g_dump.pid != 0) {
    log.log(Level::kWarning, "flight recorder: still writing %s; not written again (%s)",
            flight::path(), reason);
    return;
  }
  log.log(Level::kInfo, "flight recorder: writing %s (%s)", flight::path(), reason);
  (void)run_while(loop, flush_until, [&log] { return log.pending() > 0; });
  const int r = start_writer(loop, dump_in_child, const_cast<char*>(reason), on_dumped, nullptr,
                             &g_dump.pid, &g_dump.watch);
  if (r == 0) {
    g_dump.log = &log;
    return;
  }
  log.log(Level::kWarning,
          "flight recorder: cannot write %s from a child process: %s; written here", flight::path(),
          std::strerror(-r));
  dump_here(log, reason);
}

}  // namespace

void flight_dump_async(evl::Loop& loop, Log& log, const char* reason) {
  dump_async(loop, log, reason, 0);
}

int64_t stop_deadline(const evl::Loop& loop, int64_t at_most_ms) {
  const int64_t now = loop.now(evl::Clock::kMonotonic);
  const int64_t until = now + at_most_ms * evl::kMs;
  if (g_stop_began == 0) return until;
  const int64_t end = g_stop_began + kStopBudgetMs * evl::kMs;
  return end < until ? end : until;
}

bool run_until_exited(evl::Loop& loop, const int* pid, int64_t until) {
  return run_while(loop, until, [pid] { return *pid != 0; });
}

void flight_dump_at_stop(evl::Loop& loop, Log& log, const char* reason) {
  const int64_t began = loop.now(evl::Clock::kMonotonic);
  const int64_t until = stop_deadline(loop, kStopBudgetMs);
  const int64_t flush_until = stop_deadline(loop, kStopLogFlushMs);
  g_stop_began = 0;  // the stop's last wait
  if (!flight::recording()) return;
  dump_async(loop, log, reason, flush_until);
  if (g_dump.pid == 0 || run_until_exited(loop, &g_dump.pid, until)) return;
  log.log(Level::kWarning,
          "flight recorder: still writing %s after %lld ms (storage stalled?): left to process "
          "%d to finish; the file is the last one until it is done",
          flight::path(), static_cast<long long>((until - began) / evl::kMs), g_dump.pid);
  (void)loop.child_stop(g_dump.watch);
  g_dump = DumpWriter{};
}

void flight_dump(Log& log, const char* reason) {
  if (!flight::recording()) return;
  log.log(Level::kInfo, "flight recorder: writing %s (%s)", flight::path(), reason);
  dump_here(log, reason);
}

int start_writer(evl::Loop& loop, hal::ChildWork fn, void* ctx, evl::ChildFn on_exit, void* cb_ctx,
                 int* pid, evl::ChildHandle* watch) {
  int child = 0;
  int r = hal::run_in_child(fn, ctx, &child);
  if (r < 0) return r;
  r = loop.child_start(child, on_exit, cb_ctx, watch);
  if (r < 0) {
    (void)hal::kill(child, hal::kSigKill);
    (void)hal::waitpid(child, nullptr, 0);
    return r;
  }
  *pid = child;
  return 0;
}

int keep_standard_fds_open() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (hal::get_status_flags(fd) != -EBADF) continue;
    // The lowest free fd is this one: those below it are open by now.
    // (Inherited by the alarm command: no close-on-exec.)
    if (const int r = hal::open("/dev/null", hal::kRdWr, 0); r < 0) return r;
  }
  return 0;
}

void prepare_output(evl::Loop& loop, Log& log) {
  const uint64_t pipe = hal::sig_bit(hal::kSigPipe);
  (void)hal::sigprocmask(hal::kSigBlock, &pipe, nullptr);
  if (const int r = log.attach(loop); r < 0) {
    log.log(Level::kWarning, "cannot make the log output non-blocking: %s", std::strerror(-r));
  }
}

void log_start_warnings(Log& log) {
  char w[256];
  while (take_start_warning(w, sizeof w)) log.log(Level::kWarning, "%s", w);
}

void open_log(const char* prog, Log& log, bool use_syslog) {
  if (use_syslog && log.use_syslog() < 0) {
    write_error(prog, "cannot reach syslog at /dev/log; logging to stderr until it is there");
  }
}

}  // namespace app
