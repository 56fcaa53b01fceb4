// Timers through the loop, on the fake kernel's virtual clocks.
#include <cerrno>
#include <vector>

#include "CppUTest/TestHarness.h"
#include "loop/static_loop.h"
#include "test/fake/kernel.h"

using evl::Clock;
using evl::Overrun;
using evl::TimerHandle;
using evl::TimerSpec;
using fake::Call;

namespace {

using evl::kMs;
using evl::kSec;

struct Fired {
  fake::Kernel* k = nullptr;
  Clock clock = Clock::kMonotonic;
  std::vector<int64_t> at;  // clock time of each callback
  std::vector<uint32_t> missed;
  int64_t busy_ns = 0;  // virtual time each callback "takes"
  int stop_after = -1;
  std::vector<int>* order = nullptr;
  int id = 0;
  // Inside the callback:
  TimerHandle stop_other;
  int64_t restart_self_ns = -1;
  bool stop_self = false;
};

void on_timer(evl::Loop& loop, TimerHandle h, uint32_t missed, void* ctx) {
  auto* f = static_cast<Fired*>(ctx);
  f->at.push_back(loop.now(f->clock));
  f->missed.push_back(missed);
  if (f->order != nullptr) f->order->push_back(f->id);
  if (f->k != nullptr) f->k->advance(f->busy_ns);
  if (f->stop_other) CHECK_EQUAL(0, loop.timer_stop(f->stop_other));
  if (f->restart_self_ns >= 0) CHECK_EQUAL(0, loop.timer_restart(h, f->restart_self_ns));
  if (f->stop_self) CHECK_EQUAL(0, loop.timer_stop(h));
  if (f->stop_after > 0 && static_cast<int>(f->at.size()) >= f->stop_after) {
    if (!f->stop_self) CHECK_EQUAL(0, loop.timer_stop(h));
    loop.stop();
  }
}

TimerSpec periodic(int64_t period_ns, Overrun o = Overrun::kSkip) {
  TimerSpec s;
  s.period_ns = period_ns;
  s.overrun = o;
  return s;
}

}  // namespace

TEST_GROUP(Timer) {
  fake::Kernel* k = nullptr;
  evl::StaticLoop<2, 8, 1, 1, 1, 64, 2>* loop = nullptr;
  int64_t t0 = 0;
  void setup() override {
    k = new fake::Kernel();
    loop = new evl::StaticLoop<2, 8, 1, 1, 1, 64, 2>();
    CHECK_EQUAL(0, loop->init());
    t0 = k->monotonic_ns();
  }
  void teardown() override {
    delete loop;
    delete k;
  }
};

TEST(Timer, one_shot_fires_once_at_its_deadline_in_virtual_time) {
  Fired f;
  TimerHandle h;
  CHECK_EQUAL(0, loop->timer_after(250 * kMs, on_timer, &f, &h));
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(1u, f.at.size());
  CHECK_EQUAL(t0 + 250 * kMs, f.at[0]);
  CHECK_EQUAL(0u, loop->active());
  CHECK_EQUAL(-ESTALE, loop->timer_stop(h));
  CHECK_EQUAL(0, loop->health().timer_lag_ns_max);
}

TEST(Timer, periodic_keeps_its_phase_whatever_the_callback_latency) {
  Fired f;
  f.k = k;
  f.busy_ns = 300 * kMs;
  f.stop_after = 5;
  TimerHandle h;
  CHECK_EQUAL(0, loop->timer_start(periodic(kSec), on_timer, &f, &h));
  CHECK_EQUAL(0, loop->run());
  for (size_t i = 0; i < 5; ++i) {
    CHECK_EQUAL(t0 + static_cast<int64_t>(i + 1) * kSec, f.at[i]);
    CHECK_EQUAL(0u, f.missed[i]);
  }
}

TEST(Timer, skip_policy_fires_once_with_missed_ticks_and_stays_on_phase) {
  Fired f;
  f.stop_after = 2;
  TimerHandle h;
  CHECK_EQUAL(0, loop->timer_start(periodic(kSec), on_timer, &f, &h));
  CHECK_EQUAL(0, loop->run_once(0));
  k->advance(4500 * kMs);  // the loop was stuck for 4.5 periods
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(2u, f.at.size());
  CHECK_EQUAL(t0 + 4500 * kMs, f.at[0]);
  CHECK_EQUAL(3u, f.missed[0]);  // ticks 1..3 skipped, tick 4 delivered late
  CHECK_EQUAL(t0 + 5 * kSec, f.at[1]);
  CHECK_EQUAL(0u, f.missed[1]);
  // Lag is measured from the first tick that was due, 3.5 s before.
  CHECK_EQUAL(3500 * kMs, loop->health().timer_lag_ns_max);
}

TEST(Timer, catch_up_policy_fires_every_tick_one_per_iteration) {
  Fired f;
  f.stop_after = 5;
  TimerHandle h;
  CHECK_EQUAL(0, loop->timer_start(periodic(kSec, Overrun::kCatchUp), on_timer, &f, &h));
  CHECK_EQUAL(0, loop->run_once(0));
  k->advance(4500 * kMs);
  for (int i = 0; i < 4; ++i) CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(4u, f.at.size());  // one per iteration: never a silent burst
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(t0 + 5 * kSec, f.at[4]);
  for (uint32_t m : f.missed) CHECK_EQUAL(0u, m);
}

TEST(Timer, same_deadline_fires_in_start_order) {
  std::vector<int> order;
  Fired f[4];
  TimerHandle h[4];
  TimerSpec s;
  s.deadline_ns = t0 + kSec;
  for (int i = 0; i < 4; ++i) {
    f[i].order = &order;
    f[i].id = i;
  }
  for (int i : {2, 0, 3, 1}) CHECK_EQUAL(0, loop->timer_start(s, on_timer, &f[i], &h[i]));
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(4u, order.size());
  CHECK_EQUAL(2, order[0]);
  CHECK_EQUAL(0, order[1]);
  CHECK_EQUAL(3, order[2]);
  CHECK_EQUAL(1, order[3]);
}

TEST(Timer, restart_storm_between_waits_makes_no_system_call) {
  Fired f;
  TimerHandle h;
  CHECK_EQUAL(0, loop->timer_after(kSec, on_timer, &f, &h));
  CHECK_EQUAL(0, loop->run_once(0));
  k->reset_calls();
  for (int i = 0; i < 10000; ++i) CHECK_EQUAL(0, loop->timer_restart(h, kSec + i));
  CHECK_EQUAL(0u, k->calls(Call::kTimerfdSettime));
  CHECK_EQUAL(0, loop->run_once(0));
  CHECK_EQUAL(1u, k->calls(Call::kTimerfdSettime));  // once, to the new earliest
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(t0 + kSec + 9999, f.at[0]);
}

TEST(Timer, timerfd_is_armed_only_when_the_earliest_deadline_changes) {
  Fired a;
  Fired b;
  TimerHandle ha;
  TimerHandle hb;
  CHECK_EQUAL(0, loop->timer_after(kSec, on_timer, &a, &ha));
  CHECK_EQUAL(0, loop->run_once(0));
  const uint64_t arms = loop->health().timerfd_arms;
  CHECK_EQUAL(0, loop->timer_after(2 * kSec, on_timer, &b, &hb));
  CHECK_EQUAL(0, loop->run_once(0));
  CHECK_EQUAL(arms, loop->health().timerfd_arms);
  CHECK_EQUAL(0, loop->run_once(0));
  CHECK_EQUAL(arms, loop->health().timerfd_arms);
  CHECK_EQUAL(0, loop->timer_restart(hb, 100 * kMs));  // now the earliest
  CHECK_EQUAL(0, loop->run_once(0));
  CHECK_EQUAL(arms + 1, loop->health().timerfd_arms);
}

TEST(Timer, timer_stopped_earlier_in_batch_does_not_fire) {
  Fired a;
  Fired b;
  TimerHandle ha;
  TimerHandle hb;
  TimerSpec s;
  s.deadline_ns = t0 + kSec;
  CHECK_EQUAL(0, loop->timer_start(s, on_timer, &a, &ha));
  CHECK_EQUAL(0, loop->timer_start(s, on_timer, &b, &hb));
  a.stop_other = hb;
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(1u, a.at.size());
  CHECK_EQUAL(0u, b.at.size());
}

TEST(Timer, one_shot_restarted_in_its_own_callback_fires_again) {
  Fired f;
  f.restart_self_ns = 100 * kMs;
  f.stop_after = 3;
  TimerHandle h;
  CHECK_EQUAL(0, loop->timer_after(100 * kMs, on_timer, &f, &h));
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(3u, f.at.size());
  CHECK_EQUAL(t0 + 300 * kMs, f.at[2]);
  CHECK_EQUAL(0u, loop->active());
}

TEST(Timer, periodic_stopped_in_its_own_callback_stops) {
  Fired f;
  f.stop_self = true;
  TimerHandle h;
  CHECK_EQUAL(0, loop->timer_start(periodic(kSec), on_timer, &f, &h));
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(1u, f.at.size());
  CHECK_EQUAL(0u, loop->active());
}

TEST(Timer, timer_due_at_once_from_a_callback_fires_next_iteration) {
  Fired f;
  f.restart_self_ns = 0;
  f.stop_after = 3;
  TimerHandle h;
  CHECK_EQUAL(0, loop->timer_after(0, on_timer, &f, &h));
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(1u, f.at.size());
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(2u, f.at.size());
}

TEST(Timer, remaining_counts_down_and_is_zero_when_overdue) {
  Fired f;
  TimerHandle h;
  int64_t left = -1;
  CHECK_EQUAL(0, loop->timer_after(kSec, on_timer, &f, &h));
  k->advance(300 * kMs);
  CHECK_EQUAL(0, loop->timer_remaining(h, &left));
  CHECK_EQUAL(700 * kMs, left);
  k->advance(2 * kSec);
  CHECK_EQUAL(0, loop->timer_remaining(h, &left));
  CHECK_EQUAL(0, left);
  CHECK_EQUAL(-EINVAL, loop->timer_remaining(h, nullptr));
}

TEST(Timer, bad_arguments_stale_handles_and_full_pools) {
  Fired f;
  TimerHandle h;
  TimerSpec s;
  CHECK_EQUAL(-EINVAL, loop->timer_after(-1, on_timer, &f, &h));
  CHECK_EQUAL(-EINVAL, loop->timer_after(1, nullptr, &f, &h));
  CHECK_EQUAL(-EINVAL, loop->timer_after(1, on_timer, &f, nullptr));
  CHECK_EQUAL(-EINVAL, loop->timer_start(s, on_timer, &f, &h));  // no deadline, no period
  s.period_ns = -1;
  CHECK_EQUAL(-EINVAL, loop->timer_start(s, on_timer, &f, &h));
  s.period_ns = kSec;
  s.slack_ns = -1;
  CHECK_EQUAL(-EINVAL, loop->timer_start(s, on_timer, &f, &h));
  s.slack_ns = 0;
  s.clock = static_cast<Clock>(7);
  CHECK_EQUAL(-EINVAL, loop->timer_start(s, on_timer, &f, &h));
  s.clock = Clock::kBoottime;
  for (int i = 0; i < 2; ++i) CHECK_EQUAL(0, loop->timer_start(s, on_timer, &f, &h));
  CHECK_EQUAL(-ENOSPC, loop->timer_start(s, on_timer, &f, &h));  // boottime heap full
  s.clock = Clock::kMonotonic;
  for (int i = 0; i < 6; ++i) CHECK_EQUAL(0, loop->timer_start(s, on_timer, &f, &h));
  CHECK_EQUAL(-ENOSPC, loop->timer_after(1, on_timer, &f, &h));  // slot pool full
  CHECK_EQUAL(0, loop->timer_stop(h));
  CHECK_EQUAL(-ESTALE, loop->timer_stop(h));
  CHECK_EQUAL(-ESTALE, loop->timer_restart(h, 1));
  CHECK_EQUAL(-ESTALE, loop->timer_restart_at(h, 1));
  int64_t left = 0;
  CHECK_EQUAL(-ESTALE, loop->timer_remaining(h, &left));
  CHECK_EQUAL(-ESTALE, loop->timer_stop(TimerHandle{}));
  CHECK_EQUAL(8u, loop->health().timers.high_water);
}

TEST(Timer, kernel_failures_are_returned) {
  Fired f;
  TimerHandle h;
  k->fail_next(Call::kTimerfdCreate, EMFILE);
  CHECK_EQUAL(-EMFILE, loop->timer_after(kSec, on_timer, &f, &h));
  CHECK_EQUAL(0u, loop->active());
  CHECK_EQUAL(0, loop->timer_after(kSec, on_timer, &f, &h));
  k->fail_next(Call::kTimerfdSettime, ENOMEM);
  CHECK_EQUAL(-ENOMEM, loop->run_once(0));
  CHECK_EQUAL(0, loop->run());  // armed on the next iteration
  CHECK_EQUAL(1u, f.at.size());
}

TEST(Timer, boottime_counts_suspend_and_monotonic_does_not) {
  Fired mono;
  Fired boot;
  boot.clock = Clock::kBoottime;
  TimerHandle hm;
  TimerHandle hb;
  CHECK_EQUAL(0, loop->timer_after(10 * kSec, on_timer, &mono, &hm));
  TimerSpec s;
  s.clock = Clock::kBoottime;
  s.deadline_ns = loop->now(Clock::kBoottime) + 10 * kSec;
  CHECK_EQUAL(0, loop->timer_start(s, on_timer, &boot, &hb));
  k->suspend(8 * kSec);
  k->advance(3 * kSec);
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(1u, boot.at.size());
  CHECK_EQUAL(0u, mono.at.size());
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(t0 + 10 * kSec, mono.at[0]);
}

namespace {

struct Step {
  int calls = 0;
  int64_t step_ns = 0;
};

void on_step(evl::Loop&, int64_t step_ns, void* ctx) {
  auto* s = static_cast<Step*>(ctx);
  ++s->calls;
  s->step_ns = step_ns;
}

}  // namespace

TEST(Timer, realtime_step_is_reported_with_its_size_and_timers_follow_wall_time) {
  Step st;
  Fired f;
  f.clock = Clock::kRealtime;
  TimerHandle h;
  CHECK_EQUAL(0, loop->clock_step_watch(on_step, &st));
  TimerSpec s;
  s.clock = Clock::kRealtime;
  const int64_t wall = loop->now(Clock::kRealtime);
  s.deadline_ns = wall + 3600 * kSec;  // an hour from (wrong) wall time
  CHECK_EQUAL(0, loop->timer_start(s, on_timer, &f, &h));
  CHECK_EQUAL(0, loop->run_once(0));
  k->step_realtime(2 * 3600 * kSec);  // NTP's first sync: two hours forward
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(1, st.calls);
  CHECK_EQUAL(2 * 3600 * kSec, st.step_ns);
  CHECK_EQUAL(1u, f.at.size());  // its wall-clock deadline has passed
  CHECK_EQUAL(1u, loop->health().clock_steps);
  k->step_realtime(-60 * kSec);  // before the loop re-armed the timerfd
  CHECK(loop->run_once(0) >= 0);
  CHECK_EQUAL(2, st.calls);
  CHECK_EQUAL(-60 * kSec, st.step_ns);
}

TEST(Timer, realtime_timer_waits_for_wall_time_after_a_backward_step) {
  Step st;
  Fired f;
  f.clock = Clock::kRealtime;
  TimerHandle h;
  CHECK_EQUAL(0, loop->clock_step_watch(on_step, &st));
  TimerSpec s;
  s.clock = Clock::kRealtime;
  s.deadline_ns = loop->now(Clock::kRealtime) + 10 * kSec;
  CHECK_EQUAL(0, loop->timer_start(s, on_timer, &f, &h));
  CHECK_EQUAL(0, loop->run_once(0));
  k->step_realtime(-20 * kSec);
  CHECK_EQUAL(1, loop->run_once(0));  // the step
  CHECK_EQUAL(0u, f.at.size());
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(s.deadline_ns, f.at[0]);
  CHECK_EQUAL(t0 + 30 * kSec, k->monotonic_ns());
}

TEST(Timer, slack_lets_two_timers_share_one_wake_up) {
  Fired a;
  Fired b;
  TimerHandle ha;
  TimerHandle hb;
  TimerSpec s;
  s.deadline_ns = t0 + 100 * kMs;
  s.slack_ns = 50 * kMs;
  CHECK_EQUAL(0, loop->timer_start(s, on_timer, &a, &ha));
  CHECK_EQUAL(0, loop->timer_after(130 * kMs, on_timer, &b, &hb));
  CHECK_EQUAL(1, loop->run_once(-1));  // one wake-up fires both
  CHECK_EQUAL(1u, a.at.size());
  CHECK_EQUAL(1u, b.at.size());
  CHECK_EQUAL(t0 + 130 * kMs, a.at[0]);
}

TEST(Timer, slack_never_makes_a_timer_later_than_its_slack) {
  Fired a;
  TimerHandle ha;
  TimerSpec s;
  s.deadline_ns = t0 + 100 * kMs;
  s.slack_ns = 50 * kMs;
  CHECK_EQUAL(0, loop->timer_start(s, on_timer, &a, &ha));
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(t0 + 150 * kMs, a.at[0]);
}

TEST(Timer, a_day_of_one_second_ticks_runs_in_virtual_time) {
  Fired f;
  f.stop_after = 86400;
  TimerHandle h;
  CHECK_EQUAL(0, loop->timer_start(periodic(kSec), on_timer, &f, &h));
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(86400u, f.at.size());
  CHECK_EQUAL(t0 + 86400 * kSec, f.at.back());
  CHECK_EQUAL(0, loop->health().timer_lag_ns_max);
  CHECK(loop->verify());
}

TEST(Timer, boottime_timer_fires_after_suspend_even_with_a_realtime_step_pending) {
  Step st;
  Fired boot;
  boot.clock = Clock::kBoottime;
  TimerHandle hb;
  CHECK_EQUAL(0, loop->clock_step_watch(on_step, &st));
  TimerSpec s;
  s.clock = Clock::kBoottime;
  s.deadline_ns = loop->now(Clock::kBoottime) + 1 * kSec;
  CHECK_EQUAL(0, loop->timer_start(s, on_timer, &boot, &hb));
  CHECK_EQUAL(0, loop->run_once(0));
  k->step_realtime(5 * kSec);
  k->suspend(2 * kSec);
  CHECK(loop->run_once(391) >= 1);
  CHECK_EQUAL(1, st.calls);
  CHECK_EQUAL(1u, boot.at.size());
}

TEST(Timer, catch_up_realtime_timer_behind_a_backward_step_still_fires) {
  Step st;
  Fired f;
  f.clock = Clock::kRealtime;
  TimerHandle h;
  CHECK_EQUAL(0, loop->clock_step_watch(on_step, &st));
  TimerSpec s = periodic(476 * kMs, Overrun::kCatchUp);
  s.clock = Clock::kRealtime;
  s.slack_ns = 22 * kMs;
  s.deadline_ns = loop->now(Clock::kRealtime) + kSec;
  CHECK_EQUAL(0, loop->timer_start(s, on_timer, &f, &h));
  CHECK_EQUAL(0, loop->run_once(0));
  k->step_realtime(1500 * kSec);  // far ahead: many ticks behind
  for (int i = 0; i < 3; ++i) CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(3u, f.at.size());
  k->step_realtime(-1400 * kSec);  // back, but still ~100 s behind
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(4u, f.at.size());
  CHECK_EQUAL(2, st.calls);
}

// Issue #15: a timer wake-up costs epoll_wait and the timerfd_settime that
// arms the next deadline, and no read of the timerfd (re-arming clears its
// expiration); a wall-clock timer still reads it, for ECANCELED.
TEST(Timer, a_timer_wake_up_is_two_system_calls) {
  struct Count {
    int n = 0;
  } count;
  evl::TimerSpec spec;
  spec.period_ns = 10 * kMs;
  TimerHandle h;
  CHECK_EQUAL(
      0, loop->timer_start(
             spec, [](evl::Loop&, TimerHandle, uint32_t, void* c) { ++static_cast<Count*>(c)->n; },
             &count, &h));
  CHECK_EQUAL(1, loop->run_once(-1));  // the first arm
  k->reset_calls();
  for (int i = 0; i < 100; ++i) CHECK_EQUAL(1, loop->run_once(-1));
  CHECK_EQUAL(101, count.n);
  CHECK_EQUAL(100u, k->calls(fake::Call::kEpollWait));
  CHECK_EQUAL(100u, k->calls(fake::Call::kTimerfdSettime));
  CHECK_EQUAL(0u, k->calls(fake::Call::kRead));
  CHECK_EQUAL(0, loop->timer_stop(h));
  CHECK_EQUAL(0, loop->run_once(0));  // disarmed: nothing left readable
  CHECK_EQUAL(0, loop->run_once(0));
}

// Issue #15: timer_after outside callbacks reads the clock once (it read it
// a second time in timer_start for a value it did not use), and starting
// with a given deadline reads it not at all.
TEST(Timer, starting_a_timer_reads_the_clock_only_when_it_needs_it) {
  TimerHandle a, b;
  Fired f;
  k->reset_calls();
  CHECK_EQUAL(0, loop->timer_after(kSec, on_timer, &f, &a));
  CHECK_EQUAL(1u, k->calls(fake::Call::kClockGettime));
  evl::TimerSpec at;
  at.deadline_ns = k->monotonic_ns() + 2 * kSec;
  k->reset_calls();
  CHECK_EQUAL(0, loop->timer_start(at, on_timer, &f, &b));
  CHECK_EQUAL(0u, k->calls(fake::Call::kClockGettime));
}

namespace {

struct Starter {
  Fired* target;
  TimerHandle started;
};

// Starts a timer already due (a deadline 1 ms ago) from inside a batch.
void start_due(evl::Loop& loop, TimerHandle, uint32_t, void* ctx) {
  auto* s = static_cast<Starter*>(ctx);
  TimerSpec spec;
  spec.deadline_ns = loop.now(Clock::kMonotonic) - kMs;
  CHECK_EQUAL(0, loop.timer_start(spec, on_timer, s->target, &s->started));
}

void stop_started(evl::Loop& loop, TimerHandle, uint32_t, void* ctx) {
  CHECK_EQUAL(0, loop.timer_stop(static_cast<Starter*>(ctx)->started));
}

}  // namespace

// A due timer started during a batch waits for the next iteration (parked);
// stopped by a later callback of the same batch, it never fires.
TEST(Timer, a_due_timer_started_and_stopped_in_one_batch_never_fires) {
  Fired late;
  Starter st{&late, {}};
  TimerSpec at;
  at.deadline_ns = t0 + 100 * kMs;
  TimerHandle a;
  TimerHandle b;
  CHECK_EQUAL(0, loop->timer_start(at, start_due, &st, &a));
  CHECK_EQUAL(0, loop->timer_start(at, stop_started, &st, &b));
  CHECK_EQUAL(0, loop->run());
  CHECK(static_cast<bool>(st.started));
  CHECK_EQUAL(0u, late.at.size());
  CHECK_EQUAL(-ESTALE, loop->timer_stop(st.started));
  CHECK(loop->verify());
}

TEST(Timer, state_gives_what_starts_the_same_timer_again_and_arming_now_arms_once) {
  Fired f;
  TimerHandle a, b, c;
  TimerSpec s = periodic(100 * kMs, Overrun::kCatchUp);
  s.slack_ns = 3 * kMs;
  CHECK_EQUAL(0, loop->timer_after(kSec, on_timer, &f, &a));
  CHECK_EQUAL(0, loop->timer_start(s, on_timer, &f, &b));
  CHECK_EQUAL(0, loop->set_weak(b, true));
  evl::TimerState sa, sb;
  CHECK_EQUAL(0, loop->timer_state(a, &sa));
  CHECK_EQUAL(0, loop->timer_state(b, &sb));
  CHECK_EQUAL(t0 + kSec, sa.spec.deadline_ns);
  CHECK_EQUAL(0, sa.spec.period_ns);
  CHECK(sa.spec.overrun == Overrun::kSkip && sa.spec.clock == Clock::kMonotonic && !sa.weak);
  CHECK_EQUAL(t0 + 100 * kMs, sb.spec.deadline_ns);
  CHECK_EQUAL(100 * kMs, sb.spec.period_ns);
  CHECK_EQUAL(3 * kMs, sb.spec.slack_ns);
  CHECK(sb.spec.overrun == Overrun::kCatchUp && sb.weak);
  CHECK_EQUAL(1, static_cast<int32_t>(sb.seq - sa.seq));  // started in that order
  // Started again from its state, a timer fires where the first would have.
  CHECK_EQUAL(0, loop->timer_stop(b));
  CHECK_EQUAL(0, loop->timer_start(sb.spec, on_timer, &f, &c));
  evl::TimerState sc;
  CHECK_EQUAL(0, loop->timer_state(c, &sc));
  CHECK_EQUAL(sb.spec.deadline_ns, sc.spec.deadline_ns);
  CHECK_EQUAL(sb.spec.period_ns, sc.spec.period_ns);
  // Changed outside an iteration, the timers are armed now, once; then
  // there is nothing left to arm.
  k->reset_calls();
  CHECK_EQUAL(0, loop->arm_timers_now());
  CHECK_EQUAL(1u, k->calls(Call::kTimerfdSettime));
  CHECK_EQUAL(0, loop->arm_timers_now());
  CHECK_EQUAL(1u, k->calls(Call::kTimerfdSettime));
  CHECK_EQUAL(-EINVAL, loop->timer_state(a, nullptr));
  CHECK_EQUAL(0, loop->timer_stop(a));
  CHECK_EQUAL(-ESTALE, loop->timer_state(a, &sa));
}

TEST(Timer, a_one_shot_in_its_own_callback_has_no_state) {
  struct Ctx {
    int r = 0;
  } ctx;
  TimerHandle h;
  CHECK_EQUAL(0, loop->timer_after(
                     kMs,
                     [](evl::Loop& l, TimerHandle self, uint32_t, void* p) {
                       evl::TimerState st;
                       static_cast<Ctx*>(p)->r = l.timer_state(self, &st);
                     },
                     &ctx, &h));
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(-EINVAL, ctx.r);
}

// What a replay restoring a snapshot does: the recorded loop's figures.
TEST(Timer, restored_health_goes_on_from_the_given_figures) {
  evl::LoopHealth h;
  h.iterations = 1000;
  h.events = 900;
  h.callbacks = 800;
  h.callback_ns_max = 5 * kMs;
  h.timer_lag_ns_max = 7 * kMs;
  h.timerfd_arms = 55;
  h.io.high_water = 2;       // the capacity
  h.timers.high_water = 99;  // more than the capacity: capped
  h.defers.high_water = 0;   // lower than the loop's: kept
  Fired f;
  TimerHandle t;
  CHECK_EQUAL(0, loop->timer_after(kMs, on_timer, &f, &t));
  loop->restore_health(h);
  const evl::LoopHealth& now = loop->health();
  CHECK_EQUAL(1000u, now.iterations);
  CHECK_EQUAL(900u, now.events);
  CHECK_EQUAL(800u, now.callbacks);
  CHECK_EQUAL(5 * kMs, now.callback_ns_max);
  CHECK_EQUAL(7 * kMs, now.timer_lag_ns_max);
  CHECK_EQUAL(55u, now.timerfd_arms);
  CHECK_EQUAL(2u, now.io.high_water);
  CHECK_EQUAL(8u, now.timers.high_water);
  CHECK_EQUAL(1u, now.timers.used);  // the pools' own figures stay theirs
  CHECK_EQUAL(0u, now.io.used);
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(1001u, loop->health().iterations);
}
