// The loop's timers: TimerSet plus one timerfd per clock in use.
#include <cerrno>

#include "loop/clock.h"
#include "loop/loop.h"

namespace evl {
namespace {

constexpr int kClockIds[kClockCount] = {hal::kClockMonotonic, hal::kClockBoottime,
                                        hal::kClockRealtime};
constexpr int kRealtime = static_cast<int>(Clock::kRealtime);
// armed_ns_ value meaning "the timerfd's state is unknown: set it".
constexpr int64_t kArmUnknown = INT64_MIN;
// Where the realtime timerfd waits when only a clock-step watcher needs it.
constexpr int64_t kFarFutureNs = int64_t{1} << 62;
constexpr int64_t kMaxSlackNs = 3600 * kSec;

hal::Timespec to_timespec(int64_t ns) { return hal::Timespec{ns / kSec, ns % kSec}; }

bool valid_clock(Clock c) { return static_cast<unsigned>(c) < kClockCount; }

}  // namespace

int64_t Loop::now(Clock clock) const { return now_ns(kClockIds[static_cast<int>(clock)]); }

int64_t Loop::realtime_offset() const { return now(Clock::kRealtime) - now(Clock::kMonotonic); }

int Loop::timer_fd_for(Clock clock) {
  const int c = static_cast<int>(clock);
  if (timer_fd_[c] >= 0) return 0;
  const int fd = hal::timerfd_create(kClockIds[c], hal::kCloexec | hal::kNonblock);
  if (fd < 0) return fd;
  const int r = epoll_add_internal(fd, kTimerFd0 + static_cast<uint32_t>(c));
  if (r < 0) {
    (void)hal::close(fd);
    return r;
  }
  timer_fd_[c] = fd;
  armed_ns_[c] = TimerSet::kNever;
  return 0;
}

int Loop::timer_after(int64_t delay_ns, TimerFn fn, void* ctx, TimerHandle* out) {
  if (delay_ns < 0) return -EINVAL;
  TimerSpec spec;
  spec.deadline_ns = add_sat(timer_base_ns(), delay_ns);  // past the range: never
  return timer_start(spec, fn, ctx, out);
}

int Loop::timer_start(const TimerSpec& spec, TimerFn fn, void* ctx, TimerHandle* out) {
  if (out == nullptr || fn == nullptr || !valid_clock(spec.clock)) return -EINVAL;
  // Neither negative, not both 0.
  if ((spec.deadline_ns | spec.period_ns) <= 0) return -EINVAL;
  // The common timer, a one-shot at a given deadline (so > 0) with neither
  // slack nor a catch-up policy, on a clock already in use (so the loop is
  // open), takes its own path; start_general checks the rest.
  if (((spec.period_ns | spec.slack_ns) != 0) | (spec.overrun != Overrun::kSkip) |
      (timer_fd_[static_cast<int>(spec.clock)] < 0) | after_.embedded) {
    return start_general(spec, fn, ctx, out);
  }
  return start_in(spec.clock, spec.deadline_ns, 0, Overrun::kSkip, 0, fn, ctx, out);
}

inline int Loop::start_in(Clock clock, int64_t deadline_ns, int64_t period_ns, Overrun overrun,
                          uint32_t slack_us, TimerFn fn, void* ctx, TimerHandle* out) {
  uint32_t i = 0;
  const int s = timers_.add(clock, period_ns, overrun, slack_us, fn, ctx, &i);
  if (s < 0) return s;
  out->raw = ((timer_tag_ | timers_.pool().gen_of(i)) << handle::kIndexBits) | i;
  before_.timers_dirty = true;
  return timers_.schedule(clock, i, deadline_ns);  // 0
}

int Loop::start_general(const TimerSpec& spec, TimerFn fn, void* ctx, TimerHandle* out) {
  if (static_cast<uint64_t>(spec.slack_ns) > static_cast<uint64_t>(kMaxSlackNs)) return -EINVAL;
  if (static_cast<uint8_t>(spec.overrun) > static_cast<uint8_t>(Overrun::kCatchUp)) return -EINVAL;
  if (epfd_ < 0) return -EINVAL;
  if (timer_fd_[static_cast<int>(spec.clock)] < 0) {  // the first timer on this clock
    if (const int r = timer_fd_for(spec.clock); r < 0) return r;
  }
  // The clock is read only when the deadline is not given (#15: timer_after
  // read it twice outside callbacks).
  int64_t deadline = spec.deadline_ns;
  if (deadline == 0) {
    const int64_t base = spec.clock == Clock::kMonotonic ? timer_base_ns() : now(spec.clock);
    deadline = add_sat(base, spec.period_ns);
  }
  const auto slack_us = static_cast<uint32_t>(spec.slack_ns / 1000);
  const int r =
      start_in(spec.clock, deadline, spec.period_ns, spec.overrun, slack_us, fn, ctx, out);
  if (r == 0 && after_.embedded && !dispatching_) (void)arm_timers();  // see timers_changed()
  return r;
}

// The timer calls make no call but tail calls on their common path (the
// heap's work last), so they need no frame; what needs one (an embedded
// loop, a clock to read) is out of line.
inline int Loop::restart_index(uint32_t i, int64_t deadline_ns) {
  if (after_.embedded) return restart_embedded(i, deadline_ns);
  before_.timers_dirty = true;
  return timers_.restart(i, deadline_ns);  // 0
}

int Loop::restart_embedded(uint32_t i, int64_t deadline_ns) {
  return changed_embedded(timers_.restart(i, deadline_ns));
}

int Loop::restart_after(uint32_t i, Clock c, int64_t delay_ns) {
  return restart_index(i, add_sat(c == Clock::kMonotonic ? timer_base_ns() : now(c), delay_ns));
}

int Loop::timer_restart(TimerHandle h, int64_t delay_ns) {
  const uint32_t i = timer_index(h);
  if (i == kNoSlot) return -ESTALE;
  if (delay_ns < 0) return -EINVAL;
  const Clock c = TimerSet::clock_of(timers_.pool().at(i));
  // In a callback on the monotonic clock, the time is this iteration's.
  if (c != Clock::kMonotonic || !dispatching_ || !mark_valid_) return restart_after(i, c, delay_ns);
  return restart_index(i, add_sat(mark_ns_, delay_ns));
}

int Loop::timer_restart_at(TimerHandle h, int64_t deadline_ns) {
  const uint32_t i = timer_index(h);
  if (i == kNoSlot) return -ESTALE;
  if (deadline_ns < 0) return -EINVAL;
  return restart_index(i, deadline_ns);
}

int Loop::timer_stop(TimerHandle h) {
  const uint32_t i = timer_index(h);
  if (i == kNoSlot) return -ESTALE;
  if (after_.embedded) return stop_embedded(i);
  before_.timers_dirty = true;
  return timers_.stop(i);  // 0
}

int Loop::stop_embedded(uint32_t i) { return changed_embedded(timers_.stop(i)); }

int Loop::timer_set_period(TimerHandle h, int64_t period_ns) {
  const uint32_t i = timer_index(h);
  if (i == kNoSlot) return -ESTALE;
  if (period_ns < 0) return -EINVAL;
  return timers_.set_period(i, period_ns);  // read at the next expiry
}

void Loop::timer_clear(TimerHandle* h) {
  if (h == nullptr) return;
  if (*h) (void)timer_stop(*h);
  *h = TimerHandle{};
}

int Loop::timer_remaining(TimerHandle h, int64_t* out_ns) {
  const uint32_t i = timer_index(h);
  if (i == kNoSlot) return -ESTALE;
  if (out_ns == nullptr) return -EINVAL;
  const TimerSlot& s = timers_.pool().at(i);
  const int64_t left =
      TimerSet::scheduled(s) ? timers_.deadline(i) - now(TimerSet::clock_of(s)) : 0;
  *out_ns = left > 0 ? left : 0;
  return 0;
}

int Loop::set_weak(TimerHandle h, bool weak) { return weak_in(timers_.pool(), h, weak); }

int Loop::timer_state(TimerHandle h, TimerState* out) const {
  const uint32_t i = timer_index(h);
  if (i == kNoSlot) return -ESTALE;
  const TimerSlot& s = timers_.pool().at(i);
  if (out == nullptr || !TimerSet::scheduled(s)) return -EINVAL;
  uint32_t slack_us = 0;
  out->spec.clock = TimerSet::clock_of(s);
  out->spec.deadline_ns = timers_.deadline(i);
  timers_.describe(i, &out->spec.period_ns, &slack_us, &out->seq);
  out->spec.overrun = (s.meta & timer_bits::kCatchUp) != 0 ? Overrun::kCatchUp : Overrun::kSkip;
  out->spec.slack_ns = int64_t{slack_us} * 1000;
  out->weak = (s.meta & meta::kWeak) != 0;
  return 0;
}

int Loop::clock_step_watch(ClockStepFn fn, void* ctx) {
  if (epfd_ < 0) return -EINVAL;
  if (fn != nullptr) {
    const int r = timer_fd_for(Clock::kRealtime);
    if (r < 0) return r;
    rt_offset_ns_ = realtime_offset();
  }
  step_fn_ = fn;
  step_ctx_ = ctx;
  armed_ns_[kRealtime] = kArmUnknown;
  timers_changed();
  return 0;
}

int64_t Loop::clock_step_base() const { return rt_offset_ns_; }

void Loop::set_clock_step_base(int64_t offset_ns) { rt_offset_ns_ = offset_ns; }

// Called once per iteration before the wait: a timerfd_settime only where
// the wanted expiry differs from what the timerfd holds.
int Loop::arm_timers() {
  before_.timers_dirty = false;
  for (int c = 0; c < kClockCount; ++c) {
    if (timer_fd_[c] < 0) continue;
    int64_t want = timers_.arm_time(static_cast<Clock>(c));
    if (c == kRealtime && step_fn_ != nullptr && want == TimerSet::kNever) want = kFarFutureNs;
    if (want == armed_ns_[c]) continue;
    if (c == kRealtime) {
      // Setting the timerfd clears a pending cancel: collect a step first.
      uint64_t expirations = 0;
      if (hal::read(timer_fd_[c], &expirations, sizeof expirations) == -ECANCELED) {
        on_clock_step();
        want = timers_.arm_time(Clock::kRealtime);
        if (step_fn_ != nullptr && want == TimerSet::kNever) want = kFarFutureNs;
      }
    }
    hal::Itimerspec its{{0, 0}, {0, 0}};
    int flags = hal::kTfdTimerAbstime;
    if (c == kRealtime) flags |= hal::kTfdTimerCancelOnSet;
    // An absolute expiry in the past fires at once; 0 would disarm.
    if (want != TimerSet::kNever) its.value = to_timespec(want > 0 ? want : 1);
    const int r = hal::timerfd_settime(timer_fd_[c], flags, &its, nullptr);
    if (r < 0) {
      before_.timers_dirty = true;  // try again next iteration
      return r;
    }
    ++health_.timerfd_arms;
    armed_ns_[c] = want;
  }
  return 0;
}

void Loop::on_clock_step() {
  ++health_.clock_steps;
  const int64_t off = realtime_offset();
  const int64_t step = off - rt_offset_ns_;
  rt_offset_ns_ = off;
  if (step_fn_ == nullptr) return;
  step_fn_(*this, step, step_ctx_);
  timed_end();
}

void Loop::expire_timers(Clock clock) {
  const int c = static_cast<int>(clock);
  // Only the realtime timerfd is read, for its ECANCELED (a clock step).
  // The others fired their one shot; the timerfd_settime that arms the next
  // deadline (or disarms) before the next wait clears the expiration, so
  // epoll stops reporting them: 2 system calls per wake-up, not 3.
  long r = 0;
  if (clock == Clock::kRealtime) {
    uint64_t expirations = 0;
    r = hal::read(timer_fd_[c], &expirations, sizeof expirations);
  }
  armed_ns_[c] = r == -ECANCELED || clock != Clock::kRealtime ? kArmUnknown : TimerSet::kNever;
  before_.timers_dirty = true;
  if (r == -ECANCELED) on_clock_step();
  const int64_t t = now(clock);
  const uint32_t batch = timers_.next_seq();
  const uint64_t kind_bits = handle::pack(salt_, Kind::kTimer, 0, 0);  // gen and index per timer
  uint32_t missed = 0;
  int64_t lag = 0;
  for (;;) {
    const uint32_t i = timers_.pop_due(clock, t, batch, &missed, &lag);
    if (i == kNoSlot) break;
    TimerSlot& s = timers_.pool().at(i);
    const uint32_t gen = meta::gen(s.meta);
    health_.timer_lag_ns_last = lag;
    if (lag > health_.timer_lag_ns_max) health_.timer_lag_ns_max = lag;
    s.fn(*this, TimerHandle{kind_bits | (uint64_t{gen} << handle::kIndexBits) | i}, missed,
         TimerSet::ctx_of(s));
    timed_end();
    timers_.finish(i, gen);
  }
  timers_.unpark(clock);
}

}  // namespace evl
