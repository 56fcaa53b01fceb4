// Sockets on the fake kernel: every error path a firmware client meets.
#include <cerrno>
#include <string>

#include "CppUTest/TestHarness.h"
#include "hal/socket.h"
#include "loop/static_loop.h"
#include "test/fake/kernel.h"

using fake::Call;

namespace {

hal::SockAddr addr(const char* text) {
  hal::SockAddr a;
  CHECK_EQUAL(0, hal::parse_address(text, &a));
  return a;
}

}  // namespace

TEST_GROUP(Socket) {
  fake::Kernel* k = nullptr;
  void setup() override { k = new fake::Kernel(); }
  void teardown() override { delete k; }

  // A connected pair: client fd and the server's accepted fd.
  void pair(int* client, int* server, int* listener) {
    CHECK_EQUAL(0, hal::stream_listen(addr("127.0.0.1:7000"), 4, listener));
    CHECK_EQUAL(-EINPROGRESS, hal::stream_connect(addr("127.0.0.1:7000"), client));
    CHECK_EQUAL(0, hal::socket_error(*client));
    hal::SockAddr peer;
    CHECK_EQUAL(0, hal::stream_accept(*listener, server, &peer));
  }
};

TEST(Socket, connect_accept_and_exchange) {
  int c = -1, s = -1, l = -1;
  pair(&c, &s, &l);
  CHECK_EQUAL(5, hal::stream_send(c, "hello", 5));
  char buf[16];
  CHECK_EQUAL(5, hal::stream_recv(s, buf, sizeof buf));
  CHECK_EQUAL(std::string("hello"), std::string(buf, 5));
  CHECK_EQUAL(-EAGAIN, hal::stream_recv(s, buf, sizeof buf));
  CHECK_EQUAL(-EAGAIN, hal::stream_accept(l, &s, nullptr));
  CHECK_EQUAL(1, k->sockopt(l, hal::kSolSocket, hal::kSoReuseaddr));
}

TEST(Socket, refused_connect_arrives_through_so_error) {
  int c = -1;
  CHECK_EQUAL(-EINPROGRESS, hal::stream_connect(addr("127.0.0.1:7001"), &c));
  evl::StaticLoop<2> loop;
  CHECK_EQUAL(0, loop.init());
  struct Seen {
    uint32_t events = 0;
  } seen;
  evl::IoHandle h;
  CHECK_EQUAL(0, loop.io_start(
                     c, evl::kOut,
                     [](evl::Loop&, evl::IoHandle, uint32_t ev, void* ctx) {
                       static_cast<Seen*>(ctx)->events = ev;
                     },
                     &seen, &h));
  CHECK_EQUAL(1, loop.run_once(0));
  CHECK(seen.events & evl::kErr);
  CHECK_EQUAL(-ECONNREFUSED, hal::socket_error(c));
  CHECK_EQUAL(0, hal::socket_error(c));  // reported once
}

TEST(Socket, blackholed_connect_stays_in_progress_until_the_callers_timer) {
  k->blackhole("192.0.2.1:5000");
  int c = -1;
  CHECK_EQUAL(-EINPROGRESS, hal::stream_connect(addr("192.0.2.1:5000"), &c));
  evl::StaticLoop<2, 2> loop;
  CHECK_EQUAL(0, loop.init());
  struct State {
    bool writable = false;
    bool timed_out = false;
  } st;
  evl::IoHandle h;
  evl::TimerHandle t;
  CHECK_EQUAL(0, loop.io_start(
                     c, evl::kOut,
                     [](evl::Loop&, evl::IoHandle, uint32_t, void* ctx) {
                       static_cast<State*>(ctx)->writable = true;
                     },
                     &st, &h));
  CHECK_EQUAL(0, loop.timer_after(
                     3000000000LL,
                     [](evl::Loop& lp, evl::TimerHandle, uint32_t, void* ctx) {
                       static_cast<State*>(ctx)->timed_out = true;
                       lp.stop();
                     },
                     &st, &t));
  CHECK_EQUAL(0, loop.run());
  CHECK(st.timed_out);
  CHECK_FALSE(st.writable);
  CHECK_EQUAL(0, loop.io_close(h));
}

TEST(Socket, peer_close_is_end_of_stream_and_rdhup) {
  int c = -1, s = -1, l = -1;
  pair(&c, &s, &l);
  CHECK_EQUAL(3, hal::stream_send(s, "bye", 3));
  CHECK_EQUAL(0, hal::close(s));
  char buf[8];
  CHECK_EQUAL(3, hal::stream_recv(c, buf, sizeof buf));
  CHECK_EQUAL(0, hal::stream_recv(c, buf, sizeof buf));
  CHECK(k->file(c)->poll() & hal::kEpollRdHup);
}

TEST(Socket, close_with_unread_input_resets_the_peer) {
  int c = -1, s = -1, l = -1;
  pair(&c, &s, &l);
  CHECK_EQUAL(1, hal::stream_send(c, "x", 1));
  CHECK_EQUAL(0, hal::close(s));  // "x" never read: RST
  const uint32_t ev = k->file(c)->poll();
  CHECK(ev & hal::kEpollErr);
  CHECK(ev & hal::kEpollHup);
  char buf[4];
  CHECK_EQUAL(-ECONNRESET, hal::stream_recv(c, buf, sizeof buf));
  CHECK_EQUAL(0, hal::stream_recv(c, buf, sizeof buf));
  CHECK_EQUAL(-EPIPE, hal::stream_send(c, "y", 1));
  CHECK_EQUAL(0u, k->pending_mask());  // MSG_NOSIGNAL: no SIGPIPE
}

TEST(Socket, scripted_reset_after_some_bytes) {
  int c = -1, s = -1, l = -1;
  pair(&c, &s, &l);
  CHECK_EQUAL(0, k->reset_after(c, 4));
  CHECK_EQUAL(10, hal::stream_send(c, "0123456789", 10));
  char buf[16];
  CHECK_EQUAL(4, hal::stream_recv(s, buf, sizeof buf));
  CHECK_EQUAL(-ECONNRESET, hal::stream_send(c, "more", 4));
}

TEST(Socket, send_buffer_fills_up_then_drains) {
  int c = -1, s = -1, l = -1;
  pair(&c, &s, &l);
  std::string chunk(4096, 'z');
  long total = 0;
  for (;;) {
    const long r = hal::stream_send(c, chunk.data(), chunk.size());
    if (r == -EAGAIN) break;
    CHECK(r > 0);
    total += r;
  }
  CHECK_EQUAL(65536, total);
  CHECK_FALSE(k->file(c)->poll() & hal::kEpollOut);
  char buf[4096];
  CHECK_EQUAL(4096, hal::stream_recv(s, buf, sizeof buf));
  CHECK(k->file(c)->poll() & hal::kEpollOut);
}

TEST(Socket, half_close_lets_the_other_direction_continue) {
  int c = -1, s = -1, l = -1;
  pair(&c, &s, &l);
  CHECK_EQUAL(0, hal::shutdown(c, hal::kShutWr));
  char buf[8];
  CHECK_EQUAL(0, hal::stream_recv(s, buf, sizeof buf));
  CHECK_EQUAL(2, hal::stream_send(s, "ok", 2));
  CHECK_EQUAL(2, hal::stream_recv(c, buf, sizeof buf));
  CHECK_EQUAL(-EPIPE, hal::stream_send(c, "x", 1));
}

TEST(Socket, failures_leave_no_fd_behind) {
  const int before = k->open_fd_count();
  int fd = -1;
  k->fail_next(Call::kSocket, EMFILE);
  CHECK_EQUAL(-EMFILE, hal::stream_connect(addr("127.0.0.1:7000"), &fd));
  k->fail_next(Call::kConnect, ENETUNREACH);
  CHECK_EQUAL(-ENETUNREACH, hal::stream_connect(addr("127.0.0.1:7000"), &fd));
  CHECK_EQUAL(0, hal::stream_listen(addr("127.0.0.1:7000"), 4, &fd));
  int second = -1;
  CHECK_EQUAL(-EADDRINUSE, hal::stream_listen(addr("127.0.0.1:7000"), 4, &second));
  k->fail_next(Call::kListen, ENOBUFS);
  CHECK_EQUAL(-ENOBUFS, hal::stream_listen(addr("127.0.0.1:7002"), 4, &second));
  k->fail_next(Call::kBind, EACCES);
  CHECK_EQUAL(-EACCES, hal::dgram_bind(addr("127.0.0.1:7003"), &second));
  CHECK_EQUAL(before + 1, k->open_fd_count());
  CHECK_EQUAL(-EINVAL, hal::stream_listen(addr("127.0.0.1:7004"), 0, &second));
  CHECK_EQUAL(-EINVAL, hal::dgram_open(99, &second));
  hal::SockAddr empty;
  CHECK_EQUAL(-EINVAL, hal::stream_connect(empty, &second));
}

TEST(Socket, options_are_set_as_asked) {
  int c = -1, s = -1, l = -1;
  pair(&c, &s, &l);
  CHECK_EQUAL(0, hal::set_keepalive(c, hal::Keepalive{10, 3, 5}));
  CHECK_EQUAL(1, k->sockopt(c, hal::kSolSocket, hal::kSoKeepalive));
  CHECK_EQUAL(10, k->sockopt(c, hal::kIpprotoTcp, hal::kTcpKeepidle));
  CHECK_EQUAL(3, k->sockopt(c, hal::kIpprotoTcp, hal::kTcpKeepintvl));
  CHECK_EQUAL(5, k->sockopt(c, hal::kIpprotoTcp, hal::kTcpKeepcnt));
  CHECK_EQUAL(-EINVAL, hal::set_keepalive(c, hal::Keepalive{0, 3, 5}));
  CHECK_EQUAL(0, hal::set_nodelay(c, true));
  CHECK_EQUAL(1, k->sockopt(c, hal::kIpprotoTcp, hal::kTcpNodelay));
  CHECK_EQUAL(0, hal::set_buffer_sizes(c, 8192, 0));
  CHECK_EQUAL(8192, k->sockopt(c, hal::kSolSocket, hal::kSoSndbuf));
  CHECK_EQUAL(-1, k->sockopt(c, hal::kSolSocket, hal::kSoRcvbuf));
  CHECK_EQUAL(-EINVAL, hal::set_buffer_sizes(c, -1, 0));
  int u = -1;
  CHECK_EQUAL(0, hal::dgram_open(hal::kAfUnix, &u));
  CHECK_EQUAL(-EOPNOTSUPP, hal::set_nodelay(u, true));
}

TEST(Socket, udp_datagrams_truncation_and_loss) {
  int rx = -1, tx = -1;
  CHECK_EQUAL(0, hal::dgram_bind(addr("127.0.0.1:9000"), &rx));
  CHECK_EQUAL(0, hal::dgram_open(hal::kAfInet, &tx));
  const hal::SockAddr to = addr("127.0.0.1:9000");
  CHECK_EQUAL(11, hal::dgram_send(tx, "hello world", 11, &to));
  char buf[5];
  bool truncated = false;
  hal::SockAddr from;
  CHECK_EQUAL(5, hal::dgram_recv(rx, buf, sizeof buf, &from, &truncated));
  CHECK(truncated);
  CHECK_EQUAL(hal::kAfInet, hal::address_family(from));
  k->drop_datagrams(1);
  CHECK_EQUAL(4, hal::dgram_send(tx, "lost", 4, &to));
  CHECK_EQUAL(-EAGAIN, hal::dgram_recv(rx, buf, sizeof buf, nullptr, &truncated));
  CHECK_EQUAL(1u, k->datagrams_dropped());
}

TEST(Socket, connected_udp_learns_of_a_closed_port) {
  int tx = -1;
  CHECK_EQUAL(0, hal::dgram_connect(addr("127.0.0.1:9100"), &tx));
  CHECK_EQUAL(1, hal::dgram_send(tx, "x", 1, nullptr));
  CHECK_EQUAL(-ECONNREFUSED, hal::dgram_send(tx, "x", 1, nullptr));
  CHECK_EQUAL(1, hal::dgram_send(tx, "x", 1, nullptr));
}

TEST(Socket, unix_stream_and_datagram) {
  int l = -1, c = -1, s = -1;
  CHECK_EQUAL(0, hal::stream_listen(addr("@evl-fake"), 2, &l));
  CHECK_EQUAL(0, hal::stream_connect(addr("@evl-fake"), &c));  // Unix connects at once
  CHECK_EQUAL(0, hal::stream_accept(l, &s, nullptr));
  CHECK_EQUAL(2, hal::stream_send(c, "hi", 2));
  char buf[4];
  CHECK_EQUAL(2, hal::stream_recv(s, buf, sizeof buf));
  int nobody = -1;
  CHECK_EQUAL(-ECONNREFUSED, hal::stream_connect(addr("@evl-nobody"), &nobody));
  CHECK_EQUAL(-ENOENT, hal::stream_connect(addr("/run/evl-nobody.sock"), &nobody));
  int d = -1, u = -1;
  CHECK_EQUAL(0, hal::dgram_bind(addr("@evl-dgram"), &d));
  CHECK_EQUAL(0, hal::dgram_open(hal::kAfUnix, &u));
  const hal::SockAddr to = addr("@evl-dgram");
  CHECK_EQUAL(3, hal::dgram_send(u, "abc", 3, &to));
  bool t = false;
  CHECK_EQUAL(3, hal::dgram_recv(d, buf, sizeof buf, nullptr, &t));
  const hal::SockAddr gone = addr("@evl-gone");
  CHECK_EQUAL(-ECONNREFUSED, hal::dgram_send(u, "abc", 3, &gone));
}

TEST(Socket, missing_outputs_and_each_setup_step_failing_are_reported) {
  const int before = k->open_fd_count();
  const hal::SockAddr at = addr("127.0.0.1:7010");
  int fd = -1;
  CHECK_EQUAL(-EINVAL, hal::stream_connect(at, nullptr));
  CHECK_EQUAL(-EINVAL, hal::stream_listen(at, 4, nullptr));
  CHECK_EQUAL(-EINVAL, hal::stream_accept(3, nullptr, nullptr));
  CHECK_EQUAL(-EINVAL, hal::dgram_open(hal::kAfInet, nullptr));
  CHECK_EQUAL(-EINVAL, hal::dgram_bind(at, nullptr));
  CHECK_EQUAL(-EINVAL, hal::dgram_connect(at, nullptr));
  k->fail_next(Call::kSocket, EMFILE, 4);
  CHECK_EQUAL(-EMFILE, hal::stream_listen(at, 4, &fd));
  CHECK_EQUAL(-EMFILE, hal::dgram_open(hal::kAfInet, &fd));
  CHECK_EQUAL(-EMFILE, hal::dgram_bind(at, &fd));
  CHECK_EQUAL(-EMFILE, hal::dgram_connect(at, &fd));
  k->fail_next(Call::kSetsockopt, ENOBUFS);
  CHECK_EQUAL(-ENOBUFS, hal::stream_listen(at, 4, &fd));
  k->fail_next(Call::kConnect, ENETUNREACH);
  CHECK_EQUAL(-ENETUNREACH, hal::dgram_connect(at, &fd));
  // A broadcast destination: SO_BROADCAST failing, then the second connect.
  const hal::SockAddr all = addr("255.255.255.255:9000");
  k->fail_next(Call::kSetsockopt, ENOMEM);
  CHECK_EQUAL(-ENOMEM, hal::dgram_connect(all, &fd));
  k->fail_next(Call::kConnect, ENETUNREACH, 1, 1);
  CHECK_EQUAL(-ENETUNREACH, hal::dgram_connect(all, &fd));
  CHECK_EQUAL(-EBADF, hal::stream_accept(99, &fd, nullptr));
  CHECK_EQUAL(-EBADF, hal::stream_unacked(99));
  CHECK_EQUAL(-EBADF, hal::socket_error(99));
  CHECK_EQUAL(-1, fd);
  CHECK_EQUAL(before, k->open_fd_count());
}

TEST(Socket, option_helpers_check_arguments_and_stop_at_the_first_failure) {
  int c = -1, s = -1, l = -1;
  pair(&c, &s, &l);
  CHECK_EQUAL(-EINVAL, hal::set_keepalive(c, hal::Keepalive{10, 0, 5}));
  CHECK_EQUAL(-EINVAL, hal::set_keepalive(c, hal::Keepalive{10, 3, 0}));
  CHECK_EQUAL(-1, k->sockopt(c, hal::kSolSocket, hal::kSoKeepalive));  // nothing set
  for (int step = 0; step < 4; ++step) {
    k->fail_next(Call::kSetsockopt, ENOMEM, 1, step);
    CHECK_EQUAL(-ENOMEM, hal::set_keepalive(c, hal::Keepalive{10, 3, 5}));
  }
  CHECK_EQUAL(0, hal::set_reuseaddr(c, true));
  CHECK_EQUAL(1, k->sockopt(c, hal::kSolSocket, hal::kSoReuseaddr));
  CHECK_EQUAL(0, hal::set_reuseaddr(c, false));
  CHECK_EQUAL(0, k->sockopt(c, hal::kSolSocket, hal::kSoReuseaddr));
  CHECK_EQUAL(0, hal::set_nodelay(c, false));
  CHECK_EQUAL(0, k->sockopt(c, hal::kIpprotoTcp, hal::kTcpNodelay));
  CHECK_EQUAL(0, hal::set_buffer_sizes(c, 0, 4096));
  CHECK_EQUAL(-1, k->sockopt(c, hal::kSolSocket, hal::kSoSndbuf));
  CHECK_EQUAL(4096, k->sockopt(c, hal::kSolSocket, hal::kSoRcvbuf));
  CHECK_EQUAL(-EINVAL, hal::set_buffer_sizes(c, 0, -1));
  CHECK_EQUAL(0, hal::set_buffer_sizes(c, 0, 0));  // nothing to set
  k->fail_next(Call::kSetsockopt, ENOMEM);
  CHECK_EQUAL(-ENOMEM, hal::set_buffer_sizes(c, 8192, 8192));
  CHECK_EQUAL(4096, k->sockopt(c, hal::kSolSocket, hal::kSoRcvbuf));  // stopped at the first
  CHECK_EQUAL(-EINVAL, hal::set_user_timeout(c, -1));
  CHECK_EQUAL(0, hal::set_user_timeout(c, int64_t{1} << 40));  // clamped, not wrapped
  CHECK_EQUAL(0x7fffffff, k->sockopt(c, hal::kIpprotoTcp, hal::kTcpUserTimeout));
  CHECK_EQUAL(0, hal::set_user_timeout(c, 2500));
  CHECK_EQUAL(2500, k->sockopt(c, hal::kIpprotoTcp, hal::kTcpUserTimeout));
}
