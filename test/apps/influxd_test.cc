// Telemetry against Debian's influxd (1.6): the test writes a config with
// free loopback ports and data folders in its temporary folder, starts
// influxd, creates the database, then runs telemetry while it stops
// (SIGSTOP) and resumes influxd twice and restarts it once. What telemetry
// reports delivered is what a query counts; nothing is dropped. Host only.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "CppUTest/TestHarness.h"
#include "hal/serial.h"
#include "test/apps/real_server.h"
#include "test/apps/xdr_line.h"

namespace {

struct Influx {
  realsrv::TempDir dir;
  realsrv::Process proc;
  int port = realsrv::free_port();
  int rpc = realsrv::free_port();

  bool tls = false;  // https-enabled, with a certificate made here

  bool start() {
    if (tls && !realsrv::make_certificate(dir)) {
      std::printf("\nopenssl could not make influxd's certificate\n");
      return false;
    }
    char conf[1536];
    std::snprintf(
        conf, sizeof conf,
        "reporting-disabled = true\nbind-address = \"127.0.0.1:%d\"\n"
        "[meta]\n  dir = \"%s/meta\"\n[data]\n  dir = \"%s/data\"\n  wal-dir = \"%s/wal\"\n"
        "  query-log-enabled = false\n[http]\n  enabled = true\n"
        "  bind-address = \"127.0.0.1:%d\"\n  log-enabled = false\n"
        "%s%s%s%s%s"
        "[logging]\n  level = \"warn\"\n",
        rpc, dir.path().c_str(), dir.path().c_str(), dir.path().c_str(), port,
        tls ? "  https-enabled = true\n  https-certificate = \"" : "",
        tls ? dir.file("cert.pem").c_str() : "", tls ? "\"\n  https-private-key = \"" : "",
        tls ? dir.file("key.pem").c_str() : "", tls ? "\"\n" : "");
    if (!realsrv::write_file(dir.file("influxdb.conf"), conf)) return false;
    // Up once its port answers. One that exits first (a port of its two
    // taken meanwhile by another test's connection, when tests run side by
    // side) is started again on the same ports, a second later.
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (attempt > 0) realsrv::sleep_ms(1000);
      if (!proc.start({realsrv::which("influxd"), "-config", dir.file("influxdb.conf")},
                      dir.file("influxd.log"))) {
        return false;
      }
      const bool up =
          realsrv::wait_until([&] { return realsrv::wait_port(port, 0) || !proc.running(); }, 60);
      if (up && proc.running()) return true;
      std::printf("\ninfluxd did not come up (attempt %d): %s\n", attempt + 1,
                  realsrv::read_file(dir.file("influxd.log")).c_str());
      proc.kill_hard();
    }
    return false;
  }
  // Runs the influx CLI; its output.
  std::string query(const char* q) {
    const std::string out = dir.file("query.out");
    realsrv::Process cli;
    (void)std::remove(out.c_str());
    std::vector<std::string> argv = {realsrv::which("influx"),
                                     "-host",
                                     "127.0.0.1",
                                     "-port",
                                     std::to_string(port),
                                     "-database",
                                     "evl",
                                     "-format",
                                     "csv",
                                     "-execute",
                                     q};
    if (tls) argv.insert(argv.end(), {"-ssl", "-unsafeSsl"});
    if (!cli.start(argv, out)) {
      return "";
    }
    (void)cli.wait_exit(60);
    return realsrv::read_file(out);
  }
  long long count() {
    const std::string text = query("SELECT count(temp_c) FROM env");
    const size_t at = text.find("env,0,");
    return at == std::string::npos ? 0 : std::atoll(text.c_str() + at + 6);
  }
};

unsigned long long field(const std::string& text, const char* name) {
  const size_t at = text.rfind(name);
  return at == std::string::npos
             ? ~0ULL
             : std::strtoull(text.c_str() + at + std::strlen(name), nullptr, 10);
}

void write_records(int master, int from, int to) {
  for (int n = from; n < to; ++n) {
    char line[96];
    const int len = testxdr::line(n / 100, n % 100, line, sizeof line);
    CHECK_EQUAL(len, write(master, line, static_cast<size_t>(len)));
    if (n % 10 == 9) realsrv::sleep_ms(30);
  }
}

}  // namespace

TEST_GROUP(Influxd){};

TEST(Influxd, telemetry_through_stops_and_a_restart_stores_what_it_counts_delivered) {
  if (realsrv::which("influxd").empty() || realsrv::which("influx").empty()) {
    std::printf("\nskipped: influxd or influx is not installed (toolchains/setup.sh)\n");
    return;
  }
  Influx db;
  CHECK(db.start());
  (void)db.query("CREATE DATABASE evl");
  int master = -1, slave = -1;
  char pty[64];
  CHECK_EQUAL(0, hal::openpty(&master, &slave, pty, sizeof pty));
  realsrv::Process tel;
  const std::string log = db.dir.file("telemetry.log");
  const std::string url = "http://127.0.0.1:" + std::to_string(db.port) + "/write?db=evl";
  CHECK(tel.start({realsrv::runfile("apps/telemetry/telemetry"),
                   "--serial",
                   pty,
                   "--baud",
                   "115200",
                   "--collector",
                   url,
                   "--id",
                   "board-7",
                   "--batch-max",
                   "20",
                   "--batch-delay-ms",
                   "100",
                   "--backoff-initial-ms",
                   "100",
                   "--backoff-max-ms",
                   "1000",
                   "--http-timeout-ms",
                   "2000",
                   "--health-period-ms",
                   "3600000",
                   "--buffer-records",
                   "4096"},
                  log));
  CHECK(realsrv::wait_until(
      [&] { return realsrv::read_file(log).find("reading ") != std::string::npos; }, 30));
  realsrv::sleep_ms(300);
  write_records(master, 0, 200);
  db.proc.signal(SIGSTOP);  // a stalled server: requests time out, then resume
  write_records(master, 200, 400);
  realsrv::sleep_ms(2500);
  db.proc.signal(SIGCONT);
  write_records(master, 400, 600);
  db.proc.signal(SIGSTOP);
  realsrv::sleep_ms(500);
  db.proc.signal(SIGCONT);
  write_records(master, 600, 800);
  db.proc.signal(SIGTERM);  // a restart
  CHECK(db.proc.wait_exit(60) >= 0);
  write_records(master, 800, 1000);
  CHECK(db.start());
  write_records(master, 1000, 1200);
  // Until InfluxDB holds everything (bounded), then stop telemetry.
  (void)realsrv::wait_until([&] { return db.count() >= 1200; }, 60);
  tel.signal(SIGTERM);
  CHECK_EQUAL(0, tel.wait_exit(30));
  const std::string summary = realsrv::read_file(log);
  const size_t last = summary.rfind("records accepted=");
  std::printf("\ntelemetry: %s",
              last == std::string::npos ? "(no summary)\n" : summary.c_str() + last);
  const long long stored = db.count();
  std::printf("influxd: %lld points stored\n", stored);
  CHECK_EQUAL(1200ULL, field(summary, "records accepted="));
  CHECK_EQUAL(0ULL, field(summary, "dropped="));
  CHECK_EQUAL(static_cast<unsigned long long>(stored), field(summary, "delivered="));
  CHECK_EQUAL(1200LL, stored);
  close(master);
  close(slave);
}

// An HTTPS InfluxDB given as http://: it answers "HTTP/1.0 400 Bad
// Request" and "Client sent an HTTP request to an HTTPS server.", which
// telemetry logged as "unreachable: Protocol error" (its parser wants a
// length): it now says the server speaks TLS, and keeps every record.
TEST(Influxd, an_https_influxd_given_as_http_is_said_to_want_tls_and_nothing_is_dropped) {
  if (realsrv::which("influxd").empty() || realsrv::which("openssl").empty()) {
    std::printf("\nskipped: influxd or openssl is not installed (toolchains/setup.sh)\n");
    return;
  }
  Influx db;
  db.tls = true;
  CHECK(db.start());
  int master = -1, slave = -1;
  char pty[64];
  CHECK_EQUAL(0, hal::openpty(&master, &slave, pty, sizeof pty));
  realsrv::Process tel;
  const std::string log = db.dir.file("telemetry.log");
  const std::string url = "http://127.0.0.1:" + std::to_string(db.port) + "/write?db=evl";
  CHECK(tel.start({realsrv::runfile("apps/telemetry/telemetry"), "--serial", pty, "--baud",
                   "115200", "--collector", url, "--batch-delay-ms", "100", "--backoff-initial-ms",
                   "100", "--backoff-max-ms", "500"},
                  log));
  CHECK(realsrv::wait_until(
      [&] { return realsrv::read_file(log).find("reading ") != std::string::npos; }, 30));
  write_records(master, 0, 50);
  CHECK(realsrv::wait_until(
      [&] { return realsrv::read_file(log).find("the server speaks TLS") != std::string::npos; },
      30));
  tel.signal(SIGTERM);
  CHECK_EQUAL(0, tel.wait_exit(30));
  const std::string text = realsrv::read_file(log);
  CHECK_EQUAL(50ULL, field(text, "accepted="));
  CHECK_EQUAL(0ULL, field(text, "dropped="));
  CHECK_EQUAL(0ULL, field(text, "delivered="));
  for (int fd : {master, slave}) CHECK_EQUAL(0, hal::close(fd));
  db.proc.signal(SIGTERM);
  CHECK(db.proc.wait_exit(60) >= 0);
}

// InfluxDB's HTTP port given to heartbeat as its server. Over tcp:// the
// first beat line is a malformed request, answered "HTTP/1.1 400 Bad
// Request" at once: said as such (it was "Connection reset by peer").
// Over mqtt:// influxd waits for a request line that never ends, and the
// CONNACK timeouts ask about TLS and about another protocol's port (they
// asked about TLS only).
TEST(Influxd, its_http_port_given_to_heartbeat_is_said_to_be_one) {
  if (realsrv::which("influxd").empty()) {
    std::printf("\nskipped: influxd is not installed (toolchains/setup.sh)\n");
    return;
  }
  Influx db;
  CHECK(db.start());
  const std::string port = std::to_string(db.port);
  const struct {
    std::string url;
    const char* said;
  } cases[] = {{"tcp://127.0.0.1:" + port, "down: the server answered in HTTP"},
               {"mqtt://127.0.0.1:" + port, "or another protocol's (HTTP; InfluxDB's 8086)?"}};
  for (const auto& c : cases) {
    realsrv::Process hb;
    const std::string log = db.dir.file("heartbeat.log");
    (void)std::remove(log.c_str());
    CHECK(hb.start(
        {realsrv::runfile("apps/heartbeat/heartbeat"), "--server", c.url, "--period-ms", "100",
         "--backoff-initial-ms", "50", "--backoff-max-ms", "300", "--mqtt-keepalive-s", "2"},
        log));
    CHECK_TEXT(realsrv::wait_until(
                   [&] { return realsrv::read_file(log).find(c.said) != std::string::npos; }, 60),
               c.url.c_str());
    hb.signal(SIGTERM);
    CHECK_EQUAL(0, hb.wait_exit(30));
  }
  db.proc.signal(SIGTERM);
  CHECK(db.proc.wait_exit(60) >= 0);
}

// InfluxDB over HTTPS (https-enabled, a certificate made here): telemetry
// trusts that certificate (--tls-ca-file) under its name (localhost), and
// what it counts delivered is what a query counts.
TEST(Influxd, telemetry_delivers_over_https_what_a_query_counts) {
  if (realsrv::which("influxd").empty() || realsrv::which("influx").empty() ||
      realsrv::which("openssl").empty()) {
    std::printf("\nskipped: influxd, influx or openssl is not installed (toolchains/setup.sh)\n");
    return;
  }
  Influx db;
  db.tls = true;
  CHECK(db.start());
  (void)db.query("CREATE DATABASE evl");
  int master = -1, slave = -1;
  char pty[64];
  CHECK_EQUAL(0, hal::openpty(&master, &slave, pty, sizeof pty));
  realsrv::Process tel;
  const std::string log = db.dir.file("telemetry.log");
  const std::string url = "https://127.0.0.1:" + std::to_string(db.port) + "/write?db=evl";
  CHECK(tel.start({realsrv::runfile("apps/telemetry/telemetry"), "--serial", pty, "--baud",
                   "115200", "--collector", url, "--tls-ca-file", db.dir.file("cert.pem"),
                   "--tls-server-name", "localhost", "--batch-delay-ms", "100",
                   "--backoff-initial-ms", "100", "--backoff-max-ms", "500"},
                  log));
  CHECK(realsrv::wait_until(
      [&] { return realsrv::read_file(log).find("reading ") != std::string::npos; }, 30));
  write_records(master, 0, 50);
  CHECK(realsrv::wait_until([&] { return db.count() == 50; }, 60));
  tel.signal(SIGTERM);
  CHECK_EQUAL(0, tel.wait_exit(30));
  const std::string text = realsrv::read_file(log);
  CHECK_EQUAL(50ULL, field(text, "accepted="));
  CHECK_EQUAL(50ULL, field(text, "delivered="));
  CHECK_EQUAL(0ULL, field(text, "dropped="));
  CHECK(text.find(" down: ") == std::string::npos);
  for (int fd : {master, slave}) CHECK_EQUAL(0, hal::close(fd));
  db.proc.signal(SIGTERM);
  CHECK(db.proc.wait_exit(60) >= 0);
}
