// The daemons' log on the real kernel: attach() keeps lines from blocking
// the loop without changing the description stderr shares with the shell
// and with the programs the daemon starts. The field fault: attach() set
// O_NONBLOCK on stderr's own description, so a terminal stayed
// non-blocking after a daemon was killed (the next program reading it got
// EAGAIN) and an alarm command inherited a non-blocking stderr.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include <unistd.h>

#include "CppUTest/TestHarness.h"
#include "apps/common/log.h"
#include "hal/sys.h"
#include "loop/static_loop.h"

namespace {

using TestLoop = evl::StaticLoop<8, 8, 4, 1, 4>;

bool nonblocking(int fd) {
  const int flags = hal::get_status_flags(fd);
  CHECK(flags >= 0);
  return (flags & hal::kNonblock) != 0;
}

// What fd holds now (non-blocking reads until EAGAIN or the end).
std::string drain(int fd) {
  std::string out;
  char buf[4096];
  long n;
  while ((n = hal::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

}  // namespace

TEST_GROUP(LogLinux) {
  std::unique_ptr<TestLoop> loop{new TestLoop()};
  void setup() override { CHECK_EQUAL(0, loop->init()); }
};

// A pipe nobody reads: 400 lines of 500 bytes (more than the pipe and the
// log's buffer hold) cost lines, not the loop, and the pipe's write end
// stays blocking for everyone else, during and after.
TEST(LogLinux, a_full_pipe_costs_lines_and_its_description_stays_blocking) {
  int p[2] = {-1, -1};
  CHECK_EQUAL(0, hal::pipe2(p, hal::kCloexec));
  {
    app::Log log("t", p[1]);
    CHECK_EQUAL(0, log.attach(*loop));
    CHECK_FALSE(nonblocking(p[1]));
    for (int i = 0; i < 400; ++i) log.log(app::Level::kInfo, "%0480d", i);
    CHECK(log.lost() > 0);
    CHECK_FALSE(nonblocking(p[1]));
    CHECK_EQUAL(0, hal::set_status_flags(p[0], hal::kNonblock));
    const std::string got = drain(p[0]);
    CHECK(got.size() >= 4096);
    STRCMP_EQUAL("t: info: 000", got.substr(0, 12).c_str());
    log.detach();
  }
  CHECK_FALSE(nonblocking(p[1]));
  CHECK_EQUAL(0, hal::close(p[0]));
  CHECK_EQUAL(0, hal::close(p[1]));
}

// A terminal (a pty's slave opened blocking, as a shell's stderr is): its
// description stays blocking; the lines reach the master.
TEST(LogLinux, a_terminal_stays_blocking_and_gets_the_lines) {
  int master = -1, slave = -1;
  char name[64] = {};
  CHECK_EQUAL(0, hal::openpty(&master, &slave, name, sizeof name));
  const int tty = hal::open(name, hal::kRdWr | hal::kNoCtty | hal::kCloexec, 0);
  CHECK(tty >= 0);
  {
    app::Log log("t", tty);
    CHECK_EQUAL(0, log.attach(*loop));
    CHECK_FALSE(nonblocking(tty));
    log.log(app::Level::kWarning, "on the terminal");
    CHECK(loop->run_once(0) >= 0);
    log.detach();
  }
  CHECK_FALSE(nonblocking(tty));
  STRCMP_CONTAINS("t: warning: on the terminal", drain(master).c_str());
  for (int fd : {tty, slave, master}) CHECK_EQUAL(0, hal::close(fd));
}

// A socket (journald's stream, which systemd gives as stdout and stderr
// both, to the daemon and to the alarm command it starts) cannot be opened
// anew: its description stays blocking all along (a daemon killed while
// attached left it non-blocking for everyone, and the alarm command's
// writes failed with EAGAIN meanwhile); a full one costs lines, not the
// loop. A regular file never blocks: it is appended to while attached.
TEST(LogLinux, a_socket_stays_blocking_and_a_full_one_costs_lines_and_a_file_is_appended_to) {
  int sv[2] = {-1, -1};
  CHECK_EQUAL(0, hal::socketpair(hal::kAfUnix, hal::kSockStream | hal::kCloexec, 0, sv));
  const int small = 4096;
  CHECK_EQUAL(0, hal::setsockopt(sv[1], hal::kSolSocket, hal::kSoSndbuf, &small, sizeof small));
  {
    app::Log log("t", sv[1]);
    CHECK_EQUAL(0, log.attach(*loop));
    CHECK_FALSE(nonblocking(sv[1]));
    log.log(app::Level::kInfo, "to the journal");
    for (int i = 0; i < 400; ++i) log.log(app::Level::kInfo, "%0480d", i);
    CHECK(log.lost() > 0);
    CHECK_FALSE(nonblocking(sv[1]));
    log.detach();
  }
  CHECK_FALSE(nonblocking(sv[1]));
  CHECK_EQUAL(0, hal::set_status_flags(sv[0], hal::kNonblock));
  STRCMP_CONTAINS("t: info: to the journal", drain(sv[0]).c_str());
  for (int fd : sv) CHECK_EQUAL(0, hal::close(fd));

  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/evl-log-linux.txt";
  // Opened as `2> FILE` opens it (no O_APPEND); emptied under the daemon
  // by logrotate's copytruncate: the next line starts the file again (it
  // went past a hole of NULs as long as the file had been).
  const int f =
      hal::open(path.c_str(), hal::kWrOnly | hal::kCreat | hal::kTrunc | hal::kCloexec, 0644);
  CHECK(f >= 0);
  {
    app::Log log("t", f);
    CHECK_EQUAL(0, log.attach(*loop));
    CHECK_FALSE(nonblocking(f));
    log.log(app::Level::kInfo, "before the rotation");
    CHECK_EQUAL(0, ::truncate(path.c_str(), 0));
    log.log(app::Level::kInfo, "to a file");
    log.detach();
  }
  CHECK_EQUAL(0, hal::get_status_flags(f) & hal::kAppend);  // given back as it was
  CHECK_EQUAL(0, hal::close(f));
  const int r = hal::open(path.c_str(), hal::kRdOnly | hal::kCloexec, 0);
  CHECK(r >= 0);
  STRCMP_EQUAL("t: info: to a file\n", drain(r).c_str());
  CHECK_EQUAL(0, hal::close(r));
  (void)hal::unlink(path.c_str());
}
