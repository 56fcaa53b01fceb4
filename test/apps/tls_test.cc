// app::Link over TLS (mqtts://, https://) on the fake kernel, against a
// TLS server on the same loop with certificates made here: the bytes both
// ways, every refusal with its reason, the dates on an unset clock, the
// socket's faults, the arena across reconnects.
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "CppUTest/TestHarness.h"
#include "apps/common/link.h"
#include "apps/common/tls.h"
#include "hal/snapshot.h"
#include "loop/static_loop.h"
#include "test/apps/tls_server.h"
#include "test/fake/kernel.h"

extern "C" {
void* evl_tls_calloc(size_t n, size_t size);
void evl_tls_free(void* p);
}

using app::Link;
using evl::kMs;
using evl::kSec;
using State = app::Link::State;

namespace {

using TestLoop = evl::StaticLoop<8, 16, 2, 1, 4>;

struct Seen {
  int ups = 0;
  std::vector<int> downs;
  std::string in;
};

void on_up(void* ctx) { ++static_cast<Seen*>(ctx)->ups; }
void on_down(void* ctx, int err) { static_cast<Seen*>(ctx)->downs.push_back(err); }
size_t on_received(void* ctx, const char* data, size_t len) {
  static_cast<Seen*>(ctx)->in.append(data, len);
  return len;
}

// The authority, the server's key, and a certificate for broker.test.
struct Pki {
  tlstest::Key ca_key;
  tlstest::Key server_key;
  char ca[2048] = {};  // (not a std::string: made in the first test, kept after it)
  Pki() {
    const std::string pem =
        tlstest::certificate("evl test CA", ca_key, "evl test CA", ca_key, true);
    CHECK(pem.size() < sizeof ca);
    std::memcpy(ca, pem.c_str(), pem.size() + 1);
  }
  std::string server(const char* cn = "broker.test", const char* from = "20250101000000",
                     const char* to = "20400101000000", const std::string& alt_names = "") const {
    return tlstest::certificate(cn, server_key, "evl test CA", ca_key, false, from, to, alt_names);
  }
  // A certificate whose only names are alt_names (its CN is a label).
  std::string server_named(const std::string& alt_names) const {
    return server("evl test broker", "20250101000000", "20400101000000", alt_names);
  }
};

Pki& pki() {
  static Pki p;  // (keys take a while on qemu: made once)
  return p;
}

struct Fixture {
  fake::Kernel k;
  std::unique_ptr<TestLoop> loop{new TestLoop()};
  std::unique_ptr<app::tls::Client> client{new app::tls::Client()};
  Seen seen;
  Link link;
  app::LinkConfig cfg;
  app::Url url;
  std::unique_ptr<tlstest::Server> server;

  explicit Fixture(const std::string& chain = pki().server()) {
    CHECK_EQUAL(0, loop->init());
    k.add_regular_path("/etc/evl/ca.pem", pki().ca);
    cfg.backoff_initial_ms = 100;
    cfg.backoff_max_ms = 400;
    cfg.connect_timeout_ms = 2000;
    cfg.stable_ms = 200;
    cfg.stall_timeout_ms = 3000;
    server.reset(new tlstest::Server(*loop, "127.0.0.1:8883", chain, pki().server_key));
  }
  ~Fixture() {
    link.stop();
    server.reset();
  }
  void start(const char* text = "mqtts://127.0.0.1") {
    CHECK_EQUAL(0, app::parse_url(text, &url));
    std::snprintf(cfg.tls_ca_file, sizeof cfg.tls_ca_file, "/etc/evl/ca.pem");
    if (cfg.tls_server_name[0] == '\0') {
      std::snprintf(cfg.tls_server_name, sizeof cfg.tls_server_name, "broker.test");
    }
    char err[256] = {};
    CHECK_EQUAL_TEXT(0, app::prepare_tls(url, &cfg, client.get(), err, sizeof err), err);
    app::LinkEvents ev;
    ev.up = on_up;
    ev.down = on_down;
    ev.received = on_received;
    ev.ctx = &seen;
    CHECK_EQUAL(0, link.start(*loop, url, cfg, ev));
  }
  void run_for(int64_t ns) {
    const int64_t end = k.monotonic_ns() + ns;
    while (k.monotonic_ns() < end) {
      const int r = loop->run_once(static_cast<int>((end - k.monotonic_ns() + kMs - 1) / kMs));
      CHECK(r >= 0 || r == -EINTR);
    }
  }
  template <class F>
  void run_until(F done, int64_t limit_ns) {
    const int64_t end = k.monotonic_ns() + limit_ns;
    while (!done() && k.monotonic_ns() < end) {
      const int r = loop->run_once(static_cast<int>((end - k.monotonic_ns()) / kMs + 1));
      CHECK(r >= 0 || r == -EINTR);
    }
    CHECK(done());
  }
  std::string said(int err) const { return app::error_text(err); }
  // Starts, waits for the first down, and checks its error and words.
  void expect_down(int err, const char* words) {
    start();
    run_until([&] { return !seen.downs.empty(); }, 5 * kSec);
    CHECK_EQUAL(err, seen.downs[0]);
    STRCMP_CONTAINS(words, said(seen.downs[0]).c_str());
  }
};

}  // namespace

TEST_GROUP(Tls){};

TEST(Tls, urls_with_tls_take_their_default_ports) {
  app::Url u;
  CHECK_EQUAL(0, app::parse_url("mqtts://broker.lan", &u));
  CHECK(u.tls && u.scheme == app::Scheme::kMqtt);
  CHECK_EQUAL(8883, u.port);
  CHECK_EQUAL(0, app::parse_url("https://influx.lan/api/v2/write?bucket=b", &u));
  CHECK(u.tls && u.scheme == app::Scheme::kHttp);
  CHECK_EQUAL(443, u.port);
  STRCMP_EQUAL("/api/v2/write?bucket=b", u.path);
  CHECK_EQUAL(0, app::parse_url("mqtt://broker.lan", &u));
  CHECK_FALSE(u.tls);
  CHECK_EQUAL(-EINVAL, app::parse_url("https://influx.lan", &u));  // http needs its path
}

TEST(Tls, a_tls_url_without_a_ready_client_does_not_start) {
  fake::Kernel k;
  TestLoop loop;
  CHECK_EQUAL(0, loop.init());
  app::Url u;
  CHECK_EQUAL(0, app::parse_url("mqtts://127.0.0.1", &u));
  Link link;
  CHECK_EQUAL(-EINVAL, link.start(loop, u, app::LinkConfig{}, app::LinkEvents{}));
  app::tls::Client c;
  app::LinkConfig cfg;
  cfg.tls = &c;  // not init()ed
  CHECK_EQUAL(-EINVAL, link.start(loop, u, cfg, app::LinkEvents{}));
}

TEST(Tls, the_ca_file_is_read_through_the_seam_and_checked) {
  fake::Kernel k;
  k.add_regular_path("/etc/evl/empty.pem", "");
  k.add_regular_path("/etc/evl/text.pem", "not a certificate\n");
  char err[256] = {};
  {
    app::tls::Client c;
    CHECK_EQUAL(-EINVAL, c.init("/etc/evl/missing.pem", err, sizeof err));
    STRCMP_CONTAINS("cannot open TLS CA file /etc/evl/missing.pem", err);
  }
  for (const char* path : {"/etc/evl/empty.pem", "/etc/evl/text.pem"}) {
    app::tls::Client c;
    CHECK_EQUAL(-EINVAL, c.init(path, err, sizeof err));
    STRCMP_CONTAINS("holds no certificate that can be read", err);
    CHECK_FALSE(c.ready());
  }
  k.add_regular_path("/etc/evl/ca.pem", pki().ca);
  app::tls::Client c;
  CHECK_EQUAL(0, c.init("/etc/evl/ca.pem", err, sizeof err));
  CHECK(c.ready());
  CHECK_EQUAL(-EINVAL, c.init("/etc/evl/ca.pem", err, sizeof err));  // once
  app::Url u;
  CHECK_EQUAL(0, app::parse_url("mqtts://127.0.0.1", &u));
  app::LinkConfig cfg;
  std::snprintf(cfg.tls_server_name, sizeof cfg.tls_server_name, "bad name!");
  CHECK_EQUAL(-EINVAL, app::prepare_tls(u, &cfg, &c, err, sizeof err));
  STRCMP_CONTAINS("--tls-server-name 'bad name!' is not a host name or an IP address", err);
}

TEST(Tls, bytes_go_both_ways_and_the_socket_bytes_are_what_is_counted) {
  Fixture f;
  f.server->reply = "welcome\n";
  f.start();
  f.run_until([&] { return f.link.up() && f.seen.in == "welcome\n"; }, 5 * kSec);
  CHECK_EQUAL(1, f.seen.ups);
  CHECK_EQUAL(1u, f.client->stats().handshakes);
  CHECK_EQUAL(0u, f.client->stats().dates_unchecked);
  // More than one TLS record and more than the link's 4 KiB chunks.
  std::string sent;
  for (int i = 0; sent.size() < 40000; ++i) sent += "line " + std::to_string(i) + "\n";
  for (size_t at = 0; at < sent.size();) {
    const size_t n = std::min<size_t>(1000, sent.size() - at);
    if (f.link.send(sent.data() + at, n) == 0) {
      at += n;
    } else {
      f.run_for(10 * kMs);
    }
  }
  f.run_until([&] { return f.server->got.size() == sent.size(); }, 10 * kSec);
  CHECK(f.server->got == sent);
  // What the kernel was given: ciphertext, more than the plaintext.
  CHECK(f.link.stats().bytes_out > sent.size());
  f.run_until([&] { return f.link.state() == State::kDelivering; }, 5 * kSec);
  CHECK_EQUAL(0L, f.link.unacknowledged());
}

TEST(Tls, a_certificate_for_another_name_is_refused_and_the_reason_said) {
  Fixture f(pki().server("other.test"));
  f.expect_down(app::tls::kErrUntrusted, "the server's TLS certificate was refused");
  STRCMP_CONTAINS("Common Name", f.said(f.seen.downs[0]).c_str());
  CHECK_EQUAL(0, f.seen.ups);
  CHECK(f.link.stats().tls_failures >= 1);
}

TEST(Tls, a_server_signed_by_another_authority_is_refused) {
  tlstest::Key rogue;
  Fixture f(tlstest::certificate("broker.test", pki().server_key, "evl test CA", rogue, false));
  f.expect_down(app::tls::kErrUntrusted, "not correctly signed");
}

TEST(Tls, the_ip_literal_is_the_name_without_tls_server_name) {
  Fixture f(pki().server("127.0.0.1"));
  std::snprintf(f.cfg.tls_server_name, sizeof f.cfg.tls_server_name, "%s", "");
  f.cfg.tls_server_name[0] = '\0';
  CHECK_EQUAL(0, app::parse_url("mqtts://127.0.0.1", &f.url));
  std::snprintf(f.cfg.tls_ca_file, sizeof f.cfg.tls_ca_file, "/etc/evl/ca.pem");
  char err[256] = {};
  CHECK_EQUAL(0, app::prepare_tls(f.url, &f.cfg, f.client.get(), err, sizeof err));
  app::LinkEvents ev;
  ev.up = on_up;
  ev.down = on_down;
  ev.ctx = &f.seen;
  CHECK_EQUAL(0, f.link.start(*f.loop, f.url, f.cfg, ev));
  f.run_until([&] { return f.link.up(); }, 5 * kSec);
}

namespace {
const std::string kLoopback4("\x7f\x00\x00\x01", 4);
const std::string kOther4("\xc0\x00\x02\x01", 4);  // 192.0.2.1
// ::1
const std::string kLoopback6("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01",
                             16);
}  // namespace

// A broker addressed by IP (mqtts://192.168.1.10, common on a plant's LAN)
// has its address in its certificate's IP address names (RFC 5280): those
// are matched, and no name goes in the hello (SNI may not carry an
// address, RFC 6066).
TEST(Tls, an_ip_literal_url_matches_the_certificates_ip_address_names) {
  {
    Fixture f(pki().server_named(tlstest::dns_name("broker.test") + tlstest::ip_name(kOther4) +
                                 tlstest::ip_name(kLoopback4)));
    f.cfg.tls_server_name[0] = '\0';
    std::snprintf(f.cfg.tls_server_name, sizeof f.cfg.tls_server_name, "127.0.0.1");
    f.start("mqtts://127.0.0.1");
    f.run_until([&] { return f.link.up(); }, 5 * kSec);
    CHECK_EQUAL(1u, f.server->server_names.size());
    STRCMP_EQUAL("", f.server->server_names[0].c_str());  // no SNI
  }
  {  // The same certificate by its DNS name: matched by mbedTLS, and sent as SNI.
    Fixture f(pki().server_named(tlstest::dns_name("broker.test") + tlstest::ip_name(kLoopback4)));
    f.start("mqtts://127.0.0.1");  // (the fixture's --tls-server-name broker.test)
    f.run_until([&] { return f.link.up(); }, 5 * kSec);
    STRCMP_EQUAL("broker.test", f.server->server_names[0].c_str());
  }
  {  // IPv6: 16 bytes.
    Fixture f(pki().server_named(tlstest::ip_name(kLoopback6)));
    std::snprintf(f.cfg.tls_server_name, sizeof f.cfg.tls_server_name, "::1");
    f.start("mqtts://127.0.0.1");
    f.run_until([&] { return f.link.up(); }, 5 * kSec);
  }
}

TEST(Tls, a_certificate_without_the_address_is_refused_and_the_address_said) {
  {
    Fixture f(pki().server_named(tlstest::dns_name("127.0.0.2") + tlstest::ip_name(kOther4)));
    std::snprintf(f.cfg.tls_server_name, sizeof f.cfg.tls_server_name, "127.0.0.1");
    f.expect_down(app::tls::kErrUntrusted, "certificate: not issued for the address 127.0.0.1");
    CHECK(f.said(f.seen.downs[0]).find("Common Name") == std::string::npos);
    CHECK_EQUAL(0, f.seen.ups);
  }
  {  // And another authority's: both said.
    tlstest::Key rogue;
    Fixture f(tlstest::certificate("evl test broker", pki().server_key, "evl test CA", rogue, false,
                                   "20250101000000", "20400101000000", tlstest::ip_name(kOther4)));
    std::snprintf(f.cfg.tls_server_name, sizeof f.cfg.tls_server_name, "127.0.0.1");
    f.expect_down(app::tls::kErrUntrusted,
                  "certificate: not issued for the address 127.0.0.1; The certificate is not "
                  "correctly signed");
  }
  {  // A name that only looks like an address part is a name.
    Fixture f(pki().server_named(tlstest::ip_name(kLoopback4)));
    std::snprintf(f.cfg.tls_server_name, sizeof f.cfg.tls_server_name, "127.0.0.1.example");
    f.expect_down(app::tls::kErrUntrusted, "Common Name");
  }
}

TEST(Tls, a_named_host_is_the_name_its_certificate_must_have) {
  Fixture f;
  f.k.add_regular_path("/etc/hosts", "127.0.0.1 localhost broker.test\n");
  CHECK_EQUAL(0, app::parse_url("mqtts://broker.test", &f.url));
  std::snprintf(f.cfg.tls_ca_file, sizeof f.cfg.tls_ca_file, "/etc/evl/ca.pem");
  char err[256] = {};
  CHECK_EQUAL(0, app::prepare_tls(f.url, &f.cfg, f.client.get(), err, sizeof err));
  CHECK_EQUAL('\0', f.cfg.tls_server_name[0]);  // no --tls-server-name: the URL's host
  app::LinkEvents ev;
  ev.up = on_up;
  ev.down = on_down;
  ev.ctx = &f.seen;
  CHECK_EQUAL(0, f.link.start(*f.loop, f.url, f.cfg, ev));
  f.run_until([&] { return f.link.up(); }, 5 * kSec);
  CHECK(f.seen.downs.empty());
}

TEST(Tls, dates_are_checked_on_a_set_clock_and_skipped_while_it_reads_1970) {
  Fixture f(pki().server("broker.test", "20200101000000", "20210101000000"));
  f.start();  // the fake's wall clock: 2026
  f.run_until([&] { return !f.seen.downs.empty(); }, 5 * kSec);
  CHECK_EQUAL(app::tls::kErrUntrusted, f.seen.downs[0]);
  STRCMP_CONTAINS("expired", f.said(f.seen.downs[0]).c_str());
  // A board after boot without a clock: every certificate would be "in
  // the future"; its dates wait for the clock.
  f.k.step_realtime(-f.k.realtime_ns() + 1000 * kSec);
  f.run_until([&] { return f.link.up(); }, 5 * kSec);
  CHECK_EQUAL(1u, f.client->stats().dates_unchecked);
}

TEST(Tls, a_plain_port_that_resets_the_hello_is_said_to_be_one) {
  Fixture f;
  f.server->mode = tlstest::Mode::kResets;
  f.expect_down(app::tls::kErrClosed, "a reset before any TLS byte from it: a plain port?");
}

TEST(Tls, a_server_answering_in_plain_text_is_said_not_to_speak_tls) {
  Fixture f;
  f.server->mode = tlstest::Mode::kPlainText;
  f.expect_down(app::tls::kErrNotTls, "its first byte was 0x48");
}

TEST(Tls, a_silent_server_ends_the_handshake_at_the_connect_timeout) {
  Fixture f;
  f.server->mode = tlstest::Mode::kSilent;
  f.start();
  const int64_t t0 = f.k.monotonic_ns();
  f.run_until([&] { return !f.seen.downs.empty(); }, 5 * kSec);
  CHECK_EQUAL(-ETIMEDOUT, f.seen.downs[0]);
  CHECK(f.k.monotonic_ns() - t0 >= 2 * kSec);
  CHECK_FALSE(f.client->active());  // the next attempt begins a new one
}

TEST(Tls, no_random_bytes_at_the_first_connect_is_said_and_retried) {
  Fixture f;
  f.k.fail_next(fake::Call::kGetrandom, EAGAIN);
  f.start();
  f.run_until([&] { return f.link.up(); }, 5 * kSec);
  CHECK_EQUAL(1u, f.seen.downs.size());
  CHECK_EQUAL(app::tls::kErrNoEntropy, f.seen.downs[0]);
  STRCMP_CONTAINS("random pool is not ready", f.said(f.seen.downs[0]).c_str());
}

TEST(Tls, a_socket_error_in_the_handshake_is_the_links_error) {
  Fixture f;
  f.k.fail_next(fake::Call::kSendto, EPIPE);
  f.start();
  f.run_until([&] { return f.link.up(); }, 5 * kSec);
  CHECK_EQUAL(1u, f.seen.downs.size());
  CHECK_EQUAL(-EPIPE, f.seen.downs[0]);
}

TEST(Tls, a_send_that_would_block_resumes_with_the_same_bytes) {
  Fixture f;
  f.server->mode = tlstest::Mode::kStopsReading;
  f.start();
  f.run_until([&] { return f.link.up(); }, 5 * kSec);
  std::string sent;
  int refused = 0;
  for (int i = 0; refused < 3 && i < 100000; ++i) {
    const std::string line = "record " + std::to_string(i) + " " + std::string(90, 'x') + "\n";
    if (f.link.send(line.data(), line.size()) == 0) {
      sent += line;
    } else {
      ++refused;
      f.run_for(5 * kMs);
    }
  }
  CHECK(f.link.unacknowledged() > 0);
  f.server->resume();
  f.run_until([&] { return f.server->got.size() == sent.size(); }, 10 * kSec);
  CHECK(f.server->got == sent);
}

TEST(Tls, reconnects_take_their_memory_from_the_same_blocks) {
  Fixture f;
  f.server->close_after_handshake = true;
  const uint64_t failures = app::tls::arena().failures;
  f.start();
  f.run_until([&] { return f.client->stats().handshakes >= 2; }, 10 * kSec);
  f.run_for(50 * kMs);
  const app::tls::Arena after_two = app::tls::arena();
  f.run_until([&] { return f.client->stats().handshakes >= 10; }, 30 * kSec);
  f.run_for(50 * kMs);
  const app::tls::Arena after_ten = app::tls::arena();
  CHECK_EQUAL(after_two.high_water, after_ten.high_water);
  CHECK_EQUAL(9u, f.client->stats().resumed);  // every one after the first
  CHECK_EQUAL(failures, after_ten.failures);
  CHECK(after_ten.allocs > after_two.allocs);
}

TEST(Tls, no_snapshot_is_taken_while_a_tls_connection_is_open) {
  Fixture f;
  f.start();
  f.run_until([&] { return f.link.up(); }, 5 * kSec);
  uint8_t buf[32768];
  flight::SnapWriter w(buf, sizeof buf);
  CHECK_FALSE(f.link.snapshot_possible());
  f.link.save(w);
  CHECK_FALSE(w.ok());
  f.link.stop();
  CHECK(f.link.snapshot_possible());
  flight::SnapWriter w2(buf, sizeof buf);
  f.link.save(w2);
  CHECK(w2.ok());
}

TEST(Tls, a_server_that_refuses_every_suite_fails_the_handshake_with_its_alert) {
  Fixture f;
  f.server->no_common_suite();
  f.expect_down(app::tls::kErrHandshake,
                "TLS handshake failed (SSL - A fatal alert message was received");
}

TEST(Tls, a_server_that_ends_within_its_first_record_is_said_to_end) {
  Fixture f;
  f.server->mode = tlstest::Mode::kHalfRecord;
  f.expect_down(app::tls::kErrClosed, "(after 3 bytes from it)");
}

TEST(Tls, a_reset_after_the_handshake_is_the_links_error) {
  Fixture f;
  f.server->mode = tlstest::Mode::kResetsLater;
  f.start();
  f.run_until([&] { return f.link.up(); }, 5 * kSec);
  CHECK_EQUAL(0, f.link.send("hello\n", 6));
  f.run_until([&] { return !f.seen.downs.empty(); }, 5 * kSec);
  STRCMP_EQUAL("hello\n", f.server->got.c_str());
  CHECK_EQUAL(1, f.seen.ups);
  CHECK_EQUAL(-ECONNRESET, f.seen.downs[0]);
  // Between connections the client refuses every call.
  app::tls::Client& c = *f.client;
  CHECK_EQUAL(0u, c.pending());
  CHECK_EQUAL(-ENOTCONN, c.write("x", 1));
  CHECK_EQUAL(-ENOTCONN, c.read(nullptr, 0));
  CHECK_EQUAL(-ENOTCONN, c.handshake());
  CHECK_EQUAL(-EINVAL, c.begin(-1, "broker.test"));
}

TEST(Tls, the_arena_refuses_what_it_cannot_hold_and_reuses_what_is_freed) {
  const app::tls::Arena before = app::tls::arena();
  CHECK(evl_tls_calloc(1, size_t{3} << 20) == nullptr);                      // more than the arena
  CHECK(evl_tls_calloc(SIZE_MAX / 2, 4) == nullptr);                         // n * size overflows
  CHECK(evl_tls_calloc(1, before.capacity - before.high_water) == nullptr);  // not left
  CHECK_EQUAL(before.failures + 3, app::tls::arena().failures);
  CHECK_EQUAL(before.high_water, app::tls::arena().high_water);  // nothing carved for them
  void* a = evl_tls_calloc(0, 0);                                // a block all the same
  CHECK(a != nullptr);
  auto* b = static_cast<unsigned char*>(evl_tls_calloc(10, 10));
  CHECK(b != nullptr);
  for (int i = 0; i < 100; ++i) CHECK_EQUAL(0, b[i]);
  b[0] = 7;
  evl_tls_free(b);
  evl_tls_free(nullptr);
  auto* c = static_cast<unsigned char*>(evl_tls_calloc(100, 1));
  CHECK(c == b);         // the same size's block, again
  CHECK_EQUAL(0, c[0]);  // zeroed again
  evl_tls_free(c);
  evl_tls_free(a);
  CHECK_EQUAL(before.used, app::tls::arena().used);
}

// The arena running out at any point of a handshake, in 4 KiB steps of
// room: the link goes down said as memory exhausted, whatever mbedTLS made
// of it (a signature check short of memory was "not correctly signed by
// the trusted CA"), and nothing of the handshake stays allocated; with room
// enough the link comes up. (The test's server shares the arena: it takes
// what it needs before the client's first step.)
TEST(Tls, an_arena_that_runs_out_in_a_handshake_is_said_and_keeps_nothing) {
  Fixture f;
  f.start();  // the CA file parsed: its memory is what stays
  f.link.stop();
  f.run_for(50 * kMs);
  const size_t base = app::tls::arena().used;
  app::LinkEvents ev;
  ev.up = on_up;
  ev.down = on_down;
  ev.received = on_received;
  ev.ctx = &f.seen;
  int failed = 0;
  for (size_t room = 0; room <= (size_t{1} << 20); room += 4096) {
    app::tls::limit_arena(base + room);
    f.seen = Seen{};
    CHECK_EQUAL(0, f.link.start(*f.loop, f.url, f.cfg, ev));
    f.run_until([&] { return f.seen.ups > 0 || !f.seen.downs.empty(); }, 5 * kSec);
    f.link.stop();
    f.run_for(50 * kMs);  // the server sees the end of its connection
    app::tls::limit_arena(0);
    if (f.seen.ups > 0) break;
    ++failed;
    STRCMP_EQUAL("TLS memory exhausted (the arena's 2048 KiB are in use)",
                 f.said(f.seen.downs[0]).c_str());
    // The server name the client was given stays with it (one 32-byte
    // block) until its next connection.
    const size_t used = app::tls::arena().used;
    CHECK(used == base || used == base + 32);
  }
  CHECK_EQUAL(1, f.seen.ups);
  CHECK(failed >= 4);
  CHECK_EQUAL(1, f.server->handshakes);
}

TEST(Tls, a_server_that_asks_for_a_client_certificate_gets_the_one_given) {
  tlstest::Key board_key;
  const std::string board =
      tlstest::certificate("board-7", board_key, "evl test CA", pki().ca_key, false);
  {
    Fixture f;
    f.server->require_client(pki().ca);
    // Without one: the server ends the handshake; what it wanted is said.
    f.start();
    f.run_until([&] { return !f.seen.downs.empty(); }, 5 * kSec);
    CHECK_EQUAL(app::tls::kErrHandshake, f.seen.downs[0]);
    STRCMP_CONTAINS("the server asks for a client certificate: --tls-cert-file and --tls-key-file",
                    f.said(f.seen.downs[0]).c_str());
  }
  // With one.
  Fixture g;
  g.server->require_client(pki().ca);
  g.k.add_regular_path("/etc/evl/board.pem", board);
  g.k.add_regular_path("/etc/evl/board.key", tlstest::key_pem(board_key));
  std::snprintf(g.cfg.tls_cert_file, sizeof g.cfg.tls_cert_file, "/etc/evl/board.pem");
  std::snprintf(g.cfg.tls_key_file, sizeof g.cfg.tls_key_file, "/etc/evl/board.key");
  g.start();
  g.run_until([&] { return g.link.up(); }, 5 * kSec);
  CHECK_EQUAL(1, g.server->handshakes);
  CHECK(g.seen.downs.empty());
}

TEST(Tls, the_client_certificate_and_key_are_checked_at_start) {
  fake::Kernel k;
  tlstest::Key board_key, other_key;
  k.add_regular_path("/etc/evl/ca.pem", pki().ca);
  k.add_regular_path("/etc/evl/board.pem", tlstest::certificate("board-7", board_key, "evl test CA",
                                                                pki().ca_key, false));
  k.add_regular_path("/etc/evl/board.key", tlstest::key_pem(board_key));
  k.add_regular_path("/etc/evl/other.key", tlstest::key_pem(other_key));
  k.add_regular_path("/etc/evl/text", "not PEM\n");
  app::Url u;
  CHECK_EQUAL(0, app::parse_url("mqtts://127.0.0.1", &u));
  char err[256] = {};
  struct Case {
    const char* cert;
    const char* key;
    const char* said;
  } cases[] = {
      {"/etc/evl/board.pem", "", "--tls-cert-file and --tls-key-file go together"},
      {"/etc/evl/missing.pem", "/etc/evl/board.key", "cannot open TLS certificate file"},
      {"/etc/evl/text", "/etc/evl/board.key", "not a certificate mbedTLS reads"},
      {"/etc/evl/board.pem", "/etc/evl/missing.key", "cannot open TLS key file"},
      {"/etc/evl/board.pem", "/etc/evl/text", "not a key mbedTLS reads (PEM, not encrypted)"},
      {"/etc/evl/board.pem", "/etc/evl/other.key",
       "TLS key file /etc/evl/other.key is not the key of certificate /etc/evl/board.pem"},
  };
  for (const Case& c : cases) {
    app::tls::Client client;
    app::LinkConfig cfg;
    std::snprintf(cfg.tls_ca_file, sizeof cfg.tls_ca_file, "/etc/evl/ca.pem");
    std::snprintf(cfg.tls_cert_file, sizeof cfg.tls_cert_file, "%s", c.cert);
    std::snprintf(cfg.tls_key_file, sizeof cfg.tls_key_file, "%s", c.key);
    CHECK_EQUAL(-EINVAL, app::prepare_tls(u, &cfg, &client, err, sizeof err));
    STRCMP_CONTAINS(c.said, err);
  }
  app::tls::Client client;
  app::LinkConfig cfg;
  std::snprintf(cfg.tls_ca_file, sizeof cfg.tls_ca_file, "/etc/evl/ca.pem");
  std::snprintf(cfg.tls_cert_file, sizeof cfg.tls_cert_file, "/etc/evl/board.pem");
  std::snprintf(cfg.tls_key_file, sizeof cfg.tls_key_file, "/etc/evl/board.key");
  char said[320] = {};
  CHECK_EQUAL(0, app::prepare_tls(u, &cfg, &client, err, sizeof err, said, sizeof said));
  STRCMP_CONTAINS(
      "TLS: 1 authorities from /etc/evl/ca.pem; this client's certificate from "
      "/etc/evl/board.pem (",
      said);
  CHECK_EQUAL(-EINVAL, client.set_identity("/etc/evl/board.pem", "/etc/evl/board.key", err,
                                           sizeof err));  // once
}

TEST(Tls, a_reconnect_resumes_the_session_and_a_server_that_forgot_it_makes_a_full_one) {
  Fixture f;
  f.server->close_after_handshake = true;
  f.start();
  f.run_until([&] { return f.client->stats().handshakes >= 2; }, 10 * kSec);
  CHECK_EQUAL(1u, f.client->stats().resumed);
  f.server->forget_sessions();
  const uint64_t resumed = f.client->stats().resumed;
  const uint64_t done = f.client->stats().handshakes;
  f.run_until([&] { return f.client->stats().handshakes >= done + 1; }, 10 * kSec);
  CHECK_EQUAL(resumed, f.client->stats().resumed);  // a full one, with the certificate
  f.run_until([&] { return f.client->stats().handshakes >= done + 2; }, 10 * kSec);
  CHECK_EQUAL(resumed + 1, f.client->stats().resumed);  // and resumed from it again
  CHECK_EQUAL(0u, f.client->stats().failures);
}
