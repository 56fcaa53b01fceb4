// The real seam (//hal:sys_linux) on Linux: every call reports a failure as
// -errno and leaves its outputs alone, and the paths with optional outputs
// work both ways. Bad descriptors and arguments, and two spawned `sleep`s
// ended by signals: nothing here asserts a time (the one bound, 10 s, is
// for a program the signal cannot reach).
#include <sys/wait.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <string>

#include "CppUTest/TestHarness.h"
#include "hal/address.h"
#include "hal/sys.h"

namespace {
constexpr int kBad = -1;  // never a descriptor
constexpr int kAfUnix = 1;
constexpr int kSockStream = 1;
constexpr int kClockBogus = 9999;
}  // namespace

TEST_GROUP(SysLinux){};

TEST(SysLinux, file_calls_report_errno) {
  char buf[4] = {'x', 'x', 'x', 'x'};
  CHECK_EQUAL(-EBADF, hal::read(kBad, buf, sizeof buf));
  CHECK_EQUAL('x', buf[0]);
  CHECK_EQUAL(-EBADF, hal::write(kBad, buf, sizeof buf));
  CHECK_EQUAL(-EBADF, hal::close(kBad));
  int fds[2] = {7, 7};
  CHECK_EQUAL(-EINVAL, hal::pipe2(fds, 0x7fffffff));
  CHECK_EQUAL(7, fds[0]);
  CHECK_EQUAL(-ENOENT, hal::open("/nonexistent/evl", 0, 0));
  CHECK_EQUAL(-EBADF, hal::dup(kBad));
  hal::FileStat st{123, 456};
  CHECK_EQUAL(-EBADF, hal::fstat(kBad, &st));
  CHECK_EQUAL(123u, st.mode);
  CHECK_EQUAL(-EBADF, hal::get_status_flags(kBad));
  CHECK_EQUAL(-EBADF, hal::set_status_flags(kBad, 0));
  CHECK_EQUAL(-EBADF, hal::ioctl(kBad, 0x541B, &st));
  // and a success, for the outputs
  CHECK_EQUAL(0, hal::pipe2(fds, hal::kCloexec));
  CHECK_EQUAL(0, hal::fstat(fds[0], &st));
  CHECK_EQUAL(hal::kSIfifo, st.mode & hal::kSIfmt);
  CHECK_EQUAL(0, st.size);
  CHECK_EQUAL(0, hal::close(fds[0]));
  CHECK_EQUAL(0, hal::close(fds[1]));
}

TEST(SysLinux, a_pty_name_that_does_not_fit_is_erange_and_leaks_nothing) {
  int m = 42, s = 42;
  char name[4];
  CHECK_EQUAL(-ERANGE, hal::openpty(&m, &s, name, sizeof name));
  CHECK_EQUAL(42, m);
  CHECK_EQUAL(42, s);
}

TEST(SysLinux, socket_calls_report_errno) {
  hal::SockAddr a;
  CHECK_EQUAL(0, hal::parse_address("127.0.0.1:1", &a));
  CHECK_EQUAL(-EAFNOSUPPORT, hal::socket(4242, kSockStream, 0));
  int fds[2] = {7, 7};
  CHECK_EQUAL(-EAFNOSUPPORT, hal::socketpair(4242, kSockStream, 0, fds));  // (Linux may write fds)
  CHECK_EQUAL(-EBADF, hal::bind(kBad, &a));
  CHECK_EQUAL(-EBADF, hal::connect(kBad, &a));
  CHECK_EQUAL(-EBADF, hal::listen(kBad, 1));
  CHECK_EQUAL(-EBADF, hal::accept4(kBad, &a, 0));
  CHECK_EQUAL(-EBADF, hal::accept4(kBad, nullptr, 0));
  int v = 0;
  uint32_t len = sizeof v;
  CHECK_EQUAL(-EBADF, hal::getsockopt(kBad, 1, 4, &v, &len));
  CHECK_EQUAL(-EBADF, hal::setsockopt(kBad, 1, 4, &v, sizeof v));
  CHECK_EQUAL(-EBADF, hal::getsockname(kBad, &a));
  CHECK_EQUAL(-EBADF, hal::getpeername(kBad, &a));
  char b[4] = {};
  CHECK_EQUAL(-EBADF, hal::sendto(kBad, b, sizeof b, 0, nullptr));
  CHECK_EQUAL(-EBADF, hal::sendto(kBad, b, sizeof b, 0, &a));
  CHECK_EQUAL(-EBADF, hal::recvfrom(kBad, b, sizeof b, 0, nullptr));
  CHECK_EQUAL(-EBADF, hal::recvfrom(kBad, b, sizeof b, 0, &a));
  CHECK_EQUAL(-EBADF, hal::shutdown(kBad, 2));
}

TEST(SysLinux, optional_outputs_of_accept_and_recvfrom) {
  int fds[2] = {-1, -1};
  CHECK_EQUAL(0, hal::socketpair(kAfUnix, kSockStream | hal::kCloexec, 0, fds));
  char b[8] = {};
  CHECK_EQUAL(3, hal::sendto(fds[0], "abc", 3, 0, nullptr));
  hal::SockAddr from;
  from.len = 99;
  CHECK_EQUAL(3, hal::recvfrom(fds[1], b, sizeof b, 0, &from));
  CHECK(from.len <= sizeof from.data);  // an unnamed peer: just the family, or nothing
  CHECK_EQUAL(3, hal::sendto(fds[1], "def", 3, 0, nullptr));
  CHECK_EQUAL(3, hal::recvfrom(fds[0], b, sizeof b, 0, nullptr));
  MEMCMP_EQUAL("def", b, 3);
  CHECK_EQUAL(0, hal::close(fds[0]));
  CHECK_EQUAL(0, hal::close(fds[1]));
}

namespace {
int g_in_child = 0;  // the child's copy changes, the parent's does not
struct ChildJob {
  int fd;      // a pipe's write end
  int result;  // what the work returns
};
int child_job(void* ctx) {
  const auto* j = static_cast<ChildJob*>(ctx);
  g_in_child = 1;
  const char c = static_cast<char>('0' + (j->result == 0 ? 0 : 1));
  if (hal::write(j->fd, &c, 1) != 1) return -EPIPE;
  return j->result;
}
}  // namespace

namespace {
int read_one(void* fd) {
  char c = 0;
  return hal::read(*static_cast<int*>(fd), &c, 1) == 1 && c == 'w' ? 0 : -EIO;
}
}  // namespace

// A writer left to finish is ended by SIGKILL only: SIGTERM, SIGINT and
// SIGHUP sent at once after the fork (blocked from the child's first
// instruction) do not end it; its work then completes and it exits 0.
TEST(SysLinux, run_in_child_work_is_not_ended_by_termination_signals) {
  int fds[2] = {-1, -1};
  CHECK_EQUAL(0, hal::pipe2(fds, hal::kCloexec));
  int pid = 0;
  CHECK_EQUAL(0, hal::run_in_child(read_one, &fds[0], &pid));
  for (const int signo : {hal::kSigTerm, hal::kSigInt, hal::kSigHup, hal::kSigPipe}) {
    CHECK_EQUAL(0, hal::kill(pid, signo));
  }
  CHECK_EQUAL(1, hal::write(fds[1], "w", 1));
  int status = -1;
  CHECK_EQUAL(pid, hal::waitpid(pid, &status, 0));
  CHECK_EQUAL_TEXT(0, status, "ended by a signal, or its work failed");
  CHECK_EQUAL(0, hal::close(fds[0]));
  CHECK_EQUAL(0, hal::close(fds[1]));
}

TEST(SysLinux, run_in_child_runs_the_work_in_a_forked_child_with_its_result_as_exit_status) {
  int fds[2] = {-1, -1};
  CHECK_EQUAL(0, hal::pipe2(fds, hal::kCloexec));
  for (const int result : {0, -EIO, -300}) {
    ChildJob job{fds[1], result};
    int pid = 0;
    CHECK_EQUAL(0, hal::run_in_child(child_job, &job, &pid));
    CHECK(pid > 0);
    int status = -1;
    CHECK_EQUAL(pid, hal::waitpid(pid, &status, 0));
    CHECK(hal::exited_normally(status));
    CHECK_EQUAL(result == 0 ? 0 : (result == -EIO ? EIO : 255), hal::exit_status(status));
    char c = 0;
    CHECK_EQUAL(1, hal::read(fds[0], &c, 1));  // the work ran
    CHECK_EQUAL(result == 0 ? '0' : '1', c);
  }
  CHECK_EQUAL(0, g_in_child);  // the child's memory was its own copy
  CHECK_EQUAL(0, hal::close(fds[0]));
  CHECK_EQUAL(0, hal::close(fds[1]));
}

namespace {

// Whether pid ends by signal signo within 10 s (a busy machine's bound; a
// program the signal cannot reach sleeps on and is killed after it).
bool ends_by(int pid, int signo) {
  int status = 0;
  for (int i = 0; i < 1000; ++i) {
    const int r = hal::waitpid(pid, &status, hal::kWnohang);
    if (r == pid) return WIFSIGNALED(status) && WTERMSIG(status) == signo;
    if (r < 0) return false;
    const timespec tick{0, 10 * 1000 * 1000};
    (void)nanosleep(&tick, nullptr);
  }
  (void)hal::kill(pid, hal::kSigKill);
  (void)hal::waitpid(pid, &status, 0);
  return false;
}

}  // namespace

// The field fault: heartbeat's alarm command inherited the loop's blocked
// signals (SIGHUP, SIGINT, SIGPIPE and SIGTERM: its SigBlk read 0x5003),
// so neither kill nor systemd's stop could end it gracefully, nor a write
// to a closed pipe. A spawned program starts with no signal blocked and
// every signal at its default action, as libuv's uv_spawn gives: `sleep`
// spawned while SIGTERM is blocked here ends by SIGTERM, and while SIGINT
// is ignored here, by SIGINT.
TEST(SysLinux, a_spawned_program_starts_with_no_signal_blocked_or_ignored) {
  const uint64_t block =
      hal::sig_bit(hal::kSigTerm) | hal::sig_bit(hal::kSigHup) | hal::sig_bit(hal::kSigPipe);
  uint64_t old = 0;
  CHECK_EQUAL(0, hal::sigprocmask(hal::kSigBlock, &block, &old));
  struct sigaction ignore {
  }, was{};
  ignore.sa_handler = SIG_IGN;
  CHECK_EQUAL(0, sigaction(SIGINT, &ignore, &was));
  std::string sleep = "/bin/sleep", secs = "30";
  char* argv[] = {sleep.data(), secs.data(), nullptr};
  int term = 0, intr = 0;
  const int r1 = hal::spawn(sleep.c_str(), argv, &term);
  const int r2 = hal::spawn(sleep.c_str(), argv, &intr);
  const bool termed = r1 == 0 && hal::kill(term, hal::kSigTerm) == 0 && ends_by(term, SIGTERM);
  const bool interrupted = r2 == 0 && hal::kill(intr, hal::kSigInt) == 0 && ends_by(intr, SIGINT);
  CHECK_EQUAL(0, hal::sigprocmask(hal::kSigSetmask, &old, nullptr));
  CHECK_EQUAL(0, sigaction(SIGINT, &was, nullptr));
  CHECK_EQUAL(0, r1);
  CHECK_EQUAL(0, r2);
  CHECK_TEXT(termed, "a spawned sleep did not end by SIGTERM (blocked in it?)");
  CHECK_TEXT(interrupted, "a spawned sleep did not end by SIGINT (ignored in it?)");
}

TEST(SysLinux, process_signal_and_timer_calls_report_errno) {
  char arg0[] = "nonexistent";
  char* argv[] = {arg0, nullptr};
  int pid = 77;
  int status = 0;
  const int r = hal::spawn("/nonexistent/evl-child", argv, &pid);
  if (r == 0) {
    // POSIX lets posix_spawn report a failed exec as exit status 127
    // instead; qemu-user does (it runs glibc's vfork-style clone as a fork).
    CHECK_EQUAL(pid, hal::waitpid(pid, &status, 0));
    CHECK(hal::exited_normally(status));
    CHECK_EQUAL(127, hal::exit_status(status));
  } else {
    CHECK_EQUAL(-ENOENT, r);
    CHECK_EQUAL(77, pid);
  }
  CHECK_EQUAL(-ECHILD, hal::waitpid(-1, &status, hal::kWnohang));
  const int pidfd = hal::pidfd_open(-1);
  CHECK(pidfd == -EINVAL || pidfd == -ENOSYS);
  CHECK_EQUAL(-EINVAL, hal::epoll_create1(0x7fffffff));
  hal::EpollEvent ev{};
  CHECK_EQUAL(-EBADF, hal::epoll_ctl(kBad, hal::kEpollCtlAdd, 0, &ev));
  CHECK_EQUAL(-EBADF, hal::epoll_wait(kBad, &ev, 1, 0));
  CHECK_EQUAL(-EINVAL, hal::eventfd(0, 0x7fffffff));
  CHECK_EQUAL(-EBADF, hal::signalfd(-2, 1, 0));
  uint64_t mask = 0;
  uint64_t old = 0x55;
  CHECK_EQUAL(-EINVAL, hal::sigprocmask(99, &mask, &old));
  CHECK_EQUAL(0x55u, old);
  CHECK_EQUAL(0, hal::sigprocmask(0 /* SIG_BLOCK */, nullptr, nullptr));
  CHECK_EQUAL(-ESRCH, hal::kill(0x7ffffff0, 0));
  hal::Timespec ts{5, 6};
  CHECK_EQUAL(-EINVAL, hal::clock_gettime(kClockBogus, &ts));
  CHECK_EQUAL(5, ts.sec);
  CHECK_EQUAL(-EINVAL, hal::timerfd_create(kClockBogus, 0));
  hal::Itimerspec its{};
  hal::Itimerspec old_its{{1, 2}, {3, 4}};
  CHECK_EQUAL(-EBADF, hal::timerfd_settime(kBad, 0, &its, &old_its));
  CHECK_EQUAL(1, old_its.interval.sec);
  CHECK_EQUAL(-EBADF, hal::timerfd_gettime(kBad, &old_its));
  CHECK_EQUAL(3, old_its.value.sec);
}

// Without GRND_NONBLOCK a board whose pool is not ready yet would wait
// here: the board stage's vexpress has no entropy source, and its pool is
// not ready for a while after boot (-EAGAIN: the case the daemons fall
// back from). Then the bytes are not compared; the errors still are.
TEST(SysLinux, getrandom_fills_the_buffer_or_reports_errno) {
  unsigned char a[32] = {}, b[32] = {};
  const long got = hal::getrandom(a, sizeof a, hal::kGrndNonblock);
  if (got != -EAGAIN) {
    CHECK_EQUAL(32, got);
    CHECK_EQUAL(32, hal::getrandom(b, sizeof b, hal::kGrndNonblock));
    CHECK(std::memcmp(a, b, sizeof a) != 0);  // 2^-256 to fail by chance
  }
  unsigned char c[4] = {1, 2, 3, 4};
  CHECK_EQUAL(-EINVAL, hal::getrandom(c, sizeof c, 0x80000000u));
  CHECK_EQUAL(1, c[0]);
}

// A deadline past 2038 must reach the kernel whole. On armv7 with a 32-bit
// time_t it used to be cut to 32 bits, landing in the past: the loop's far
// realtime wake-up (armed only to see clock steps) then fired at once, for
// ever, and telemetry spun at 100% CPU (found by the flight recorder's
// armv7 recording).
TEST(SysLinux, a_deadline_after_2038_is_not_cut_to_32_bits) {
  const int fd = hal::timerfd_create(hal::kClockRealtime, hal::kCloexec | hal::kNonblock);
  CHECK(fd >= 0);
  const hal::Itimerspec far{{0, 0}, {int64_t{4102444800}, 0}};  // 2100-01-01
  CHECK_EQUAL(0, hal::timerfd_settime(fd, hal::kTfdTimerAbstime, &far, nullptr));
  hal::Itimerspec left{};
  CHECK_EQUAL(0, hal::timerfd_gettime(fd, &left));
  CHECK(left.value.sec > int64_t{1} << 31);  // more than 68 years still to go
  uint64_t expirations = 0;
  CHECK_EQUAL(-EAGAIN, hal::read(fd, &expirations, sizeof expirations));
  hal::Timespec now{};
  CHECK_EQUAL(0, hal::clock_gettime(hal::kClockRealtime, &now));
  CHECK(now.sec > 1700000000);
  CHECK_EQUAL(0, hal::close(fd));
}
