#include "apps/common/log.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "apps/common/snapshot.h"
#include "hal/socket.h"
#include "hal/sys.h"
#include "loop/clock.h"

namespace app {
namespace {

// The length of a line snprintf made in buf (n: its result): one that did
// not fit is cut, and still ends with its line end.
size_t whole_line(char* buf, size_t cap, int n) {
  if (n < 0) return 0;
  if (static_cast<size_t>(n) < cap) return static_cast<size_t>(n);
  buf[cap - 2] = '\n';
  return cap - 1;
}

// A message holds bytes from outside (a server's answer, a broker's
// reason, a path): one with a line end would read as two lines, and a
// terminal would act on an escape. Each control byte shows as '?' (a line
// end or a tab as a space), and trailing spaces go.
void one_line(char* msg) {
  size_t end = 0;
  for (size_t i = 0; msg[i] != '\0'; ++i) {
    const auto c = static_cast<unsigned char>(msg[i]);
    if (c == '\n' || c == '\r' || c == '\t') {
      msg[i] = ' ';
    } else if (c < 0x20 || c == 0x7f) {
      msg[i] = '?';
    }
    if (msg[i] != ' ') end = i + 1;
  }
  msg[end] = '\0';
}

const char* level_name(Level l) {
  switch (l) {
    case Level::kError: return "error";
    case Level::kWarning: return "warning";
    case Level::kInfo: return "info";
    default: return "debug";
  }
}

constexpr int kFacilityDaemon = 3 << 3;
// A line to a socket stderr: never waits, never raises SIGPIPE.
constexpr int kSendFlags = hal::kMsgDontwait | hal::kMsgNosignal;

}  // namespace

Log::~Log() {
  detach();
  if (fd_ >= 0) (void)hal::close(fd_);
}

int Log::attach(evl::Loop& loop) {
  loop_ = &loop;
  const int flags = hal::get_status_flags(fd_out_);
  if (flags < 0) return flags;
  if ((flags & hal::kNonblock) != 0) return 0;
  hal::FileStat st{};
  if (hal::fstat(fd_out_, &st) == 0) {
    if ((st.mode & hal::kSIfmt) == hal::kSIfreg) {
      // Never blocks. Appended to, so that a file logrotate's copytruncate
      // emptied is written from its start, not past a hole of NULs as
      // long as what it held (best effort: without it, as before).
      if ((flags & hal::kAppend) == 0 &&
          hal::set_status_flags(fd_out_, flags | hal::kAppend) == 0) {
        saved_flags_ = flags;
      }
      return 0;
    }
    if ((st.mode & hal::kSIfmt) == hal::kSIfsock) {  // cannot be opened anew (ENXIO)
      send_ = true;
      return 0;
    }
  }
  // A pipe's other end, a terminal: opened anew.
  char own[32];
  std::snprintf(own, sizeof own, "/proc/self/fd/%d", fd_out_);
  const int fd = hal::open(own, hal::kWrOnly | hal::kNonblock | hal::kNoCtty | hal::kCloexec, 0);
  if (fd >= 0) {
    out_ = fd;
    return 0;
  }
  const int r = hal::set_status_flags(fd_out_, flags | hal::kNonblock);
  if (r < 0) return r;
  saved_flags_ = flags;
  return 0;
}

void Log::detach() {
  if (loop_ == nullptr) return;
  if (watch_) (void)loop_->io_stop(watch_);
  watch_ = evl::IoHandle{};
  drain();  // one last attempt; what still does not go is lost
  drop_pending();
  if (out_ != fd_out_) (void)hal::close(out_);
  out_ = fd_out_;
  if (saved_flags_ >= 0) (void)hal::set_status_flags(fd_out_, saved_flags_);
  saved_flags_ = -1;
  send_ = false;
  loop_ = nullptr;
}

int Log::use_syslog(const char* socket_path) {
  std::snprintf(path_, sizeof path_, "%s", socket_path);
  syslog_ = true;
  tried_ns_ = evl::now_ns(hal::kClockMonotonic);
  reopen();
  return fd_ >= 0 ? 0 : -ENOTCONN;
}

// Without a syslog socket (not there yet at boot, or gone with a
// restarted syslogd): another try, at most every kSyslogRetryNs.
void Log::retry_syslog() {
  const int64_t now = evl::now_ns(hal::kClockMonotonic);
  if (now - tried_ns_ < kSyslogRetryNs) return;
  tried_ns_ = now;
  reopen();
}

void Log::reopen() {
  if (!syslog_) return;
  if (fd_ >= 0) (void)hal::close(fd_);
  fd_ = -1;
  hal::SockAddr at;
  if (hal::parse_address(path_, &at) < 0) return;
  int fd = -1;
  if (hal::dgram_connect(at, &fd) == 0) fd_ = fd;
}

void Log::log(Level l, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(l, fmt, ap);
  va_end(ap);
}

void Log::vlog(Level l, const char* fmt, va_list ap) {
  if (static_cast<int>(l) > static_cast<int>(level_)) return;
  char msg[sizeof last_];
  std::vsnprintf(msg, sizeof msg, fmt, ap);
  one_line(msg);
  const int64_t now = evl::now_ns(hal::kClockMonotonic);
  if (std::strcmp(msg, last_) == 0 && now - last_ns_ < kRepeatWindowNs) {
    ++repeats_;
    ++repeats_pending_;
    return;
  }
  flush_repeats();
  std::memcpy(last_, msg, sizeof last_);
  last_ns_ = now;
  emit(l, msg);
}

void Log::flush_repeats() {
  if (repeats_pending_ == 0) return;
  char msg[64];
  std::snprintf(msg, sizeof msg, "last message repeated %llu times",
                static_cast<unsigned long long>(repeats_pending_));
  repeats_pending_ = 0;
  emit(Level::kInfo, msg);
}

void Log::emit(Level l, const char* msg) {
  char line[600];
  ++lines_;
  if (syslog_) {
    if (fd_ < 0) retry_syslog();
    if (fd_ >= 0) {
      const int n = std::snprintf(line, sizeof line, "<%d>%s[%d]: %s",
                                  kFacilityDaemon | static_cast<int>(l), name_, hal::getpid(), msg);
      const size_t len =
          n < static_cast<int>(sizeof line) ? static_cast<size_t>(n) : sizeof line - 1;
      const long r = hal::dgram_send(fd_, line, len, nullptr);
      if (r >= 0) return;
      if (r == -EAGAIN) {  // syslog is behind: dropped and counted, never waited for
        ++lost_;
        return;
      }
      (void)hal::close(fd_);  // gone: to stderr until a retry finds it again
      fd_ = -1;
      tried_ns_ = evl::now_ns(hal::kClockMonotonic);
    }
  }
  char stamp[40] = "";
  if (stamps_) {
    const int64_t now =
        loop_ != nullptr ? loop_->now(evl::Clock::kRealtime) : evl::now_ns(hal::kClockRealtime);
    const int n = format_utc(now, stamp, sizeof stamp - 1);  // (24 bytes: always fits)
    stamp[n] = ' ';
    stamp[n + 1] = '\0';
  }
  const int n =
      std::snprintf(line, sizeof line, "%s%s: %s: %s\n", stamp, name_, level_name(l), msg);
  write_line(line, whole_line(line, sizeof line, n));
}

// In order: while older lines wait, a new one queues behind them.
void Log::write_line(const char* line, size_t len) {
  drain();
  size_t done = 0;
  if (pending_.empty()) {
    const long w =
        send_ ? hal::sendto(out_, line, len, kSendFlags, nullptr) : hal::write(out_, line, len);
    if (w == static_cast<long>(len)) return;
    if (w < 0 && w != -EAGAIN) {
      ++lost_;
      return;
    }
    done = w > 0 ? static_cast<size_t>(w) : 0;
  }
  if (len - done > pending_.space()) {
    ++lost_;
    ++dropped_since_;
    return;
  }
  (void)pending_.push(line + done, len - done);
  if (loop_ != nullptr && !watch_) {
    // A regular file refuses epoll (EPERM) but never blocks either: the next
    // line's drain() takes what waits.
    (void)loop_->io_start(out_, evl::kOut, on_writable, this, &watch_);
  }
}

// Each waiting line is lost (a line partly written counts: its end waits).
void Log::drop_pending() {
  for (size_t i = 0; i < pending_.size(); ++i) lost_ += pending_.at(i) == '\n' ? 1u : 0u;
  pending_.clear();
}

void Log::drain() {
  if (pending_.empty()) return;
  const long r = pending_.drain_to(out_, send_, hal::kMsgDontwait);
  if (r < 0 && r != -EAGAIN) drop_pending();  // the output is broken (EPIPE, EIO)
  if (!pending_.empty()) return;
  if (watch_) (void)loop_->io_stop(watch_);
  watch_ = evl::IoHandle{};
  if (dropped_since_ == 0) return;
  char note[96];
  const int n = std::snprintf(note, sizeof note, "%s: warning: %llu log lines dropped\n", name_,
                              static_cast<unsigned long long>(dropped_since_));
  dropped_since_ = 0;
  write_line(note, static_cast<size_t>(n));
}

void Log::on_writable(evl::Loop&, evl::IoHandle, uint32_t, void* ctx) {
  static_cast<Log*>(ctx)->drain();
}

void Log::save(flight::SnapWriter& w) const {
  save_ring(w, pending_);
  w.put(dropped_since_);
  w.put(last_, sizeof last_);
  w.put(last_ns_);
  w.put(repeats_pending_);
  w.put(lines_);
  w.put(lost_);
  w.put(repeats_);
  w.put(static_cast<int32_t>(fd_));
  w.put(static_cast<uint8_t>(watch_ ? 1 : 0));
  w.put(tried_ns_);
}

void Log::drop() {
  if (watch_) (void)loop_->io_stop(watch_);
  watch_ = evl::IoHandle{};
}

void Log::restore(Restore& r) {
  int32_t fd = -1;
  uint8_t watching = 0;
  (void)r.ring(&pending_);
  (void)r.get(&dropped_since_);
  (void)r.get(last_, sizeof last_);
  (void)r.get(&last_ns_);
  (void)r.get(&repeats_pending_);
  (void)r.get(&lines_);
  (void)r.get(&lost_);
  (void)r.get(&repeats_);
  (void)r.get(&fd);
  (void)r.get(&watching);
  (void)r.get(&tried_ns_);
  last_[sizeof last_ - 1] = '\0';
  fd_ = fd;
  if (watching != 0 && loop_ != nullptr) r.io(out_, evl::kOut, on_writable, this, &watch_);
}

namespace {
bool g_error_stamps = false;  // set_error_timestamps()
}  // namespace

void set_error_timestamps(bool on) { g_error_stamps = on; }

void write_error(const char* prog, const char* fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  (void)std::vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  one_line(msg);
  char stamp[40] = "";
  if (g_error_stamps) {
    const int s = format_utc(evl::now_ns(hal::kClockRealtime), stamp, sizeof stamp - 1);
    stamp[s] = ' ';
    stamp[s + 1] = '\0';
  }
  char line[640];
  const int n = std::snprintf(line, sizeof line, "%s%s: %s\n", stamp, prog, msg);
  (void)hal::write(2, line, whole_line(line, sizeof line, n));
}

// Days since 1970-01-01 to a civil date (proleptic Gregorian), by eras of
// 400 years (146097 days), each starting on March 1st so that the leap day
// ends a year.
int format_utc(int64_t ns, char* out, size_t cap) {
  int64_t ms = ns / evl::kMs;
  if (ns % evl::kMs < 0) --ms;  // (floor, before 1970)
  int64_t days = ms / 86400000;
  int64_t in_day = ms % 86400000;
  if (in_day < 0) {
    in_day += 86400000;
    --days;
  }
  const int64_t z = days + 719468;  // days since 0000-03-01
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;                                       // [0, 146096]
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const int64_t mp = (5 * doy + 2) / 153;                                     // March = 0
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return std::snprintf(
      out, cap, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ", static_cast<long long>(year),
      static_cast<long long>(month), static_cast<long long>(day),
      static_cast<long long>(in_day / 3600000), static_cast<long long>(in_day / 60000 % 60),
      static_cast<long long>(in_day / 1000 % 60), static_cast<long long>(in_day % 1000));
}

bool child_succeeded(int status, char* why, size_t why_len) {
  if (status >= 0 && hal::exited_normally(status) && hal::exit_status(status) == 0) return true;
  if (status < 0) {
    std::snprintf(why, why_len, "%s", std::strerror(-status));
  } else if (hal::exited_normally(status)) {
    std::snprintf(why, why_len, "%s", std::strerror(hal::exit_status(status)));
  } else {
    std::snprintf(why, why_len, "its writer ended by signal %d", hal::term_signal(status));
  }
  return false;
}

}  // namespace app
