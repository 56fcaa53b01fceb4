// telemetry: NMEA sensor records from a serial port to a line-protocol
// collector, with store-and-forward. See telemetry.h and README.md.
#include <cstdio>
#include <cstring>

#include "apps/common/daemon.h"
#include "apps/common/options.h"
#include "apps/telemetry/main.h"
#include "apps/telemetry/telemetry.h"
#include "loop/static_loop.h"

namespace {

evl::StaticLoop<8, 16, 4, 1, 4> g_loop;

}  // namespace

int telemetry_main(int argc, char** argv) {
  static telemetry::Config cfg;
  static app::DaemonOptions d;
  app::OptionTable t;
  t.add(app::string_option("serial", "PATH", "serial device of the sensor (required)", cfg.serial,
                           sizeof cfg.serial));
  t.add(app::int_option("baud", "N", "baud rate (default 9600)", &cfg.baud, 50, 4000000));
  t.add(app::string_option(
      "collector", "URL",
      "udp://, tcp://, mqtt://HOST:PORT or http://HOST:PORT/write?db=NAME (HOST: an IP "
      "literal or a host name; required)",
      cfg.collector, sizeof cfg.collector));
  t.add(app::string_option("id", "NAME", "device tag in every record (default dev0)", cfg.id,
                           sizeof cfg.id));
  t.add(
      app::int_option("batch-max", "N", "records per batch (default 20)", &cfg.batch_max, 1, 256));
  t.add(app::int_option("batch-delay-ms", "MS", "send a partial batch after (default 1000)",
                        &cfg.batch_delay_ms, 1, 3600000));
  t.add(app::int_option("buffer-records", "N",
                        "store-and-forward capacity (default 1024, max 4096)", &cfg.buffer_records,
                        1, static_cast<int64_t>(telemetry::kMaxRecords)));
  t.add(app::int_option("health-period-ms", "MS", "send own health every (default 10000)",
                        &cfg.health_period_ms, 100, 86400000));
  t.add(app::int_option("serial-retry-ms", "MS",
                        "reopen a missing serial device every "
                        "(default 2000)",
                        &cfg.serial_retry_ms, 10, 3600000));
  app::add_link_options(&t, &cfg.link);
  mqtt::add_options(&t, &cfg.mqtt);
  t.add(app::string_option("http-token-file", "PATH",
                           "http: send 'Authorization: Token <file's line>'", cfg.http_token_file,
                           sizeof cfg.http_token_file));
  t.add(app::string_option("http-user", "NAME", "http: Basic authorization user", cfg.http_user,
                           sizeof cfg.http_user));
  t.add(app::string_option("http-password-file", "PATH", "http: Basic authorization password",
                           cfg.http_password_file, sizeof cfg.http_password_file));
  t.add(app::int_option("http-timeout-ms", "MS",
                        "http: wait this long for an answer "
                        "(default 10000)",
                        &cfg.http_timeout_ms, 100, 600000));
  t.add(app::string_option("spool", "PATH",
                           "keep buffered records in PATH across a restart (written at stop, "
                           "loaded at start)",
                           cfg.spool, sizeof cfg.spool));
  t.add(app::int_option("spool-every-s", "S",
                        "with --spool: while the collector takes no record, write the buffered "
                        "ones to PATH this often (a power cut loses at most that much; 0: at stop "
                        "only; default 60)",
                        &cfg.spool_every_s, 0, 86400));
  app::add_daemon_options(&t, &d);
  if (const int rc = app::start_flight_recorder("telemetry", t, d, argc, argv); rc >= 0) return rc;
  const char* usage =
      "usage: telemetry --serial PATH --collector udp://HOST:PORT [options]\n"
      "Reads NMEA GGA/RMC/XDR, sends InfluxDB line protocol.";
  if (const int rc = app::handle_options("telemetry", usage, t.data(), t.size(), argc, argv);
      rc >= 0)
    return rc;
  return app::serve_app<telemetry::App>("telemetry", cfg, d, g_loop);
}
