// app::Link on the fake kernel: every state and transition of the state
// machine, over TCP and UDP, with a server on the same loop.
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "CppUTest/TestHarness.h"
#include "apps/common/link.h"
#include "hal/socket.h"
#include "loop/static_loop.h"
#include "test/fake/kernel.h"

using app::Link;
using evl::kMs;
using evl::kSec;
using State = app::Link::State;

namespace {

using TestLoop = evl::StaticLoop<8, 16, 2, 1, 4>;

enum class Peer { kReads, kAcceptsAndCloses, kStopsReading };

struct Server {
  evl::Loop* loop = nullptr;
  Peer mode = Peer::kReads;
  hal::SockAddr at;
  evl::IoHandle listener;
  evl::IoHandle conn;
  int held_fd = -1;  // kStopsReading: accepted, never read
  std::string got;
  int accepts = 0;
};

void on_conn(evl::Loop& loop, evl::IoHandle h, uint32_t, void* ctx) {
  auto* s = static_cast<Server*>(ctx);
  char buf[4096];
  for (;;) {
    const long n = hal::stream_recv(loop.io_fd(h), buf, sizeof buf);
    if (n > 0) {
      s->got.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == -EAGAIN) return;
    (void)loop.io_close(h);
    s->conn = evl::IoHandle{};
    return;
  }
}

void on_accept(evl::Loop& loop, evl::IoHandle h, uint32_t, void* ctx) {
  auto* s = static_cast<Server*>(ctx);
  int fd = -1;
  while (hal::stream_accept(loop.io_fd(h), &fd, nullptr) == 0) {
    ++s->accepts;
    switch (s->mode) {
      case Peer::kAcceptsAndCloses: (void)hal::close(fd); break;
      case Peer::kStopsReading:
        if (s->held_fd >= 0) (void)hal::close(s->held_fd);
        s->held_fd = fd;
        break;
      case Peer::kReads:
        if (s->conn) (void)loop.io_close(s->conn);
        CHECK_EQUAL(0, loop.io_start(fd, evl::kIn, on_conn, s, &s->conn));
        break;
    }
  }
}

void listen(Server* s) {
  int fd = -1;
  CHECK_EQUAL(0, hal::stream_listen(s->at, 8, &fd));
  CHECK_EQUAL(0, s->loop->io_start(fd, evl::kIn, on_accept, s, &s->listener));
}

void unlisten(Server* s) {
  if (s->conn) (void)s->loop->io_close(s->conn);
  if (s->listener) (void)s->loop->io_close(s->listener);
  s->conn = evl::IoHandle{};
  s->listener = evl::IoHandle{};
}

struct Seen {
  Link* link = nullptr;
  int ups = 0;
  int delivering = 0;
  std::vector<int> downs;
  std::vector<std::string> frames;
  int drained = 0;
  bool stop_in_up = false;
};

void on_up(void* ctx) {
  auto* s = static_cast<Seen*>(ctx);
  ++s->ups;
  if (s->stop_in_up) s->link->stop();
}
void on_delivering(void* ctx) { ++static_cast<Seen*>(ctx)->delivering; }
void on_down(void* ctx, int err) { static_cast<Seen*>(ctx)->downs.push_back(err); }
void on_drained(void* ctx) { ++static_cast<Seen*>(ctx)->drained; }
void on_line(void* ctx, const char* line, size_t n) {
  static_cast<Seen*>(ctx)->frames.emplace_back(line, n);
}
size_t on_received(void* ctx, const char* data, size_t len) {
  return app::take_lines(data, len, on_line, ctx);
}

struct Fixture {
  fake::Kernel k;
  std::unique_ptr<TestLoop> loop{new TestLoop()};
  Server server;
  Seen seen;
  Link link;
  app::LinkConfig cfg;
  app::Url url;

  Fixture() {
    CHECK_EQUAL(0, loop->init());
    server.loop = loop.get();
    CHECK_EQUAL(0, hal::parse_address("127.0.0.1:7000", &server.at));
    cfg.backoff_initial_ms = 100;
    cfg.backoff_max_ms = 1000;
    cfg.connect_timeout_ms = 500;
    cfg.stable_ms = 200;
    cfg.stall_timeout_ms = 2000;
    seen.link = &link;
  }
  ~Fixture() {
    link.stop();
    unlisten(&server);
    if (server.held_fd >= 0) (void)hal::close(server.held_fd);
  }
  void start(const char* text) {
    CHECK_EQUAL(0, app::parse_url(text, &url));
    app::LinkEvents ev;
    ev.up = on_up;
    ev.delivering = on_delivering;
    ev.down = on_down;
    ev.received = on_received;
    ev.drained = on_drained;
    ev.ctx = &seen;
    CHECK_EQUAL(0, link.start(*loop, url, cfg, ev));
  }
  // Runs the loop for ns of virtual time.
  void run_for(int64_t ns) {
    const int64_t end = k.monotonic_ns() + ns;
    while (k.monotonic_ns() < end) {
      const int64_t left_ms = (end - k.monotonic_ns() + kMs - 1) / kMs;
      const int r = loop->run_once(static_cast<int>(left_ms));
      CHECK(r >= 0 || r == -EINTR);
    }
  }
  void run_until(State s, int64_t limit_ns) {
    const int64_t end = k.monotonic_ns() + limit_ns;
    while (link.state() != s && k.monotonic_ns() < end) {
      const int r = loop->run_once(static_cast<int>((end - k.monotonic_ns()) / kMs + 1));
      CHECK(r >= 0 || r == -EINTR);
    }
    CHECK(link.state() == s);
  }
};

}  // namespace

TEST_GROUP(Link){};

TEST(Link, urls_name_scheme_and_ip_literal) {
  app::Url u;
  CHECK_EQUAL(0, app::parse_url("tcp://192.0.2.1:9000", &u));
  CHECK(u.scheme == app::Scheme::kTcp);
  CHECK_EQUAL(0, app::parse_url("udp://[::1]:9000", &u));
  CHECK(u.scheme == app::Scheme::kUdp);
  CHECK_EQUAL(-EINVAL, app::parse_url("http://192.0.2.1:9000", &u));
  CHECK_EQUAL(0, app::parse_url("mqtt://Broker.example.com:1883", &u));
  STRCMP_EQUAL("Broker.example.com", u.host);
  CHECK_EQUAL(1883, u.port);
  CHECK_EQUAL(0, app::parse_url("http://influx:8086/write?db=x", &u));
  STRCMP_EQUAL("influx", u.host);
  CHECK_EQUAL(-EINVAL, app::parse_url("tcp://example.com", &u));
  CHECK_EQUAL(-EINVAL, app::parse_url("tcp://example.com:", &u));
  CHECK_EQUAL(-EINVAL, app::parse_url("tcp://example.com:65536", &u));
  CHECK_EQUAL(-EINVAL, app::parse_url("tcp://example.com:99999999999", &u));
  CHECK_EQUAL(-EINVAL, app::parse_url("tcp://example.com:0", &u));
  CHECK_EQUAL(-EINVAL, app::parse_url("tcp://exa mple.com:9", &u));
  CHECK_EQUAL(-EINVAL, app::parse_url("tcp://192.0.2.300:9", &u));
  CHECK_EQUAL(-EINVAL, app::parse_url("tcp://:9", &u));
  CHECK_EQUAL(-EPERM, app::parse_url("mqtt://u:p@broker:1883", &u));
  CHECK_EQUAL(-EPERM, app::parse_url("http://admin@influx:8086/write?db=x", &u));
  CHECK_EQUAL(0, app::parse_url("http://influx:8086/write?db=x&tag=a@b", &u));  // in the path
  CHECK_EQUAL(-EINVAL, app::parse_url("tcp://192.0.2.1:0", &u));
  CHECK_EQUAL(-EINVAL, app::parse_url(nullptr, &u));
  // Without a port: mqtt's 1883 and http's 80, as those URLs mean; tcp and
  // udp have no port of their own.
  CHECK_EQUAL(0, app::parse_url("mqtt://broker.lan", &u));
  CHECK_EQUAL(1883, u.port);
  STRCMP_EQUAL("broker.lan", u.host);
  CHECK_EQUAL(0, app::parse_url("mqtt://192.0.2.1", &u));
  CHECK_EQUAL(1883, hal::address_port(u.addr));
  CHECK_EQUAL(0, app::parse_url("mqtt://[2001:db8::1]", &u));
  CHECK_EQUAL(1883, hal::address_port(u.addr));
  CHECK_EQUAL(0, app::parse_url("http://influx/write?db=x", &u));
  CHECK_EQUAL(80, u.port);
  STRCMP_EQUAL("/write?db=x", u.path);
  CHECK_EQUAL(-EINVAL, app::parse_url("udp://192.0.2.1", &u));
  CHECK_EQUAL(-EINVAL, app::parse_url("tcp://[2001:db8::1]", &u));
  CHECK_EQUAL(-EINVAL, app::parse_url("mqtt://broker.lan:", &u));
  // TLS schemes (tls_test has their own tests).
  CHECK_EQUAL(0, app::parse_url("mqtts://broker.lan:8883", &u));
  CHECK(u.tls);
  CHECK_EQUAL(0, app::parse_url("https://influx:8086/write?db=x", &u));
  CHECK(u.tls);
}

TEST(Link, bad_configs_are_refused_and_a_started_link_cannot_start_again) {
  Fixture f;
  app::Url u;
  CHECK_EQUAL(0, app::parse_url("tcp://127.0.0.1:7000", &u));
  app::LinkConfig bad = f.cfg;
  bad.backoff_max_ms = bad.backoff_initial_ms - 1;
  CHECK_EQUAL(-EINVAL, f.link.start(*f.loop, u, bad, app::LinkEvents{}));
  bad = f.cfg;
  bad.stable_ms = 0;
  CHECK_EQUAL(-EINVAL, f.link.start(*f.loop, u, bad, app::LinkEvents{}));
  bad = f.cfg;
  bad.stall_timeout_ms = -1;
  CHECK_EQUAL(-EINVAL, f.link.start(*f.loop, u, bad, app::LinkEvents{}));
  CHECK(f.link.state() == State::kIdle);
  f.start("tcp://127.0.0.1:7000");
  CHECK_EQUAL(-EINVAL, f.link.start(*f.loop, u, f.cfg, app::LinkEvents{}));
}

TEST(Link, tcp_idle_connecting_up_delivering) {
  Fixture f;
  listen(&f.server);
  f.start("tcp://127.0.0.1:7000");
  CHECK(f.link.state() == State::kConnecting);
  f.run_until(State::kUp, kSec);
  CHECK_EQUAL(1, f.seen.ups);
  CHECK_EQUAL(1u, f.link.stats().connects);
  CHECK_EQUAL(-ENOTCONN, Link().send("x", 1));
  // Up, but nothing delivered yet: no proof without a written byte.
  f.run_for(1 * kSec);
  CHECK(f.link.state() == State::kUp);
  CHECK_EQUAL(0, f.link.send("hello\n", 6));
  f.run_until(State::kDelivering, kSec);
  CHECK_EQUAL(1, f.seen.delivering);
  STRCMP_EQUAL("hello\n", f.server.got.c_str());
  CHECK(f.seen.drained >= 1);
  CHECK(f.seen.downs.empty());
}

TEST(Link, tcp_user_timeout_is_the_stall_timeout) {
  Fixture f;
  listen(&f.server);
  f.start("tcp://127.0.0.1:7000");
  int found = -1;
  for (int fd = 0; fd < 64; ++fd) {
    if (f.k.sockopt(fd, hal::kIpprotoTcp, hal::kTcpUserTimeout) >= 0) {
      found = f.k.sockopt(fd, hal::kIpprotoTcp, hal::kTcpUserTimeout);
    }
  }
  CHECK_EQUAL(2000, found);
}

TEST(Link, refused_connect_backs_off_and_reports_down_once_per_outage) {
  Fixture f;
  f.start("tcp://127.0.0.1:7000");
  f.run_until(State::kBackoff, kSec);
  CHECK_EQUAL(1u, f.seen.downs.size());
  CHECK_EQUAL(-ECONNREFUSED, f.seen.downs[0]);
  f.run_for(10 * kSec);  // many more refusals: still one down
  CHECK_EQUAL(1u, f.seen.downs.size());
  CHECK(f.link.stats().failures > 3);
  listen(&f.server);
  f.run_until(State::kUp, 2 * kSec);
  CHECK_EQUAL(0, f.link.send("x\n", 2));
  f.run_until(State::kDelivering, kSec);
  CHECK_EQUAL(1u, f.seen.downs.size());
}

TEST(Link, connect_timeout_on_a_black_hole) {
  Fixture f;
  f.k.blackhole("127.0.0.1:7000");
  f.start("tcp://127.0.0.1:7000");
  CHECK(f.link.state() == State::kConnecting);
  const int64_t t0 = f.k.monotonic_ns();
  f.run_until(State::kBackoff, 2 * kSec);
  CHECK(f.k.monotonic_ns() - t0 >= 500 * kMs);
  CHECK_EQUAL(1u, f.seen.downs.size());
  CHECK_EQUAL(-ETIMEDOUT, f.seen.downs[0]);
}

TEST(Link, peer_close_takes_a_delivering_link_down_and_it_reconnects) {
  Fixture f;
  listen(&f.server);
  f.start("tcp://127.0.0.1:7000");
  f.run_until(State::kUp, kSec);
  CHECK_EQUAL(0, f.link.send("a\n", 2));
  f.run_until(State::kDelivering, kSec);
  (void)f.loop->io_close(f.server.conn);  // the server closes the connection
  f.server.conn = evl::IoHandle{};
  f.run_until(State::kBackoff, kSec);
  CHECK_EQUAL(1u, f.seen.downs.size());
  CHECK_EQUAL(0, f.seen.downs[0]);  // a clean close
  f.run_until(State::kUp, 2 * kSec);
  CHECK_EQUAL(2, f.seen.ups);
}

// The field fault: a server that accepts and closes at once reset the
// back-off on every connect (~4 reconnects/s) and ended the outage each time.
TEST(Link, accept_and_close_never_delivers_and_the_back_off_grows) {
  Fixture f;
  f.server.mode = Peer::kAcceptsAndCloses;
  listen(&f.server);
  f.cfg.backoff_max_ms = 8000;
  f.start("tcp://127.0.0.1:7000");
  f.run_for(60 * kSec);
  CHECK_EQUAL(0, f.seen.delivering);
  CHECK_EQUAL(1u, f.seen.downs.size());  // one outage, however many connects
  CHECK(f.seen.ups >= 3);
  // Full jitter from a cap that doubles to 8 s: ~60 s / 4 s mean, far fewer
  // than the 600 a back-off reset on each connect would allow.
  CHECK(f.server.accepts < 60);
}

TEST(Link, a_peer_that_stops_reading_is_a_stall) {
  Fixture f;
  f.server.mode = Peer::kStopsReading;
  listen(&f.server);
  f.start("tcp://127.0.0.1:7000");
  f.run_until(State::kUp, kSec);
  CHECK_EQUAL(0, f.link.send("beat\n", 5));
  const int64_t t0 = f.k.monotonic_ns();
  f.run_until(State::kBackoff, 10 * kSec);
  const int64_t took = f.k.monotonic_ns() - t0;
  CHECK(took >= 2 * kSec);              // not before the stall timeout
  CHECK(took <= 2 * kSec + 600 * kMs);  // within a check tick after it
  CHECK_EQUAL(1u, f.link.stats().stalls);
  CHECK_EQUAL(1u, f.seen.downs.size());
  CHECK_EQUAL(-ETIMEDOUT, f.seen.downs[0]);
  CHECK_EQUAL(0, f.seen.delivering);
}

TEST(Link, a_slow_reader_that_keeps_taking_bytes_is_no_stall) {
  Fixture f;
  listen(&f.server);
  f.start("tcp://127.0.0.1:7000");
  f.run_until(State::kUp, kSec);
  f.seen.frames.clear();
  for (int i = 0; i < 40; ++i) {
    CHECK_EQUAL(0, f.link.send("0123456789\n", 11));
    f.run_for(250 * kMs);
  }
  CHECK_EQUAL(0u, f.link.stats().stalls);
  CHECK(f.link.state() == State::kDelivering);
}

TEST(Link, frames_are_consumed_whole_and_partial_ones_wait) {
  Fixture f;
  listen(&f.server);
  f.start("tcp://127.0.0.1:7000");
  f.run_until(State::kUp, kSec);
  const int sfd = f.loop->io_fd(f.server.conn);
  CHECK_EQUAL(9, hal::stream_send(sfd, "ACK 1\nACK", 9));
  f.run_for(10 * kMs);
  CHECK_EQUAL(1u, f.seen.frames.size());
  STRCMP_EQUAL("ACK 1", f.seen.frames[0].c_str());
  CHECK_EQUAL(3, hal::stream_send(sfd, " 2\n", 3));
  f.run_for(10 * kMs);
  CHECK_EQUAL(2u, f.seen.frames.size());
  STRCMP_EQUAL("ACK 2", f.seen.frames[1].c_str());
}

TEST(Link, a_frame_larger_than_the_in_buffer_drops_the_connection) {
  Fixture f;
  listen(&f.server);
  f.start("tcp://127.0.0.1:7000");
  f.run_until(State::kUp, kSec);
  const std::string huge(Link::kInBytes + 10, 'x');  // no line end
  CHECK_EQUAL(static_cast<long>(huge.size()),
              hal::stream_send(f.loop->io_fd(f.server.conn), huge.data(), huge.size()));
  f.run_until(State::kBackoff, kSec);
  CHECK_EQUAL(1u, f.link.stats().oversized);
  CHECK_EQUAL(-EMSGSIZE, f.seen.downs[0]);
}

TEST(Link, a_full_out_ring_refuses_with_enobufs_and_keeps_nothing_partial) {
  Fixture f;
  f.server.mode = Peer::kStopsReading;
  listen(&f.server);
  f.cfg.stall_timeout_ms = 0;  // off: fill everything
  f.start("tcp://127.0.0.1:7000");
  f.run_until(State::kUp, kSec);
  char block[1000];
  std::memset(block, 'b', sizeof block);
  int r = 0;
  int sent = 0;
  while ((r = f.link.send(block, sizeof block)) == 0) ++sent;
  CHECK_EQUAL(-ENOBUFS, r);
  CHECK(sent >= 65);  // the socket's 64 KiB, then the ring's 16 KiB
  CHECK(f.link.out_space() < sizeof block);
  CHECK(f.link.up());
}

TEST(Link, stop_from_every_state_leaves_nothing_behind) {
  const State targets[] = {State::kConnecting, State::kBackoff, State::kUp, State::kDelivering};
  for (State target : targets) {
    Fixture f;
    if (target != State::kBackoff) listen(&f.server);
    f.start("tcp://127.0.0.1:7000");
    if (target == State::kDelivering) {
      f.run_until(State::kUp, kSec);
      CHECK_EQUAL(0, f.link.send("x\n", 2));
    }
    if (target != State::kConnecting) f.run_until(target, 2 * kSec);
    CHECK(f.link.state() == target);
    const uint32_t before = f.loop->active();
    f.link.stop();
    CHECK(f.link.state() == State::kIdle);
    CHECK(f.loop->active() < before);
    unlisten(&f.server);
    CHECK_EQUAL(0u, f.loop->active());  // no timer, no io left
    f.link.stop();                      // twice is harmless
  }
}

TEST(Link, stop_inside_the_up_callback_is_safe) {
  Fixture f;
  listen(&f.server);
  f.seen.stop_in_up = true;
  f.start("tcp://127.0.0.1:7000");
  f.run_for(kSec);
  CHECK(f.link.state() == State::kIdle);
  CHECK_EQUAL(1, f.seen.ups);
}

TEST(Link, udp_up_at_once_probing_after_an_icmp_error_and_up_again) {
  Fixture f;
  int col = -1;
  CHECK_EQUAL(0, hal::dgram_bind(f.server.at, &col));
  f.start("udp://127.0.0.1:7000");
  CHECK(f.link.state() == State::kUp);
  CHECK_EQUAL(0, f.link.send("one", 3));
  f.run_until(State::kDelivering, kSec);
  CHECK_EQUAL(0, hal::close(col));        // the collector goes away
  CHECK_EQUAL(0, f.link.send("two", 3));  // ... the ICMP error comes back
  (void)f.link.send("three", 5);
  CHECK(f.link.state() == State::kProbing);
  CHECK_EQUAL(-ENOTCONN, f.link.send("four", 4));  // nothing sent while down
  CHECK_EQUAL(1u, f.seen.downs.size());
  CHECK_EQUAL(-ECONNREFUSED, f.seen.downs[0]);
  f.run_for(3 * kSec);
  CHECK(f.link.state() == State::kProbing);  // probes keep drawing errors
  CHECK_EQUAL(0, hal::dgram_bind(f.server.at, &col));
  f.run_until(State::kUp, 3 * kSec);
  CHECK_EQUAL(0, f.link.send("five", 4));
  f.run_until(State::kDelivering, kSec);
  CHECK_EQUAL(2, f.seen.delivering);
  CHECK_EQUAL(0, hal::close(col));
}

TEST(Link, udp_datagrams_received_are_frames) {
  Fixture f;
  int col = -1;
  CHECK_EQUAL(0, hal::dgram_bind(f.server.at, &col));
  f.start("udp://127.0.0.1:7000");
  CHECK_EQUAL(0, f.link.send("hi", 2));
  char buf[16];
  hal::SockAddr from;
  bool trunc = false;
  CHECK_EQUAL(2, hal::dgram_recv(col, buf, sizeof buf, &from, &trunc));
  CHECK_EQUAL(6, hal::dgram_send(col, "ACK 1\n", 6, &from));
  f.run_for(10 * kMs);
  CHECK_EQUAL(1u, f.seen.frames.size());
  CHECK_EQUAL(0, hal::close(col));
}

TEST(Link, back_off_is_full_jitter_under_a_doubling_cap) {
  Fixture f;
  f.start("tcp://127.0.0.1:7000");  // refused: attempts count up
  f.run_for(20 * kSec);
  for (int i = 0; i < 200; ++i) {
    const int64_t d = f.link.next_backoff_ms();
    CHECK(d >= 0 && d <= f.cfg.backoff_max_ms);
  }
}

namespace {
int g_closed = 0;
void count_closed(void*, int) { ++g_closed; }
}  // namespace

TEST(Link, closed_comes_for_every_connection_end_down_once_per_outage) {
  Fixture f;
  f.server.mode = Peer::kAcceptsAndCloses;
  listen(&f.server);
  g_closed = 0;
  CHECK(app::parse_url("tcp://127.0.0.1:7000", &f.url) == 0);
  app::LinkEvents ev;
  ev.up = on_up;
  ev.down = on_down;
  ev.closed = count_closed;
  ev.ctx = &f.seen;
  CHECK_EQUAL(0, f.link.start(*f.loop, f.url, f.cfg, ev));
  f.run_for(10 * kSec);
  CHECK(f.seen.ups >= 3);
  CHECK(g_closed == f.seen.ups || g_closed == f.seen.ups - 1);  // the last may still be open
  CHECK_EQUAL(1u, f.seen.downs.size());
}

// What telemetry waits for before a TCP batch counts as delivered.
TEST(Link, unacknowledged_counts_what_the_peer_has_not_taken) {
  Fixture f;
  CHECK_EQUAL(-ENOTCONN, f.link.unacknowledged());
  f.server.mode = Peer::kStopsReading;
  listen(&f.server);
  f.start("tcp://127.0.0.1:7000");
  f.run_until(State::kUp, kSec);
  CHECK_EQUAL(0, f.link.unacknowledged());
  CHECK_EQUAL(0, f.link.send("beat\n", 5));
  f.run_for(100 * kMs);
  CHECK_EQUAL(5, f.link.unacknowledged());  // written, not taken
  // A kernel that cannot tell (SIOCOUTQ failing): nothing pending, as the
  // stall check assumes.
  f.k.fail_next(fake::Call::kIoctl, ENOTTY);
  CHECK_EQUAL(0, f.link.unacknowledged());
}

// A server that answers in TLS (an alert, as some TLS stacks send to a
// plain client): the link fails with kErrTlsServer, counted, and retries.
TEST(Link, a_server_that_answers_in_tls_is_said_to_speak_tls) {
  Fixture f;
  int lfd = -1;
  CHECK_EQUAL(0, hal::stream_listen(f.server.at, 8, &lfd));
  f.start("tcp://127.0.0.1:7000");
  f.run_for(10 * kMs);
  int conn = -1;
  CHECK_EQUAL(0, hal::stream_accept(lfd, &conn, nullptr));
  const char alert[] = {'\x15', '\x03', '\x03', '\x00', '\x02', '\x02', '\x46'};
  CHECK_EQUAL(7, hal::stream_send(conn, alert, sizeof alert));
  f.run_for(10 * kMs);
  CHECK(f.link.state() == State::kBackoff);
  CHECK_EQUAL(1u, f.seen.downs.size());
  CHECK_EQUAL(app::kErrTlsServer, f.seen.downs[0]);
  CHECK_EQUAL(1u, f.link.stats().tls);
  CHECK(std::strstr(app::error_text(app::kErrTlsServer), "speaks TLS") != nullptr);
  CHECK(f.seen.frames.empty());
  CHECK(!app::looks_like_tls("\x16\x03", 2));
  CHECK(!app::looks_like_tls("\x16\x03\x05", 3));
  CHECK(app::looks_like_tls("\x16\x03\x01", 3));
  CHECK(!app::looks_like_tls("HB id", 5));
  CHECK_EQUAL(0, hal::close(conn));
  CHECK_EQUAL(0, hal::close(lfd));
}

// The same bytes later in a connection are data, not a TLS answer.
TEST(Link, tls_looking_bytes_after_the_first_are_data) {
  Fixture f;
  int lfd = -1;
  CHECK_EQUAL(0, hal::stream_listen(f.server.at, 8, &lfd));
  f.start("tcp://127.0.0.1:7000");
  f.run_for(10 * kMs);
  int conn = -1;
  CHECK_EQUAL(0, hal::stream_accept(lfd, &conn, nullptr));
  CHECK_EQUAL(4, hal::stream_send(conn, "ok\n\n", 4));
  f.run_for(10 * kMs);
  CHECK_EQUAL(4, hal::stream_send(conn, "\x15\x03\x03\n", 4));
  f.run_for(10 * kMs);
  CHECK(f.link.up());
  CHECK_EQUAL(0u, f.link.stats().tls);
  CHECK_EQUAL(3u, f.seen.frames.size());
  CHECK_EQUAL(0, hal::close(conn));
  CHECK_EQUAL(0, hal::close(lfd));
}

// A tcp:// or mqtt:// server that answers in HTTP (the port of an InfluxDB,
// a web server: "HTTP/1.1 400 Bad Request" to the first line) is said to be
// one; it was "closed by the server" or, over MQTT, a CONNACK timeout.
TEST(Link, a_server_that_answers_in_http_is_said_to_be_one) {
  Fixture f;
  int lfd = -1;
  CHECK_EQUAL(0, hal::stream_listen(f.server.at, 8, &lfd));
  f.start("tcp://127.0.0.1:7000");
  f.run_for(10 * kMs);
  int conn = -1;
  CHECK_EQUAL(0, hal::stream_accept(lfd, &conn, nullptr));
  const char answer[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
  CHECK_EQUAL(static_cast<long>(sizeof answer - 1),
              hal::stream_send(conn, answer, sizeof answer - 1));
  f.run_for(10 * kMs);
  CHECK(f.link.state() == State::kBackoff);
  CHECK_EQUAL(1u, f.seen.downs.size());
  CHECK_EQUAL(app::kErrHttpServer, f.seen.downs[0]);
  CHECK_EQUAL(1u, f.link.stats().http);
  STRCMP_CONTAINS("the server answered in HTTP", app::error_text(app::kErrHttpServer));
  CHECK(f.seen.frames.empty());
  CHECK(app::looks_like_http("HTTP/1.0 400", 12));
  CHECK(!app::looks_like_http("HTTP", 4));
  CHECK(!app::looks_like_http("HB id=x", 7));
  CHECK_EQUAL(0, hal::close(conn));
  CHECK_EQUAL(0, hal::close(lfd));
}

// The daemons' jitter seed (and so the DNS question ids) comes from the
// kernel's generator; while it has nothing to give, from the clocks, never
// a constant.
TEST(Link, the_random_seed_comes_from_getrandom_or_else_the_clocks) {
  unsigned char expect[8];
  {
    fake::Kernel first;  // the same generator from the same start as the fixture's
    CHECK_EQUAL(8, hal::getrandom(expect, sizeof expect, hal::kGrndNonblock));
  }
  Fixture f;
  uint64_t want = 0;
  std::memcpy(&want, expect, sizeof want);
  CHECK_EQUAL(want, app::random_seed(*f.loop));
  CHECK(app::random_seed(*f.loop) != want);  // the next 8 bytes
  for (int err : {EAGAIN, ENOSYS}) {
    f.k.fail_next(fake::Call::kGetrandom, err);
    const uint64_t a = app::random_seed(*f.loop);
    f.k.advance(1);
    f.k.fail_next(fake::Call::kGetrandom, err);
    const uint64_t b = app::random_seed(*f.loop);
    CHECK(a != 0 && b != 0 && a != b);
  }
  CHECK_EQUAL(-EINVAL, hal::getrandom(expect, 257, 0));
  CHECK_EQUAL(-EINVAL, hal::getrandom(expect, 8, 2));
}
