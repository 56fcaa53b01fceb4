// Watchdog petting for the daemons, only while their loop is healthy.
//
// systemd: with NOTIFY_SOCKET set, notify() sends sd_notify messages
// (READY=1, STOPPING=1); with WATCHDOG_USEC set too, WATCHDOG=1 goes out every
// WATCHDOG_USEC/2. A Linux watchdog device (device path) is petted with
// WDIOC_KEEPALIVE every interval_ms (or systemd's period, when systemd
// watches too). At start the device must be a character device, and a
// timeout its driver reports must be longer than the interval plus
// max_lag_ms (else -EINVAL: the board would be reset however healthy the
// loop); a device that answers no watchdog ioctl is petted by writes, with
// a warning (the basic API, and what a path to a tty would also take).
// A pet is skipped when the petting timer
// itself runs more than max_lag_ms late (or missed ticks): a stuck loop pets
// nothing and gets the board reset. stop() disarms the device with the magic
// close ('V') so that a clean stop is not taken for a hang.
#pragma once

#include <cstddef>
#include <cstdint>

#include "apps/common/log.h"
#include "hal/sys.h"
#include "loop/loop.h"

namespace flight {
class SnapWriter;
}  // namespace flight

namespace app {

class Restore;

struct WatchdogConfig {
  char notify_socket[108] = {};  // from NOTIFY_SOCKET; empty: no systemd
  int64_t watchdog_usec = 0;     // from WATCHDOG_USEC; 0: systemd does not watch
  char device[256] = {};         // a /dev/watchdog to pet; empty: none
  int64_t interval_ms = 1000;    // device petting interval (without systemd)
  int64_t max_lag_ms = 500;
};

struct WatchdogStats {
  uint64_t pets = 0;
  uint64_t skipped = 0;
  uint64_t notify_errors = 0;
};

class Watchdog {
 public:
  Watchdog() = default;
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog() { stop(); }

  // Reads NOTIFY_SOCKET and WATCHDOG_USEC into cfg (call from main()). A
  // value out of range or malformed is not used: -EINVAL and one line in err
  // for the daemon to log; the other variable is still read.
  [[nodiscard]] static int from_environment(WatchdogConfig* cfg, char* err, size_t err_len);
  // -EINVAL with a one-line error if the device cannot be opened.
  [[nodiscard]] int start(evl::Loop& loop, const WatchdogConfig& cfg, Log* log, char* err,
                          size_t err_len);
  void notify(const char* msg);
  void stop();
  const WatchdogStats& stats() const { return stats_; }
  // Snapshots (apps/common/snapshot.h): the counters and the petting timer.
  void save(flight::SnapWriter& w) const;
  void drop();
  void restore(Restore& r);

 private:
  int open_device(int64_t every_ms, char* err, size_t err_len);
  void close_device();
  static void on_pet(evl::Loop& loop, evl::TimerHandle h, uint32_t missed, void* ctx);
  evl::Loop* loop_ = nullptr;
  WatchdogConfig cfg_;
  Log* log_ = nullptr;
  WatchdogStats stats_;
  evl::TimerHandle pet_;
  int device_fd_ = -1;
  bool by_write_ = false;  // the device answers no watchdog ioctl
  int notify_fd_ = -1;
  hal::SockAddr notify_addr_;
};

}  // namespace app
