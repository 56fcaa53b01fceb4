#include "apps/common/watchdog.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "apps/common/snapshot.h"
#include "hal/socket.h"
#include "hal/sys.h"

namespace app {
namespace {

using evl::kMs;

// Decimal digits only, 1 .. max. 0, or -EINVAL.
int parse_decimal(const char* text, int64_t max, int64_t* out) {
  if (*text == '\0') return -EINVAL;
  int64_t v = 0;
  for (const char* p = text; *p != '\0'; ++p) {
    if (*p < '0' || *p > '9') return -EINVAL;
    if (v > (max - (*p - '0')) / 10) return -EINVAL;
    v = v * 10 + (*p - '0');
  }
  if (v == 0) return -EINVAL;
  *out = v;
  return 0;
}

}  // namespace

int Watchdog::from_environment(WatchdogConfig* cfg, char* err, size_t err_len) {
  if (const char* ns = std::getenv("NOTIFY_SOCKET")) {
    if (std::strlen(ns) >= sizeof cfg->notify_socket) {
      std::snprintf(err, err_len, "NOTIFY_SOCKET is longer than %zu bytes; not notifying systemd",
                    sizeof cfg->notify_socket - 1);
      return -EINVAL;
    }
    std::snprintf(cfg->notify_socket, sizeof cfg->notify_socket, "%s", ns);
  }
  // systemd's WATCHDOG_USEC: 1 .. INT64_MAX / 1000 (so that the petting
  // period in ns cannot overflow).
  if (const char* wd = std::getenv("WATCHDOG_USEC")) {
    if (parse_decimal(wd, INT64_MAX / 1000, &cfg->watchdog_usec) < 0) {
      cfg->watchdog_usec = 0;
      std::snprintf(err, err_len,
                    "WATCHDOG_USEC='%.40s' is not a whole number of microseconds in 1..%lld; "
                    "not sending WATCHDOG=1",
                    wd, static_cast<long long>(INT64_MAX / 1000));
      return -EINVAL;
    }
  }
  // WATCHDOG_PID names the process systemd watches (its main one): one that
  // inherited the variables from it (a wrapper's child) would send pings
  // systemd drops, and be restarted for the missing ones (sd_watchdog_enabled
  // says "not enabled" there too).
  const char* pid = std::getenv("WATCHDOG_PID");
  if (pid != nullptr && cfg->watchdog_usec > 0) {
    int64_t p = 0;
    const int self = hal::getpid();
    if (parse_decimal(pid, INT32_MAX, &p) < 0 || p != self) {
      cfg->watchdog_usec = 0;
      std::snprintf(err, err_len,
                    "WATCHDOG_PID=%.20s is not this process (%d): not sending WATCHDOG=1", pid,
                    self);
      return -EINVAL;
    }
  }
  return 0;
}

int Watchdog::start(evl::Loop& loop, const WatchdogConfig& cfg, Log* log, char* err,
                    size_t err_len) {
  loop_ = &loop;
  cfg_ = cfg;
  log_ = log;
  if (cfg.notify_socket[0] != '\0') {
    if (hal::parse_address(cfg.notify_socket, &notify_addr_) < 0 ||
        hal::dgram_open(hal::kAfUnix, &notify_fd_) < 0) {
      log->log(Level::kWarning, "NOTIFY_SOCKET=%s unusable; not notifying systemd",
               cfg.notify_socket);
      notify_fd_ = -1;
    }
  }
  const bool systemd_watches = notify_fd_ >= 0 && cfg.watchdog_usec > 0;
  const int64_t every_ms = systemd_watches ? cfg.watchdog_usec / 2000 : cfg.interval_ms;
  if (cfg.device[0] != '\0') {
    if (const int r = open_device(every_ms, err, err_len); r < 0) return r;
  }
  if ((systemd_watches || device_fd_ >= 0) && every_ms > 0) {
    evl::TimerSpec pet;
    pet.period_ns = evl::ms_to_ns(every_ms);
    if (const int r = loop.timer_start(pet, on_pet, this, &pet_); r < 0) {
      std::snprintf(err, err_len, "cannot start the watchdog timer: %s", std::strerror(-r));
      return r;
    }
  }
  return 0;
}

// Opening the device starts it. What its driver says is checked before the
// first pet: a path that is no watchdog (a tty, /dev/null) would take the
// fallback writes without a word, and a timeout shorter than the petting
// interval resets the board however healthy the loop.
int Watchdog::open_device(int64_t every_ms, char* err, size_t err_len) {
  const char* dev = cfg_.device;
  device_fd_ = hal::open(dev, hal::kWrOnly | hal::kCloexec, 0);
  if (device_fd_ < 0) {
    std::snprintf(err, err_len, "cannot open watchdog %s: %s", dev, std::strerror(-device_fd_));
    device_fd_ = -1;
    return -EINVAL;
  }
  hal::FileStat st{};
  int r = hal::fstat(device_fd_, &st);
  if (r == 0 && (st.mode & hal::kSIfmt) != hal::kSIfchr) r = -ENODEV;
  if (r < 0) {
    std::snprintf(err, err_len, "watchdog %s: %s", dev,
                  r == -ENODEV ? "not a character device" : std::strerror(-r));
    (void)hal::close(device_fd_);  // no magic close: nothing is written to a file
    device_fd_ = -1;
    return -EINVAL;
  }
  hal::WatchdogInfo info{};
  if (const int e = hal::ioctl(device_fd_, hal::kWdiocGetsupport, &info); e < 0) {
    by_write_ = true;  // the basic API: every driver takes a write
    log_->log(Level::kWarning,
              "watchdog %s answers no watchdog ioctl (%s): petting it by writes; is it a "
              "watchdog device?",
              dev, std::strerror(-e));
    return 0;
  }
  char name[sizeof info.identity + 1];
  std::memcpy(name, info.identity, sizeof info.identity);
  name[sizeof info.identity] = '\0';
  int timeout_s = 0;
  if (hal::ioctl(device_fd_, hal::kWdiocGettimeout, &timeout_s) < 0 || timeout_s <= 0) {
    log_->log(Level::kInfo, "watchdog %s (%s): petted every %lld ms; its timeout is not known", dev,
              name, static_cast<long long>(every_ms));
    return 0;
  }
  // The longest gap between two pets: the interval, and a pet late by up
  // to max_lag_ms (a later one is skipped).
  if (evl::add_sat(every_ms, cfg_.max_lag_ms) >= evl::mul_sat(timeout_s, 1000)) {
    std::snprintf(err, err_len,
                  "watchdog %s (%s) resets the board after %d s without a pet: petting every "
                  "%lld ms, up to %lld ms late, is too slow",
                  dev, name, timeout_s, static_cast<long long>(every_ms),
                  static_cast<long long>(cfg_.max_lag_ms));
    close_device();
    return -EINVAL;
  }
  log_->log(Level::kInfo, "watchdog %s (%s): resets after %d s, petted every %lld ms", dev, name,
            timeout_s, static_cast<long long>(every_ms));
  return 0;
}

// The magic close ('V'): a driver that knows it stops counting.
void Watchdog::close_device() {
  (void)hal::write(device_fd_, "V", 1);
  (void)hal::close(device_fd_);
  device_fd_ = -1;
}

void Watchdog::on_pet(evl::Loop& loop, evl::TimerHandle, uint32_t missed, void* ctx) {
  auto* w = static_cast<Watchdog*>(ctx);
  const int64_t lag_ms = loop.health().timer_lag_ns_last / kMs;
  if (missed > 0 || lag_ms > w->cfg_.max_lag_ms) {
    ++w->stats_.skipped;
    w->log_->log(Level::kWarning, "loop %lld ms late: not petting the watchdog",
                 static_cast<long long>(lag_ms));
    return;
  }
  ++w->stats_.pets;
  if (w->device_fd_ >= 0) {
    int dummy = 0;
    if (w->by_write_ || hal::ioctl(w->device_fd_, hal::kWdiocKeepalive, &dummy) < 0) {
      (void)hal::write(w->device_fd_, "\0", 1);  // drivers without the ioctl take a write
    }
  }
  if (w->cfg_.watchdog_usec > 0) w->notify("WATCHDOG=1");
}

void Watchdog::notify(const char* msg) {
  if (notify_fd_ < 0) return;
  if (hal::dgram_send(notify_fd_, msg, std::strlen(msg), &notify_addr_) < 0) {
    ++stats_.notify_errors;
  }
}

void Watchdog::save(flight::SnapWriter& w) const {
  w.put(stats_);
  save_timer(w, *loop_, pet_);
}

void Watchdog::drop() {
  if (loop_ != nullptr) loop_->timer_clear(&pet_);
}

void Watchdog::restore(Restore& r) {
  (void)r.get(&stats_);
  r.timer(&pet_, on_pet, this);
}

void Watchdog::stop() {
  if (loop_ == nullptr) return;
  loop_->timer_clear(&pet_);
  if (device_fd_ >= 0) close_device();
  if (notify_fd_ >= 0) (void)hal::close(notify_fd_);
  notify_fd_ = -1;
  loop_ = nullptr;
}

}  // namespace app
