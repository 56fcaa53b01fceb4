#include "loop/timer_set.h"

#include "loop/time.h"

namespace evl {
namespace {

uint32_t first_child(uint32_t pos) { return pos * kHeapArity + 1; }

// The smallest of the children from `first` to the heap's end (n), when
// there are fewer than four (first < n < first + 4): the one family on
// any path that is not full.
uint32_t min_of_last(const HeapEntry* h, uint32_t first, uint32_t n) {
  uint32_t best = first;
  for (uint32_t k = first + 1; k < n; ++k) {
    if (heap_before(h[k], h[best])) best = k;
  }
  return best;
}

// A walk down a heap with pointers, not indices: a hole's first child
// is 4 * hole - 3 * h + 1 entries, one lea from the hole. The walks test
// a hole against the last entry with four children before they ask for
// its children, so no pointer past the heap is made.
class Descent {
 public:
  explicit Descent(HeapEntry* h)
      : h_(h), to_child_(sizeof(HeapEntry) - 3 * reinterpret_cast<uintptr_t>(h)) {}
  // The smallest of a full family's four children: a tournament of three.
  const HeapEntry* min_of_four(const HeapEntry* hole) const {
    // An integer made back into a pointer: measured, it saves the index
    // arithmetic GCC keeps for h_ + (hole - h_) * 4 + 1 (8 instructions per
    // timer fired at 1k timers, 18 at 100k). ch is in the heap: the
    // hole's family is full.
    const HeapEntry* const ch =
        reinterpret_cast<const HeapEntry*>(  // NOLINT(performance-no-int-to-ptr)
            4 * reinterpret_cast<uintptr_t>(hole) + to_child_);
    const HeapEntry* const a = heap_before(ch[1], ch[0]) ? ch + 1 : ch;
    const HeapEntry* const b = heap_before(ch[3], ch[2]) ? ch + 3 : ch + 2;
    return heap_before(*b, *a) ? b : a;
  }
  uint32_t index(const HeapEntry* e) const { return static_cast<uint32_t>(e - h_); }
  // The child `from` moves up into the hole.
  void move_up(TimerSlot* slots, HeapEntry* hole, const HeapEntry* from) const {
    *hole = *from;
    slots[from->slot].heap_pos = index(hole);
  }
  int place(TimerSlot* slots, HeapEntry* hole, const HeapEntry& e) const {
    *hole = e;
    slots[e.slot].heap_pos = index(hole);
    return 0;
  }

 private:
  HeapEntry* h_;
  uintptr_t to_child_;
};

}  // namespace

void TimerSet::init(const TimerStorage& st, uint32_t* keepers) {
  st_ = st;
  pool_.init(st.slots, st.capacity, keepers);
  for (int c = 0; c < kClockCount; ++c) heap_size_[c] = parked_[c] = used_[c] = 0;
  seq_ = 0;
  extra_free_ = kNoSlot;
  extras_used_ = 0;
  for (uint32_t i = st.extra_capacity; i-- > 0;) {
    st.extras[i].next_free = extra_free_;
    extra_free_ = i;
  }
}

int TimerSet::sift_up(int c, uint32_t pos, HeapEntry e) {
  HeapEntry* const h = st_.heaps[c];
  TimerSlot* const slots = &pool_.at(0);
  while (pos > 0) {
    const uint32_t p = parent(pos);
    if (!heap_before(e, h[p])) break;
    h[pos] = h[p];
    slots[h[p].slot].heap_pos = pos;
    pos = p;
  }
  h[pos] = e;
  slots[e.slot].heap_pos = pos;
  return 0;
}

// (Its callers place an entry that lands on a leaf, 3 in 4, themselves.)
// As replace_top(), with pointers; the entry stops where no child is
// before it.
int TimerSet::sift_down(int c, uint32_t pos, HeapEntry e) {
  HeapEntry* const h = st_.heaps[c];
  TimerSlot* const slots = &pool_.at(0);
  const uint32_t n = heap_size_[c];
  const Descent d(h);
  HeapEntry* hole = h + pos;
  if (n > kHeapArity) {
    const HeapEntry* const last_full = h + (n - kHeapArity - 1) / kHeapArity;
    while (hole <= last_full) {
      const HeapEntry* const best = d.min_of_four(hole);
      if (!heap_before(*best, e)) return d.place(slots, hole, e);
      d.move_up(slots, hole, best);
      hole = const_cast<HeapEntry*>(best);
    }
  }
  const uint32_t first = first_child(d.index(hole));
  if (first < n) {
    const HeapEntry* const best = h + min_of_last(h, first, n);
    if (heap_before(*best, e)) {
      d.move_up(slots, hole, best);
      hole = const_cast<HeapEntry*>(best);
    }
  }
  return d.place(slots, hole, e);
}

// Replaces the top with e, Floyd's way: the hole goes down to a leaf along
// the smaller children (no comparison with e on the way), then e rises from
// there. An entry that replaces the top (the heap's last one, a periodic
// timer's next deadline) mostly belongs near the leaves, so this takes
// fewer comparisons than sifting e down. The hole passes full families in
// the loop; at most one family on its path has fewer children, the last.
int TimerSet::replace_top(int c, HeapEntry e) {
  HeapEntry* const h = st_.heaps[c];
  TimerSlot* const slots = &pool_.at(0);
  const uint32_t n = heap_size_[c];
  const Descent d(h);
  HeapEntry* hole = h;
  if (n > kHeapArity) {
    const HeapEntry* const last_full = h + (n - kHeapArity - 1) / kHeapArity;
    while (hole <= last_full) {
      const HeapEntry* const best = d.min_of_four(hole);
      d.move_up(slots, hole, best);
      hole = const_cast<HeapEntry*>(best);
    }
  }
  uint32_t pos = d.index(hole);
  if (first_child(pos) < n) {
    const uint32_t best = min_of_last(h, first_child(pos), n);
    d.move_up(slots, hole, h + best);
    pos = best;
  }
  // e mostly stays at the leaf: one comparison here, not a call.
  if (pos > 0 && heap_before(e, h[parent(pos)])) return sift_up(c, pos, e);
  return d.place(slots, h + pos, e);
}

int TimerSet::heap_erase(int c, uint32_t pos) {
  const HeapEntry* h = st_.heaps[c];
  const uint32_t last = --heap_size_[c];
  if (pos == last) return 0;
  const HeapEntry moved = h[last];
  if (pos == 0) return replace_top(c, moved);
  if (heap_before(moved, h[parent(pos)])) return sift_up(c, pos, moved);
  if (first_child(pos) >= last) {  // a leaf, as 3 entries in 4 are
    place(c, pos, moved);
    return 0;
  }
  return sift_down(c, pos, moved);
}

// The top entry waits at the array's end until unpark(). There is room:
// heap entries + parked entries <= the clock's timers <= the array's size.
void TimerSet::park_top(int c) {
  const HeapEntry e = st_.heaps[c][0];
  (void)heap_erase(c, 0);
  place(c, st_.heap_capacity[c] - ++parked_[c], e);
}

void TimerSet::unpark(Clock clock) {
  const int c = static_cast<int>(clock);
  while (parked_[c] > 0) {
    const HeapEntry e = st_.heaps[c][st_.heap_capacity[c] - parked_[c]];
    --parked_[c];
    (void)sift_up(c, heap_size_[c]++, e);
  }
}

int TimerSet::erase_parked(int c, uint32_t pos) {
  const HeapEntry* h = st_.heaps[c];
  const uint32_t lowest = st_.heap_capacity[c] - parked_[c]--;
  if (pos != lowest) place(c, pos, h[lowest]);
  return 0;
}

// restart() of a timer not in the heap: parked, or a one-shot that fired.
int TimerSet::reschedule(int c, uint32_t pos, HeapEntry e) {
  if (pos != kNoSlot) (void)erase_parked(c, pos);
  return sift_up(c, heap_size_[c]++, e);
}

int TimerSet::stop_extra(uint32_t index) {
  TimerSlot& s = pool_.at(index);
  void* ctx = static_cast<TimerExtra*>(s.ctx)->ctx;
  free_extra(s);
  s.ctx = ctx;
  s.meta &= ~timer_bits::kExtra;
  return stop(index);
}

void TimerSet::attach_extra(TimerSlot& s, int64_t period_ns, uint32_t slack_us) {
  TimerExtra& x = st_.extras[extra_free_];
  extra_free_ = x.next_free;
  ++extras_used_;
  x.ctx = s.ctx;
  x.period_ns = period_ns;
  x.slack_us = slack_us;
  s.ctx = &x;
  s.meta |= timer_bits::kExtra;
}

int TimerSet::set_period(uint32_t index, int64_t period_ns) {
  TimerSlot& s = pool_.at(index);
  if ((s.meta & timer_bits::kExtra) != 0) {
    static_cast<TimerExtra*>(s.ctx)->period_ns = period_ns;
    return 0;
  }
  if (period_ns == 0) return 0;
  if (extra_free_ == kNoSlot) return -ENOSPC;
  attach_extra(s, period_ns, 0);
  return 0;
}

int64_t TimerSet::arm_time(Clock clock) const {
  const int c = static_cast<int>(clock);
  const uint32_t n = heap_size_[c];
  const HeapEntry* h = st_.heaps[c];
  int64_t t = kNever;
  if (n > 0) {
    const TimerExtra* x = extra_of(pool_.at(h[0].slot));
    const int64_t slack_ns = x != nullptr ? int64_t{x->slack_us} * 1000 : 0;
    t = add_sat(h[0].key_ns, slack_ns);
    // Every other timer is due no earlier than the smallest child's key.
    for (uint32_t k = 1; k <= kHeapArity && k < n; ++k) {
      if (h[k].key_ns < t) t = h[k].key_ns;
    }
  }
  // Parked entries are due (only inside a batch).
  for (uint32_t pos = st_.heap_capacity[c] - parked_[c]; pos < st_.heap_capacity[c]; ++pos) {
    if (h[pos].key_ns < t) t = h[pos].key_ns;
  }
  return t;
}

// pop_due() for a timer with a TimerExtra: a one-shot with slack leaves
// the heap; a periodic one is rescheduled.
uint32_t TimerSet::pop_extra(int c, const HeapEntry& top, int64_t now_ns, uint32_t* missed) {
  const TimerSlot& s = pool_.at(top.slot);
  const TimerExtra* x = extra_of(s);
  if (x->period_ns == 0) {
    pop_top(c);
    return top.slot;
  }
  // Keep the phase: deadline n = first + n * period, whatever the latency.
  int64_t ticks = 1;
  if ((s.meta & timer_bits::kCatchUp) == 0) {
    ticks = (now_ns - top.key_ns) / x->period_ns + 1;
    const int64_t skipped = ticks - 1;
    *missed = skipped > 0xffffffffLL ? 0xffffffffu : static_cast<uint32_t>(skipped);
  }
  // kNever past the range.
  const int64_t next = add_sat(top.key_ns, mul_sat(ticks, x->period_ns));
  (void)replace_top(c, HeapEntry{next, top.slot, seq_++});
  return top.slot;
}

bool TimerSet::verify() const {
  uint32_t with_extra = 0;
  for (uint32_t i = 0; i < st_.capacity; ++i) {
    if (meta::live(pool_.at(i).meta) && (pool_.at(i).meta & timer_bits::kExtra) != 0) {
      ++with_extra;
    }
  }
  if (with_extra != extras_used_) return false;
  for (int c = 0; c < kClockCount; ++c) {
    const HeapEntry* h = st_.heaps[c];
    const uint32_t cap = st_.heap_capacity[c];
    if (heap_size_[c] + parked_[c] > used_[c] || used_[c] > cap) return false;
    for (uint32_t pos = 0; pos < cap; ++pos) {
      if (pos == heap_size_[c]) pos = cap - parked_[c];  // skip the unused middle
      if (pos >= cap) break;
      const TimerSlot& s = pool_.at(h[pos].slot);
      if (!meta::live(s.meta) || s.heap_pos != pos) return false;
      if (static_cast<int>(clock_of(s)) != c) return false;
      if (pos > 0 && pos < heap_size_[c] && heap_before(h[pos], h[parent(pos)])) return false;
    }
  }
  return true;
}

}  // namespace evl
