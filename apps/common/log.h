// Logging for the daemons: levelled lines to stderr, or to syslog (/dev/log,
// RFC 3164 datagrams sent through the seam) with --syslog. reopen() is what
// SIGHUP calls: it re-creates the syslog socket (a restarted syslogd).
// While syslog cannot be reached (not there yet at boot, a syslogd that
// went away) lines go to stderr, and a line tries syslog again at most
// every kSyslogRetryNs; a syslog that is only behind (its queue full)
// costs lines, counted.
//
// Logging never blocks the loop. attach() writes a pipe or a terminal
// through a non-blocking description of its own (opened from
// /proc/self/fd/N), so that the one stderr shares with the shell that
// started the daemon and with the programs it starts stays blocking (a
// terminal left non-blocking by a killed daemon gives the next program
// EAGAIN; an alarm command would inherit it). A socket (journald's stream,
// which systemd also gives as stdout, to the daemon and to the programs it
// starts) cannot be opened anew: each line is sent with MSG_DONTWAIT, so
// its description is never changed either. A regular file never blocks: it
// is only appended to while attached (O_APPEND, restored by detach()), so
// that logrotate's copytruncate does not leave the next lines past a hole
// of NULs as long as the file was. Anything else (no /proc) is made
// non-blocking itself, its flags restored by detach() and the destructor.
// A line that cannot be written at once waits in a fixed buffer, drained
// by an io watcher on the loop when the fd becomes writable; a line that
// does not fit there is dropped and counted, and once the buffer drains
// one line says how many were dropped. A stderr pipe that nobody reads
// costs lines, never the loop: beats, watchdog pets and SIGTERM go on.
//
// Repeats: a line identical to the previous one within kRepeatWindowNs is
// not written but counted; the next different line (or the same one after
// the window) is preceded by "last message repeated N times".
#pragma once

#include <cstdarg>
#include <cstddef>
#include <cstdint>

#include "hal/ring.h"
#include "loop/loop.h"

namespace flight {
class SnapWriter;
}  // namespace flight

namespace app {

class Restore;

enum class Level : uint8_t { kError = 3, kWarning = 4, kInfo = 6, kDebug = 7 };

class Log {
 public:
  static constexpr size_t kBufferBytes = 8192;
  static constexpr int64_t kRepeatWindowNs = 10 * evl::kSec;
  static constexpr int64_t kSyslogRetryNs = 10 * evl::kSec;

  // name: the program name in each line. Logs to fd (stderr by default)
  // until use_syslog().
  explicit Log(const char* name, int fd = 2) : name_(name), fd_out_(fd), out_(fd) {}
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;
  ~Log();
  // Non-blocking output through the loop from now on (see above). 0, or
  // the error of making the fd non-blocking (the log then writes as
  // before, counted).
  [[nodiscard]] int attach(evl::Loop& loop);
  // Stops the watcher, closes the log's own description or restores the
  // fd's flags; pending lines get one last non-blocking attempt.
  void detach();
  [[nodiscard]] int use_syslog(const char* socket_path = "/dev/log");
  void reopen();
  void set_level(Level l) { level_ = l; }
  // Lines to the stream (not to syslog, which stamps its own) begin with
  // the wall clock's UTC time, "2026-11-28T17:12:03.123Z " (--log-time: a
  // log file on a board without journald).
  void set_timestamps(bool on) { stamps_ = on; }
  void log(Level l, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
  void vlog(Level l, const char* fmt, va_list ap);
  uint64_t lines() const { return lines_; }
  uint64_t lost() const { return lost_; }        // lines the output refused or dropped
  uint64_t repeats() const { return repeats_; }  // identical lines folded
  size_t pending() const { return pending_.size(); }
  // Snapshots (apps/common/snapshot.h): the pending bytes, the repeat
  // folding, the counters and the syslog socket.
  void save(flight::SnapWriter& w) const;
  void drop();
  void restore(Restore& r);

 private:
  static void on_writable(evl::Loop& loop, evl::IoHandle h, uint32_t events, void* ctx);
  void emit(Level l, const char* msg);
  void retry_syslog();
  void write_line(const char* line, size_t len);
  void drain();
  void drop_pending();
  void flush_repeats();

  const char* name_;
  Level level_ = Level::kInfo;
  bool syslog_ = false;
  bool stamps_ = false;
  int fd_ = -1;  // the syslog socket
  int fd_out_;   // the stream (stderr)
  int out_;      // where lines are written: fd_out_, or attach()'s own description of it
  char path_[108] = {};
  int64_t tried_ns_ = 0;  // the last try to reach syslog (monotonic)
  evl::Loop* loop_ = nullptr;
  evl::IoHandle watch_;
  int saved_flags_ = -1;  // the stream's flags before attach(), or -1
  bool send_ = false;     // out_ is a blocking socket: lines are sent with MSG_DONTWAIT
  hal::Ring<kBufferBytes> pending_;
  uint64_t dropped_since_ = 0;  // dropped since the buffer last drained
  char last_[512] = {};
  int64_t last_ns_ = 0;
  uint64_t repeats_pending_ = 0;
  uint64_t lines_ = 0;
  uint64_t lost_ = 0;
  uint64_t repeats_ = 0;
};

// ns since 1970 (UTC) as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (25 bytes
// with the NUL for years 0..9999); the length written, as snprintf.
int format_utc(int64_t ns, char* out, size_t cap);

// One line to stderr through the seam (recorded, replayed, seen by the fake
// kernel), for what a daemon says before its log runs: "PROG: message\n".
void write_error(const char* prog, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// --log-time for write_error() too, from when the options are known (the
// lines about the options themselves come before: they have no time).
void set_error_timestamps(bool on);

// Whether a writer process's wait status (or waitpid's -errno) is an exit
// 0; if not, why, for a log line, into why: its exit status read as the
// errno its work returned (hal::run_in_child), or the signal that ended it.
bool child_succeeded(int status, char* why, size_t why_len);

}  // namespace app
