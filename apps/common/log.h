// Logging for the daemons: levelled lines to stderr, or to syslog (/dev/log,
// RFC 3164 datagrams sent through the seam) with --syslog. reopen() is what
// SIGHUP calls: it re-creates the syslog socket (a restarted syslogd).
#pragma once

#include <cstdarg>
#include <cstdint>

namespace app {

enum class Level : uint8_t { kError = 3, kWarning = 4, kInfo = 6, kDebug = 7 };

class Log {
 public:
  // name: the program name in each line. Logs to stderr until use_syslog().
  explicit Log(const char* name) : name_(name) {}
  ~Log();
  [[nodiscard]] int use_syslog(const char* socket_path = "/dev/log");
  void reopen();
  void set_level(Level l) { level_ = l; }
  void log(Level l, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
  void vlog(Level l, const char* fmt, va_list ap);
  uint64_t lines() const { return lines_; }
  uint64_t lost() const { return lost_; }  // lines syslog would not take

 private:
  const char* name_;
  Level level_ = Level::kInfo;
  bool syslog_ = false;
  int fd_ = -1;
  char path_[108] = {};
  uint64_t lines_ = 0;
  uint64_t lost_ = 0;
};

}  // namespace app
