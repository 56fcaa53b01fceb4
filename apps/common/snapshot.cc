#include "apps/common/snapshot.h"

#include <cerrno>

namespace app {
namespace {

// A timer as a snapshot holds it: one layout on every target.
struct SavedTimer {
  int64_t deadline_ns;
  int64_t period_ns;
  int64_t slack_ns;
  uint32_t seq;
  uint8_t armed;
  uint8_t clock;
  uint8_t overrun;
  uint8_t weak;
};
static_assert(sizeof(SavedTimer) == 32, "one layout on every target");

}  // namespace

void save_timer(flight::SnapWriter& w, const evl::Loop& loop, evl::TimerHandle h) {
  SavedTimer t{};
  evl::TimerState st;
  if (h && loop.timer_state(h, &st) == 0) {
    t = SavedTimer{st.spec.deadline_ns,
                   st.spec.period_ns,
                   st.spec.slack_ns,
                   st.seq,
                   1,
                   static_cast<uint8_t>(st.spec.clock),
                   static_cast<uint8_t>(st.spec.overrun),
                   static_cast<uint8_t>(st.weak ? 1 : 0)};
  }
  w.put(t);
}

void Restore::timer(evl::TimerHandle* h, evl::TimerFn fn, void* ctx) {
  *h = evl::TimerHandle{};
  SavedTimer t{};
  if (!get(&t) || t.armed == 0) return;
  if (ntimers_ == kMaxTimers || t.clock >= evl::kClockCount || t.overrun > 1 || t.weak > 1) {
    failed_ = true;
    return;
  }
  evl::TimerState st;
  st.spec.clock = static_cast<evl::Clock>(t.clock);
  st.spec.deadline_ns = t.deadline_ns;
  st.spec.period_ns = t.period_ns;
  st.spec.overrun = static_cast<evl::Overrun>(t.overrun);
  st.spec.slack_ns = t.slack_ns;
  st.seq = t.seq;
  st.weak = t.weak != 0;
  timers_[ntimers_++] = Pending{st, h, fn, ctx};
}

void Restore::io(int fd, uint32_t events, evl::IoFn fn, void* ctx, evl::IoHandle* h) {
  *h = evl::IoHandle{};
  if (failed() || fd < 0) return;
  if (loop_.io_start(fd, events, fn, ctx, h) < 0) failed_ = true;
}

int Restore::finish() {
  // Insertion sort by start order (a handful of timers; seq wraps).
  for (size_t i = 1; i < ntimers_; ++i) {
    const Pending p = timers_[i];
    size_t j = i;
    for (; j > 0 && static_cast<int32_t>(p.st.seq - timers_[j - 1].st.seq) < 0; --j) {
      timers_[j] = timers_[j - 1];
    }
    timers_[j] = p;
  }
  for (size_t i = 0; i < ntimers_ && !failed(); ++i) {
    const Pending& p = timers_[i];
    if (loop_.timer_start(p.st.spec, p.fn, p.ctx, p.h) < 0 ||
        (p.st.weak && loop_.set_weak(*p.h, true) < 0)) {
      failed_ = true;
    }
  }
  if (failed() || loop_.arm_timers_now() < 0) return -EINVAL;
  return 0;
}

}  // namespace app
