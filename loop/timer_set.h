// TimerSet: the loop's timers, as pure arithmetic. It is told the time and
// never asks for it, never makes a system call, never allocates; the Loop
// (loop/timers.cc) adds the timerfds around it.
//
// Timers live in a fixed pool of slots. Each clock has its own 4-ary
// min-heap of (deadline, order) entries, kept beside the slots so that
// comparisons touch only the heap array; each slot stores its heap position,
// so stop and restart need no search.
//
// A restart that moves a deadline later (the idle-timeout pattern) only
// writes the slot: the heap entry keeps the old, earlier key until it reaches
// the top, where it is fixed up and sifted down once. A storm of restarts
// thus costs O(1) each, and the heap stays correct because an entry's key
// never exceeds its slot's deadline.
//
// Ordering: timers with the same deadline fire in the order they were
// started or restarted (a sequence number breaks ties).
#pragma once

#include <cstdint>

#include "loop/handle.h"
#include "loop/pool.h"

namespace evl {

class Loop;

enum class Clock : uint8_t { kMonotonic = 0, kBoottime = 1, kRealtime = 2 };
constexpr int kClockCount = 3;

// What a periodic timer does when the loop falls k periods behind.
enum class Overrun : uint8_t {
  kSkip = 0,     // fire once, pass the k missed ticks, continue on the phase
  kCatchUp = 1,  // fire every missed tick, one per loop iteration
};

// missed: ticks skipped before this one (kSkip policy), else 0.
using TimerFn = void (*)(Loop& loop, TimerHandle h, uint32_t missed, void* ctx);

// A timer slot's kind bits in meta (slots.h): lifted (bit 0: the heap key was
// moved past the current batch, see pop_due), clock (bits 1..2), catch-up
// overrun policy (bit 3).
namespace timer_bits {
constexpr uint32_t kLifted = 1u << 0;
constexpr uint32_t kClockShift = 1;
constexpr uint32_t kClockMask = 3u << kClockShift;
constexpr uint32_t kCatchUp = 1u << 3;
}  // namespace timer_bits

struct TimerSlot {
  TimerFn fn;
  void* ctx;
  int64_t deadline_ns;  // the true deadline; the heap key may be earlier
  int64_t period_ns;    // 0 for one-shot
  uint32_t meta;        // slots.h's layout; kind bits: TimerBits
  uint32_t heap_pos;    // position in its clock's heap; free-list link when free
  uint32_t seq;         // order of (re)start, for ties
  uint32_t slack_us;    // may fire up to this late, to share a wake-up
  uint32_t& link() { return heap_pos; }
};

struct HeapEntry {
  int64_t key_ns;
  uint32_t slot;
  uint32_t seq;
};

struct TimerStorage {
  TimerSlot* slots;
  uint32_t capacity;
  HeapEntry* heaps[kClockCount];
  uint32_t heap_capacity[kClockCount];
};

class TimerSet {
 public:
  static constexpr int64_t kNever = INT64_MAX;

  void init(const TimerStorage& st, uint32_t* keepers = nullptr);

  // Adds a timer; returns 0 and its slot index, -ENOSPC when the pool or the
  // clock's heap is full.
  [[nodiscard]] int start(Clock clock, int64_t deadline_ns, int64_t period_ns, Overrun overrun,
                          uint32_t slack_us, TimerFn fn, void* ctx, uint32_t* index);
  void restart(uint32_t index, int64_t deadline_ns);
  void stop(uint32_t index);

  // When the clock's timerfd should next expire: the earliest deadline, or
  // later by the top timer's slack unless another timer is due first.
  // kNever when the clock has no timer.
  int64_t arm_time(Clock clock);

  // The next timer due at now_ns and started before batch_seq, or kNoSlot.
  // A one-shot timer leaves the set (its slot stays allocated until the
  // caller releases it with finish()); a periodic timer is rescheduled.
  // *missed receives the ticks skipped, *lag_ns how late it is.
  uint32_t pop_due(Clock clock, int64_t now_ns, uint32_t batch_seq, uint32_t* missed,
                   int64_t* lag_ns);
  // After a step of the clock: keys that pop_due moved to "now" refer to the
  // old time; they go back to their deadlines (O(n), steps are rare).
  void clock_stepped(Clock clock);
  // Releases a one-shot timer after its callback, unless the callback
  // restarted or stopped it.
  void finish(uint32_t index);

  uint32_t next_seq() const { return seq_; }
  Pool<TimerSlot>& pool() { return pool_; }
  const Pool<TimerSlot>& pool() const { return pool_; }
  uint32_t count(Clock clock) const { return heap_size_[static_cast<int>(clock)]; }
  static Clock clock_of(const TimerSlot& s) {
    return static_cast<Clock>((s.meta & timer_bits::kClockMask) >> timer_bits::kClockShift);
  }
  static bool in_heap(const TimerSlot& s) { return s.heap_pos != kNoSlot; }

  // Checks the heap property, the slot <-> heap back-links and key <= deadline
  // for every clock; returns false on the first violation.
  bool verify() const;

 private:
  bool less(const HeapEntry& a, const HeapEntry& b) const {
    return a.key_ns < b.key_ns || (a.key_ns == b.key_ns && static_cast<int32_t>(a.seq - b.seq) < 0);
  }
  void place(int c, uint32_t pos, const HeapEntry& e);
  void sift_up(int c, uint32_t pos, HeapEntry e);
  void sift_down(int c, uint32_t pos, HeapEntry e);
  void heap_push(int c, uint32_t slot);
  void heap_remove(int c, uint32_t pos);
  void fix_top(int c);

  Pool<TimerSlot> pool_;
  TimerStorage st_{};
  uint32_t heap_size_[kClockCount] = {};
  uint32_t seq_ = 0;
};

}  // namespace evl
