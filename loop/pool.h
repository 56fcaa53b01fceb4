// A fixed pool of watcher slots over caller-supplied storage.
//
// Instantiated once per slot type, never per capacity: the capacity is a run
// time value, the storage array comes from StaticLoop. Released slots form a
// LIFO list through Slot::link(); slots never handed out since init() are
// taken in index order after it is empty. So alloc() keeps no high-water
// mark: while the list is empty, the slots in use are the ones ever taken
// less the retired ones, and a slot on the list means fewer are in use than
// were when the last fresh one was taken; stats() works it out (see
// high_water()). The meta word's layout is in slots.h: the
// generation is bumped on every release, so a handle to a stopped watcher
// never names the slot again; a slot whose generation is exhausted (2^24 - 1
// uses) is retired, counted in PoolStats::retired, and never handed out
// again, rather than let its generation wrap and revive old handles.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>

#include "loop/handle.h"
#include "loop/slots.h"

namespace evl {

struct PoolStats {
  uint32_t capacity = 0;
  uint32_t used = 0;
  uint32_t high_water = 0;
  uint32_t retired = 0;  // slots whose generation ran out (see above)
  uint32_t weak = 0;     // of used: weak watchers (they do not keep run() going)
};

constexpr uint32_t kNoSlot = 0xffffffffu;

// What a pool keeps besides its typed slots, with the one init() every
// pool type shares (size: an inlined init per type would link seven).
class PoolBase {
 public:
  PoolStats stats() const {
    PoolStats st = stats_;
    st.high_water = high_water();
    return st;
  }
  // Raises the high-water mark to hw (at most the capacity).
  void raise_high_water(uint32_t hw) {
    if (hw > stats_.capacity) hw = stats_.capacity;
    if (hw > saved_high_water_) saved_high_water_ = hw;
  }
  uint32_t capacity() const { return stats_.capacity; }

 protected:
  // Empties the pool: `capacity` slots whose meta words are `stride` bytes
  // apart from `first_meta` get generation 1, not live (every slot's meta
  // is valid from here on: a handle is checked against it, taken or not).
  void init_base(uint32_t* first_meta, size_t stride, uint32_t capacity, uint32_t* keepers);
  // The most slots in use at once: each fresh take makes the slots in use
  // those ever taken less the retired ones, the most since the retired
  // count last changed; saved_high_water_ keeps the most before that (and
  // what raise_high_water() was given).
  uint32_t high_water() const {
    const uint32_t now = fresh_ - stats_.retired;
    return now > saved_high_water_ ? now : saved_high_water_;
  }

  uint32_t free_ = kNoSlot;  // released slots
  uint32_t fresh_ = 0;       // slots from here on were never taken since init()
  uint32_t saved_high_water_ = 0;
  PoolStats stats_;
  uint32_t* keepers_ = &own_keepers_;
  uint32_t own_keepers_ = 0;
};

template <class Slot>
class Pool : public PoolBase {
 public:
  // keepers: a counter shared by all of a loop's pools, of the live slots
  // that are not weak (what keeps run() going), so that the loop can ask
  // "anything alive?" with one load. May be null.
  void init(Slot* slots, uint32_t capacity, uint32_t* keepers = nullptr) {
    assert(capacity <= handle::kMaxIndex);
    slots_ = slots;
    init_base(&slots[0].meta, sizeof(Slot), capacity, keepers);
  }

  // The next free slot, marked live with the kind's bits (slots.h), or
  // nullptr when the pool is full.
  Slot* alloc(uint32_t* index, uint32_t kind_bits = 0) {
    uint32_t i = free_;
    uint32_t gen_bits = 0;
    if (i != kNoSlot) {
      free_ = slots_[i].link();
      gen_bits = slots_[i].meta;
    } else {
      if (fresh_ == stats_.capacity) return nullptr;
      i = fresh_++;
      gen_bits = meta::with_gen(1);
    }
    ++stats_.used;
    ++*keepers_;  // before the meta word, which the caller may read back
    Slot& s = slots_[i];
    s.meta = (gen_bits & ~(meta::with_gen(1) - 1)) | meta::kLive | kind_bits;
    *index = i;
    return &s;
  }

  void release(uint32_t i) {
    Slot& s = slots_[i];
    const uint32_t m = s.meta;  // read once: keepers_ may alias it for the compiler
    assert(meta::live(m));
    --stats_.used;
    if ((m & meta::kWeak) != 0) {
      --stats_.weak;
    } else {
      --*keepers_;
    }
    const uint32_t g = meta::gen(m);
    if (g >= handle::kGenMask) {
      s.meta = meta::with_gen(0);        // not live, not free, generation 0: retired for good
      saved_high_water_ = high_water();  // the era of the old retired count ends
      ++stats_.retired;
      return;
    }
    s.meta = meta::with_gen(g + 1);
    s.link() = free_;
    free_ = i;
  }

  // The live slot named by (index, gen), or nullptr.
  Slot* find(uint32_t index, uint32_t gen) const {
    if (index >= stats_.capacity) return nullptr;
    Slot& s = slots_[index];
    if (!meta::live(s.meta) || meta::gen(s.meta) != gen) return nullptr;
    return &s;
  }

  // The slot an epoll event names, or nullptr when the event is stale: for
  // cookies this loop registered (an io handle: its index is in range and
  // its generation is not 0). A slot's generation moves on when it is
  // released and is 0 once retired, so a generation that matches names the
  // live watcher the cookie was registered for; no live test is needed.
  Slot* find_registered(uint64_t handle) const {
    Slot& s = slots_[handle::index(handle)];
    // handle >> 16 has the generation at the meta word's bits 8..31.
    static_assert(meta::kGenShift == 8 && handle::kIndexBits == 24, "see above");
    return ((static_cast<uint32_t>(handle >> 16) ^ s.meta) >> 8) == 0 ? &s : nullptr;
  }

  bool live(uint32_t index) const { return meta::live(slots_[index].meta); }
  // Marks a live slot weak or strong, keeping the weak count.
  void set_weak(uint32_t index, bool weak) {
    uint32_t& m = slots_[index].meta;
    if (((m & meta::kWeak) != 0) == weak) return;
    m ^= meta::kWeak;
    if (weak) {
      ++stats_.weak;
      --*keepers_;
    } else {
      --stats_.weak;
      ++*keepers_;
    }
  }
  Slot& at(uint32_t index) const { return slots_[index]; }
  uint32_t gen_of(uint32_t index) const { return meta::gen(slots_[index].meta); }

 private:
  Slot* slots_ = nullptr;
};

}  // namespace evl
