// TimerSet: the loop's timers, as pure arithmetic. It is told the time and
// never asks for it, never makes a system call, never allocates; the Loop
// (loop/timers.cc) adds the timerfds around it.
//
// Timers live in a fixed pool of slots. Each clock has its own 4-ary
// min-heap of (deadline, order) entries, kept beside the slots so that
// comparisons touch only the heap array; each slot stores its heap position,
// so stop and restart need no search. The deadline lives only in the heap
// entry: a timer costs its 24-byte slot (16 on 32-bit targets) and its
// 16-byte entry. A period and a slack, which few timers have, live apart in
// a small pool of TimerExtra (StaticLoop's PeriodicTimers).
//
// A timer started, restarted or rescheduled during a batch of expiries that
// is already due fires in the next iteration: pop_due parks its entry at the
// far end of the clock's heap array (which always has room: a clock holds no
// more timers than its heap has entries), and unpark() puts the parked
// entries back after the batch.
//
// Ordering: timers with the same deadline fire in the order they were
// started or restarted (a sequence number breaks ties).
#pragma once

#include <cerrno>
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

// A timer slot's kind bits in meta (slots.h): extra (bit 0: ctx points to
// the timer's TimerExtra), clock (bits 1..2), catch-up overrun policy (bit 3).
namespace timer_bits {
constexpr uint32_t kExtra = 1u << 0;
constexpr uint32_t kClockShift = 1;
constexpr uint32_t kClockMask = 3u << kClockShift;
constexpr uint32_t kCatchUp = 1u << 3;
}  // namespace timer_bits

struct TimerSlot {
  TimerFn fn;
  void* ctx;          // the callback's ctx; with kExtra, the TimerExtra holding it
  uint32_t meta;      // slots.h's layout; kind bits: timer_bits
  uint32_t heap_pos;  // in its clock's heap array, kNoSlot if none; free-list link when free
  uint32_t& link() { return heap_pos; }
};

// What only some timers have: a period, a slack.
struct TimerExtra {
  void* ctx;          // the callback's
  int64_t period_ns;  // 0 for one-shot
  uint32_t slack_us;  // may fire up to this late, to share a wake-up
  uint32_t next_free;
};

constexpr uint32_t kHeapArity = 4;

struct HeapEntry {
  int64_t key_ns;  // the deadline
  uint32_t slot;
  uint32_t seq;  // order of (re)start, for ties
};

// The heap's order: the earlier deadline, then the earlier (re)start.
__attribute__((always_inline)) inline bool heap_before(const HeapEntry& a, const HeapEntry& b) {
  return a.key_ns < b.key_ns || (a.key_ns == b.key_ns && static_cast<int32_t>(a.seq - b.seq) < 0);
}

struct TimerStorage {
  TimerSlot* slots;
  uint32_t capacity;
  HeapEntry* heaps[kClockCount];
  uint32_t heap_capacity[kClockCount];  // also the most timers the clock may hold
  TimerExtra* extras;
  uint32_t extra_capacity;
};

class TimerSet {
 public:
  static constexpr int64_t kNever = INT64_MAX;

  void init(const TimerStorage& st, uint32_t* keepers = nullptr);

  // Adds a timer; returns 0 and its slot index, -ENOSPC when the pool is
  // full, the clock holds as many timers as its heap has entries, or the
  // timer has a period or slack and no TimerExtra is free.
  [[nodiscard]] int start(Clock clock, int64_t deadline_ns, int64_t period_ns, Overrun overrun,
                          uint32_t slack_us, TimerFn fn, void* ctx, uint32_t* index) {
    const int r = add(clock, period_ns, overrun, slack_us, fn, ctx, index);
    return r < 0 ? r : schedule(clock, *index, deadline_ns);
  }
  // start() in two steps, so that the loop can make its handle before the
  // heap's work and end in a tail call: add() takes a slot (the same
  // errors), schedule() puts it in the heap.
  [[nodiscard]] int add(Clock clock, int64_t period_ns, Overrun overrun, uint32_t slack_us,
                        TimerFn fn, void* ctx, uint32_t* index);
  // The heap's calls return 0, always: the loop's calls end in them.
  int schedule(Clock clock, uint32_t index, int64_t deadline_ns) {
    const int c = static_cast<int>(clock);
    return sift_up(c, heap_size_[c]++, HeapEntry{deadline_ns, index, seq_++});
  }
  int restart(uint32_t index, int64_t deadline_ns);
  int stop(uint32_t index);
  // A new period from the next expiry on; -ENOSPC when the timer had none
  // and no TimerExtra is free.
  [[nodiscard]] int set_period(uint32_t index, int64_t period_ns);

  // When the clock's timerfd should next expire: the earliest deadline, or
  // later by the top timer's slack unless another timer is due first.
  // kNever when the clock has no timer.
  int64_t arm_time(Clock clock) const;

  // The next timer due at now_ns and started before batch_seq, or kNoSlot.
  // A one-shot timer leaves the set (its slot stays allocated until the
  // caller releases it with finish()); a periodic timer is rescheduled.
  // *missed receives the ticks skipped, *lag_ns how late it is. Entries due
  // but (re)started from batch_seq on are parked until unpark().
  uint32_t pop_due(Clock clock, int64_t now_ns, uint32_t batch_seq, uint32_t* missed,
                   int64_t* lag_ns);
  // Ends a batch: parked entries go back into the heap.
  void unpark(Clock clock);
  // Releases a one-shot timer after its callback (gen: its generation when
  // popped), unless the callback restarted or stopped it.
  void finish(uint32_t index, uint32_t gen);

  uint32_t next_seq() const { return seq_; }
  Pool<TimerSlot>& pool() { return pool_; }
  const Pool<TimerSlot>& pool() const { return pool_; }
  // Timers scheduled on the clock (in its heap or parked).
  uint32_t count(Clock clock) const {
    const int c = static_cast<int>(clock);
    return heap_size_[c] + parked_[c];
  }
  static Clock clock_of(const TimerSlot& s) {
    return static_cast<Clock>((s.meta & timer_bits::kClockMask) >> timer_bits::kClockShift);
  }
  static bool scheduled(const TimerSlot& s) { return s.heap_pos != kNoSlot; }
  static void* ctx_of(const TimerSlot& s) {
    return (s.meta & timer_bits::kExtra) != 0 ? static_cast<TimerExtra*>(s.ctx)->ctx : s.ctx;
  }
  // A scheduled timer's deadline.
  int64_t deadline(uint32_t index) const {
    const TimerSlot& s = pool_.at(index);
    return st_.heaps[static_cast<int>(clock_of(s))][s.heap_pos].key_ns;
  }
  uint32_t extras_used() const { return extras_used_; }
  // A scheduled timer's period, slack and start order.
  void describe(uint32_t index, int64_t* period_ns, uint32_t* slack_us, uint32_t* seq) const {
    const TimerSlot& s = pool_.at(index);
    const TimerExtra* x = extra_of(s);
    *period_ns = x != nullptr ? x->period_ns : 0;
    *slack_us = x != nullptr ? x->slack_us : 0;
    *seq = st_.heaps[static_cast<int>(clock_of(s))][s.heap_pos].seq;
  }

  // Checks the heap property, the slot <-> heap back-links, the parked
  // entries and the extras for every clock; false on the first violation.
  bool verify() const;

 private:
  static const TimerExtra* extra_of(const TimerSlot& s) {
    return (s.meta & timer_bits::kExtra) != 0 ? static_cast<const TimerExtra*>(s.ctx) : nullptr;
  }
  void place(int c, uint32_t pos, const HeapEntry& e) {
    st_.heaps[c][pos] = e;
    pool_.at(e.slot).heap_pos = pos;
  }
  static uint32_t parent(uint32_t pos) { return (pos - 1) / kHeapArity; }
  int sift_up(int c, uint32_t pos, HeapEntry e);
  int sift_down(int c, uint32_t pos, HeapEntry e);
  int replace_top(int c, HeapEntry e);
  // Takes the entry at pos out of the heap (the last one fills its place);
  // its slot's heap_pos is left as it was (stop() released the slot, and
  // the other callers place the entry again).
  int heap_erase(int c, uint32_t pos);
  // The top leaves the heap (a one-shot that fired).
  void pop_top(int c) {
    HeapEntry* h = st_.heaps[c];
    pool_.at(h[0].slot).heap_pos = kNoSlot;
    const uint32_t last = --heap_size_[c];
    if (last != 0) (void)replace_top(c, h[last]);
  }
  uint32_t pop_extra(int c, const HeapEntry& top, int64_t now_ns, uint32_t* missed);
  void park_top(int c);
  // The same for a parked entry.
  int erase_parked(int c, uint32_t pos);
  int reschedule(int c, uint32_t pos, HeapEntry e);
  void attach_extra(TimerSlot& s, int64_t period_ns, uint32_t slack_us);
  // stop() of a timer with a TimerExtra: out of line, so that the common
  // stop makes no call but tail calls and needs no frame.
  int stop_extra(uint32_t index);
  void free_extra(TimerSlot& s) {
    auto* x = static_cast<TimerExtra*>(s.ctx);
    x->next_free = extra_free_;
    extra_free_ = static_cast<uint32_t>(x - st_.extras);
    --extras_used_;
  }
  void release(uint32_t index) {
    TimerSlot& s = pool_.at(index);
    if ((s.meta & timer_bits::kExtra) != 0) free_extra(s);
    --used_[static_cast<int>(clock_of(s))];
    pool_.release(index);
  }

  Pool<TimerSlot> pool_;
  TimerStorage st_{};
  uint32_t heap_size_[kClockCount] = {};
  uint32_t parked_[kClockCount] = {};  // at the end of the heap array
  uint32_t used_[kClockCount] = {};    // live timers of the clock, scheduled or not
  uint32_t seq_ = 0;
  uint32_t extra_free_ = kNoSlot;
  uint32_t extras_used_ = 0;
};

// The hot calls, inline: the loop's timer_start, timer_restart and
// timer_stop are one call each.
inline int TimerSet::add(Clock clock, int64_t period_ns, Overrun overrun, uint32_t slack_us,
                         TimerFn fn, void* ctx, uint32_t* index) {
  const int c = static_cast<int>(clock);
  if (used_[c] >= st_.heap_capacity[c]) return -ENOSPC;
  const bool extra = period_ns != 0 || slack_us != 0;
  if (extra && extra_free_ == kNoSlot) return -ENOSPC;
  TimerSlot* s = pool_.alloc(index, (static_cast<uint32_t>(c) << timer_bits::kClockShift) |
                                        (overrun == Overrun::kCatchUp ? timer_bits::kCatchUp : 0));
  if (s == nullptr) return -ENOSPC;
  s->fn = fn;
  s->ctx = ctx;
  if (extra) attach_extra(*s, period_ns, slack_us);
  ++used_[c];
  return 0;
}

inline int TimerSet::restart(uint32_t index, int64_t deadline_ns) {
  TimerSlot& s = pool_.at(index);
  const int c = static_cast<int>(clock_of(s));
  const HeapEntry e{deadline_ns, index, seq_++};
  const uint32_t pos = s.heap_pos;
  if (pos >= heap_size_[c]) return reschedule(c, pos, e);  // parked or out of the heap
  if (pos > 0 && heap_before(e, st_.heaps[c][parent(pos)])) return sift_up(c, pos, e);
  if (pos * kHeapArity + 1 >= heap_size_[c]) {  // a leaf, as 3 entries in 4 are
    st_.heaps[c][pos] = e;                      // (its slot's heap_pos is pos already)
    return 0;
  }
  return sift_down(c, pos, e);
}

// Inline in the loop's expiry: a one-shot without extras (most timers)
// costs no call but the heap's. A periodic one is rescheduled out of line.
inline uint32_t TimerSet::pop_due(Clock clock, int64_t now_ns, uint32_t batch_seq, uint32_t* missed,
                                  int64_t* lag_ns) {
  const int c = static_cast<int>(clock);
  const HeapEntry* h = st_.heaps[c];
  for (;;) {
    if (heap_size_[c] == 0 || h[0].key_ns > now_ns) return kNoSlot;
    // Started, restarted or rescheduled during this batch and already due:
    // it fires in the next iteration.
    if (static_cast<int32_t>(h[0].seq - batch_seq) < 0) break;
    park_top(c);
  }
  const HeapEntry top = h[0];
  *lag_ns = now_ns - top.key_ns;
  *missed = 0;
  if ((pool_.at(top.slot).meta & timer_bits::kExtra) != 0) return pop_extra(c, top, now_ns, missed);
  pop_top(c);
  return top.slot;
}

inline void TimerSet::finish(uint32_t index, uint32_t gen) {
  const TimerSlot& s = pool_.at(index);
  // The same timer (a stopped one's generation moved on, so a match is
  // live), out of the heap after its callback: a one-shot that was not
  // restarted (also one given a period inside that callback: it had
  // already ended).
  if (meta::gen(s.meta) == gen && !scheduled(s)) release(index);
}

// Inline in the loop's timer_stop, which then makes no call but tail
// calls.
inline int TimerSet::stop(uint32_t index) {
  const TimerSlot& s = pool_.at(index);
  const uint32_t m = s.meta;
  if ((m & timer_bits::kExtra) != 0) return stop_extra(index);
  const int c = static_cast<int>((m & timer_bits::kClockMask) >> timer_bits::kClockShift);
  const uint32_t pos = s.heap_pos;
  --used_[c];
  pool_.release(index);  // heap_pos is now the free list's link: read above
  if (pos < heap_size_[c]) return heap_erase(c, pos);
  if (pos != kNoSlot) return erase_parked(c, pos);
  return 0;
}

}  // namespace evl
