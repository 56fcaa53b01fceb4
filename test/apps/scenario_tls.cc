// Scenario "tls" for //test/fake:simulate: the daemons' link over TLS
// (mqtts://, app::tls::Client) sends numbered lines to a TLS server on the
// seeded fake kernel, whose chaos cuts reads and writes short, answers
// EAGAIN on ready sockets and fails calls; the weather stops and restarts
// the server, ends its connection, makes it stop reading for a while and
// forget the sessions it gave. Checked after every iteration: the loop's
// invariants, no spin, no call that would block; at the end: each
// connection's bytes are consecutive lines in the order sent (none twice,
// none out of order: a write that would block is offered again as
// mbedTLS asks), the valid certificate was never refused, and the link
// came up.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "apps/common/link.h"
#include "apps/common/tls.h"
#include "loop/static_loop.h"
#include "test/apps/tls_pki.h"
#include "test/apps/tls_server.h"
#include "test/fake/kernel.h"
#include "test/fake/simulate.h"

namespace {

using evl::kMs;
using evl::kSec;
using SimLoop = evl::StaticLoop<16, 32, 4, 1, 4>;

// Made once (keys take a while), shared by every seed and thread.
struct Pki {
  tlstest::Key ca_key;
  tlstest::Key server_key;
  std::string ca = tlstest::certificate("evl sim CA", ca_key, "evl sim CA", ca_key, true);
  std::string chain = tlstest::certificate("broker.test", server_key, "evl sim CA", ca_key, false);
};

const Pki& pki() {
  static const Pki p;
  return p;
}

struct Client {
  app::Link link;
  uint64_t next = 0;  // the next line's number
  int refused = 0;    // downs for the certificate, or "not TLS", or memory
  int last_refusal = 0;
};

void on_down(void* ctx, int err) {
  auto* c = static_cast<Client*>(ctx);
  if (err == app::tls::kErrUntrusted || err == app::tls::kErrNotTls ||
      err == app::tls::kErrMemory) {
    ++c->refused;
    c->last_refusal = err;
  }
}

// A line: its number, then padding (40 KB/s: a server that stops reading
// fills the socket and the link's ring within seconds, and writes would
// block).
const std::string kPad(90, '.');

void on_send(evl::Loop& loop, evl::TimerHandle h, uint32_t, void* ctx) {
  auto* c = static_cast<Client*>(ctx);
  for (int i = 0; i < 20 && c->link.up(); ++i) {
    const std::string line = std::to_string(c->next) + " " + kPad + "\n";
    if (c->link.send(line.data(), line.size()) != 0) break;
    ++c->next;
  }
  (void)loop.timer_restart(h, 50 * kMs);
}

struct Weather {
  tlstest::Server* server;
  fake::Rng rng;
  bool down = false;
  bool deaf = false;
};

void on_weather(evl::Loop& loop, evl::TimerHandle h, uint32_t, void* ctx) {
  auto* w = static_cast<Weather*>(ctx);
  if (w->down) {
    w->down = !w->server->listen();  // (the kernel may refuse: again later)
  } else if (w->deaf) {
    w->server->mode = tlstest::Mode::kTls;
    w->server->resume();
    w->deaf = false;
  } else {
    w->server->read_limit = 0;
    switch (w->rng.below(6)) {
      case 0:
        w->server->unlisten();
        w->down = true;
        break;
      case 1: w->server->close_connection(); break;
      case 2:  // deaf, now and for its next connections, until the next weather
        w->server->mode = tlstest::Mode::kStopsReading;
        w->server->stop_reading();
        w->deaf = true;
        break;
      case 3: w->server->forget_sessions(); break;
      case 4:  // a slow reader: the client's socket stays nearly full
        w->server->read_limit = 1 + w->rng.below(3000);
        break;
      default: break;
    }
  }
  (void)loop.timer_restart(h, static_cast<int64_t>(1 + w->rng.below(5)) * kSec);
}

// Every connection's text: consecutive lines, each after every line of
// the connections before; its end may cut a line.
void check_lines(sim::Checker& check, const tlstest::Server& s, uint64_t sent) {
  long long last = -1;
  for (const std::string& conn : s.conns) {
    size_t pos = 0;
    long long prev = -1;
    for (size_t nl; (nl = conn.find('\n', pos)) != std::string::npos; pos = nl + 1) {
      const std::string line = conn.substr(pos, nl - pos);
      char* end = nullptr;
      const long long n = std::strtoll(line.c_str(), &end, 10);
      SIM_CHECK(check, !line.empty() && *end == ' ' && kPad == end + 1,
                "not a line the client sent: " + line);
      SIM_CHECK(check, n > last, "line " + line + " after " + std::to_string(last));
      SIM_CHECK(check, prev < 0 || n == prev + 1,
                "line " + line + " after " + std::to_string(prev) + " in one connection");
      SIM_CHECK(check, static_cast<uint64_t>(n) < sent, "line " + line + " was never sent");
      prev = last = n;
      if (check.failed()) return;
    }
  }
}

sim::Result run_tls(uint64_t seed, int64_t virtual_seconds) {
  sim::Result result;
  sim::Checker check(&result);
  const Pki& p = pki();
  fake::Kernel k;
  k.seed(seed);
  k.add_regular_path("/etc/evl/ca.pem", p.ca);
  std::unique_ptr<SimLoop> loop(new SimLoop());
  SIM_CHECK(check, loop->init() == 0, "init");
  tlstest::Server server(*loop, "127.0.0.1:8883", p.chain, p.server_key, seed);
  Weather weather{&server, fake::Rng{seed ^ 0x7157ULL}, !server.listening(), false};
  std::unique_ptr<app::tls::Client> tls(new app::tls::Client());
  Client client;
  app::Url url;
  SIM_CHECK(check, app::parse_url("mqtts://127.0.0.1:8883", &url) == 0, "url");
  app::LinkConfig cfg;
  cfg.backoff_initial_ms = 50;
  cfg.backoff_max_ms = 1000;
  cfg.connect_timeout_ms = 2000;
  cfg.stall_timeout_ms = 4000;
  cfg.stable_ms = 200;
  std::snprintf(cfg.tls_ca_file, sizeof cfg.tls_ca_file, "/etc/evl/ca.pem");
  std::snprintf(cfg.tls_server_name, sizeof cfg.tls_server_name, "broker.test");
  char err[256] = {};
  int prepared = -EINVAL;
  for (int tries = 0; tries < 20 && prepared != 0; ++tries) {  // (reads may be cut short)
    prepared = app::prepare_tls(url, &cfg, tls.get(), err, sizeof err);
  }
  SIM_CHECK(check, prepared == 0, std::string("prepare_tls: ") + err);
  app::LinkEvents ev;
  ev.down = on_down;
  ev.ctx = &client;
  int started = -ENOMEM;
  for (int tries = 0; tries < 20 && started == -ENOMEM; ++tries) {
    started = client.link.start(*loop, url, cfg, ev);
  }
  SIM_CHECK(check, started == 0, "link start: " + std::to_string(started));
  evl::TimerHandle sender, weather_timer;
  (void)loop->timer_after(20 * kMs, on_send, &client, &sender);
  (void)loop->timer_after(kSec, on_weather, &weather, &weather_timer);
  int64_t last = -1;
  uint64_t same = 0;
  const int64_t end = k.monotonic_ns() + virtual_seconds * kSec;
  while (!check.failed() && k.monotonic_ns() < end) {
    const int r = loop->run_once(-1);
    SIM_CHECK(check, r >= 0 || r == -EINTR || r == -ENOMEM, "run_once: " + std::to_string(r));
    ++result.iterations;
    SIM_CHECK(check, loop->verify(), "loop.verify() failed");
    same = k.monotonic_ns() == last ? same + 1 : 0;
    last = k.monotonic_ns();
    SIM_CHECK(check, same < 100000, "the loop spins in place");
    SIM_CHECK(check, k.would_block() == 0, "a read or write would have blocked");
    SIM_CHECK(check, client.refused == 0,
              std::string("refused: ") + app::error_text(client.last_refusal));
  }
  client.link.stop();
  server.unlisten();
  check_lines(check, server, client.next);
  SIM_CHECK(check, tls->stats().handshakes >= 1, "the link never came up");
  SIM_CHECK(check, app::tls::arena().failures == 0, "the TLS arena refused memory");
  result.trace_hash = k.trace_hash();
  return result;
}

}  // namespace

SIM_SCENARIO(tls, "tls",
             "numbered lines over TLS through short, refused and failed calls; the server goes "
             "down, stops reading, forgets its sessions",
             run_tls);
