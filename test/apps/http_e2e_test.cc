// Telemetry to an InfluxDB-like HTTP server on the fake kernel: every
// outcome of POST /write, broken and split answers, timeouts, and hours of
// collector outages, with the store's accounting exact.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "CppUTest/TestHarness.h"
#include "apps/common/snapshot.h"
#include "apps/sensor_sim/sim.h"
#include "apps/telemetry/telemetry.h"
#include "loop/static_loop.h"
#include "test/apps/http_server.h"
#include "test/apps/snapshot_move.h"
#include "test/apps/xdr_line.h"
#include "test/fake/kernel.h"
#include "test/fake/serial.h"

using evl::kMs;
using evl::kSec;
using testhttp::How;
using testhttp::Outcome;

namespace {

using TestLoop = evl::StaticLoop<16, 32, 4, 1, 4>;

struct Sensor {
  fake::SerialDevice* dev;
  int n = 0;
};

// One XDR record a second, each with its own value.
void on_sensor(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  auto* s = static_cast<Sensor*>(ctx);
  char line[96];
  (void)testxdr::line((s->n / 100) % 90, s->n % 100, line, sizeof line);
  ++s->n;
  s->dev->emit(line);
}

void on_end(evl::Loop& loop, evl::TimerHandle, uint32_t, void*) { loop.stop(); }

struct Fixture {
  fake::Kernel k;
  fake::SerialDevice& dev = k.add_serial("/dev/ttyS1");
  std::unique_ptr<TestLoop> loop{new TestLoop()};
  std::unique_ptr<testhttp::Server> server;
  std::unique_ptr<telemetry::App> app;
  app::Log log{"telemetry"};
  Sensor sensor{&dev};
  evl::TimerHandle sensor_timer;
  telemetry::Config cfg;

  Fixture() {
    CHECK_EQUAL(0, loop->init());
    server.reset(new testhttp::Server(loop.get(), "127.0.0.1:8086"));
    log.set_level(app::Level::kError);
    std::snprintf(cfg.serial, sizeof cfg.serial, "/dev/ttyS1");
    std::snprintf(cfg.collector, sizeof cfg.collector, "http://127.0.0.1:8086/write?db=evl");
    std::snprintf(cfg.id, sizeof cfg.id, "board-7");
    cfg.batch_max = 8;
    cfg.batch_delay_ms = 500;
    cfg.health_period_ms = 3600000;
    cfg.http_timeout_ms = 2000;
    cfg.link.backoff_initial_ms = 200;
    cfg.link.backoff_max_ms = 2000;
  }
  void start() {
    app.reset(new telemetry::App(cfg, &log));
    char err[256] = {};
    CHECK_EQUAL(0, app->start(*loop, err, sizeof err));
    evl::TimerSpec every;
    every.period_ns = kSec;
    CHECK_EQUAL(0, loop->timer_start(every, on_sensor, &sensor, &sensor_timer));
  }
  void run_for(int64_t ns) {
    evl::TimerHandle end;
    CHECK_EQUAL(0, loop->timer_after(ns, on_end, nullptr, &end));
    CHECK_EQUAL(0, loop->run());
  }
  ~Fixture() { CHECK_TEXT(server->ok(), server->failure().c_str()); }
  const telemetry::Store& st() const { return app->store(); }
  void check_accounting() {
    CHECK_EQUAL(st().accepted(), st().delivered() + st().dropped() + st().size());
  }
};

}  // namespace

TEST_GROUP(HttpE2e){};

TEST(HttpE2e, a_204_delivers_each_batch_on_one_keep_alive_connection) {
  Fixture f;
  f.server->up();
  f.start();
  f.run_for(30 * kSec);
  CHECK(f.st().delivered() >= 25);
  CHECK_EQUAL(f.st().delivered(), f.server->stored_lines());
  CHECK_EQUAL(0u, f.st().dropped());
  CHECK_EQUAL(1u, f.app->link().stats().connects);  // kept alive
  STRCMP_EQUAL("POST /write?db=evl HTTP/1.1", f.server->requests[0].line.c_str());
  f.check_accounting();
}

TEST(HttpE2e, a_400_drops_the_batch_and_counts_it_never_retried) {
  Fixture f;
  f.server->script.push_back(Outcome{400, "{\"error\":\"unable to parse 'x': bad timestamp\"}"});
  f.server->up();
  f.start();
  f.run_for(20 * kSec);
  const size_t first =
      std::count(f.server->requests[0].body.begin(), f.server->requests[0].body.end(), '\n');
  CHECK(first >= 1);
  CHECK_EQUAL(first, f.st().dropped());
  CHECK_EQUAL(1u, f.app->counters().http_bad_points);
  CHECK_EQUAL(f.st().delivered(), f.server->stored_lines());
  // The refused records were never sent again.
  for (size_t i = 1; i < f.server->requests.size(); ++i) {
    CHECK(f.server->requests[i].body.find(f.server->requests[0].body.substr(0, 30)) ==
          std::string::npos);
  }
  f.check_accounting();
}

TEST(HttpE2e, refusals_and_server_errors_are_retried_after_a_back_off_losing_nothing) {
  Fixture f;
  for (int s : {401, 403, 404, 429, 500, 503}) f.server->script.push_back(Outcome{s, "{}"});
  f.server->up();
  f.start();
  f.run_for(60 * kSec);
  CHECK_EQUAL(3u, f.app->counters().http_refused);
  CHECK_EQUAL(3u, f.app->counters().http_retried);
  CHECK_EQUAL(0u, f.st().dropped());
  CHECK_EQUAL(f.st().delivered(), f.server->stored_lines());
  CHECK(f.st().delivered() >= 50);
  // The retried batch went again: the first refused body is the first stored.
  CHECK(f.server->requests[6].body.find(f.server->requests[0].body) == 0);
  f.check_accounting();
}

// InfluxDB ends its JSON answers with a line end: the log line quoting one
// ends where the answer does, and says what happens next.
TEST(HttpE2e, a_refusal_is_logged_as_one_line_with_the_answer_text) {
  Fixture f;
  f.log.set_level(app::Level::kWarning);
  f.server->script.push_back(Outcome{404, "{\"error\":\"database not found: \\\"evl\\\"\"}\n"});
  f.server->up();
  f.start();
  f.run_for(3 * kSec);
  CHECK_EQUAL(1u, f.app->counters().http_refused);
  STRCMP_CONTAINS(
      "telemetry: warning: collector http://127.0.0.1:8086/write?db=evl answered 404: "
      "{\"error\":\"database not found: \\\"evl\\\"\"}; retrying\n",
      f.k.written(2).c_str());
}

// nginx in front of InfluxDB sending http:// to https:// answers 301 with
// an HTML page: the line named the status and the page. It now names
// where the redirect goes; the batch waits.
TEST(HttpE2e, a_redirect_is_said_with_its_target_and_nothing_is_dropped) {
  Fixture f;
  f.server->script.push_back(Outcome{301, "<html><body>301 Moved</body></html>\n"});
  f.server->location = "https://influx.example.com/write?db=evl";
  f.server->up();
  f.start();
  f.run_for(3 * kSec);
  STRCMP_CONTAINS(
      "telemetry: error: collector http://127.0.0.1:8086/write?db=evl answered 301, a redirect "
      "to https://influx.example.com/write?db=evl: redirects are not followed; give that URL as "
      "--collector (an https one needs a plain-HTTP endpoint); retrying\n",
      f.k.written(2).c_str());
  CHECK_EQUAL(0u, f.st().dropped());
  f.check_accounting();
}

// Over HTTP a connection that carries the batches is not delivering while
// InfluxDB refuses them: "delivering" is said at the first batch stored,
// once, and again only after a refusal or an outage.
TEST(HttpE2e, delivering_is_said_when_influxdb_stores_not_when_it_refuses) {
  Fixture f;
  f.log.set_level(app::Level::kInfo);
  for (int i = 0; i < 5; ++i) f.server->script.push_back(Outcome{404, "{}"});
  f.server->script.push_back(Outcome{204, ""});
  f.server->script.push_back(Outcome{400, "{}"});  // about the batch: still delivering
  f.server->script.push_back(Outcome{500, "{}"});
  f.server->up();
  f.start();
  f.run_for(30 * kSec);
  const std::string log = f.k.written(2);
  const size_t first = log.find("delivering");
  CHECK(first != std::string::npos);
  CHECK(first > log.rfind("answered 404"));  // not while every batch is refused
  const size_t second = log.find("delivering", first + 1);
  CHECK(second != std::string::npos);
  CHECK(log.find("refused 1 records (400)") < log.find("answered 500"));
  CHECK(second > log.find("answered 500"));
  CHECK(log.find("delivering", second + 1) == std::string::npos);
  CHECK_EQUAL(5u, f.app->counters().http_refused);
  CHECK(f.app->http().delivering());
}

TEST(HttpE2e, a_413_halves_the_batch_until_it_fits) {
  Fixture f;
  f.cfg.batch_max = 8;
  f.cfg.batch_delay_ms = 20000;  // full batches of 8
  f.server->script.push_back(Outcome{413, "{}"});
  f.server->script.push_back(Outcome{413, "{}"});
  f.server->up();
  f.start();
  f.run_for(30 * kSec);
  auto lines = [&](size_t i) {
    return std::count(f.server->requests[i].body.begin(), f.server->requests[i].body.end(), '\n');
  };
  CHECK_EQUAL(8, lines(0));
  CHECK_EQUAL(4, lines(1));
  CHECK_EQUAL(2, lines(2));
  CHECK_EQUAL(2u, f.app->counters().http_too_large);
  CHECK_EQUAL(0u, f.st().dropped());
  CHECK_EQUAL(f.st().delivered(), f.server->stored_lines());
  f.check_accounting();
}

TEST(HttpE2e, split_late_broken_and_garbled_answers_resend_nothing_lost) {
  Fixture f;
  f.server->script.push_back(Outcome{204, "", How::kSplit});
  f.server->script.push_back(Outcome{400, "", How::kCloseAfterHead});
  f.server->script.push_back(Outcome{204, "", How::kSilent});
  f.server->script.push_back(Outcome{204, "", How::kGarbage});
  f.server->script.push_back(Outcome{204, "", How::kWhole, true});  // Connection: close
  f.server->script.push_back(Outcome{204, "", How::kOversized});
  f.server->script.push_back(Outcome{204, "", How::kTwice});
  f.server->up();
  f.start();
  f.run_for(60 * kSec);
  const telemetry::Counters& c = f.app->counters();
  CHECK(c.http_failed >= 4);  // closed after the head, silent (timeout), garbage, oversized
  CHECK_EQUAL(1u, f.app->http().stats().oversized);
  // The second answer came with no request for it: the connection is
  // dropped (it was kept, and each answer read as the next request's).
  CHECK_EQUAL(1u, f.app->http().stats().unexpected);
  CHECK(f.app->link().stats().failures >= 3);
  CHECK_EQUAL(0u, f.st().dropped());
  CHECK_EQUAL(f.st().delivered(), f.server->stored_lines());
  CHECK(f.st().delivered() >= 40);
  f.check_accounting();
}

TEST(HttpE2e, six_hours_with_outages_keep_every_record_counted_once) {
  Fixture f;
  f.cfg.buffer_records = 2000;
  f.server->up();
  f.start();
  struct Weather {
    testhttp::Server* s;
    bool down = false;
    int outages = 0;
  } w{f.server.get()};
  evl::TimerSpec every;
  every.period_ns = 1200 * kSec;
  evl::TimerHandle weather;
  CHECK_EQUAL(0, f.loop->timer_start(
                     every,
                     [](evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
                       auto* x = static_cast<Weather*>(ctx);
                       if (x->down) {
                         x->s->up();
                       } else {
                         x->s->down();
                         ++x->outages;
                       }
                       x->down = !x->down;
                     },
                     &w, &weather));
  f.run_for(6 * 3600 * kSec);
  CHECK_EQUAL(9, w.outages);
  CHECK_EQUAL(0u, f.st().dropped());  // 20 min of records fit the 2000-record store
  CHECK_EQUAL(f.st().delivered(), f.server->stored_lines());
  CHECK(f.st().delivered() + f.st().size() == f.st().accepted());
  CHECK(f.st().accepted() >= 6 * 3600 - 2);
  f.check_accounting();
}

TEST(HttpE2e, credentials_go_in_the_authorization_header) {
  Fixture f;
  f.k.add_regular_path("/etc/evl/token", "abc123\n");
  std::snprintf(f.cfg.http_token_file, sizeof f.cfg.http_token_file, "/etc/evl/token");
  f.server->up();
  f.start();
  f.run_for(5 * kSec);
  CHECK(!f.server->requests.empty());
  STRCMP_EQUAL("Token abc123", f.server->requests[0].authorization.c_str());
}

// A collector by name: resolved (here by /etc/hosts), and the Host header
// carries the name, as InfluxDB behind a name-based proxy needs.
TEST(HttpE2e, a_named_collector_is_resolved_and_named_in_the_host_header) {
  Fixture f;
  f.k.add_regular_path("/etc/hosts", "127.0.0.1 localhost influx.lan\n");
  std::snprintf(f.cfg.collector, sizeof f.cfg.collector, "http://influx.lan:8086/write?db=evl");
  f.server->up();
  f.start();
  f.run_for(5 * kSec);
  CHECK(!f.server->requests.empty());
  STRCMP_EQUAL("influx.lan:8086", f.server->requests[0].host.c_str());
  CHECK(f.st().delivered() > 0);
}

// An HTTPS collector given as http:// (Debian's influxd with
// https-enabled answers exactly this): said as such, and the batch is not
// dropped as a 400 would drop it: it waits for the collector to be fixed.
TEST(HttpE2e, an_https_server_is_said_to_want_tls_and_nothing_is_dropped) {
  Fixture f;
  for (int i = 0; i < 20; ++i) {
    f.server->script.push_back(
        Outcome{400, "Client sent an HTTP request to an HTTPS server.\n", How::kWhole, true});
  }
  f.server->up();
  f.start();
  f.run_for(5 * kSec);
  CHECK(f.app->http().stats().tls > 0);
  CHECK_EQUAL(0u, f.st().dropped());
  CHECK_EQUAL(0u, f.st().delivered());
  CHECK(f.st().size() > 0);
  f.check_accounting();
}

TEST(HttpE2e, an_ip_literal_collector_is_the_host_header) {
  Fixture f;
  f.server->up();
  f.start();
  f.run_for(3 * kSec);
  CHECK(!f.server->requests.empty());
  STRCMP_EQUAL("127.0.0.1:8086", f.server->requests[0].host.c_str());
}

TEST(HttpE2e, a_user_and_password_file_make_basic_authorization) {
  Fixture g;
  g.k.add_regular_path("/etc/evl/pw", "open sesame\n");
  std::snprintf(g.cfg.http_user, sizeof g.cfg.http_user, "Aladdin");
  std::snprintf(g.cfg.http_password_file, sizeof g.cfg.http_password_file, "/etc/evl/pw");
  g.server->up();
  g.start();
  g.run_for(5 * kSec);
  STRCMP_EQUAL("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", g.server->requests[0].authorization.c_str());
}

namespace {

// telemetry::App::start's error for f's configuration.
std::string start_error(Fixture& f) {
  telemetry::App a(f.cfg, &f.log);
  char err[256] = {};
  CHECK_EQUAL(-EINVAL, a.start(*f.loop, err, sizeof err));
  return err;
}

}  // namespace

// Collector settings that cannot work are one clear error at start.
TEST(HttpE2e, http_settings_that_cannot_work_are_one_clear_error) {
  Fixture f;
  f.k.add_regular_path("/etc/evl/token", "abc123\n");
  f.k.add_regular_path("/etc/evl/pw", "open sesame\n");
  f.k.add_regular_path("/etc/evl/long", std::string(250, 'p') + "\n");
  const std::string long_user(63, 'u');
  const telemetry::Config base = f.cfg;
  struct Case {
    const char* collector;  // nullptr: the fixture's
    const char* token_file;
    const char* user;
    const char* password_file;
    const char* id;
    const char* error;
  };
  const Case cases[] = {
      {"http://127.0.0.1:8086/query?db=evl", "", "", "", "board-7",
       "an http collector is InfluxDB's /write?db=NAME"},
      {nullptr, "/etc/evl/token", "Aladdin", "", "board-7",
       "--http-token-file and --http-user exclude each other"},
      {nullptr, "", "", "/etc/evl/pw", "board-7", "--http-password-file needs --http-user"},
      {nullptr, "/etc/evl/missing", "", "", "board-7", "token file /etc/evl/missing"},
      {nullptr, "", "Aladdin", "/etc/evl/missing", "board-7", "password file /etc/evl/missing"},
      {nullptr, "", long_user.c_str(), "/etc/evl/long", "board-7",
       "--http-user and its password are too long"},
      {nullptr, "", "ala:din", "", "board-7", "--http-user 'ala:din' holds a ':'"},
      // The id is a tag value of every line: unescaped, a space or comma
      // would make InfluxDB refuse (400) every record.
      {nullptr, "", "", "", "board 7", "may hold only letters, digits, '.', '_' and '-'"},
      {nullptr, "", "", "", "board,7", "may hold only letters, digits, '.', '_' and '-'"},
      {nullptr, "", "", "", "a=b", "may hold only letters, digits, '.', '_' and '-'"},
      {nullptr, "", "", "", "", "may hold only letters, digits, '.', '_' and '-'"},
  };
  for (const Case& c : cases) {
    f.cfg = base;
    if (c.collector != nullptr)
      std::snprintf(f.cfg.collector, sizeof f.cfg.collector, "%s", c.collector);
    std::snprintf(f.cfg.http_token_file, sizeof f.cfg.http_token_file, "%s", c.token_file);
    std::snprintf(f.cfg.http_user, sizeof f.cfg.http_user, "%s", c.user);
    std::snprintf(f.cfg.http_password_file, sizeof f.cfg.http_password_file, "%s", c.password_file);
    std::snprintf(f.cfg.id, sizeof f.cfg.id, "%s", c.id);
    STRCMP_CONTAINS(c.error, start_error(f).c_str());
  }
}

// A 413 for a batch of one record: it can never go; it is dropped, counted
// and logged, and the records after it are delivered.
TEST(HttpE2e, a_413_for_a_single_record_drops_it_and_goes_on) {
  Fixture f;
  f.cfg.batch_max = 1;
  f.server->script.push_back(Outcome{413, "{}"});
  f.server->up();
  f.start();
  f.run_for(10 * kSec);
  CHECK_EQUAL(1u, f.app->counters().http_too_large);
  CHECK_EQUAL(1u, f.st().dropped());
  CHECK(f.st().delivered() >= 7);
  CHECK_EQUAL(f.st().delivered(), f.server->stored_lines());
  f.check_accounting();
}

// Snapshots (apps/common/snapshot.h): a telemetry rebuilt from another's
// saved state goes on with its store, serial port, reader and HTTP
// connection, every record still counted once. (The flight stage does this
// through a replay; here the saved daemon's connection is kept open across
// its drop by a dup, and its serial port simply stays open.)
TEST(HttpE2e, a_telemetry_restored_from_a_snapshot_goes_on_counting_every_record_once) {
  Fixture f;
  f.server->up();
  f.start();
  f.run_for(10 * kSec + 200 * kMs);
  const uint64_t accepted = f.st().accepted();
  CHECK(accepted >= 9);
  // The other daemon, towards a collector and a serial port nobody serves.
  telemetry::Config cfg2 = f.cfg;
  std::snprintf(cfg2.collector, sizeof cfg2.collector, "http://127.0.0.1:8087/write?db=evl");
  std::snprintf(cfg2.serial, sizeof cfg2.serial, "/dev/ttyS9");
  telemetry::App other(cfg2, &f.log);
  char err[256] = {};
  CHECK_EQUAL(0, other.start(*f.loop, err, sizeof err));
  other.drop();
  static uint8_t bytes[flight::kMaxSnapshotBytes];
  (void)testsnap::move_by_snapshot(
      *f.loop, *f.app, other, [&f](flight::SnapWriter& w) { CHECK(f.app->save(w)); }, bytes,
      sizeof bytes);
  CHECK_EQUAL(accepted, other.store().accepted());
  CHECK_EQUAL(f.app->counters().sentences, other.counters().sentences);
  f.run_for(20 * kSec);
  const telemetry::Store& st = other.store();
  CHECK(st.accepted() >= accepted + 19);  // the sensor's records, read by the restored daemon
  CHECK_EQUAL(st.accepted(), st.delivered() + st.dropped() + st.size());
  CHECK_EQUAL(st.delivered(), f.server->stored_lines());
  CHECK_EQUAL(0u, st.dropped());
  CHECK_EQUAL(1u, other.link().stats().connects);  // the same connection, still kept alive
  other.stop();
}

TEST(HttpE2e, a_password_in_the_query_is_refused_without_being_printed) {
  Fixture f;
  std::snprintf(f.cfg.collector, sizeof f.cfg.collector,
                "http://127.0.0.1:8086/write?db=evl&u=admin&p=s3cret");
  const std::string err = start_error(f);
  STRCMP_CONTAINS("a password in the URL's query (p=) is not read", err.c_str());
  CHECK(err.find("s3cret") == std::string::npos);
}

namespace {

// An IMF-fixdate for s seconds since 1970 (the form a server sends).
std::string imf_date(int64_t s) {
  const auto t = static_cast<time_t>(s);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char out[40];
  (void)strftime(out, sizeof out, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return out;
}

// The gap between two requests.
int64_t gap(const Fixture& f, size_t i) {
  return f.server->requests[i].at_ns - f.server->requests[i - 1].at_ns;
}

}  // namespace

// A rate-limited InfluxDB (InfluxDB Cloud answers 429 with Retry-After)
// gets its pause, then the back-off's jitter on top; nothing is dropped.
TEST(HttpE2e, a_retry_after_in_seconds_holds_the_batch_back_that_long) {
  Fixture f;
  f.log.set_level(app::Level::kWarning);
  Outcome busy{429, "{\"code\":\"too many requests\"}"};
  busy.retry_after = "30";
  f.server->script.push_back(busy);
  f.server->up();
  f.start();
  f.run_for(40 * kSec);
  CHECK(f.server->requests.size() >= 2);
  CHECK(gap(f, 1) >= 30 * kSec + 100 * kMs);  // the pause, then [cap/2, cap] of the back-off
  CHECK(gap(f, 1) <= 30 * kSec + 200 * kMs);
  CHECK(f.server->requests[1].body.find(f.server->requests[0].body) == 0);
  STRCMP_CONTAINS(
      "answered 429: {\"code\":\"too many requests\"}; retrying after its Retry-After "
      "of 30 s\n",
      f.k.written(2).c_str());
  CHECK_EQUAL(0u, f.st().dropped());
  CHECK_EQUAL(f.st().delivered(), f.server->stored_lines());
  f.check_accounting();
}

TEST(HttpE2e, a_retry_after_date_is_read_against_the_wall_clock) {
  Fixture f;
  const int64_t until_s = f.k.realtime_ns() / kSec + 25;
  Outcome down{503, "{}"};
  down.retry_after = imf_date(until_s);
  f.server->script.push_back(down);
  f.server->up();
  f.start();
  f.run_for(40 * kSec);
  CHECK(f.server->requests.size() >= 2);
  const int64_t second_at = f.server->requests[1].at_ns - f.k.monotonic_ns() + f.k.realtime_ns();
  CHECK(second_at >= until_s * kSec);
  CHECK(second_at <= until_s * kSec + kSec + 200 * kMs);
  CHECK_EQUAL(0u, f.st().dropped());
}

// Values that cannot be used are said and the back-off alone paces the
// retry: a word, an obsolete date form, a date while the board's clock
// reads 1970; a huge number is cut to an hour.
TEST(HttpE2e, a_retry_after_that_cannot_be_used_is_said_and_the_back_off_paces_the_retry) {
  Fixture f;
  f.log.set_level(app::Level::kWarning);
  for (const char* v : {"soon", "Sunday, 06-Nov-94 08:49:37 GMT"}) {
    Outcome o{503, "{}"};
    o.retry_after = v;
    f.server->script.push_back(o);
  }
  f.server->up();
  f.start();
  f.run_for(10 * kSec);
  CHECK(f.server->requests.size() >= 3);
  CHECK(gap(f, 1) <= 200 * kMs);  // the first back-off's cap
  CHECK(gap(f, 2) <= 400 * kMs);
  STRCMP_CONTAINS("retrying (its Retry-After 'soon' is not seconds or an IMF-fixdate: ignored)\n",
                  f.k.written(2).c_str());
  STRCMP_CONTAINS("(its Retry-After 'Sunday, 06-Nov-94 08:49:37 GMT' is not seconds or",
                  f.k.written(2).c_str());
}

TEST(HttpE2e, a_retry_after_date_with_the_clock_unset_is_ignored_and_a_huge_one_is_an_hour) {
  Fixture f;
  f.log.set_level(app::Level::kWarning);
  Outcome dated{503, "{}"};
  dated.retry_after = imf_date(f.k.realtime_ns() / kSec + 600);
  Outcome huge{503, "{}"};
  huge.retry_after = "99999999999999999999999999";
  f.server->script.push_back(dated);
  f.server->script.push_back(huge);
  f.k.step_realtime(-f.k.realtime_ns() + 5 * kSec);  // a board without NTP yet: 1970
  f.server->up();
  f.start();
  f.run_for(3700 * kSec);
  CHECK(f.server->requests.size() >= 3);
  CHECK(gap(f, 1) <= 200 * kMs);
  STRCMP_CONTAINS("(its Retry-After is a date and this board's clock is not set: ignored)\n",
                  f.k.written(2).c_str());
  CHECK(gap(f, 2) >= 3600 * kSec);
  CHECK(gap(f, 2) <= 3600 * kSec + 400 * kMs);
  STRCMP_CONTAINS("retrying after its Retry-After of 3600 s (at most an hour is kept)\n",
                  f.k.written(2).c_str());
  f.check_accounting();  // (an hour at a record a second is more than the store keeps)
}

// A health line refused with a Retry-After holds the next batch back too.
TEST(HttpE2e, a_health_line_refused_with_a_retry_after_holds_the_batches_back) {
  Fixture f;
  f.log.set_level(app::Level::kWarning);
  f.cfg.health_period_ms = 5000;
  Outcome busy{429, "{}"};
  busy.retry_after = "20";
  f.server->health_script.push_back(busy);
  f.server->up();
  f.start();
  f.run_for(40 * kSec);
  size_t health = 0;
  while (health < f.server->requests.size() &&
         f.server->requests[health].body.rfind("telemetry_health", 0) != 0) {
    ++health;
  }
  CHECK(health + 1 < f.server->requests.size());
  CHECK_EQUAL(429, f.server->requests[health].answered);
  CHECK(gap(f, health + 1) >= 20 * kSec);
  STRCMP_CONTAINS(
      "collector refused a health line (429); the next post goes after its "
      "Retry-After of 20 s\n",
      f.k.written(2).c_str());
  CHECK_EQUAL(0u, f.st().dropped());
}

// Retries of refused batches are spread: each waits within [cap/2, cap] of
// its doubling back-off, not the cap itself, so a fleet refused at one
// moment does not come back at one moment.
TEST(HttpE2e, refused_batches_come_back_after_a_jittered_back_off) {
  Fixture f;
  for (int i = 0; i < 5; ++i) f.server->script.push_back(Outcome{503, "{}"});
  f.server->up();
  f.start();
  f.run_for(20 * kSec);
  CHECK(f.server->requests.size() >= 6);
  int64_t cap = 200 * kMs;
  int at_cap = 0;
  for (size_t i = 1; i <= 5; ++i, cap = std::min<int64_t>(2 * cap, 2000 * kMs)) {
    CHECK(gap(f, i) >= cap / 2);
    CHECK(gap(f, i) <= cap + kMs);
    if (gap(f, i) >= cap - kMs) ++at_cap;
  }
  CHECK(at_cap < 5);
  CHECK_EQUAL(0u, f.st().dropped());
}

// A stop leaves no watcher of the app's behind: the loop may go on (a
// test's, an embedding program's) after the app is gone. The refused
// batch's retry timer was left armed with the app as its context, and the
// HTTP client (its connection, its timers) was stopped only when the app
// was destroyed.
TEST(HttpE2e, a_stop_while_a_refused_batch_waits_leaves_no_watcher) {
  Fixture f;
  f.server->script.push_back(Outcome{503, "{}"});
  f.server->up();
  f.start();
  f.run_for(2 * kSec);
  CHECK_EQUAL(1u, f.app->counters().http_retried);
  const uint32_t timers = f.loop->health().timers.used;
  f.app->stop();
  CHECK(f.loop->health().timers.used < timers);
  f.loop->timer_clear(&f.sensor_timer);
  CHECK_EQUAL(0u, f.loop->health().timers.used);
  CHECK_EQUAL(-1, f.app->http().link().fd());  // and its connection is closed
  f.app.reset();
  f.run_for(5 * kSec);
}
