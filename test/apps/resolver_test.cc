// app::Link with a named host on the fake kernel: the Resolver asks a
// scripted name server (UDP on the same loop) and the link connects to
// what it answers, again at every attempt.
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "CppUTest/TestHarness.h"
#include "apps/common/link.h"
#include "apps/common/snapshot.h"
#include "hal/address.h"
#include "hal/socket.h"
#include "loop/static_loop.h"
#include "test/fake/kernel.h"

using app::Link;
using evl::kMs;
using evl::kSec;
using State = app::Link::State;

namespace {

using TestLoop = evl::StaticLoop<8, 16, 2, 1, 4>;

// What the scripted name server does with a question.
enum class Dns {
  kAnswer,
  kNxDomain,
  kServFail,
  kSilent,
  kNotOursFirst,
  kOnlyAaaa,
  kOnlyLan,    // names under .lan are answered, others NXDOMAIN
  kCorpFails,  // as kOnlyLan, but names under .corp.example are SERVFAIL
  kNoData,     // the name exists without an address (NOERROR, no record)
  kTwo,        // two A records: 127.0.0.2, then the `a` address
};

struct NameServer {
  evl::Loop* loop = nullptr;
  Dns mode = Dns::kAnswer;
  uint8_t a[4] = {127, 0, 0, 1};  // the A record's address
  int fd = -1;
  evl::IoHandle io;
  std::vector<uint16_t> types;     // the questions' types, in order
  std::vector<std::string> names;  // and their names
};

void put16(std::vector<uint8_t>* b, size_t at, uint16_t v) {
  (*b)[at] = static_cast<uint8_t>(v >> 8);
  (*b)[at + 1] = static_cast<uint8_t>(v);
}

void on_question(evl::Loop&, evl::IoHandle, uint32_t, void* ctx) {
  auto* ns = static_cast<NameServer*>(ctx);
  uint8_t q[512];
  hal::SockAddr from;
  bool trunc = false;
  for (;;) {
    const long n = hal::dgram_recv(ns->fd, q, sizeof q, &from, &trunc);
    if (n <= 0) return;
    std::vector<uint8_t> r(q, q + n);
    const uint16_t type = static_cast<uint16_t>(q[n - 4] << 8 | q[n - 3]);
    ns->types.push_back(type);
    std::string name;
    for (size_t p = 12; p < static_cast<size_t>(n) && q[p] != 0; p += 1 + q[p]) {
      if (!name.empty()) name += '.';
      name.append(reinterpret_cast<const char*>(q + p + 1), q[p]);
    }
    ns->names.push_back(name);
    if (ns->mode == Dns::kSilent) continue;
    const bool lan = name == "broker.lan";
    Dns mode = ns->mode;
    const bool corp = name.find(".corp.example") != std::string::npos;
    if (mode == Dns::kCorpFails) mode = corp ? Dns::kServFail : Dns::kOnlyLan;
    if (mode == Dns::kOnlyLan) mode = lan ? Dns::kAnswer : Dns::kNxDomain;
    r[2] = 0x81;  // QR, RD
    r[3] = mode == Dns::kNxDomain ? 0x83 : mode == Dns::kServFail ? 0x82 : 0x80;
    const bool answer = (mode == Dns::kAnswer || mode == Dns::kNotOursFirst)
                            ? type == app::dns::kTypeA
                            : mode == Dns::kOnlyAaaa && type == app::dns::kTypeAaaa;
    if (mode == Dns::kTwo && type == app::dns::kTypeA) {
      put16(&r, 6, 2);
      const uint8_t two[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 2};
      r.insert(r.end(), two, two + sizeof two);
      const uint8_t head[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4};
      r.insert(r.end(), head, head + sizeof head);
      r.insert(r.end(), ns->a, ns->a + 4);
    } else if (answer) {
      put16(&r, 6, 1);
      const uint8_t head[] = {0xc0, 12, 0, static_cast<uint8_t>(type),
                              0,    1,  0, 0,
                              0,    60, 0, static_cast<uint8_t>(type == app::dns::kTypeA ? 4 : 16)};
      r.insert(r.end(), head, head + sizeof head);
      if (type == app::dns::kTypeA) {
        r.insert(r.end(), ns->a, ns->a + 4);
      } else {
        const uint8_t six[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};  // ::1
        r.insert(r.end(), six, six + 16);
      }
    }
    if (mode == Dns::kNotOursFirst) {
      std::vector<uint8_t> spoof = r;
      spoof[0] ^= 0x55;  // another id, and a wrong address
      spoof[spoof.size() - 1] = 99;
      CHECK(hal::dgram_send(ns->fd, spoof.data(), spoof.size(), &from) > 0);
    }
    CHECK(hal::dgram_send(ns->fd, r.data(), r.size(), &from) > 0);
  }
}

struct Fixture {
  fake::Kernel k;
  std::unique_ptr<TestLoop> loop{new TestLoop()};
  NameServer ns;
  NameServer ns2;  // a second server, when a test has one
  Link link;
  app::LinkConfig cfg;
  app::Url url;
  std::vector<int> downs;
  int ups = 0;
  int listen_fd = -1;

  Fixture() {
    CHECK_EQUAL(0, loop->init());
    ns.loop = loop.get();
    ns2.loop = loop.get();
    cfg.backoff_initial_ms = 100;
    cfg.backoff_max_ms = 1000;
    cfg.connect_timeout_ms = 500;
  }
  ~Fixture() {
    link.stop();
    if (ns.io) (void)loop->io_close(ns.io);
    if (ns2.io) (void)loop->io_close(ns2.io);
    if (listen_fd >= 0) (void)hal::close(listen_fd);
  }
  void serve_dns(NameServer* s = nullptr, const char* at = "127.0.0.1:53") {
    if (s == nullptr) s = &ns;
    hal::SockAddr a;
    CHECK_EQUAL(0, hal::parse_address(at, &a));
    CHECK_EQUAL(0, hal::dgram_bind(a, &s->fd));
    CHECK_EQUAL(0, loop->io_start(s->fd, evl::kIn, on_question, s, &s->io));
  }
  void listen(const char* at) {
    hal::SockAddr a;
    CHECK_EQUAL(0, hal::parse_address(at, &a));
    CHECK_EQUAL(0, hal::stream_listen(a, 8, &listen_fd));
  }
  static void on_up(void* ctx) { ++static_cast<Fixture*>(ctx)->ups; }
  static void on_down(void* ctx, int err) { static_cast<Fixture*>(ctx)->downs.push_back(err); }
  void start(const char* text) {
    CHECK_EQUAL(0, app::parse_url(text, &url));
    app::LinkEvents ev;
    ev.up = on_up;
    ev.down = on_down;
    ev.ctx = this;
    CHECK_EQUAL(0, link.start(*loop, url, cfg, ev));
  }
  void run_for(int64_t ns_) {
    const int64_t end = k.monotonic_ns() + ns_;
    while (k.monotonic_ns() < end) {
      const int r = loop->run_once(static_cast<int>((end - k.monotonic_ns() + kMs - 1) / kMs));
      CHECK(r >= 0 || r == -EINTR);
    }
  }
  // Runs the loop until the link says it is down: at most 10 minutes of
  // virtual time, a failure after that.
  void run_until_down() {
    const int64_t end = k.monotonic_ns() + 600 * kSec;
    while (downs.empty() && k.monotonic_ns() < end) CHECK(loop->run_once(1000) >= 0);
    CHECK(!downs.empty());
  }
  std::string address() const {
    char buf[80];
    return hal::format_address(link.address(), buf, sizeof buf) > 0 ? buf : "";
  }
};

}  // namespace

TEST_GROUP(Resolver){};

TEST(Resolver, a_named_server_is_resolved_then_connected) {
  Fixture f;
  f.k.add_regular_path("/etc/resolv.conf", "nameserver 127.0.0.1\n");
  f.serve_dns();
  f.listen("127.0.0.1:1883");
  const int fds = f.k.open_fd_count();
  f.start("mqtt://broker.lan:1883");
  CHECK(f.link.state() == State::kResolving);
  f.run_for(100 * kMs);
  CHECK(f.link.up());
  CHECK_EQUAL(std::string("127.0.0.1:1883"), f.address());
  CHECK_EQUAL(1u, f.ns.types.size());
  CHECK_EQUAL(app::dns::kTypeA, f.ns.types[0]);
  CHECK_EQUAL(1u, f.link.resolver().stats().questions);
  // The link's socket and the loop's timerfd (made at its first timer):
  // the resolver's socket is closed.
  CHECK_EQUAL(fds + 2, f.k.open_fd_count());
}

TEST(Resolver, etc_hosts_answers_without_a_question) {
  Fixture f;
  f.k.add_regular_path("/etc/hosts", "127.0.0.1 localhost\n127.0.0.1 broker.lan broker\n");
  f.listen("127.0.0.1:1883");
  f.start("tcp://BROKER:1883");
  CHECK(f.link.state() == State::kConnecting);  // no kResolving
  f.run_for(100 * kMs);
  CHECK(f.link.up());
  CHECK_EQUAL(0u, f.link.resolver().stats().questions);
}

TEST(Resolver, a_name_without_ipv4_is_asked_for_ipv6) {
  Fixture f;
  f.ns.mode = Dns::kOnlyAaaa;
  f.serve_dns();
  f.listen("[::1]:1883");
  f.start("tcp://v6.lan:1883");
  f.run_for(100 * kMs);
  CHECK(f.link.up());
  CHECK_EQUAL(std::string("[::1]:1883"), f.address());
  CHECK_EQUAL(2u, f.ns.types.size());
  CHECK_EQUAL(app::dns::kTypeAaaa, f.ns.types[1]);
}

TEST(Resolver, an_unknown_name_is_a_failed_attempt_retried_after_the_back_off) {
  Fixture f;
  f.ns.mode = Dns::kNxDomain;
  f.serve_dns();
  f.listen("127.0.0.1:1883");
  f.start("tcp://brokr.lan:1883");
  f.run_for(50 * kMs);
  CHECK(f.link.state() == State::kBackoff);
  CHECK_EQUAL(1u, f.downs.size());
  CHECK_EQUAL(app::dns::kErrNotFound, f.downs[0]);
  STRCMP_EQUAL("name not found (NXDOMAIN)", app::error_text(f.downs[0]));
  f.run_for(3 * kSec);  // asked again at each attempt; one down per outage
  CHECK(f.ns.types.size() >= 3);
  CHECK_EQUAL(1u, f.downs.size());
  f.ns.mode = Dns::kAnswer;  // the name is added to the zone
  f.run_for(3 * kSec);
  CHECK(f.link.up());
}

TEST(Resolver, the_address_is_asked_again_at_each_attempt_and_a_move_is_followed) {
  Fixture f;
  f.serve_dns();
  f.listen("127.0.0.1:1883");
  f.start("tcp://broker.lan:1883");
  f.run_for(100 * kMs);
  CHECK(f.link.up());
  // The broker moves to 127.0.0.2; the old address refuses.
  (void)hal::close(f.listen_fd);
  f.listen_fd = -1;
  f.listen("127.0.0.2:1883");
  f.ns.a[3] = 2;
  CHECK_EQUAL(0, f.k.reset(f.link.fd()));
  f.run_for(3 * kSec);
  CHECK(f.link.up());
  CHECK_EQUAL(std::string("127.0.0.2:1883"), f.address());
}

TEST(Resolver, a_silent_server_times_out_each_try_then_the_attempt_fails) {
  Fixture f;
  f.k.add_regular_path(
      "/etc/resolv.conf",
      "nameserver 127.0.0.1\nnameserver 127.0.0.3\noptions timeout:1 attempts:2\n");
  f.ns.mode = f.ns2.mode = Dns::kSilent;
  f.serve_dns();
  f.serve_dns(&f.ns2, "127.0.0.3:53");
  const int64_t t0 = f.k.monotonic_ns();
  f.start("tcp://broker.lan:1883");
  f.run_for(3900 * kMs);
  CHECK(f.link.state() == State::kResolving);  // 4 tries of 1 s
  CHECK(f.downs.empty());
  f.run_until_down();
  CHECK(f.k.monotonic_ns() - t0 >= 4 * kSec);
  CHECK(f.k.monotonic_ns() - t0 < 4 * kSec + 10 * kMs);
  CHECK(f.link.state() == State::kBackoff);
  CHECK_EQUAL(app::dns::kErrTimeout, f.downs[0]);
  CHECK_EQUAL(4u, f.link.resolver().stats().timeouts);
  CHECK_EQUAL(2u, f.ns.types.size());  // each server asked in each round
  CHECK_EQUAL(2u, f.ns2.types.size());
}

TEST(Resolver, no_server_listening_is_said_and_a_server_failure_tries_the_next) {
  Fixture f;
  f.start("tcp://broker.lan:1883");  // nothing on 127.0.0.1:53
  f.run_until_down();
  CHECK_EQUAL(1u, f.downs.size());
  CHECK_EQUAL(app::dns::kErrUnreachable, f.downs[0]);
  f.link.stop();
  f.downs.clear();
  f.k.add_regular_path("/etc/resolv.conf", "nameserver 127.0.0.1\nnameserver 127.0.0.4\n");
  f.ns.mode = Dns::kServFail;
  f.serve_dns();
  f.start("tcp://broker.lan:1883");
  f.run_until_down();
  CHECK_EQUAL(1u, f.downs.size());  // 127.0.0.1 failed, 127.0.0.4 does not listen, twice
  CHECK_EQUAL(app::dns::kErrUnreachable, f.downs[0]);
  CHECK_EQUAL(2u, f.ns.types.size());
}

TEST(Resolver, replies_not_to_our_question_are_ignored) {
  Fixture f;
  f.ns.mode = Dns::kNotOursFirst;
  f.serve_dns();
  f.listen("127.0.0.1:1883");
  f.start("tcp://broker.lan:1883");
  f.run_for(100 * kMs);
  CHECK(f.link.up());
  CHECK_EQUAL(std::string("127.0.0.1:1883"), f.address());
  CHECK_EQUAL(1u, f.link.resolver().stats().ignored);
}

TEST(Resolver, socket_errors_fail_the_attempt_with_their_errno) {
  Fixture f;
  f.k.fail_next(fake::Call::kSocket, EMFILE, 2);
  f.start("tcp://broker.lan:1883");
  CHECK(f.link.state() == State::kBackoff);
  CHECK_EQUAL(1u, f.downs.size());
  CHECK_EQUAL(-EMFILE, f.downs[0]);
  STRCMP_EQUAL(std::strerror(EMFILE), app::error_text(-EMFILE));
}

// A snapshot taken while the question is out: restored into another link
// (as a replay restores the recorded state), the wait goes on and the
// answer that comes then is used.
TEST(Resolver, a_link_resolving_comes_back_from_a_snapshot_and_goes_on) {
  Fixture f;
  f.ns.mode = Dns::kSilent;
  f.serve_dns();
  f.listen("127.0.0.1:1883");
  f.start("tcp://broker.lan:1883");
  f.run_for(300 * kMs);
  CHECK(f.link.state() == State::kResolving);
  static uint8_t bytes[8192];
  flight::SnapWriter w(bytes, sizeof bytes);
  f.link.save(w);
  CHECK(w.ok());
  const int fd = f.link.resolver().fd();
  const int keep = hal::dup(fd);
  f.link.drop();
  CHECK_EQUAL(fd, hal::dup(keep));  // the socket under its own number again
  CHECK_EQUAL(0, hal::close(keep));
  Link to;
  app::LinkEvents ev;
  ev.up = Fixture::on_up;
  ev.down = Fixture::on_down;
  ev.ctx = &f;
  CHECK_EQUAL(0, to.start(*f.loop, f.url, f.cfg, ev));  // as the replay's start does
  to.drop();
  flight::SnapReader in(bytes, w.size());
  app::Restore r(*f.loop, in);
  to.restore(r);
  CHECK_EQUAL(0, r.finish());
  CHECK_EQUAL(0u, in.left());
  CHECK(to.state() == State::kResolving);
  CHECK_EQUAL(fd, to.resolver().fd());
  // The server answers the try still out (the one it has not answered).
  f.ns.mode = Dns::kAnswer;
  f.run_for(5 * kSec);  // the try times out at 5 s: the next question is answered
  CHECK(to.up());
  CHECK_EQUAL(2u, to.resolver().stats().questions);
  CHECK_EQUAL(1u, to.resolver().stats().timeouts);
  to.stop();
}

// /etc/hosts is read a piece at a time: a large file (a block list) is
// read to its end, a line longer than the buffer is skipped, not cut into
// lines, and a last line without a line end counts.
TEST(Resolver, a_large_hosts_file_is_read_whole_and_long_lines_are_skipped) {
  Fixture f;
  std::string hosts;
  for (int i = 0; hosts.size() < 40000; ++i) {
    hosts += "0.0.0.0 ads" + std::to_string(i) + ".example\n";
  }
  // A line longer than the buffer whose part past it (from byte 1024 of
  // the line on) looks like a hosts line of its own.
  hosts += "10.0.0.1 " + std::string(1014, 'a') + " 10.9.9.9 cut.lan\n";
  hosts += "127.0.0.1\tbroker.lan";  // no line end
  f.k.add_regular_path("/etc/hosts", hosts);
  f.listen("127.0.0.1:1883");
  f.k.short_next(fake::Call::kRead, 100);  // a short read among them
  f.start("tcp://broker.lan:1883");
  CHECK(f.link.state() == State::kConnecting);
  f.link.stop();
  f.serve_dns();  // cut.lan: not in the hosts file, so asked
  f.ns.mode = Dns::kNxDomain;
  f.start("tcp://cut.lan:1883");
  CHECK(f.link.state() == State::kResolving);
  f.link.stop();
  f.start("tcp://ads999.example:1883");
  CHECK(f.link.state() == State::kConnecting);
  CHECK_EQUAL(std::string("0.0.0.0:1883"), f.address());
}

TEST(Resolver, a_hosts_path_that_is_no_regular_file_is_not_read) {
  Fixture f;
  f.k.add_special_path("/etc/hosts", fake::Kernel::Special::kFifo);
  f.k.add_special_path("/etc/resolv.conf", fake::Kernel::Special::kDirectory);
  f.serve_dns();
  f.listen("127.0.0.1:1883");
  f.start("tcp://broker.lan:1883");
  CHECK(f.link.state() == State::kResolving);  // the default server, 127.0.0.1
  f.run_for(100 * kMs);
  CHECK(f.link.up());
  CHECK_EQUAL(0u, f.k.would_block());
}

// "search lan" in resolv.conf (what DHCP gives a board on most LANs): a
// short name is asked with the domain first, then as given; a name that
// is not found under any is NXDOMAIN.
TEST(Resolver, a_short_name_is_asked_with_each_search_domain) {
  Fixture f;
  f.k.add_regular_path("/etc/resolv.conf", "search corp.example lan\nnameserver 127.0.0.1\n");
  f.ns.mode = Dns::kOnlyLan;
  f.serve_dns();
  f.listen("127.0.0.1:1883");
  f.start("mqtt://broker:1883");
  f.run_for(100 * kMs);
  CHECK(f.link.up());
  CHECK_EQUAL(2u, f.ns.names.size());
  CHECK_EQUAL(std::string("broker.corp.example"), f.ns.names[0]);
  CHECK_EQUAL(std::string("broker.lan"), f.ns.names[1]);
  f.link.stop();
  f.ns.names.clear();
  f.ns.mode = Dns::kNxDomain;
  f.start("mqtt://broker:1883");
  f.run_until_down();
  CHECK_EQUAL(3u, f.ns.names.size());  // each domain, then the name itself
  CHECK_EQUAL(std::string("broker"), f.ns.names[2]);
  CHECK_EQUAL(app::dns::kErrNotFound, f.downs[0]);
}

// A search domain whose servers fail (SERVFAIL) does not end the search
// (as glibc); what the servers said of the other names is what is told.
TEST(Resolver, a_search_domain_that_fails_passes_to_the_next_name) {
  Fixture f;
  f.k.add_regular_path("/etc/resolv.conf", "search corp.example lan\nnameserver 127.0.0.1\n");
  f.ns.mode = Dns::kCorpFails;
  f.serve_dns();
  f.listen("127.0.0.1:1883");
  f.start("mqtt://broker:1883");
  f.run_for(100 * kMs);
  CHECK(f.link.up());
  // broker.corp.example twice (two rounds over the one server), broker.lan.
  CHECK_EQUAL(3u, f.ns.names.size());
  CHECK_EQUAL(std::string("broker.lan"), f.ns.names[2]);
  f.link.stop();
  f.ns.names.clear();
  f.start("mqtt://nothere.example.com:1883");  // as given, then .corp.example, then .lan
  f.run_until_down();
  CHECK_EQUAL(app::dns::kErrNotFound, f.downs[0]);  // not "the servers failed"
  f.link.stop();
  f.downs.clear();
  f.ns.mode = Dns::kServFail;  // every name fails
  f.start("mqtt://broker:1883");
  f.run_until_down();
  CHECK_EQUAL(app::dns::kErrServer, f.downs[0]);
}

// A question that cannot be sent (no route to the server) passes to the
// next try; when none can, the attempt fails at once with that error.
TEST(Resolver, a_question_that_cannot_be_sent_fails_the_attempt_with_its_errno) {
  Fixture f;
  f.serve_dns();
  f.listen("127.0.0.1:1883");
  f.k.fail_next(fake::Call::kSendto, ENETUNREACH, 2);  // both tries of the one server
  f.start("tcp://broker.lan:1883");
  CHECK(f.link.state() == State::kBackoff);
  CHECK_EQUAL(1u, f.downs.size());
  CHECK_EQUAL(-ENETUNREACH, f.downs[0]);
  CHECK_EQUAL(0u, f.link.resolver().stats().questions);
  CHECK_EQUAL(-1, f.link.resolver().fd());  // its socket closed
  f.run_for(3 * kSec);                      // the next attempt sends
  CHECK(f.link.up());
}

TEST(Resolver, each_resolution_error_has_its_own_words) {
  STRCMP_EQUAL("name not found (NXDOMAIN)", app::error_text(app::dns::kErrNotFound));
  STRCMP_EQUAL("the name has no IPv4 or IPv6 address", app::error_text(app::dns::kErrNoAddress));
  STRCMP_EQUAL("the name servers failed (SERVFAIL, REFUSED or a bad reply)",
               app::error_text(app::dns::kErrServer));
  STRCMP_EQUAL("no answer from the name servers", app::error_text(app::dns::kErrTimeout));
  STRCMP_EQUAL("no name server listens (port unreachable)",
               app::error_text(app::dns::kErrUnreachable));
}

TEST(Resolver, a_name_with_no_address_of_either_family_is_said_so) {
  Fixture f;
  f.ns.mode = Dns::kNoData;
  f.serve_dns();
  f.start("tcp://mail-only.lan:25");
  f.run_until_down();
  CHECK_EQUAL(1u, f.downs.size());
  CHECK_EQUAL(app::dns::kErrNoAddress, f.downs[0]);
  CHECK_EQUAL(2u, f.ns.types.size());  // A, then AAAA
  CHECK_EQUAL(app::dns::kTypeAaaa, f.ns.types[1]);
}

// A read interrupted by a signal is read again, not taken as the server's
// failure (which would ask the next one).
TEST(Resolver, an_interrupted_read_is_read_again) {
  Fixture f;
  f.serve_dns();
  f.listen("127.0.0.1:1883");
  f.start("tcp://broker.lan:1883");
  f.k.fail_next(fake::Call::kRecvfrom, EINTR, 1, 2);  // the server reads twice; ours is cut
  f.run_for(100 * kMs);
  CHECK(f.link.up());
  CHECK_EQUAL(1u, f.link.resolver().stats().questions);
}

// A name with two addresses, the first dead (a server of a round-robin
// pair that is down): each attempt takes the next address of the answer,
// so the link comes up on the live one instead of retrying the dead one.
TEST(Resolver, each_attempt_takes_the_next_address_of_the_answer) {
  Fixture f;
  f.ns.mode = Dns::kTwo;
  f.serve_dns();
  f.listen("127.0.0.1:1883");  // nothing on 127.0.0.2
  f.start("tcp://broker.lan:1883");
  f.run_for(3 * kSec);
  CHECK(f.link.up());
  CHECK_EQUAL(std::string("127.0.0.1:1883"), f.address());
  CHECK_EQUAL(1u, f.downs.size());  // the first attempt, refused by 127.0.0.2
  CHECK_EQUAL(-ECONNREFUSED, f.downs[0]);
}

// The name servers go away (a router rebooting) while the broker stays:
// the address that connected before is tried, not nothing. An answer that
// the name does not exist is believed.
TEST(Resolver, failing_name_servers_fall_back_to_the_address_that_connected) {
  Fixture f;
  f.k.add_regular_path("/etc/resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
  f.serve_dns();
  f.listen("127.0.0.1:1883");
  f.start("tcp://broker.lan:1883");
  f.run_for(100 * kMs);
  CHECK(f.link.up());
  f.ns.mode = Dns::kSilent;
  CHECK_EQUAL(0, f.k.reset(f.link.fd()));  // the connection breaks
  f.run_for(3 * kSec);
  CHECK(f.link.up());  // after the question timed out, on the last address
  CHECK_EQUAL(1u, f.link.stats().last_good_used);
  CHECK_EQUAL(std::string("127.0.0.1:1883"), f.address());
  char via[96];
  STRCMP_EQUAL(" (127.0.0.1:1883, kept: the name servers failed)",
               f.link.resolved_as(via, sizeof via));
  f.ns.mode = Dns::kNxDomain;  // the name was removed
  CHECK_EQUAL(0, f.k.reset(f.link.fd()));
  const uint64_t questions = f.link.resolver().stats().questions;
  f.run_for(3 * kSec);
  CHECK(!f.link.up());  // believed: no connect to the old address
  CHECK(f.link.resolver().stats().questions > questions);
  CHECK_EQUAL(1u, f.link.stats().last_good_used);
}
