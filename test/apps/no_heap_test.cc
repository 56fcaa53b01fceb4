// "No heap after init" for the apps' transports, on the real kernel: the
// daemons' Link (with the resolver reading /etc/hosts), the HTTP client and
// the log run through reconnects, refusals and Retry-After pauses while
// every allocation of the process is counted. The servers are the test's
// own, on loopback, in fixed buffers: the count is the daemons' alone.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>

#include "CppUTest/TestHarness.h"
#include "apps/heartbeat/heartbeat.h"
#include "apps/telemetry/telemetry.h"
#include "hal/socket.h"
#include "hal/sys.h"
#include "loop/clock.h"
#include "loop/static_loop.h"
#include "test/apps/pty_telemetry.h"
#include "test/support/alloc_counter.h"

namespace {

using TestLoop = evl::StaticLoop<16, 32, 4, 1, 4>;

// A loopback server in fixed buffers: accepts one connection at a time,
// reads what comes, and (http) answers each request; after `close_every`
// requests or reads it closes the connection, so that the client
// reconnects.
struct Server {
  int listen_fd = -1;
  int conn = -1;
  bool http = false;
  int close_every = 5;
  int served = 0;  // reads (raw) or requests answered (http)
  int accepted = 0;
  char in[16384] = {};
  size_t have = 0;

  explicit Server(bool is_http) : http(is_http) {
    hal::SockAddr at;
    CHECK_EQUAL(0, hal::parse_address("127.0.0.1:0", &at));
    CHECK_EQUAL(0, hal::stream_listen(at, 4, &listen_fd));
  }
  ~Server() {
    if (conn >= 0) (void)hal::close(conn);
    (void)hal::close(listen_fd);
  }
  int port() const {
    hal::SockAddr at;
    return hal::getsockname(listen_fd, &at) == 0 ? hal::address_port(at) : -1;
  }
  void drop() {
    (void)hal::close(conn);
    conn = -1;
    have = 0;
  }
  // Answers the whole requests in `in`: 503 with Retry-After: 0 to every
  // fourth, 204 to the others.
  void answer() {
    for (;;) {
      const char* end = static_cast<const char*>(memmem(in, have, "\r\n\r\n", 4));
      if (end == nullptr) return;
      const char* cl = static_cast<const char*>(memmem(in, have, "Content-Length: ", 16));
      const size_t head = static_cast<size_t>(end - in) + 4;
      const size_t body = cl != nullptr ? std::strtoul(cl + 16, nullptr, 10) : 0;
      if (have < head + body) return;
      static const char kStored[] = "HTTP/1.1 204 No Content\r\n\r\n";
      static const char kLater[] =
          "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n";
      const bool later = served % 4 == 3;
      (void)hal::stream_send(conn, later ? kLater : kStored,
                             later ? sizeof kLater - 1 : sizeof kStored - 1);
      std::memmove(in, in + head + body, have - head - body);
      have -= head + body;
      ++served;
    }
  }
  // One pass: accept, read, answer, maybe close.
  void poll() {
    if (conn < 0) {
      if (hal::stream_accept(listen_fd, &conn, nullptr) != 0) return;
      ++accepted;
    }
    const long n = hal::stream_recv(conn, in + have, sizeof in - have);
    if (n == 0 || (n < 0 && n != -EAGAIN)) {
      drop();
      return;
    }
    if (n < 0) return;
    have += static_cast<size_t>(n);
    if (http) {
      answer();
    } else {
      have = 0;
      ++served;
    }
    if (served > 0 && served % close_every == 0) drop();
  }
};

// Runs the loop and the server for ns of real time (the loop waits at
// most 5 ms at a time, so the server is polled often).
void run_for(evl::Loop& loop, Server& server, int64_t ns) {
  const int64_t end = evl::now_ns(hal::kClockMonotonic) + ns;
  while (evl::now_ns(hal::kClockMonotonic) < end) {
    (void)loop.run_once(5);
    server.poll();
  }
}

}  // namespace

TEST_GROUP(NoHeap){};

// heartbeat over TCP, by name (/etc/hosts), through a dozen reconnects.
TEST(NoHeap, heartbeat_reconnecting_by_name_allocates_nothing_after_start) {
  static TestLoop loop;  // (static storage: a loop is large)
  CHECK_EQUAL(0, loop.init());
  Server server(false);
  server.close_every = 3;
  app::Log log("heartbeat");
  log.set_level(app::Level::kError);
  heartbeat::Config cfg;
  std::snprintf(cfg.server, sizeof cfg.server, "tcp://localhost:%d", server.port());
  cfg.period_ms = 20;
  cfg.link.backoff_initial_ms = 10;
  cfg.link.backoff_max_ms = 40;
  std::unique_ptr<heartbeat::App> app(new heartbeat::App(cfg, &log));
  char err[256] = {};
  CHECK_EQUAL(0, app->start(loop, err, sizeof err));
  run_for(loop, server, 200 * evl::kMs);  // the first connection: what start left to do
  const int accepted_before = server.accepted;
  uint64_t allocations = 0;
  {
    testsupport::AllocCounter counter;
    run_for(loop, server, 3 * evl::kSec);
    allocations = counter.count();
    CHECK(counter.working());
  }
  const int reconnects = server.accepted - accepted_before;
  app->stop();
  loop.close();
  CHECK_EQUAL(0u, allocations);
  CHECK(reconnects >= 5);  // (a bound: a busy machine only makes fewer)
  CHECK(app->counters().sent >= 20);
}

// telemetry over HTTP: batches answered 204, every fourth 503 with
// Retry-After: 0, the connection closed every five answers.
TEST(NoHeap, telemetry_over_http_through_refusals_and_reconnects_allocates_nothing) {
  static TestLoop loop;
  CHECK_EQUAL(0, loop.init());
  Server server(true);
  char url[96];
  std::snprintf(url, sizeof url, "http://localhost:%d/write?db=evl", server.port());
  testpty::PtyTelemetry t(url);
  t.cfg.health_period_ms = 100;
  std::unique_ptr<telemetry::App> app(new telemetry::App(t.cfg, &t.log));
  char err[256] = {};
  CHECK_EQUAL(0, app->start(loop, err, sizeof err));
  run_for(loop, server, 200 * evl::kMs);
  const int served_before = server.served;
  uint64_t allocations = 0;
  {
    testsupport::AllocCounter counter;
    for (int i = 0; i < 150; ++i) {
      t.line();
      run_for(loop, server, 20 * evl::kMs);
    }
    allocations = counter.count();
    CHECK(counter.working());
  }
  const int answered = server.served - served_before;
  app->stop();
  loop.close();
  CHECK_EQUAL(0u, allocations);
  CHECK(answered >= 8);
  CHECK(app->store().delivered() >= 20);
}
