// Loop behaviour that must be the same on the real kernel and on the fake.
// Built twice: conformance_fake_test and conformance_linux_test.
#include <cerrno>
#include <vector>

#include "CppUTest/TestHarness.h"
#include "loop/clock.h"
#include "loop/static_loop.h"
#include "test/support/kernel_env.h"

using evl::IoHandle;

namespace {

struct Count {
  int calls = 0;
  uint32_t events = 0;
  bool drain = true;
};

void on_io(evl::Loop& loop, IoHandle h, uint32_t events, void* ctx) {
  auto* c = static_cast<Count*>(ctx);
  ++c->calls;
  c->events |= events;
  if (c->drain && (events & evl::kIn) != 0) {
    char buf[64];
    (void)hal::read(loop.io_fd(h), buf, sizeof buf);
  }
}

// Waits (bounded) until fd is readable: a real kernel expires a timerfd
// from its timer interrupt, a moment after timerfd_settime returns, and
// later still on a busy machine (seen on an aarch64 board under load).
bool wait_readable(int fd) {
  const int ep = hal::epoll_create1(hal::kCloexec);
  hal::EpollEvent ev{hal::kEpollIn, 1};
  const bool added = ep >= 0 && hal::epoll_ctl(ep, hal::kEpollCtlAdd, fd, &ev) == 0;
  hal::EpollEvent out{};
  int r = -EINTR;
  while (added && r == -EINTR) r = hal::epoll_wait(ep, &out, 1, 5000);
  const bool ready = r == 1;
  if (ep >= 0) (void)hal::close(ep);
  return ready;
}

}  // namespace

TEST_GROUP(Conformance) {
  evl::StaticLoop<8>* loop = nullptr;
  int p[2] = {-1, -1};
  void setup() override {
    testenv::setup();
    loop = new evl::StaticLoop<8>();
    CHECK_EQUAL(0, loop->init());
    CHECK_EQUAL(0, hal::pipe2(p, hal::kNonblock | hal::kCloexec));
  }
  void teardown() override {
    delete loop;
    if (p[0] >= 0) (void)hal::close(p[0]);
    if (p[1] >= 0) (void)hal::close(p[1]);
    testenv::teardown();
  }
};

TEST(Conformance, level_triggered_reports_until_drained) {
  Count c;
  c.drain = false;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_io, &c, &h));
  CHECK_EQUAL(1, hal::write(p[1], "a", 1));
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(1, loop->run_once(0));
  char b;
  CHECK_EQUAL(1, hal::read(p[0], &b, 1));
  CHECK_EQUAL(0, loop->run_once(0));
  CHECK_EQUAL(-EAGAIN, hal::read(p[0], &b, 1));
}

TEST(Conformance, edge_triggered_reports_each_arrival_once) {
  Count c;
  c.drain = false;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn | evl::kEdge, on_io, &c, &h));
  CHECK_EQUAL(1, hal::write(p[1], "a", 1));
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(0, loop->run_once(0));
  CHECK_EQUAL(1, hal::write(p[1], "b", 1));
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(0, loop->io_modify(h, evl::kIn | evl::kEdge));  // MOD re-arms the edge
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(3, c.calls);
}

TEST(Conformance, eof_on_pipe_is_hup_and_read_returns_zero) {
  Count c;
  c.drain = false;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_io, &c, &h));
  CHECK_EQUAL(0, hal::close(p[1]));
  p[1] = -1;
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(evl::kHup, c.events & (evl::kHup | evl::kIn));
  char b;
  CHECK_EQUAL(0, hal::read(p[0], &b, 1));
}

TEST(Conformance, writing_to_closed_pipe_is_epipe_and_err) {
  Count c;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[1], evl::kOut, on_io, &c, &h));
  CHECK_EQUAL(0, hal::close(p[0]));
  p[0] = -1;
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(evl::kErr | evl::kOut, c.events);
  // Linux also raises SIGPIPE; keep it blocked and take it from a signalfd.
  const uint64_t pipe_bit = hal::sig_bit(13);
  uint64_t old = 0;
  CHECK_EQUAL(0, hal::sigprocmask(hal::kSigBlock, &pipe_bit, &old));
  CHECK_EQUAL(-EPIPE, hal::write(p[1], "x", 1));
  const int sfd = hal::signalfd(-1, pipe_bit, hal::kNonblock | hal::kCloexec);
  CHECK(sfd >= 0);
  hal::SignalfdSiginfo si{};
  CHECK_EQUAL(static_cast<long>(sizeof si), hal::read(sfd, &si, sizeof si));
  CHECK_EQUAL(13u, si.signo);
  CHECK_EQUAL(-EAGAIN, hal::read(sfd, &si, sizeof si));
  CHECK_EQUAL(0, hal::close(sfd));
  CHECK_EQUAL(0, hal::sigprocmask(hal::kSigSetmask, &old, nullptr));
}

TEST(Conformance, eventfd_counts_and_resets) {
  const int fd = hal::eventfd(0, hal::kNonblock | hal::kCloexec);
  CHECK(fd >= 0);
  uint64_t v = 3;
  CHECK_EQUAL(8, hal::write(fd, &v, 8));
  CHECK_EQUAL(8, hal::write(fd, &v, 8));
  CHECK_EQUAL(8, hal::read(fd, &v, 8));
  CHECK_EQUAL(6u, v);
  CHECK_EQUAL(-EAGAIN, hal::read(fd, &v, 8));
  CHECK_EQUAL(-EINVAL, hal::read(fd, &v, 4));
  CHECK_EQUAL(0, hal::close(fd));
}

TEST(Conformance, closed_while_registered_stop_is_tolerated) {
  Count c;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_io, &c, &h));
  CHECK_EQUAL(0, hal::close(p[0]));
  const int closed = p[0];
  p[0] = -1;
  CHECK_EQUAL(0, loop->run_once(0));
  CHECK_EQUAL(0, loop->io_stop(h));
  CHECK_EQUAL(1u, loop->health().stale_fd_stops);
  CHECK_EQUAL(-EBADF, hal::close(closed));
}

TEST(Conformance, regular_fd_kinds_refused_by_epoll) {
  Count c;
  IoHandle h;
  CHECK_EQUAL(-EBADF, loop->io_start(1000, evl::kIn, on_io, &c, &h));
  CHECK_EQUAL(-EINVAL, loop->io_start(loop->fd(), evl::kIn, on_io, &c, &h));  // itself
}

TEST(Conformance, signal_to_self_arrives_through_the_loop) {
  struct Got {
    int signo = 0;
  } g;
  evl::SignalHandle s;
  CHECK_EQUAL(0, loop->signal_start(
                     10,
                     [](evl::Loop&, evl::SignalHandle, const evl::SignalInfo& i, void* ctx) {
                       static_cast<Got*>(ctx)->signo = i.signo;
                     },
                     &g, &s));
  CHECK_EQUAL(0, hal::kill(hal::getpid(), 10));
  CHECK_EQUAL(1, loop->run_once(1000));
  CHECK_EQUAL(10, g.signo);
  CHECK_EQUAL(0, loop->signal_stop(s));
}

TEST(Conformance, wake_from_same_thread) {
  struct W {
    uint32_t count = 0;
  } w;
  evl::WakeHandle h;
  CHECK_EQUAL(0, loop->wake_start([](evl::Loop&, evl::WakeHandle, uint32_t n,
                                     void* ctx) { static_cast<W*>(ctx)->count += n; },
                                  &w, &h));
  CHECK_EQUAL(0, loop->wake(h));
  CHECK_EQUAL(0, loop->wake(h));
  CHECK_EQUAL(1, loop->run_once(1000));
  CHECK_EQUAL(2u, w.count);
}

namespace {

struct Tick {
  std::vector<int64_t> at;
  int stop_after = 1;
};

void on_tick(evl::Loop& loop, evl::TimerHandle h, uint32_t, void* ctx) {
  auto* t = static_cast<Tick*>(ctx);
  t->at.push_back(loop.now(evl::Clock::kMonotonic));
  if (static_cast<int>(t->at.size()) >= t->stop_after) {
    CHECK_EQUAL(0, loop.timer_stop(h));
  }
}

using evl::kMs;
// Upper bounds are loose: qemu-user and a loaded 2-core machine are slow.
constexpr int64_t kLateMax = 2000 * kMs;

}  // namespace

TEST(Conformance, one_shot_timer_never_fires_early) {
  Tick t;
  evl::TimerHandle h;
  const int64_t start = loop->now(evl::Clock::kMonotonic);
  CHECK_EQUAL(0, loop->timer_after(3 * kMs, on_tick, &t, &h));
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(1u, t.at.size());
  CHECK(t.at[0] - start >= 3 * kMs);
  CHECK(t.at[0] - start < kLateMax);
}

TEST(Conformance, periodic_timer_ticks_on_its_phase) {
  Tick t;
  t.stop_after = 4;
  evl::TimerHandle h;
  evl::TimerSpec s;
  s.period_ns = 2 * kMs;
  s.deadline_ns = loop->now(evl::Clock::kMonotonic) + 2 * kMs;
  CHECK_EQUAL(0, loop->timer_start(s, on_tick, &t, &h));
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(4u, t.at.size());
  for (size_t i = 0; i < 4; ++i) {
    const int64_t due = s.deadline_ns + static_cast<int64_t>(i) * s.period_ns;
    CHECK(t.at[i] >= due);
    CHECK(t.at[i] - due < kLateMax);
  }
}

TEST(Conformance, timerfd_expiry_count_disarm_and_past_absolute) {
  const int fd = hal::timerfd_create(hal::kClockMonotonic, hal::kNonblock | hal::kCloexec);
  CHECK(fd >= 0);
  uint64_t n = 0;
  CHECK_EQUAL(-EAGAIN, hal::read(fd, &n, 8));
  hal::Itimerspec past{{0, 0}, {0, 1}};  // absolute 1 ns: long gone
  CHECK_EQUAL(0, hal::timerfd_settime(fd, hal::kTfdTimerAbstime, &past, nullptr));
  CHECK(wait_readable(fd));
  const long got = hal::read(fd, &n, 8);
  CHECK_EQUAL(8, got);
  CHECK_EQUAL(1u, n);
  hal::Itimerspec cur{{1, 1}, {1, 1}};
  CHECK_EQUAL(0, hal::timerfd_gettime(fd, &cur));
  CHECK_EQUAL(0, cur.value.sec);
  CHECK_EQUAL(0, cur.value.nsec);
  hal::Itimerspec later{{0, 0}, {100, 0}};
  hal::Itimerspec old{};
  CHECK_EQUAL(0, hal::timerfd_settime(fd, 0, &later, nullptr));
  CHECK_EQUAL(0, hal::timerfd_gettime(fd, &cur));
  CHECK(cur.value.sec >= 98 && cur.value.sec <= 100);
  hal::Itimerspec off{{0, 0}, {0, 0}};
  CHECK_EQUAL(0, hal::timerfd_settime(fd, 0, &off, &old));
  CHECK(old.value.sec >= 98);
  CHECK_EQUAL(-EAGAIN, hal::read(fd, &n, 8));
  hal::Itimerspec bad{{0, 0}, {0, 1000000000}};
  CHECK_EQUAL(-EINVAL, hal::timerfd_settime(fd, 0, &bad, nullptr));
  CHECK_EQUAL(-EINVAL, hal::read(fd, &n, 4));
  CHECK_EQUAL(0, hal::close(fd));
  CHECK_EQUAL(-EINVAL, hal::timerfd_create(12345, 0));
}

TEST(Conformance, timerfd_interval_counts_overruns) {
  const int fd = hal::timerfd_create(hal::kClockMonotonic, hal::kNonblock | hal::kCloexec);
  CHECK(fd >= 0);
  const int ep = hal::epoll_create1(hal::kCloexec);
  hal::EpollEvent ev{hal::kEpollIn, 7};
  CHECK_EQUAL(0, hal::epoll_ctl(ep, hal::kEpollCtlAdd, fd, &ev));
  // First expiry 10.5 s in the past, then every 2 s: 6 are due, and the next
  // is 1.5 s away, far beyond any emulation delay between the two reads.
  const int64_t first = evl::now_ns(hal::kClockMonotonic) - 10500000000LL;
  hal::Itimerspec every{{2, 0}, {first / 1000000000, first % 1000000000}};
  CHECK_EQUAL(0, hal::timerfd_settime(fd, hal::kTfdTimerAbstime, &every, nullptr));
  hal::EpollEvent out{};
  CHECK_EQUAL(1, hal::epoll_wait(ep, &out, 1, 2000));
  CHECK_EQUAL(7u, out.data);
  uint64_t n = 0;
  CHECK_EQUAL(8, hal::read(fd, &n, 8));
  CHECK_EQUAL(6u, n);
  CHECK_EQUAL(-EAGAIN, hal::read(fd, &n, 8));  // the count was consumed
  CHECK_EQUAL(0, hal::close(ep));
  CHECK_EQUAL(0, hal::close(fd));
}
