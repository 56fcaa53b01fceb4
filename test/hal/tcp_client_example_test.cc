// The README's reconnecting TCP client, on the fake kernel.
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "CppUTest/TestHarness.h"
#include "apps/examples/tcp_client.h"
#include "loop/static_loop.h"
#include "test/fake/kernel.h"

namespace {

using evl::kMs;

struct Server {
  int listener = -1;
  int conn = -1;
  int64_t listening_at = 0;
};

std::string slurp(const std::string& rel) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  std::ifstream in((srcdir != nullptr && ws != nullptr) ? std::string(srcdir) + "/" + ws + "/" + rel
                                                        : rel);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_GROUP(TcpClientExample){};

TEST(TcpClientExample, backs_off_while_refused_then_connects_and_reconnects_after_a_drop) {
  fake::Kernel k;
  evl::StaticLoop<4, 4> loop;
  CHECK_EQUAL(0, loop.init());
  const int64_t t0 = k.monotonic_ns();
  examples::Client c{&loop, {}, {}, {}, 0, false, 0, 0};
  CHECK_EQUAL(0, hal::parse_address("127.0.0.1:8080", &c.server));
  examples::client_start(&c);
  Server srv;
  evl::TimerHandle t;
  // The server comes up at 250 ms. Attempts at 0 and 100 ms are refused; the
  // one at 300 ms (back-off 200 ms) connects.
  CHECK_EQUAL(0, loop.timer_after(
                     250 * kMs,
                     [](evl::Loop& lp, evl::TimerHandle, uint32_t, void* ctx) {
                       auto* s = static_cast<Server*>(ctx);
                       hal::SockAddr at;
                       CHECK_EQUAL(0, hal::parse_address("127.0.0.1:8080", &at));
                       CHECK_EQUAL(0, hal::stream_listen(at, 4, &s->listener));
                       s->listening_at = lp.now(evl::Clock::kMonotonic);
                     },
                     &srv, &t));
  while (c.connects == 0) CHECK(loop.run_once(-1) >= 0);
  CHECK_EQUAL(2, c.failures);  // refused at 0 ms and at 100 ms
  CHECK_EQUAL(t0 + 300 * kMs, loop.now(evl::Clock::kMonotonic));
  CHECK_EQUAL(0, hal::stream_accept(srv.listener, &srv.conn, nullptr));
  char buf[16];
  CHECK_EQUAL(6, hal::stream_recv(srv.conn, buf, sizeof buf));
  CHECK_EQUAL(std::string("hello\n"), std::string(buf, 6));
  CHECK_EQUAL(0, hal::close(srv.conn));  // the server drops the client
  while (c.connects == 1) CHECK(loop.run_once(-1) >= 0);
  CHECK_EQUAL(3, c.failures);
  CHECK_EQUAL(t0 + 400 * kMs, loop.now(evl::Clock::kMonotonic));  // back-off was reset
  CHECK(loop.verify());
}

TEST(TcpClientExample, readme_quotes_it_verbatim) {
  const std::string src = slurp("apps/examples/tcp_client.cc");
  const size_t a = src.find("// [readme-begin]\n");
  const size_t b = src.find("// [readme-end]");
  CHECK(a != std::string::npos && b != std::string::npos);
  const std::string code = src.substr(a + 18, b - a - 18);
  CHECK(slurp("README.md").find(code) != std::string::npos);
}
