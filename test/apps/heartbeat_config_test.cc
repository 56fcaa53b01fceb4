// heartbeat's start on the fake kernel: each bad configuration is one
// clear error line and -EINVAL, and nothing is left half-started.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "CppUTest/TestHarness.h"
#include "apps/heartbeat/heartbeat.h"
#include "loop/static_loop.h"
#include "test/fake/kernel.h"

namespace {

using TestLoop = evl::StaticLoop<16, 32, 4, 1, 4>;

}  // namespace

TEST_GROUP(HeartbeatConfig){};

TEST(HeartbeatConfig, bad_configuration_is_one_clear_error) {
  fake::Kernel k;
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  app::Log log("heartbeat");
  char err[256] = {};
  heartbeat::Config bad_url;
  std::snprintf(bad_url.server, sizeof bad_url.server, "tcp://example.com");
  heartbeat::App a(bad_url, &log);
  CHECK_EQUAL(-EINVAL, a.start(*loop, err, sizeof err));
  STRCMP_CONTAINS("is not tcp://HOST:PORT, udp://HOST:PORT, mqtt://HOST[:PORT] or mqtts://", err);
  std::snprintf(bad_url.server, sizeof bad_url.server, "http://example.com/write?db=x");
  heartbeat::App h(bad_url, &log);
  CHECK_EQUAL(-EINVAL, h.start(*loop, err, sizeof err));
  STRCMP_EQUAL("--server: heartbeat speaks tcp, udp or mqtt, not http", err);
  std::snprintf(bad_url.server, sizeof bad_url.server, "mqtts://broker.lan");
  heartbeat::App tls(bad_url, &log);
  CHECK_EQUAL(-EINVAL, tls.start(*loop, err, sizeof err));
  // mqtts: the CA file is read at start (the fake kernel has none).
  STRCMP_EQUAL(
      "cannot open TLS CA file /etc/ssl/certs/ca-certificates.crt: No such file or directory", err);
  // A link-local server without its interface connected to nothing, for
  // ever, with "Invalid argument"; one naming no interface is as wrong.
  heartbeat::Config link_local;
  std::snprintf(link_local.server, sizeof link_local.server, "udp://[fe80::1]:9000");
  heartbeat::App ll(link_local, &log);
  CHECK_EQUAL(-EINVAL, ll.start(*loop, err, sizeof err));
  STRCMP_EQUAL(
      "--server 'udp://[fe80::1]:9000': a link-local IPv6 address needs its interface, as "
      "[fe80::1%eth0]:PORT",
      err);
  std::snprintf(link_local.server, sizeof link_local.server, "udp://[fe80::1%%eth7]:9000");
  heartbeat::App nic(link_local, &log);
  CHECK_EQUAL(-EINVAL, nic.start(*loop, err, sizeof err));
  STRCMP_EQUAL(
      "--server 'udp://[fe80::1%eth7]:9000': no network interface of that name (/sys/class/net)",
      err);
  // Credentials in the URL: not read, and the URL (with its password) not
  // printed; the generic line used to echo it.
  std::snprintf(link_local.server, sizeof link_local.server, "mqtt://dev:s3cret@broker.lan:1883");
  heartbeat::App creds(link_local, &log);
  CHECK_EQUAL(-EINVAL, creds.start(*loop, err, sizeof err));
  STRCMP_CONTAINS("--server: a user or password in the URL (user:password@) is not read", err);
  CHECK(std::strstr(err, "s3cret") == nullptr);
  heartbeat::Config relative;
  std::snprintf(relative.server, sizeof relative.server, "tcp://127.0.0.1:1");
  std::snprintf(relative.alarm_command, sizeof relative.alarm_command, "alarm.sh");
  heartbeat::App b(relative, &log);
  CHECK_EQUAL(-EINVAL, b.start(*loop, err, sizeof err));
  STRCMP_CONTAINS("absolute path", err);
  // The alarm command is checked at start, not at the first alarm: a
  // missing path, a directory, a file without an execute bit.
  k.add_special_path("/etc", fake::Kernel::Special::kDirectory);
  k.add_regular_path("/usr/local/bin/not-x", "#!/bin/sh\n");
  for (const char* cmd : {"/usr/local/bin/typo", "/etc", "/usr/local/bin/not-x"}) {
    heartbeat::Config c;
    std::snprintf(c.server, sizeof c.server, "tcp://127.0.0.1:1");
    std::snprintf(c.alarm_command, sizeof c.alarm_command, "%s", cmd);
    heartbeat::App app(c, &log);
    CHECK_EQUAL(-EINVAL, app.start(*loop, err, sizeof err));
  }
  STRCMP_EQUAL("--alarm-command /usr/local/bin/not-x: not an executable file", err);
  heartbeat::Config no_watchdog;
  std::snprintf(no_watchdog.server, sizeof no_watchdog.server, "tcp://127.0.0.1:1");
  std::snprintf(no_watchdog.watchdog.device, sizeof no_watchdog.watchdog.device, "/dev/watchdog9");
  heartbeat::App c(no_watchdog, &log);
  CHECK_EQUAL(-EINVAL, c.start(*loop, err, sizeof err));
  STRCMP_EQUAL("cannot open watchdog /dev/watchdog9: No such file or directory", err);
  // The id goes unescaped into every beat ("HB id=..."), MQTT topic level
  // and client id: a space, '/' or '=' would be misread downstream.
  for (const char* id : {"board 7", "board/7", "a=b", "", "x+y"}) {
    heartbeat::Config bad_id;
    std::snprintf(bad_id.server, sizeof bad_id.server, "tcp://127.0.0.1:1");
    std::snprintf(bad_id.id, sizeof bad_id.id, "%s", id);
    heartbeat::App e(bad_id, &log);
    CHECK_EQUAL_TEXT(-EINVAL, e.start(*loop, err, sizeof err), id);
    STRCMP_CONTAINS("may hold only letters, digits, '.', '_' and '-'", err);
  }
  heartbeat::Config http;
  std::snprintf(http.server, sizeof http.server, "http://127.0.0.1:8086/write?db=x");
  heartbeat::App d(http, &log);
  CHECK_EQUAL(-EINVAL, d.start(*loop, err, sizeof err));
  STRCMP_EQUAL("--server: heartbeat speaks tcp, udp or mqtt, not http", err);
}

// A log read from the top says first what heartbeat does: a connect that
// failed at once (here a broadcast address refused; any immediate error)
// logged its "down" line before the "heartbeat every" line.
TEST(HeartbeatConfig, the_first_line_says_what_it_does_even_when_the_link_fails_at_once) {
  fake::Kernel k;
  std::unique_ptr<TestLoop> loop(new TestLoop());
  CHECK_EQUAL(0, loop->init());
  app::Log log("heartbeat");
  heartbeat::Config cfg;
  std::snprintf(cfg.server, sizeof cfg.server, "udp://127.0.0.1:9000");
  k.fail_next(fake::Call::kConnect, ENETUNREACH);
  heartbeat::App a(cfg, &log);
  char err[256] = {};
  CHECK_EQUAL(0, a.start(*loop, err, sizeof err));
  a.stop();
  const std::string text = k.written(2);
  CHECK_EQUAL(0u, text.find("heartbeat: info: heartbeat every 1000 ms to udp://127.0.0.1:9000 as "
                            "dev0\n"));
  STRCMP_CONTAINS("down: Network is unreachable", text.c_str());
}
