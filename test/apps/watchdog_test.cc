// The daemons' watchdog: systemd's variables read strictly, and what start()
// does with a notify socket or a device that cannot be used.
#include "apps/common/watchdog.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "CppUTest/TestHarness.h"
#include "hal/sys.h"
#include "loop/static_loop.h"
#include "test/fake/kernel.h"

TEST_GROUP(Watchdog) {
  char err[256] = {};
  void setup() override {
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
  }
  void teardown() override { setup(); }
};

TEST(Watchdog, watchdog_usec_is_decimal_microseconds_in_range) {
  const char* bad[] = {
      "", "0", "-5", "+5", "5s", " 5", "12a", "9223372036854776", "99999999999999999999999"};
  for (const char* text : bad) {
    app::WatchdogConfig cfg;
    cfg.watchdog_usec = 77;
    setenv("WATCHDOG_USEC", text, 1);
    CHECK_EQUAL_TEXT(-EINVAL, app::Watchdog::from_environment(&cfg, err, sizeof err), text);
    CHECK_EQUAL(0, cfg.watchdog_usec);  // not used
    CHECK(std::strstr(err, "WATCHDOG_USEC") != nullptr);
  }
  app::WatchdogConfig cfg;
  setenv("WATCHDOG_USEC", "9223372036854775", 1);  // INT64_MAX / 1000: the largest
  CHECK_EQUAL(0, app::Watchdog::from_environment(&cfg, err, sizeof err));
  CHECK_EQUAL(9223372036854775, cfg.watchdog_usec);
  setenv("WATCHDOG_USEC", "4000000", 1);
  setenv("NOTIFY_SOCKET", "@sd-notify", 1);
  CHECK_EQUAL(0, app::Watchdog::from_environment(&cfg, err, sizeof err));
  CHECK_EQUAL(4000000, cfg.watchdog_usec);
  STRCMP_EQUAL("@sd-notify", cfg.notify_socket);
}

// WATCHDOG_PID: the pings are this process's only when it names it (a
// child of a wrapper that got the variables is not the one watched).
TEST(Watchdog, watchdog_pid_must_name_this_process) {
  fake::Kernel k;
  setenv("WATCHDOG_USEC", "4000000", 1);
  const std::string self = std::to_string(hal::getpid());
  const std::string other = std::to_string(hal::getpid() + 1);
  for (const std::string& text : {other, std::string("0"), std::string("12x"), std::string("")}) {
    app::WatchdogConfig cfg;
    setenv("WATCHDOG_PID", text.c_str(), 1);
    CHECK_EQUAL_TEXT(-EINVAL, app::Watchdog::from_environment(&cfg, err, sizeof err), text.c_str());
    CHECK_EQUAL(0, cfg.watchdog_usec);
    const std::string want =
        "WATCHDOG_PID=" + text + " is not this process (" + self + "): not sending WATCHDOG=1";
    STRCMP_EQUAL(want.c_str(), err);
  }
  app::WatchdogConfig cfg;
  setenv("WATCHDOG_PID", self.c_str(), 1);
  CHECK_EQUAL(0, app::Watchdog::from_environment(&cfg, err, sizeof err));
  CHECK_EQUAL(4000000, cfg.watchdog_usec);
  unsetenv("WATCHDOG_USEC");  // no watchdog: the pid does not matter
  setenv("WATCHDOG_PID", other.c_str(), 1);
  app::WatchdogConfig none;
  CHECK_EQUAL(0, app::Watchdog::from_environment(&none, err, sizeof err));
}

TEST(Watchdog, a_notify_socket_path_that_does_not_fit_is_refused) {
  app::WatchdogConfig cfg;
  setenv("NOTIFY_SOCKET", ("/run/" + std::string(200, 's')).c_str(), 1);
  setenv("WATCHDOG_USEC", "1000000", 1);
  CHECK_EQUAL(-EINVAL, app::Watchdog::from_environment(&cfg, err, sizeof err));
  STRCMP_EQUAL("NOTIFY_SOCKET is longer than 107 bytes; not notifying systemd", err);
  STRCMP_EQUAL("", cfg.notify_socket);
}

TEST(Watchdog, an_unusable_notify_socket_is_logged_and_nothing_is_petted) {
  fake::Kernel k;
  evl::StaticLoop<4, 4> loop;
  CHECK_EQUAL(0, loop.init());
  app::Log log("wd", 2);
  app::WatchdogConfig cfg;
  std::snprintf(cfg.notify_socket, sizeof cfg.notify_socket, "not-an-address");
  cfg.watchdog_usec = 2000000;
  app::Watchdog w;
  CHECK_EQUAL(0, w.start(loop, cfg, &log, err, sizeof err));
  CHECK_EQUAL(0u, loop.active());  // no petting timer: nobody to pet
  w.notify("READY=1");             // and no message
  CHECK_EQUAL(0u, k.calls(fake::Call::kSendto));
  w.stop();
  w.stop();  // twice is harmless
}

TEST(Watchdog, a_failing_timer_start_is_reported) {
  fake::Kernel k;
  evl::StaticLoop<4, 1> loop;  // one timer, taken
  CHECK_EQUAL(0, loop.init());
  evl::TimerHandle taken;
  CHECK_EQUAL(
      0, loop.timer_after(
             evl::kSec, [](evl::Loop&, evl::TimerHandle, uint32_t, void*) {}, nullptr, &taken));
  app::Log log("wd", 2);
  k.add_special_path("/dev/watchdog", fake::Kernel::Special::kWatchdog);
  app::WatchdogConfig cfg;
  std::snprintf(cfg.device, sizeof cfg.device, "/dev/watchdog");
  app::Watchdog w;
  CHECK_EQUAL(-ENOSPC, w.start(loop, cfg, &log, err, sizeof err));
  STRCMP_EQUAL("cannot start the watchdog timer: No space left on device", err);
}

namespace {
void end_loop(evl::Loop& loop, evl::TimerHandle, uint32_t, void*) { loop.stop(); }
}  // namespace

// A watchdog whose driver refuses WDIOC_KEEPALIVE (ENOTTY) is petted by a
// write; a systemd that is not listening costs counted notification
// errors, never the petting.
TEST(Watchdog, a_refused_keepalive_is_a_write_and_lost_notifications_are_counted) {
  fake::Kernel k;
  evl::StaticLoop<4, 4> loop;
  CHECK_EQUAL(0, loop.init());
  app::Log log("wd", 2);
  k.add_special_path("/dev/watchdog", fake::Kernel::Special::kWatchdog);
  app::WatchdogConfig cfg;
  std::snprintf(cfg.device, sizeof cfg.device, "/dev/watchdog");
  std::snprintf(cfg.notify_socket, sizeof cfg.notify_socket, "@nobody-listens");
  cfg.watchdog_usec = 2000000;  // systemd's: pet every second
  app::Watchdog w;
  CHECK_EQUAL(0, w.start(loop, cfg, &log, err, sizeof err));
  evl::TimerHandle end;
  CHECK_EQUAL(0, loop.timer_after(3500 * evl::kMs, end_loop, nullptr, &end));
  k.reset_calls();
  k.fail_next(fake::Call::kIoctl, ENOTTY, 3);
  CHECK_EQUAL(0, loop.run());
  CHECK_EQUAL(3u, w.stats().pets);
  CHECK_EQUAL(3u, k.calls(fake::Call::kIoctl));  // refused by the driver...
  CHECK_EQUAL(3u, k.calls(fake::Call::kWrite));  // ... so each pet was a write
  CHECK_EQUAL(0u, k.watchdog_pets());
  CHECK_EQUAL(3u, w.stats().notify_errors);  // WATCHDOG=1 reached nobody
  w.stop();
}

// What the device's driver says is checked at start (the field fault: any
// file that opened for writing was "petted", /dev/null and a tty by the
// fallback write, a regular file had a NUL written into it each second;
// and a timeout shorter than the interval reset the board for ever).
TEST(Watchdog, the_device_and_its_timeout_are_checked_at_start) {
  fake::Kernel k;
  evl::StaticLoop<4, 4> loop;
  CHECK_EQUAL(0, loop.init());
  app::Log log("wd", 2);
  k.add_special_path("/dev/watchdog", fake::Kernel::Special::kWatchdog);
  k.add_special_path("/dev/null", fake::Kernel::Special::kZero);
  k.add_regular_path("/etc/evl/notes");
  app::WatchdogConfig cfg;
  std::snprintf(cfg.device, sizeof cfg.device, "/etc/evl/notes");
  {
    app::Watchdog w;
    CHECK_EQUAL(-EINVAL, w.start(loop, cfg, &log, err, sizeof err));
    STRCMP_EQUAL("watchdog /etc/evl/notes: not a character device", err);
    CHECK_EQUAL(0u, k.calls(fake::Call::kWrite));  // nothing written into the file
  }
  k.fail_next(fake::Call::kFstat, EIO);
  {
    app::Watchdog w;
    CHECK_EQUAL(-EINVAL, w.start(loop, cfg, &log, err, sizeof err));
    STRCMP_EQUAL("watchdog /etc/evl/notes: Input/output error", err);
  }
  // 1 s: a pet every 1000 ms, up to 500 ms late, does not keep it alive;
  // the device is closed with the magic 'V' (a driver that knows it stops).
  std::snprintf(cfg.device, sizeof cfg.device, "/dev/watchdog");
  k.set_watchdog_timeout(1);
  {
    app::Watchdog w;
    k.reset_calls();
    CHECK_EQUAL(-EINVAL, w.start(loop, cfg, &log, err, sizeof err));
    STRCMP_EQUAL(
        "watchdog /dev/watchdog (fake watchdog) resets the board after 1 s without a pet: "
        "petting every 1000 ms, up to 500 ms late, is too slow",
        err);
    CHECK_EQUAL(1u, k.calls(fake::Call::kWrite));
    CHECK_EQUAL(0u, loop.active());
  }
  cfg.interval_ms = 400;
  cfg.max_lag_ms = 500;  // 900 ms at worst: fits in 1 s
  const size_t said_before = k.written(2).size();
  {
    app::Watchdog w;
    CHECK_EQUAL(0, w.start(loop, cfg, &log, err, sizeof err));
    w.stop();
  }
  k.set_watchdog_timeout(0);  // a driver without a timeout: EOPNOTSUPP
  {
    app::Watchdog w;
    CHECK_EQUAL(0, w.start(loop, cfg, &log, err, sizeof err));
    w.stop();
  }
  STRCMP_EQUAL(
      "wd: info: watchdog /dev/watchdog (fake watchdog): resets after 1 s, petted every 400 ms\n"
      "wd: info: watchdog /dev/watchdog (fake watchdog): petted every 400 ms; its timeout is not "
      "known\n",
      k.written(2).substr(said_before).c_str());
}

// A character device that answers no watchdog ioctl (a driver with only the
// basic API, or a path that is no watchdog: /dev/null, a tty) is petted by
// writes, with a warning that says which.
TEST(Watchdog, a_device_without_watchdog_ioctls_is_petted_by_writes_with_a_warning) {
  fake::Kernel k;
  evl::StaticLoop<4, 4> loop;
  CHECK_EQUAL(0, loop.init());
  app::Log log("wd", 2);
  k.add_special_path("/dev/null", fake::Kernel::Special::kZero);
  app::WatchdogConfig cfg;
  std::snprintf(cfg.device, sizeof cfg.device, "/dev/null");
  app::Watchdog w;
  CHECK_EQUAL(0, w.start(loop, cfg, &log, err, sizeof err));
  STRCMP_EQUAL(
      "wd: warning: watchdog /dev/null answers no watchdog ioctl (Inappropriate ioctl for "
      "device): petting it by writes; is it a watchdog device?\n",
      k.written(2).c_str());
  evl::TimerHandle end;
  CHECK_EQUAL(0, loop.timer_after(3500 * evl::kMs, end_loop, nullptr, &end));
  k.reset_calls();
  CHECK_EQUAL(0, loop.run());
  CHECK_EQUAL(3u, w.stats().pets);
  CHECK_EQUAL(0u, k.calls(fake::Call::kIoctl));  // not asked again at each pet
  CHECK_EQUAL(3u, k.calls(fake::Call::kWrite));
  w.stop();
}
