#include "loop/timer_set.h"

#include <cerrno>

#include "loop/time.h"

namespace evl {
namespace {

constexpr uint32_t kArity = 4;
constexpr uint32_t kLiftedBit = timer_bits::kLifted;

uint32_t parent(uint32_t pos) { return (pos - 1) / kArity; }
uint32_t first_child(uint32_t pos) { return pos * kArity + 1; }

}  // namespace

void TimerSet::init(const TimerStorage& st, uint32_t* keepers) {
  st_ = st;
  pool_.init(st.slots, st.capacity, keepers);
  for (uint32_t& n : heap_size_) n = 0;
  seq_ = 0;
}

void TimerSet::place(int c, uint32_t pos, const HeapEntry& e) {
  st_.heaps[c][pos] = e;
  st_.slots[e.slot].heap_pos = pos;
}

void TimerSet::sift_up(int c, uint32_t pos, HeapEntry e) {
  HeapEntry* h = st_.heaps[c];
  while (pos > 0) {
    const uint32_t p = parent(pos);
    if (!less(e, h[p])) break;
    place(c, pos, h[p]);
    pos = p;
  }
  place(c, pos, e);
}

void TimerSet::sift_down(int c, uint32_t pos, HeapEntry e) {
  HeapEntry* h = st_.heaps[c];
  const uint32_t n = heap_size_[c];
  for (;;) {
    const uint32_t first = first_child(pos);
    if (first >= n) break;
    const uint32_t end = first + kArity < n ? first + kArity : n;
    uint32_t best = first;
    for (uint32_t k = first + 1; k < end; ++k) {
      if (less(h[k], h[best])) best = k;
    }
    if (!less(h[best], e)) break;
    place(c, pos, h[best]);
    pos = best;
  }
  place(c, pos, e);
}

void TimerSet::heap_push(int c, uint32_t slot) {
  const TimerSlot& s = st_.slots[slot];
  const uint32_t pos = heap_size_[c]++;
  sift_up(c, pos, HeapEntry{s.deadline_ns, slot, s.seq});
}

void TimerSet::heap_remove(int c, uint32_t pos) {
  HeapEntry* h = st_.heaps[c];
  st_.slots[h[pos].slot].heap_pos = kNoSlot;
  const uint32_t last = --heap_size_[c];
  if (pos == last) return;
  const HeapEntry moved = h[last];
  if (pos > 0 && less(moved, h[parent(pos)])) {
    sift_up(c, pos, moved);
  } else {
    sift_down(c, pos, moved);
  }
}

// A top entry whose slot was restarted later gets its true key and sinks.
void TimerSet::fix_top(int c) {
  HeapEntry* h = st_.heaps[c];
  while (heap_size_[c] > 0) {
    TimerSlot& s = st_.slots[h[0].slot];
    if (h[0].seq == s.seq) {
      if (h[0].key_ns == s.deadline_ns) return;
      if ((s.meta & kLiftedBit) != 0 && h[0].key_ns >= s.deadline_ns) return;
    }
    s.meta &= ~kLiftedBit;
    sift_down(c, 0, HeapEntry{s.deadline_ns, h[0].slot, s.seq});
  }
}

int TimerSet::start(Clock clock, int64_t deadline_ns, int64_t period_ns, Overrun overrun,
                    uint32_t slack_us, TimerFn fn, void* ctx, uint32_t* index) {
  const int c = static_cast<int>(clock);
  if (heap_size_[c] >= st_.heap_capacity[c]) return -ENOSPC;
  uint32_t i = 0;
  TimerSlot* s = pool_.alloc(&i);
  if (s == nullptr) return -ENOSPC;
  s->fn = fn;
  s->ctx = ctx;
  s->deadline_ns = deadline_ns;
  s->period_ns = period_ns;
  s->meta |= (static_cast<uint32_t>(c) << timer_bits::kClockShift) |
             (overrun == Overrun::kCatchUp ? timer_bits::kCatchUp : 0);
  s->seq = seq_++;
  s->slack_us = slack_us;
  heap_push(c, i);
  *index = i;
  return 0;
}

void TimerSet::restart(uint32_t index, int64_t deadline_ns) {
  TimerSlot& s = st_.slots[index];
  s.meta &= ~kLiftedBit;
  const int c = static_cast<int>(clock_of(s));
  s.deadline_ns = deadline_ns;
  s.seq = seq_++;
  if (!in_heap(s)) {
    heap_push(c, index);
    return;
  }
  HeapEntry& e = st_.heaps[c][s.heap_pos];
  if (deadline_ns >= e.key_ns) return;  // later: fixed up when it reaches the top
  sift_up(c, s.heap_pos, HeapEntry{deadline_ns, index, s.seq});
}

void TimerSet::stop(uint32_t index) {
  TimerSlot& s = st_.slots[index];
  if (in_heap(s)) heap_remove(static_cast<int>(clock_of(s)), s.heap_pos);
  pool_.release(index);
}

void TimerSet::finish(uint32_t index) {
  const TimerSlot& s = st_.slots[index];
  // Out of the heap after its callback: a one-shot that was not restarted
  // (also one given a period inside that callback: it had already ended).
  if (meta::live(s.meta) && !in_heap(s)) pool_.release(index);
}

int64_t TimerSet::arm_time(Clock clock) {
  const int c = static_cast<int>(clock);
  fix_top(c);
  const uint32_t n = heap_size_[c];
  if (n == 0) return kNever;
  const HeapEntry* h = st_.heaps[c];
  const TimerSlot& top = st_.slots[h[0].slot];
  const int64_t slack_ns = int64_t{top.slack_us} * 1000;
  // The slack counts from the deadline; a lifted key (see pop_due) is only a
  // lower bound.
  int64_t t = top.deadline_ns > kNever - slack_ns ? kNever : top.deadline_ns + slack_ns;
  if (t < h[0].key_ns) t = h[0].key_ns;
  // Every other timer is due no earlier than the smallest child's key.
  for (uint32_t k = 1; k <= kArity && k < n; ++k) {
    if (h[k].key_ns < t) t = h[k].key_ns;
  }
  return t;
}

uint32_t TimerSet::pop_due(Clock clock, int64_t now_ns, uint32_t batch_seq, uint32_t* missed,
                           int64_t* lag_ns) {
  const int c = static_cast<int>(clock);
  fix_top(c);
  if (heap_size_[c] == 0) return kNoSlot;
  HeapEntry top = st_.heaps[c][0];
  if (top.key_ns > now_ns) return kNoSlot;
  // Started, restarted or rescheduled during this batch and already due: it
  // fires in the next iteration. Its key becomes now, which sorts it after
  // every older entry due now, so it hides none of them; its deadline stays
  // for lag and phase. Once such an entry is on top, nothing else is due.
  while (static_cast<int32_t>(top.seq - batch_seq) >= 0) {
    TimerSlot& t = st_.slots[top.slot];
    if ((t.meta & kLiftedBit) != 0 && top.key_ns == now_ns) return kNoSlot;
    t.meta |= kLiftedBit;
    sift_down(c, 0, HeapEntry{now_ns, top.slot, top.seq});
    fix_top(c);
    top = st_.heaps[c][0];
    if (top.key_ns > now_ns) return kNoSlot;
  }
  TimerSlot& s = st_.slots[top.slot];
  s.meta &= ~kLiftedBit;
  *lag_ns = now_ns - s.deadline_ns;
  *missed = 0;
  if (s.period_ns == 0) {
    heap_remove(c, 0);
    return top.slot;
  }
  // Keep the phase: deadline n = first + n * period, whatever the latency.
  int64_t ticks = 1;
  if ((s.meta & timer_bits::kCatchUp) == 0) {
    ticks = (now_ns - s.deadline_ns) / s.period_ns + 1;
    const int64_t skipped = ticks - 1;
    *missed = skipped > 0xffffffffLL ? 0xffffffffu : static_cast<uint32_t>(skipped);
  }
  s.deadline_ns = add_sat(s.deadline_ns, mul_sat(ticks, s.period_ns));  // kNever past the range
  s.seq = seq_++;
  sift_down(c, 0, HeapEntry{s.deadline_ns, top.slot, s.seq});
  return top.slot;
}

void TimerSet::clock_stepped(Clock clock) {
  const int c = static_cast<int>(clock);
  HeapEntry* h = st_.heaps[c];
  const uint32_t n = heap_size_[c];
  bool changed = false;
  for (uint32_t pos = 0; pos < n; ++pos) {
    TimerSlot& s = st_.slots[h[pos].slot];
    if ((s.meta & kLiftedBit) == 0) continue;
    s.meta &= ~kLiftedBit;
    h[pos].key_ns = s.deadline_ns;
    changed = true;
  }
  if (!changed || n < 2) return;
  for (uint32_t pos = parent(n - 1) + 1; pos-- > 0;) sift_down(c, pos, h[pos]);
}

bool TimerSet::verify() const {
  for (int c = 0; c < kClockCount; ++c) {
    const HeapEntry* h = st_.heaps[c];
    for (uint32_t pos = 0; pos < heap_size_[c]; ++pos) {
      const TimerSlot& s = st_.slots[h[pos].slot];
      if (!meta::live(s.meta) || s.heap_pos != pos) return false;
      if (static_cast<int>(clock_of(s)) != c) return false;
      if (h[pos].key_ns > s.deadline_ns && (s.meta & kLiftedBit) == 0) return false;
      if (pos > 0 && less(h[pos], h[parent(pos)])) return false;
    }
  }
  return true;
}

}  // namespace evl
