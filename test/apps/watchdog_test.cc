// The daemons' watchdog: systemd's variables read strictly, and what start()
// does with a notify socket or a device that cannot be used.
#include "apps/common/watchdog.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "CppUTest/TestHarness.h"
#include "loop/static_loop.h"
#include "test/fake/kernel.h"

TEST_GROUP(Watchdog) {
  char err[256] = {};
  void setup() override {
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
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
  k.add_regular_path("/dev/watchdog");
  app::WatchdogConfig cfg;
  std::snprintf(cfg.device, sizeof cfg.device, "/dev/watchdog");
  app::Watchdog w;
  CHECK_EQUAL(-ENOSPC, w.start(loop, cfg, &log, err, sizeof err));
  STRCMP_EQUAL("cannot start the watchdog timer: No space left on device", err);
}

namespace {
void end_loop(evl::Loop& loop, evl::TimerHandle, uint32_t, void*) { loop.stop(); }
}  // namespace

// A device whose driver refuses WDIOC_KEEPALIVE (ENOTTY) is petted by a
// write; a systemd that is not listening costs counted notification
// errors, never the petting.
TEST(Watchdog, a_device_without_the_ioctl_is_petted_by_a_write_and_lost_notifications_counted) {
  fake::Kernel k;
  evl::StaticLoop<4, 4> loop;
  CHECK_EQUAL(0, loop.init());
  app::Log log("wd", 2);
  k.add_regular_path("/dev/watchdog");
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
  CHECK_EQUAL(3u, w.stats().notify_errors);      // WATCHDOG=1 reached nobody
  w.stop();
}
