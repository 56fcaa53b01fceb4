// heartbeat: sends a line to a server every period and raises an alarm when
// the link stays down. See heartbeat.h for the protocol and README.md.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "apps/common/daemon.h"
#include "apps/common/options.h"
#include "apps/heartbeat/heartbeat.h"
#include "apps/heartbeat/main.h"
#include "loop/static_loop.h"

namespace {

evl::StaticLoop<8, 16, 4, 1, 4> g_loop;  // static storage: no heap, no stack size surprise

}  // namespace

int heartbeat_main(int argc, char** argv) {
  heartbeat::Config cfg;
  static app::DaemonOptions d;
  app::OptionTable t;
  t.add(app::string_option(
      "server", "URL",
      "tcp://, udp:// or mqtt://HOST:PORT (HOST: an IP literal or a host name; required)",
      cfg.server, sizeof cfg.server));
  t.add(app::string_option("id", "NAME", "device id in each heartbeat (default dev0)", cfg.id,
                           sizeof cfg.id));
  t.add(app::int_option("period-ms", "MS", "heartbeat period (default 1000)", &cfg.period_ms, 10,
                        86400000));
  app::add_link_options(&t, &cfg.link);
  t.add(app::int_option("alarm-after-ms", "MS",
                        "raise the alarm after no beat was delivered this long (default 30000)",
                        &cfg.alarm_after_ms, 1, 86400000));
  t.add(app::string_option("alarm-command", "PROG", "run PROG raise / PROG clear (absolute path)",
                           cfg.alarm_command, sizeof cfg.alarm_command));
  t.add(app::int_option("alarm-timeout-ms", "MS",
                        "kill the alarm command if it runs longer (default 10000)",
                        &cfg.alarm_timeout_ms, 1, 3600000));
  t.add(app::string_option("watchdog-device", "PATH", "pet this Linux watchdog device",
                           cfg.watchdog.device, sizeof cfg.watchdog.device));
  t.add(app::int_option("watchdog-interval-ms", "MS", "device pet interval (default 1000)",
                        &cfg.watchdog.interval_ms, 10, 3600000));
  t.add(app::int_option("max-lag-ms", "MS", "pet only while the loop is less late (default 500)",
                        &cfg.watchdog.max_lag_ms, 1, 3600000));
  mqtt::add_options(&t, &cfg.mqtt);
  app::add_daemon_options(&t, &d);
  if (const int rc = app::start_flight_recorder("heartbeat", t, d, argc, argv); rc >= 0) return rc;
  const char* usage =
      "usage: heartbeat --server tcp://HOST:PORT [options]\n"
      "Sends 'HB id=ID seq=N uptime_ms=U mono_ns=T' every period.";
  if (const int rc = app::handle_options("heartbeat", usage, t.data(), t.size(), argc, argv);
      rc >= 0)
    return rc;
  if (cfg.server[0] == '\0') {
    app::write_error("heartbeat", "--server is required (see --help)");
    return 2;
  }
  return app::serve_app<heartbeat::App>("heartbeat", cfg, d, g_loop);
}
