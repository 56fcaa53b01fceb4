#include "apps/common/log.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "hal/socket.h"

namespace app {
namespace {

const char* level_name(Level l) {
  switch (l) {
    case Level::kError: return "error";
    case Level::kWarning: return "warning";
    case Level::kInfo: return "info";
    default: return "debug";
  }
}

constexpr int kFacilityDaemon = 3 << 3;

}  // namespace

Log::~Log() {
  if (fd_ >= 0) (void)hal::close(fd_);
}

int Log::use_syslog(const char* socket_path) {
  std::snprintf(path_, sizeof path_, "%s", socket_path);
  syslog_ = true;
  reopen();
  return fd_ >= 0 ? 0 : -ENOTCONN;
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
  char msg[512];
  std::vsnprintf(msg, sizeof msg, fmt, ap);
  char line[600];
  int n = 0;
  if (syslog_) {
    n = std::snprintf(line, sizeof line, "<%d>%s[%d]: %s", kFacilityDaemon | static_cast<int>(l),
                      name_, hal::getpid(), msg);
    ++lines_;
    if (fd_ < 0 || hal::dgram_send(fd_, line, static_cast<size_t>(n), nullptr) < 0) ++lost_;
    return;
  }
  n = std::snprintf(line, sizeof line, "%s: %s: %s\n", name_, level_name(l), msg);
  if (n > static_cast<int>(sizeof line) - 1) n = static_cast<int>(sizeof line) - 1;
  ++lines_;
  if (hal::write(2, line, static_cast<size_t>(n)) < 0) ++lost_;
}

}  // namespace app
