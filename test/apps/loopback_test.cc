// The real binaries on the real kernel, over loopback and a pseudo-terminal.
// Bounded: every child runs with --run-for-ms and exits by itself.
#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "CppUTest/TestHarness.h"
#include "hal/serial.h"
#include "hal/socket.h"
#include "loop/clock.h"

namespace {

std::string binary(const char* rel) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  return (srcdir != nullptr && ws != nullptr) ? std::string(srcdir) + "/" + ws + "/" + rel : rel;
}

int spawn(const std::string& path, std::vector<std::string> args) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(path.c_str()));
  for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int pid = -1;
  CHECK_EQUAL(0, hal::spawn(path.c_str(), argv.data(), &pid));
  return pid;
}

int exit_code(int pid) {
  int status = 0;
  CHECK_EQUAL(pid, hal::waitpid(pid, &status, 0));
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Reads from fd until `until_ns` (monotonic), through epoll: no sleeps.
std::string read_for(int fd, int64_t until_ns, bool datagrams) {
  const int ep = hal::epoll_create1(hal::kCloexec);
  hal::EpollEvent ev{hal::kEpollIn, 1};
  CHECK_EQUAL(0, hal::epoll_ctl(ep, hal::kEpollCtlAdd, fd, &ev));
  std::string out;
  int conn = -1;
  for (;;) {
    const int64_t left_ms = (until_ns - evl::now_ns(hal::kClockMonotonic)) / 1000000;
    if (left_ms <= 0) break;
    hal::EpollEvent got{0, 0};
    if (hal::epoll_wait(ep, &got, 1, static_cast<int>(left_ms)) != 1) continue;
    char buf[4096];
    if (datagrams) {
      const long n = hal::dgram_recv(fd, buf, sizeof buf, nullptr, nullptr);
      if (n > 0) out.append(buf, static_cast<size_t>(n));
    } else if (got.data == 1) {
      if (hal::stream_accept(fd, &conn, nullptr) == 0) {
        hal::EpollEvent cev{hal::kEpollIn, 2};
        CHECK_EQUAL(0, hal::epoll_ctl(ep, hal::kEpollCtlAdd, conn, &cev));
      }
    } else {
      const long n = hal::stream_recv(conn, buf, sizeof buf);
      if (n > 0) out.append(buf, static_cast<size_t>(n));
      if (n == 0) (void)hal::epoll_ctl(ep, hal::kEpollCtlDel, conn, nullptr);
    }
  }
  if (conn >= 0) (void)hal::close(conn);
  CHECK_EQUAL(0, hal::close(ep));
  return out;
}

size_t count(const std::string& text, const char* prefix) {
  size_t n = 0;
  for (size_t pos = 0; (pos = text.find(prefix, pos)) != std::string::npos; ++pos) ++n;
  return n;
}

}  // namespace

TEST_GROUP(Loopback){};

TEST(Loopback, heartbeat_beats_to_a_tcp_server) {
  hal::SockAddr at;
  CHECK_EQUAL(0, hal::parse_address("127.0.0.1:0", &at));
  int l = -1;
  CHECK_EQUAL(0, hal::stream_listen(at, 4, &l));
  CHECK_EQUAL(0, hal::getsockname(l, &at));
  char url[64];
  std::snprintf(url, sizeof url, "tcp://127.0.0.1:%d", hal::address_port(at));
  const int64_t until = evl::now_ns(hal::kClockMonotonic) + 1500000000LL;
  const int pid = spawn(binary("apps/heartbeat/heartbeat"),
                        {"--server", url, "--id", "loop-test", "--period-ms", "100",
                         "--run-for-ms", "1000"});
  const std::string got = read_for(l, until, false);
  CHECK_EQUAL(0, exit_code(pid));
  CHECK(count(got, "HB id=loop-test seq=") >= 5);
  // The first beat leaves one period after start; how much later depends on
  // the machine's load, so only the lower bound is exact.
  const size_t first = got.find("HB id=loop-test seq=1 uptime_ms=");
  CHECK(first != std::string::npos);
  CHECK(std::atoll(got.c_str() + first + std::strlen("HB id=loop-test seq=1 uptime_ms=")) >= 100);
  CHECK_EQUAL(0, hal::close(l));
}

TEST(Loopback, telemetry_forwards_a_pty_sensor_to_a_udp_collector) {
  hal::SockAddr at;
  CHECK_EQUAL(0, hal::parse_address("127.0.0.1:0", &at));
  int col = -1;
  CHECK_EQUAL(0, hal::dgram_bind(at, &col));
  CHECK_EQUAL(0, hal::getsockname(col, &at));
  int master = -1, slave = -1;
  char path[64];
  CHECK_EQUAL(0, hal::openpty(&master, &slave, path, sizeof path));
  char url[64];
  std::snprintf(url, sizeof url, "udp://127.0.0.1:%d", hal::address_port(at));
  const int pid = spawn(binary("apps/telemetry/telemetry"),
                        {"--serial", path, "--baud", "115200", "--collector", url,
                         "--batch-max", "2", "--batch-delay-ms", "50", "--run-for-ms", "1200"});
  // The sensor: a few sentences once telemetry has had time to open the tty.
  std::string frames;
  {
    const char* body = "IIXDR,C,21.50,C,TEMP,H,40.0,P,HUM,P,1.0100,B,PRESS";
    unsigned sum = 0;
    for (const char* p = body; *p; ++p) sum ^= static_cast<unsigned char>(*p);
    char line[128];
    std::snprintf(line, sizeof line, "$%s*%02X\r\n", body, sum);
    for (int i = 0; i < 5; ++i) frames += line;
    frames += "garbage\x01\x02 $BAD*00\r\n";
  }
  const int64_t start = evl::now_ns(hal::kClockMonotonic);
  std::string got = read_for(col, start + 300000000LL, true);  // telemetry opens the pty
  CHECK_EQUAL(static_cast<long>(frames.size()), hal::write(master, frames.data(), frames.size()));
  got += read_for(col, start + 1500000000LL, true);
  CHECK_EQUAL(0, exit_code(pid));
  CHECK_EQUAL(5u, count(got, "env,device=dev0 temp_c=21.50,humidity_pct=40.0,pressure_bar=1.0100 "));
  for (int fd : {master, slave, col}) CHECK_EQUAL(0, hal::close(fd));
}

TEST(Loopback, bad_configuration_exits_2_with_one_line) {
  CHECK_EQUAL(2, exit_code(spawn(binary("apps/heartbeat/heartbeat"), {"--server", "http://x"})));
  CHECK_EQUAL(2, exit_code(spawn(binary("apps/heartbeat/heartbeat"), {"--period-ms", "abc"})));
  CHECK_EQUAL(2, exit_code(spawn(binary("apps/telemetry/telemetry"),
                                 {"--collector", "udp://127.0.0.1:1"})));
  CHECK_EQUAL(2, exit_code(spawn(binary("apps/telemetry/telemetry"),
                                 {"--serial", "/dev/null", "--collector", "udp://x:1"})));
  CHECK_EQUAL(0, exit_code(spawn(binary("apps/sensor_sim/sensor_sim"), {"--run-for-ms", "100"})));
  CHECK_EQUAL(0, exit_code(spawn(binary("apps/telemetry/telemetry"), {"--help"})));
}

TEST(Loopback, missing_serial_device_is_survived) {
  const int pid = spawn(binary("apps/telemetry/telemetry"),
                        {"--serial", "/dev/evl-missing-tty", "--collector", "udp://127.0.0.1:9",
                         "--run-for-ms", "300"});
  CHECK_EQUAL(0, exit_code(pid));  // logged, retried, and still a clean exit
}
