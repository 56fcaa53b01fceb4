// evl, used as a firmware app would: default options (callbacks not timed;
// the daemons time them). Built with the seam as shipped (//hal:sys_linux);
// bench_syscalls builds it with the counting seam for the system-call figures.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <new>
#include <vector>

#include "hal/sys.h"
#include "loop/static_loop.h"
#include "test/bench/bench.h"

#ifdef EVL_SYSCALL_COUNTERS
#include "hal/sys_counters.h"
#endif
#ifdef EVL_BENCH_RECORDER
#include <cstdlib>
#include <cstring>

#include "hal/flight.h"
#endif

namespace bench {
namespace {

// Room for the 100k timers of the largest workload plus the loop's own.
using BigLoop = evl::StaticLoop<10000, 100016, 1, 1, 1, 64, 1>;
BigLoop g_loop;  // static storage: 6 MB, no heap

// A new loop for each phase, as every other backend makes one (ev_loop_new,
// uv_loop_init, the floor's own tables): a loop kept across phases keeps its
// pools' free lists in the order the last phase left them (after the fire
// phase, random), and the next phase's starts would walk memory at random.
evl::Loop& fresh_loop() {
  g_loop.~BigLoop();
  new (&g_loop) BigLoop();
  return g_loop;
}

// The link comes from the callback's context, as for every backend.
void on_io(evl::Loop& loop, evl::IoHandle, uint32_t, void* ctx) {
  if (chain_step(*static_cast<ChainLink*>(ctx))) loop.stop();
}

struct Timers {
  std::vector<evl::TimerHandle> h;
  uint64_t fired = 0;
};

void on_timer(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  ++static_cast<Timers*>(ctx)->fired;
}

struct Restarter {
  Timers* timers;
  uint64_t restarts;
  Rand* r;
  uint64_t t1 = 0, t2 = 0;
};

void do_restarts(evl::Loop& loop, evl::TimerHandle, uint32_t, void* ctx) {
  auto* rs = static_cast<Restarter*>(ctx);
  const size_t n = rs->timers->h.size();
  measure_begin();
  rs->t1 = now_ns();
  for (uint64_t i = 0; i < rs->restarts; ++i) {
    const evl::TimerHandle t = rs->timers->h[rs->r->next() % n];
    (void)loop.timer_restart(t, static_cast<int64_t>(rs->r->in(1000000000, 2000000000)));
  }
  rs->t2 = now_ns();
  measure_end();
  loop.stop();
}

struct Acc {
  Lateness* late;
  uint64_t start, period, n, ticks;
};

void on_tick(evl::Loop& loop, evl::TimerHandle h, uint32_t missed, void* ctx) {
  auto* a = static_cast<Acc*>(ctx);
  const uint64_t now = now_ns();
  a->n += 1 + missed;
  a->late->skipped += missed;
  const uint64_t due = a->start + a->n * a->period;
  a->late->us.push_back(now > due ? static_cast<double>(now - due) / 1000.0 : 0.0);
  if (a->n >= a->ticks) {
    (void)loop.timer_stop(h);
    loop.stop();
  }
}

// Starts timers.h[i] (sized by the caller) at base + d[i].
void start_all(evl::Loop& loop, Timers* timers, const std::vector<uint64_t>& d, int64_t base) {
  evl::TimerSpec spec;
  for (size_t i = 0; i < d.size(); ++i) {
    spec.deadline_ns = base + static_cast<int64_t>(d[i]);
    (void)loop.timer_start(spec, on_timer, timers, &timers->h[i]);
  }
}

}  // namespace

Phase ours_chain(int n, int a, uint64_t events) {
  Phase ph;
#ifdef EVL_BENCH_RECORDER
  // Recording from here on: the default ring, wrapping during the run
  // (EVL_BENCH_RECORDER=off: linked but not started).
  static char prog[] = "bench";
  static char* argv[] = {prog, nullptr};
  const char* mode = std::getenv("EVL_BENCH_RECORDER");
  const bool off = mode != nullptr && std::strcmp(mode, "off") == 0;
  if (!off && !flight::recording() &&
      flight::start(prog, 1, argv, "/tmp/evl-bench.rec", flight::kDefaultRingBytes) != 0) {
    std::abort();
  }
#endif
  evl::Loop& loop = fresh_loop();
  (void)loop.init();
  std::vector<int> rd, wr;
  pairs(n, &rd, &wr);
  uint64_t count = 0;
  std::vector<ChainLink> chain = chain_links(rd, wr, &count, events);
#ifdef EVL_SYSCALL_COUNTERS
  const hal::SyscallCounts before_setup = hal::syscall_counts();
#endif
  const uint64_t t0 = now_ns();
  for (int i = 0; i < n; ++i) {
    evl::IoHandle h;
    (void)loop.io_start(rd[static_cast<size_t>(i)], evl::kIn, on_io, &chain[static_cast<size_t>(i)],
                        &h);
  }
  ph.setup_ns_per_watcher = static_cast<double>(now_ns() - t0) / n;
#ifdef EVL_SYSCALL_COUNTERS
  ph.epoll_ctls_per_watcher =
      static_cast<double>(hal::syscall_counts().epoll_ctl - before_setup.epoll_ctl) / n;
#endif
  for (int k = 0; k < a; ++k) {
    const ssize_t w = write(wr[static_cast<size_t>(k * n / a)], "x", 1);
    (void)w;
  }
#ifdef EVL_SYSCALL_COUNTERS
  const hal::SyscallCounts before = hal::syscall_counts();
#endif
  measure_begin();
  const uint64_t t1 = now_ns();
  (void)loop.run();
  const uint64_t t2 = now_ns();
  measure_end();
  per_op(&ph, t1, t2, count);
#ifdef EVL_SYSCALL_COUNTERS
  const hal::SyscallCounts& after = hal::syscall_counts();
  const double ops = static_cast<double>(count);
  // The loop's own system calls (the callbacks' read and write are not
  // counted: they do not go through the seam).
  ph.syscalls_per_op = static_cast<double>(after.total - before.total) / ops;
  ph.epoll_waits_per_op = static_cast<double>(after.epoll_wait - before.epoll_wait) / ops;
  ph.timerfd_arms_per_op =
      static_cast<double>(after.timerfd_settime - before.timerfd_settime) / ops;
#endif
  loop.close();
  // Through the seam, as an app closes its fds (this call also makes the
  // linker take the seam's object: nothing else here calls it).
  for (int fd : rd) (void)hal::close(fd);
  return ph;
}

// Timers with absolute deadlines from one clock reading, as libev's are
// relative to its cached now and the floor's to one base.
Phase ours_timer_start(int t) {
  Phase ph;
  evl::Loop& loop = fresh_loop();
  (void)loop.init();
  Timers timers;
  timers.h.resize(static_cast<size_t>(t));
  const std::vector<uint64_t> d = delays_ns(t, kSecLoNs, kSecHiNs);
  measure_begin();
  const uint64_t t1 = now_ns();
  start_all(loop, &timers, d, loop.now(evl::Clock::kMonotonic));
  const uint64_t t2 = now_ns();
  measure_end();
  per_op(&ph, t1, t2, static_cast<uint64_t>(t));
  loop.close();
  return ph;
}

Phase ours_timer_stop(int t) {
  Phase ph;
  evl::Loop& loop = fresh_loop();
  (void)loop.init();
  Timers timers;
  timers.h.resize(static_cast<size_t>(t));
  start_all(loop, &timers, delays_ns(t, kSecLoNs, kSecHiNs), loop.now(evl::Clock::kMonotonic));
  measure_begin();
  const uint64_t t1 = now_ns();
  for (const evl::TimerHandle h : timers.h) (void)loop.timer_stop(h);
  const uint64_t t2 = now_ns();
  measure_end();
  per_op(&ph, t1, t2, static_cast<uint64_t>(t));
  loop.close();
  return ph;
}

Phase ours_timer_restart(int t, uint64_t restarts) {
  Phase ph;
  evl::Loop& loop = fresh_loop();
  (void)loop.init();
  Timers timers;
  timers.h.resize(static_cast<size_t>(t));
  Rand r;
  for (auto& h : timers.h) {
    (void)loop.timer_after(static_cast<int64_t>(r.in(1000000000, 2000000000)), on_timer, &timers,
                           &h);
  }
  Restarter rs{&timers, restarts, &r};
  evl::TimerHandle trigger;
  (void)loop.timer_after(0, do_restarts, &rs, &trigger);
#ifdef EVL_SYSCALL_COUNTERS
  const hal::SyscallCounts before = hal::syscall_counts();
#endif
  (void)loop.run();
  per_op(&ph, rs.t1, rs.t2, restarts);
#ifdef EVL_SYSCALL_COUNTERS
  const hal::SyscallCounts& after = hal::syscall_counts();
  ph.timerfd_arms_per_op = static_cast<double>(after.timerfd_settime - before.timerfd_settime) /
                           static_cast<double>(restarts);
#endif
  loop.close();
  return ph;
}

Phase ours_timer_fire(int t) {
  Phase ph;
  evl::Loop& loop = fresh_loop();
  (void)loop.init();
  Timers timers;
  timers.h.resize(static_cast<size_t>(t));
  const int64_t base = loop.now(evl::Clock::kMonotonic);
  start_all(loop, &timers, delays_ns(t, kFireLoNs, kFireHiNs), base);
  while (now_ns() < static_cast<uint64_t>(base) + kFireWaitNs) {
  }
  measure_begin();
  const uint64_t t1 = now_ns();
  while (timers.fired < static_cast<uint64_t>(t)) (void)loop.run_once(-1);
  const uint64_t t2 = now_ns();
  measure_end();
  per_op(&ph, t1, t2, timers.fired);
  loop.close();
  return ph;
}

Lateness ours_accuracy(int period_us, int seconds) {
  Lateness late;
  evl::Loop& loop = fresh_loop();
  (void)loop.init();
  Acc a{&late, 0, static_cast<uint64_t>(period_us) * 1000, 0,
        static_cast<uint64_t>(seconds) * 1000000 / static_cast<uint64_t>(period_us)};
  evl::TimerSpec spec;
  spec.period_ns = static_cast<int64_t>(a.period);
  spec.overrun = evl::Overrun::kSkip;
  evl::TimerHandle h;
  a.start = now_ns();
  spec.deadline_ns = static_cast<int64_t>(a.start + a.period);
  (void)loop.timer_start(spec, on_tick, &a, &h);
  (void)loop.run();
  late.ticks = a.n;
  loop.close();
  return late;
}

}  // namespace bench
