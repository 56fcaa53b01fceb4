// Socket behaviour that must agree between Linux (loopback only) and the
// fake kernel. Built twice: net_conformance_fake_test, _linux_test.
#include <cerrno>
#include <cstdio>
#include <string>

#include "CppUTest/TestHarness.h"
#include "hal/socket.h"
#include "loop/static_loop.h"
#include "test/support/kernel_env.h"

namespace {

hal::SockAddr addr(const char* text) {
  hal::SockAddr a;
  CHECK_EQUAL(0, hal::parse_address(text, &a));
  return a;
}

// Waits (through epoll, bounded) until fd reports one of `events`.
uint32_t wait_for(int fd, uint32_t events) {
  const int ep = hal::epoll_create1(hal::kCloexec);
  hal::EpollEvent ev{events, 1};
  CHECK_EQUAL(0, hal::epoll_ctl(ep, hal::kEpollCtlAdd, fd, &ev));
  hal::EpollEvent out{0, 0};
  const int n = hal::epoll_wait(ep, &out, 1, 2000);
  CHECK_EQUAL(0, hal::close(ep));
  return n == 1 ? out.events : 0;
}

}  // namespace

TEST_GROUP(NetConformance) {
  int l = -1;
  hal::SockAddr at;
  void setup() override {
    testenv::setup();
    CHECK_EQUAL(0, hal::stream_listen(addr("127.0.0.1:0"), 4, &l));
    CHECK_EQUAL(0, hal::getsockname(l, &at));
    CHECK(hal::address_port(at) > 0);
  }
  void teardown() override {
    (void)hal::close(l);
    testenv::teardown();
  }
  void connected(int* c, int* s) {
    CHECK_EQUAL(-EINPROGRESS, hal::stream_connect(at, c));
    CHECK(wait_for(*c, hal::kEpollOut) & hal::kEpollOut);
    CHECK_EQUAL(0, hal::socket_error(*c));
    CHECK(wait_for(l, hal::kEpollIn) & hal::kEpollIn);
    CHECK_EQUAL(0, hal::stream_accept(l, s, nullptr));
  }
};

TEST(NetConformance, loopback_connect_is_in_progress_then_writable) {
  int c = -1, s = -1;
  connected(&c, &s);
  CHECK_EQUAL(4, hal::stream_send(c, "ping", 4));
  CHECK(wait_for(s, hal::kEpollIn) & hal::kEpollIn);
  char buf[8];
  CHECK_EQUAL(4, hal::stream_recv(s, buf, sizeof buf));
  CHECK_EQUAL(-EAGAIN, hal::stream_recv(s, buf, sizeof buf));
  hal::SockAddr peer;
  CHECK_EQUAL(0, hal::getpeername(c, &peer));
  CHECK_EQUAL(hal::address_port(at), hal::address_port(peer));
  CHECK_EQUAL(0, hal::close(c));
  CHECK_EQUAL(0, hal::close(s));
}

TEST(NetConformance, refused_connect_reports_econnrefused_via_so_error) {
  hal::SockAddr closed = at;
  CHECK_EQUAL(0, hal::close(l));  // nobody listens on that port any more
  l = -1;
  int c = -1;
  CHECK_EQUAL(-EINPROGRESS, hal::stream_connect(closed, &c));
  const uint32_t ev = wait_for(c, hal::kEpollOut);
  CHECK(ev & hal::kEpollErr);
  CHECK(ev & hal::kEpollHup);
  CHECK_EQUAL(-ECONNREFUSED, hal::socket_error(c));
  CHECK_EQUAL(0, hal::close(c));
}

TEST(NetConformance, eof_after_peer_close) {
  int c = -1, s = -1;
  connected(&c, &s);
  CHECK_EQUAL(0, hal::close(s));
  const uint32_t ev = wait_for(c, hal::kEpollIn | hal::kEpollRdHup);
  CHECK(ev & hal::kEpollRdHup);
  char buf[4];
  CHECK_EQUAL(0, hal::stream_recv(c, buf, sizeof buf));
  CHECK_EQUAL(0, hal::close(c));
}

TEST(NetConformance, close_with_unread_data_resets_then_epipe) {
  int c = -1, s = -1;
  connected(&c, &s);
  CHECK_EQUAL(1, hal::stream_send(c, "x", 1));
  CHECK(wait_for(s, hal::kEpollIn) & hal::kEpollIn);
  CHECK_EQUAL(0, hal::close(s));
  const uint32_t ev = wait_for(c, hal::kEpollIn);
  CHECK(ev & hal::kEpollErr);
  CHECK_EQUAL(-ECONNRESET, hal::socket_error(c));
  char buf[4];
  CHECK_EQUAL(0, hal::stream_recv(c, buf, sizeof buf));
  CHECK_EQUAL(-EPIPE, hal::stream_send(c, "y", 1));
  CHECK_EQUAL(0, hal::close(c));
}

TEST(NetConformance, udp_truncates_long_datagrams) {
  int rx = -1, tx = -1;
  CHECK_EQUAL(0, hal::dgram_bind(addr("127.0.0.1:0"), &rx));
  hal::SockAddr to;
  CHECK_EQUAL(0, hal::getsockname(rx, &to));
  CHECK_EQUAL(0, hal::dgram_open(hal::kAfInet, &tx));
  CHECK_EQUAL(10, hal::dgram_send(tx, "0123456789", 10, &to));
  CHECK(wait_for(rx, hal::kEpollIn) & hal::kEpollIn);
  char buf[4];
  bool truncated = false;
  CHECK_EQUAL(4, hal::dgram_recv(rx, buf, sizeof buf, nullptr, &truncated));
  CHECK(truncated);
  CHECK_EQUAL(-EAGAIN, hal::dgram_recv(rx, buf, sizeof buf, nullptr, &truncated));
  CHECK_EQUAL(0, hal::close(rx));
  CHECK_EQUAL(0, hal::close(tx));
}

// A broadcast destination (heartbeat to udp://255.255.255.255:PORT or a
// subnet's .255) is refused to a socket without SO_BROADCAST; dgram_connect
// sets it for one, and a socket bound to the broadcast address receives.
TEST(NetConformance, udp_to_a_broadcast_address_is_sent_with_so_broadcast) {
  int rx = -1, tx = -1, raw = -1;
  CHECK_EQUAL(0, hal::dgram_bind(addr("127.255.255.255:0"), &rx));
  hal::SockAddr to;
  CHECK_EQUAL(0, hal::getsockname(rx, &to));
  CHECK_EQUAL(0, hal::dgram_open(hal::kAfInet, &raw));
  CHECK_EQUAL(-EACCES, hal::connect(raw, &to));  // what dgram_connect met before
  CHECK_EQUAL(0, hal::dgram_connect(to, &tx));
  CHECK_EQUAL(4, hal::dgram_send(tx, "beat", 4, nullptr));
  CHECK(wait_for(rx, hal::kEpollIn) & hal::kEpollIn);
  char buf[8];
  bool truncated = false;
  CHECK_EQUAL(4, hal::dgram_recv(rx, buf, sizeof buf, nullptr, &truncated));
  int on = 0;
  uint32_t len = sizeof on;
  CHECK_EQUAL(0, hal::getsockopt(tx, hal::kSolSocket, hal::kSoBroadcast, &on, &len));
  CHECK_EQUAL(1, on);
  // A unicast destination does not get the option.
  int uni = -1;
  CHECK_EQUAL(0, hal::dgram_connect(addr("127.0.0.1:9"), &uni));
  len = sizeof on;
  CHECK_EQUAL(0, hal::getsockopt(uni, hal::kSolSocket, hal::kSoBroadcast, &on, &len));
  CHECK_EQUAL(0, on);
  for (int fd : {rx, tx, raw, uni}) CHECK_EQUAL(0, hal::close(fd));
}

TEST(NetConformance, unix_abstract_stream_connects_at_once) {
  char name[64];
  std::snprintf(name, sizeof name, "@evl-conf-%d", hal::getpid());
  int ul = -1, c = -1, s = -1;
  CHECK_EQUAL(0, hal::stream_listen(addr(name), 2, &ul));
  CHECK_EQUAL(0, hal::stream_connect(addr(name), &c));
  CHECK_EQUAL(0, hal::stream_accept(ul, &s, nullptr));
  CHECK_EQUAL(3, hal::stream_send(s, "abc", 3));
  char buf[4];
  CHECK(wait_for(c, hal::kEpollIn) & hal::kEpollIn);
  CHECK_EQUAL(3, hal::stream_recv(c, buf, sizeof buf));
  std::snprintf(name, sizeof name, "@evl-conf-none-%d", hal::getpid());
  int none = -1;
  CHECK_EQUAL(-ECONNREFUSED, hal::stream_connect(addr(name), &none));
  for (int fd : {ul, c, s}) CHECK_EQUAL(0, hal::close(fd));
}

TEST(NetConformance, second_listener_on_same_port_is_eaddrinuse) {
  int again = -1;
  CHECK_EQUAL(-EADDRINUSE, hal::stream_listen(at, 4, &again));
}
