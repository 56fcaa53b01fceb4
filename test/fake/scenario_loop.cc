// Scenario "loop": random start/stop/restart/close across every watcher kind,
// fds closed behind the loop's back and reused, timers on all clocks,
// realtime steps and suspends, with the seed's faults. A model of what should
// be live is checked against every callback and after every iteration.
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "loop/static_loop.h"
#include "test/fake/files.h"
#include "test/fake/kernel.h"
#include "test/fake/simulate.h"

namespace {

using evl::Clock;
using evl::kMs;

constexpr int kIo = 6;
constexpr int kTimers = 12;

using SimLoop = evl::StaticLoop<kIo, kTimers, 2, 2, 4, 64, 4>;

struct Sim;

struct IoW {
  Sim* sim = nullptr;
  evl::IoHandle h;
  int rfd = -1;
  int wfd = -1;
  bool live = false;
  bool edge = false;
  bool fd_closed = false;   // closed behind the loop's back
  bool closed_now = false;  // ... during this iteration (its event may be fetched)
  size_t pending = 0;       // bytes in the pipe
  bool touched = false;     // started or modified during this iteration
  int calls = 0;            // callbacks this iteration
};

struct TimerW {
  Sim* sim = nullptr;
  evl::TimerHandle h;
  Clock clock = Clock::kMonotonic;
  int64_t deadline = 0;
  int64_t period = 0;
  int64_t slack = 0;
  evl::Overrun overrun = evl::Overrun::kSkip;
  bool live = false;
  bool touched = false;
  bool fired = false;
  // A timer made due during a batch fires in the next iteration, once its
  // clock has moved past the batch (by 1 ns at least): until then it is
  // exempt from the lateness check.
  int64_t exempt_until_mono = 0;
};

struct SigW {
  Sim* sim = nullptr;
  evl::SignalHandle h;
  int signo = 0;
  bool live = false;
  int raised = 0;  // raised since the last delivery
};

struct WakeW {
  Sim* sim = nullptr;
  evl::WakeHandle h;
  bool live = false;
  uint32_t pending = 0;
};

struct DeferW {
  Sim* sim = nullptr;
  evl::DeferHandle h;
  bool live = false;
  uint64_t order = 0;
};

struct Sim {
  fake::Kernel* k = nullptr;
  SimLoop* loop = nullptr;
  sim::Checker* check = nullptr;
  fake::Rng rng{1};
  IoW io[kIo + 2];
  TimerW timers[kTimers + 2];
  SigW sigs[2];
  WakeW wakes[2];
  DeferW defers[5];
  uint64_t defer_order = 0;
  uint64_t defer_last_run = 0;
  bool in_batch = false;
  uint32_t steps_seen = 0;
  uint32_t steps_made = 0;
  uint64_t iteration = 0;
};

int64_t now_on(Sim* s, Clock c) { return s->loop->now(c); }

bool trace_on() {
  static const bool on = std::getenv("SIM_TRACE") != nullptr;
  return on;
}
#define TRACE(...)                                     \
  do {                                                 \
    if (trace_on()) std::fprintf(stderr, __VA_ARGS__); \
  } while (0)

// Callbacks.

void random_action(Sim* s);
void callback_action(Sim* s);

void on_io(evl::Loop& loop, evl::IoHandle h, uint32_t events, void* ctx) {
  auto* w = static_cast<IoW*>(ctx);
  Sim* s = w->sim;
  SIM_CHECK(*s->check, w->live && w->h == h, "io callback for a watcher that is not live");
  SIM_CHECK(*s->check, !w->fd_closed || w->closed_now,
            "io callback for an fd closed in an earlier iteration");
  SIM_CHECK(*s->check, (events & ~(evl::kIn | evl::kErr | evl::kHup)) == 0, "unexpected io events");
  ++w->calls;
  if (w->fd_closed) return;  // its number may already be someone else's
  if (s->rng.chance(0.7)) {
    char buf[64];
    const long n = hal::read(loop.io_fd(h), buf, sizeof buf);
    if (n > 0) w->pending -= static_cast<size_t>(n);
    SIM_CHECK(*s->check, n > 0 || n == -EAGAIN || (n == 0 && w->pending == 0),
              "unexpected read result " + std::to_string(n));
  }
  if (s->rng.chance(0.1)) callback_action(s);
}

void on_timer(evl::Loop&, evl::TimerHandle h, uint32_t missed, void* ctx) {
  auto* t = static_cast<TimerW*>(ctx);
  Sim* s = t->sim;
  SIM_CHECK(*s->check, t->live && t->h == h, "timer callback for a timer that is not live");
  const int64_t now = now_on(s, t->clock);
  SIM_CHECK(*s->check, now >= t->deadline,
            "timer fired " + std::to_string(t->deadline - now) + " ns early");
  t->fired = true;
  TRACE("  fire timer %d clock %d deadline %lld now %lld missed %u\n",
        static_cast<int>(t - s->timers), static_cast<int>(t->clock),
        static_cast<long long>(t->deadline), static_cast<long long>(now), missed);
  if (t->period == 0) {
    SIM_CHECK(*s->check, missed == 0, "one-shot timer reported missed ticks");
    t->live = false;
  } else if (t->overrun == evl::Overrun::kSkip) {
    const int64_t behind = (now - t->deadline) / t->period;
    SIM_CHECK(
        *s->check, static_cast<int64_t>(missed) == behind,
        "skip policy: missed " + std::to_string(missed) + ", expected " + std::to_string(behind));
    t->deadline += (behind + 1) * t->period;
  } else {
    SIM_CHECK(*s->check, missed == 0, "catch-up policy reported missed ticks");
    t->deadline += t->period;
  }
  if (s->rng.chance(0.1)) callback_action(s);
}

void on_signal(evl::Loop&, evl::SignalHandle h, const evl::SignalInfo& info, void* ctx) {
  auto* w = static_cast<SigW*>(ctx);
  Sim* s = w->sim;
  SIM_CHECK(*s->check, w->live && w->h == h, "signal callback for a watcher that is not live");
  SIM_CHECK(*s->check, info.signo == w->signo, "signal delivered to the wrong watcher");
  SIM_CHECK(*s->check, w->raised > 0, "signal delivered that was not raised");
  w->raised = 0;
}

void on_wake(evl::Loop&, evl::WakeHandle h, uint32_t count, void* ctx) {
  auto* w = static_cast<WakeW*>(ctx);
  Sim* s = w->sim;
  SIM_CHECK(*s->check, w->live && w->h == h, "wake callback for a watcher that is not live");
  SIM_CHECK(*s->check, count == w->pending,
            "wake count " + std::to_string(count) + ", expected " + std::to_string(w->pending));
  w->pending = 0;
}

void on_defer(evl::Loop&, void* ctx) {
  auto* d = static_cast<DeferW*>(ctx);
  Sim* s = d->sim;
  SIM_CHECK(*s->check, d->live, "deferred call ran after it was cancelled");
  SIM_CHECK(*s->check, d->order > s->defer_last_run, "deferred calls out of order");
  s->defer_last_run = d->order;
  d->live = false;
}

void on_step(evl::Loop&, int64_t, void* ctx) { ++static_cast<Sim*>(ctx)->steps_seen; }

// Actions.

bool allowed(int r, std::initializer_list<int> errs) {
  if (r == 0) return true;
  for (int e : errs) {
    if (r == -e) return true;
  }
  return false;
}

void act_io(Sim* s) {
  IoW& w = s->io[s->rng.below(kIo + 2)];
  if (!w.live) {
    if (w.rfd < 0) {
      int p[2];
      const int r = hal::pipe2(p, hal::kNonblock | hal::kCloexec);
      SIM_CHECK(*s->check, allowed(r, {EMFILE}), "pipe2: " + std::to_string(r));
      if (r < 0) return;
      w.rfd = p[0];
      w.wfd = p[1];
      w.pending = 0;
      w.fd_closed = false;
    }
    w.edge = s->rng.chance(0.3);
    const int r = s->loop->io_start(w.rfd, evl::kIn | (w.edge ? evl::kEdge : 0u), on_io, &w, &w.h);
    int used = 0;
    bool number_held = false;  // a watcher whose fd was closed still holds it
    for (const IoW& o : s->io) {
      used += o.live ? 1 : 0;
      number_held = number_held || (o.live && o.fd_closed && o.rfd == w.rfd);
    }
    SIM_CHECK(
        *s->check,
        allowed(r, {ENOMEM}) || (r == -ENOSPC && used == kIo) || (r == -EEXIST && number_held),
        "io_start: " + std::to_string(r));
    w.live = r == 0;
    w.touched = true;
    return;
  }
  switch (s->rng.below(5)) {
    case 0: {  // data arrives
      if (w.fd_closed) break;
      const size_t n = 1 + s->rng.below(100);
      std::string bytes(n, 'x');
      const long r = hal::write(w.wfd, bytes.data(), n);
      if (r > 0) w.pending += static_cast<size_t>(r);
      break;
    }
    case 1: {  // stop, keep the pipe
      const int r = s->loop->io_stop(w.h);
      SIM_CHECK(*s->check, r == 0, "io_stop: " + std::to_string(r));
      w.live = false;
      if (w.fd_closed) w.rfd = w.wfd = -1;
      break;
    }
    case 2: {  // stop and close the read end, the right way
      if (w.fd_closed) break;
      const int r = s->loop->io_close(w.h);
      SIM_CHECK(*s->check, r == 0, "io_close: " + std::to_string(r));
      (void)hal::close(w.wfd);
      w.live = false;
      w.rfd = w.wfd = -1;
      break;
    }
    case 3: {  // close behind the loop's back, stop later
      if (w.fd_closed) break;
      (void)hal::close(w.rfd);
      (void)hal::close(w.wfd);
      w.fd_closed = true;
      w.closed_now = true;
      break;
    }
    default: {  // change the trigger mode in place
      if (w.fd_closed) {
        const int r = s->loop->io_stop(w.h);
        SIM_CHECK(*s->check, r == 0, "io_stop after close: " + std::to_string(r));
        w.live = false;
        w.rfd = w.wfd = -1;
        break;
      }
      const bool edge = !w.edge;
      const int r = s->loop->io_modify(w.h, evl::kIn | (edge ? evl::kEdge : 0u));
      SIM_CHECK(*s->check, allowed(r, {ENOMEM}), "io_modify: " + std::to_string(r));
      if (r == 0) w.edge = edge;
      w.touched = true;
      break;
    }
  }
}

void act_timer(Sim* s) {
  TimerW& t = s->timers[s->rng.below(kTimers + 2)];
  if (!t.live) {
    evl::TimerSpec spec;
    spec.clock = static_cast<Clock>(s->rng.below(3));
    spec.period_ns = s->rng.chance(0.4) ? static_cast<int64_t>(1 + s->rng.below(500)) * kMs : 0;
    spec.deadline_ns = now_on(s, spec.clock) + static_cast<int64_t>(s->rng.below(2000)) * kMs;
    spec.overrun = s->rng.chance(0.5) ? evl::Overrun::kSkip : evl::Overrun::kCatchUp;
    spec.slack_ns = s->rng.chance(0.3) ? static_cast<int64_t>(s->rng.below(50)) * kMs : 0;
    const int r = s->loop->timer_start(spec, on_timer, &t, &t.h);
    SIM_CHECK(*s->check, allowed(r, {ENOSPC, ENOMEM}), "timer_start: " + std::to_string(r));
    if (r != 0) return;
    TRACE("  start timer %d clock %d deadline %lld period %lld slack %lld\n",
          static_cast<int>(&t - s->timers), static_cast<int>(spec.clock),
          static_cast<long long>(spec.deadline_ns), static_cast<long long>(spec.period_ns),
          static_cast<long long>(spec.slack_ns));
    t.live = true;
    t.clock = spec.clock;
    t.deadline = spec.deadline_ns;
    t.period = spec.period_ns;
    t.overrun = spec.overrun;
    t.slack = spec.slack_ns;
    t.touched = true;
    return;
  }
  if (s->rng.chance(0.5)) {
    const int64_t delay = static_cast<int64_t>(s->rng.below(1500)) * kMs;
    const int r = s->loop->timer_restart(t.h, delay);
    SIM_CHECK(*s->check, r == 0, "timer_restart: " + std::to_string(r));
    t.deadline = now_on(s, t.clock) + delay;
    TRACE("  restart timer %d deadline %lld\n", static_cast<int>(&t - s->timers),
          static_cast<long long>(t.deadline));
    t.touched = true;
  } else {
    const int r = s->loop->timer_stop(t.h);
    TRACE("  stop timer %d\n", static_cast<int>(&t - s->timers));
    SIM_CHECK(*s->check, r == 0, "timer_stop: " + std::to_string(r));
    t.live = false;
  }
}

void act_signal(Sim* s) {
  SigW& w = s->sigs[s->rng.below(2)];
  if (!w.live) {
    w.signo = (&w == &s->sigs[0]) ? hal::kSigUsr1 : hal::kSigUsr2;
    const int r = s->loop->signal_start(w.signo, on_signal, &w, &w.h);
    SIM_CHECK(*s->check, allowed(r, {ENOMEM}), "signal_start: " + std::to_string(r));
    w.live = r == 0;
    w.raised = 0;
  } else if (s->rng.chance(0.7)) {
    s->k->raise(w.signo);
    ++w.raised;
  } else {
    const int r = s->loop->signal_stop(w.h);
    SIM_CHECK(*s->check, r == 0, "signal_stop: " + std::to_string(r));
    w.live = false;
  }
}

void act_wake(Sim* s) {
  WakeW& w = s->wakes[s->rng.below(2)];
  if (!w.live) {
    const int r = s->loop->wake_start(on_wake, &w, &w.h);
    SIM_CHECK(*s->check, allowed(r, {ENOMEM}), "wake_start: " + std::to_string(r));
    w.live = r == 0;
    w.pending = 0;
  } else if (s->rng.chance(0.8)) {
    const int r = s->loop->wake(w.h);
    SIM_CHECK(*s->check, r == 0, "wake: " + std::to_string(r));
    ++w.pending;
  } else {
    const int r = s->loop->wake_stop(w.h);
    SIM_CHECK(*s->check, r == 0, "wake_stop: " + std::to_string(r));
    w.live = false;
  }
}

void act_defer(Sim* s) {
  DeferW& d = s->defers[s->rng.below(5)];
  if (!d.live) {
    const int r = s->loop->defer(on_defer, &d, &d.h);
    int used = 0;
    for (const DeferW& o : s->defers) used += o.live ? 1 : 0;
    SIM_CHECK(*s->check, r == 0 || (r == -ENOSPC && used == 4), "defer: " + std::to_string(r));
    d.live = r == 0;
    d.order = ++s->defer_order;
  } else {
    const int r = s->loop->defer_cancel(d.h);
    SIM_CHECK(*s->check, r == 0, "defer_cancel: " + std::to_string(r));
    d.live = false;
  }
}

void act_time(Sim* s) {
  switch (s->rng.below(6)) {
    case 0:
      TRACE("  suspend\n");
      s->k->suspend(static_cast<int64_t>(s->rng.below(3000)) * kMs);
      ++s->steps_made;
      break;
    case 1:
      TRACE("  step\n");
      s->k->step_realtime((static_cast<int64_t>(s->rng.below(7200)) - 3600) * 1000 * kMs);
      ++s->steps_made;
      break;
    default:
      s->k->advance(static_cast<int64_t>(s->rng.below(300)) * kMs);  // a busy stretch
      break;
  }
}

// One random action. Callbacks may do anything but move the clocks (a
// callback that takes long is modelled by act_time between iterations).
void act(Sim* s, bool may_move_clocks) {
  switch (s->rng.below(may_move_clocks ? 10 : 9)) {
    case 0:
    case 1:
    case 2: act_io(s); break;
    case 3:
    case 4:
    case 5: act_timer(s); break;
    case 6: act_signal(s); break;
    case 7: act_wake(s); break;
    case 8: act_defer(s); break;
    default: act_time(s); break;
  }
}

void random_action(Sim* s) { act(s, true); }
void callback_action(Sim* s) { act(s, false); }

// Invariants after an iteration.

void check_after(Sim* s, int run_result, const std::vector<bool>& lt_ready) {
  if (run_result < 0) {
    // Nothing was dispatched: whatever was due is still due, and exempt ones
    // stay exempt a little longer.
    for (TimerW& t : s->timers) {
      if (t.touched || t.fired) t.exempt_until_mono = s->k->monotonic_ns() + 1;
    }
  }
  sim::Checker& c = *s->check;
  SIM_CHECK(c, s->loop->verify(), "loop.verify() failed");
  uint32_t live = 0;
  for (const IoW& w : s->io) live += w.live ? 1 : 0;
  for (const TimerW& t : s->timers) live += t.live ? 1 : 0;
  for (const SigW& w : s->sigs) live += w.live ? 1 : 0;
  for (const WakeW& w : s->wakes) live += w.live ? 1 : 0;
  for (const DeferW& d : s->defers) live += d.live ? 1 : 0;
  SIM_CHECK(c, live == s->loop->active(),
            "active() " + std::to_string(s->loop->active()) + ", model " + std::to_string(live));
  if (run_result < 0) return;  // EINTR or an injected ENOMEM: nothing dispatched
  for (int i = 0; i < kIo + 2; ++i) {
    const IoW& w = s->io[i];
    if (lt_ready[static_cast<size_t>(i)] && w.live && !w.touched && !w.fd_closed) {
      SIM_CHECK(c, w.calls > 0, "a ready level-triggered watcher got no callback");
    }
  }
  const int64_t mono = s->k->monotonic_ns();
  for (TimerW& t : s->timers) {
    if (t.touched || t.fired) t.exempt_until_mono = mono + 1;
    if (!t.live || t.touched || t.fired || mono < t.exempt_until_mono) continue;
    const int64_t late = now_on(s, t.clock) - (t.deadline + t.slack);
    SIM_CHECK(c, late < 0,
              "a due timer did not fire (" + std::to_string(late) + " ns late; clock " +
                  std::to_string(static_cast<int>(t.clock)) + ", period " +
                  std::to_string(t.period) + ", slack " + std::to_string(t.slack) + ", iteration " +
                  std::to_string(s->iteration) + ", timer " + std::to_string(&t - s->timers) + ")");
  }
}

sim::Result run_loop_scenario(uint64_t seed, int64_t virtual_seconds) {
  sim::Result result;
  sim::Checker check(&result);
  fake::Kernel k;
  k.seed(seed);
  std::unique_ptr<SimLoop> owned(new SimLoop());
  SimLoop* loop = owned.get();
  Sim s;
  s.k = &k;
  s.loop = loop;
  s.check = &check;
  s.rng = fake::Rng{seed ^ 0x5851f42d4c957f2dULL};
  for (IoW& w : s.io) w.sim = &s;
  for (TimerW& t : s.timers) t.sim = &s;
  for (SigW& w : s.sigs) w.sim = &s;
  for (WakeW& w : s.wakes) w.sim = &s;
  for (DeferW& d : s.defers) d.sim = &s;
  SIM_CHECK(check, loop->init() == 0, "init failed");
  int watch = -ENOMEM;
  for (int tries = 0; tries < 100 && watch == -ENOMEM; ++tries) {
    watch = loop->clock_step_watch(on_step, &s);  // the seed's faults may refuse it
  }
  SIM_CHECK(check, watch == 0, "clock_step_watch: " + std::to_string(watch));
  const int64_t end = k.monotonic_ns() + virtual_seconds * 1000 * kMs;
  while (!check.failed() && k.monotonic_ns() < end) {
    const int actions = static_cast<int>(s.rng.below(4));
    for (int i = 0; i < actions; ++i) random_action(&s);
    // Only what callbacks change during the iteration is exempt from the
    // liveness checks below.
    for (IoW& w : s.io) {
      w.touched = false;
      w.closed_now = false;
    }
    for (TimerW& t : s.timers) {
      t.touched = false;
      t.fired = false;
    }
    std::vector<bool> lt_ready(kIo + 2, false);
    for (int i = 0; i < kIo + 2; ++i) {
      IoW& w = s.io[i];
      lt_ready[static_cast<size_t>(i)] = w.live && !w.edge && w.pending > 0;
      w.calls = 0;
    }
    const int timeout = s.rng.chance(0.3) ? 0 : static_cast<int>(s.rng.below(1000));
    TRACE("iteration %llu: mono %lld timeout %d\n",
          static_cast<unsigned long long>(result.iterations + 1),
          static_cast<long long>(k.monotonic_ns()), timeout);
    const int r = loop->run_once(timeout);
    if (trace_on()) {
      for (fake::TimerFd* tf : k.timerfds()) {
        std::fprintf(stderr, "    timerfd wake %lld\n", static_cast<long long>(tf->wake_time()));
      }
    }
    TRACE("  -> %d, mono %lld boot %lld arms %llu\n", r, static_cast<long long>(k.monotonic_ns()),
          static_cast<long long>(k.boottime_ns()),
          static_cast<unsigned long long>(loop->health().timerfd_arms));
    SIM_CHECK(check, r >= 0 || r == -EINTR || r == -ENOMEM, "run_once: " + std::to_string(r));
    ++result.iterations;
    s.iteration = result.iterations;
    check_after(&s, r, lt_ready);
  }
  loop->close();
  result.trace_hash = k.trace_hash();
  return result;
}

}  // namespace

SIM_SCENARIO(loop, "loop",
             "random start/stop/restart/close of every watcher kind, fd reuse, all clocks, "
             "steps and suspends, with faults",
             run_loop_scenario);
