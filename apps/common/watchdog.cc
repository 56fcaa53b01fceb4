#include "apps/common/watchdog.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "hal/socket.h"

namespace app {
namespace {
constexpr int64_t kMs = 1000000;
}

void Watchdog::from_environment(WatchdogConfig* cfg) {
  if (const char* ns = std::getenv("NOTIFY_SOCKET")) {
    std::snprintf(cfg->notify_socket, sizeof cfg->notify_socket, "%s", ns);
  }
  if (const char* wd = std::getenv("WATCHDOG_USEC")) cfg->watchdog_usec = std::atoll(wd);
}

int Watchdog::start(evl::Loop& loop, const WatchdogConfig& cfg, Log* log, char* err,
                    size_t err_len) {
  loop_ = &loop;
  cfg_ = cfg;
  log_ = log;
  if (cfg.device[0] != '\0') {
    device_fd_ = hal::open(cfg.device, hal::kWrOnly | hal::kCloexec, 0);
    if (device_fd_ < 0) {
      std::snprintf(err, err_len, "cannot open watchdog %s: %s", cfg.device,
                    std::strerror(-device_fd_));
      device_fd_ = -1;
      return -EINVAL;
    }
  }
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
  if ((systemd_watches || device_fd_ >= 0) && every_ms > 0) {
    evl::TimerSpec pet;
    pet.period_ns = every_ms * kMs;
    if (const int r = loop.timer_start(pet, on_pet, this, &pet_); r < 0) {
      std::snprintf(err, err_len, "cannot start the watchdog timer: %s", std::strerror(-r));
      return r;
    }
  }
  return 0;
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
    if (hal::ioctl(w->device_fd_, hal::kWdiocKeepalive, &dummy) < 0) {
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

void Watchdog::stop() {
  if (loop_ == nullptr) return;
  if (pet_) (void)loop_->timer_stop(pet_);
  pet_ = evl::TimerHandle{};
  if (device_fd_ >= 0) {
    (void)hal::write(device_fd_, "V", 1);  // magic close
    (void)hal::close(device_fd_);
    device_fd_ = -1;
  }
  if (notify_fd_ >= 0) (void)hal::close(notify_fd_);
  notify_fd_ = -1;
  loop_ = nullptr;
}

}  // namespace app
