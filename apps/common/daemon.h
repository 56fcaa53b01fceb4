// What both daemons do around their core: SIGTERM and SIGINT end the loop
// cleanly, SIGHUP reopens the log, an optional --run-for-ms ends it after a
// while (demos and tests), and the loop runs until one of those.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>

#include "apps/common/log.h"
#include "apps/common/options.h"
#include "apps/common/snapshot.h"
#include "apps/common/watchdog.h"
#include "hal/flight.h"
#include "loop/loop.h"

namespace app {

struct DaemonHooks {
  void (*stop)(void* ctx);  // flush and stop the app's watchers
  void* ctx;
  // Snapshots of the app's state for the flight recorder's replay
  // (apps/common/snapshot.h), or null: App::save, drop and restore.
  bool (*save)(void* ctx, flight::SnapWriter& w) = nullptr;
  void (*drop)(void* ctx) = nullptr;
  void (*restore)(void* ctx, Restore& r) = nullptr;
};

// The flight recorder (hal/flight.h, README "A bug seen on a board"). Call
// it first in main(), once the option table is built: it reads the command
// line alone, so that the recording holds every system call after it, the
// config file's reads included. A crash (SIGSEGV, SIGBUS, SIGILL, SIGFPE,
// SIGABRT) also writes the recording (flight::dump_on_crash). Returns -1 to go on (recording if
// --flight-recorder was given; a bad command line is left to
// handle_options()), or 2 after a line on stderr when the recorder cannot
// start.
[[nodiscard]] int start_flight_recorder(const char* prog, const OptionTable& t,
                                        const DaemonOptions& d, int argc, char** argv);
// Writes the recording to its file, when recording: a log line before (so
// the recording ends with it) and one after a failure. reason goes into the
// file's header: SIGUSR2, alarm, exit, error.
void flight_dump(Log& log, const char* reason);
// The same while the loop runs (SIGUSR2, heartbeat's alarm): written by a
// child process (hal::run_in_child) from its copy of the ring, so that a
// card whose fsync stalls stalls the writer, not the loop; a failure is
// one error line when the writer exits. One writer at a time (a dump
// asked for meanwhile is skipped, said); where no child can be made, the
// dump is written here. run_daemon() ends a writer still going before its
// exit's dump, which replaces it; no snapshot is taken while one runs.
void flight_dump_async(evl::Loop& loop, Log& log, const char* reason);

// A daemon's stop (SIGTERM, SIGINT, --run-for-ms, a loop error) ends
// within a second: what it waits for then (telemetry's last spool write,
// the flight recorder's exit dump, both written by child processes) waits
// until kStopBudgetMs after the loop stopped at most, and what is still
// going then is left to finish on its own.
constexpr int64_t kStopBudgetMs = 900;
// The monotonic time by which what the stop waits for must end: the stop's
// budget's end, and at most at_most_ms from now (now + at_most_ms outside a
// stop).
int64_t stop_deadline(const evl::Loop& loop, int64_t at_most_ms);
// Runs the loop until *pid is 0 (the writer's exit callback clears it) or
// the monotonic time `until` has passed; whether the writer ended.
[[nodiscard]] bool run_until_exited(evl::Loop& loop, const int* pid, int64_t until);
// The dump at the stop (the exit's, a loop error's): written by a child as
// flight_dump_async()'s, with the loop run for it until stop_deadline().
// A writer still going then is left to finish (said in one line: the
// file is the last one until it is done); where no child can be made, the
// dump is written here. Before the writer is made, the log's waiting lines
// (a slow serial console's) are given up to kStopLogFlushMs of the budget
// to go out: the writer's copy of the ring ends where it is made, so a
// line written after it would be missing from the recording's replay.
constexpr int64_t kStopLogFlushMs = 300;
void flight_dump_at_stop(evl::Loop& loop, Log& log, const char* reason);

// A writer process the loop watches (a spool checkpoint, a flight dump):
// fn(ctx) runs in a child (hal::run_in_child), and on_exit(cb_ctx) gets
// its end. 0 with *pid and *watch set; else -errno and no child is left
// (one made but not watchable is killed and reaped: its result would never
// be known).
[[nodiscard]] int start_writer(evl::Loop& loop, hal::ChildWork fn, void* ctx, evl::ChildFn on_exit,
                               void* cb_ctx, int* pid, evl::ChildHandle* watch);

// Runs loop until a stop signal or run_for_ms (0: forever). Returns 0, or the
// loop's error. The app's stop hook runs before it returns.
[[nodiscard]] int run_daemon(evl::Loop& loop, Log& log, int64_t run_for_ms,
                             const DaemonHooks& hooks);

// Opens /dev/null on whichever of fds 0, 1 and 2 is closed (a daemon
// started with `>&- 2>&-`): else the first files the daemon opens take them
// (its epoll, its socket to the server) and its log lines go there. Call it
// first in main(). 0, or open's -errno.
[[nodiscard]] int keep_standard_fds_open();

// Switches log to syslog if asked, saying so on stderr when it cannot.
void open_log(const char* prog, Log& log, bool use_syslog);

// Once the loop runs the daemon: logging goes non-blocking through the loop,
// and SIGPIPE is blocked, so a closed stderr pipe is an EPIPE, not a death.
void prepare_output(evl::Loop& loop, Log& log);
// Logs the start warnings (options.h) kept so far, each once.
void log_start_warnings(Log& log);

// Whether App describes its state for the flight recorder (App::kSnapshots).
template <class App>
constexpr bool snapshots(decltype(App::kSnapshots)) {
  return App::kSnapshots;
}
template <class App>
constexpr bool snapshots(...) {
  return false;
}

// What run_daemon() is given for App: its stop(), and its save(), drop()
// and restore() when it describes its state (App::kSnapshots).
template <class App>
DaemonHooks daemon_hooks(App& app) {
  DaemonHooks hooks{[](void* ctx) { static_cast<App*>(ctx)->stop(); }, &app};
  if constexpr (snapshots<App>(0)) {
    hooks.save = [](void* ctx, flight::SnapWriter& w) { return static_cast<App*>(ctx)->save(w); };
    hooks.drop = [](void* ctx) { static_cast<App*>(ctx)->drop(); };
    hooks.restore = [](void* ctx, Restore& r) { static_cast<App*>(ctx)->restore(r); };
  }
  return hooks;
}

// The rest of a daemon's main(): initialise the loop, start the app (a bad
// configuration is one line and exit code 2), run it, log its summary.
// App needs start(loop, err, len), stop() and summary(buf, len).
template <class App>
int serve(const char* prog, evl::Loop& loop, Log& log, App& app, int64_t run_for_ms) {
  if (const int r = loop.init(); r < 0) {
    write_error(prog, "cannot create the event loop: %s", std::strerror(-r));
    flight_dump(log, "error");
    return 1;
  }
  prepare_output(loop, log);
  char err[256];
  const int started = app.start(loop, err, sizeof err);
  log_start_warnings(log);
  if (started < 0) {
    log.log(Level::kError, "%s", err);
    flight_dump(log, "error");
    log.detach();
    return 2;
  }
  const int r = run_daemon(loop, log, run_for_ms, daemon_hooks(app));
  char line[768];
  app.summary(line, sizeof line);
  log.log(Level::kInfo, "%s", line);
  flight_dump_at_stop(loop, log, r < 0 ? "error" : "exit");  // the log still never blocks
  log.detach();
  return r < 0 ? 1 : 0;
}

// What both daemons' main() do once their options are parsed: refuse a
// back-off range upside down (exit 2), open the log (syslog if asked), take
// systemd's watchdog settings from the environment (a bad one is a warning),
// and serve App(cfg, &log). The App is static: some are large.
template <class App, class Config>
int serve_app(const char* prog, Config& cfg, const DaemonOptions& d, evl::Loop& loop) {
  set_error_timestamps(d.log_time);
  if (cfg.link.backoff_max_ms < cfg.link.backoff_initial_ms) {
    write_error(prog, "--backoff-max-ms must be >= --backoff-initial-ms");
    return 2;
  }
  static Log log(prog);
  open_log(prog, log, d.use_syslog);
  log.set_timestamps(d.log_time);
  char env_err[160];
  if (Watchdog::from_environment(&cfg.watchdog, env_err, sizeof env_err) < 0) {
    log.log(Level::kWarning, "%s", env_err);
  }
  static App a(cfg, &log);
  return serve(prog, loop, log, a, d.run_for_ms);
}

}  // namespace app
