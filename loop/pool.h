// A fixed pool of watcher slots over caller-supplied storage.
//
// Instantiated once per slot type, never per capacity: the capacity is a run
// time value, the storage array comes from StaticLoop. Free slots form a
// LIFO list through Slot::link(). The meta word's layout is in slots.h: the
// generation is bumped on every release, so a handle to a stopped watcher
// never names the slot again; a slot whose generation is exhausted (2^24 - 1
// uses) is retired, counted in PoolStats::retired, and never handed out
// again, rather than let its generation wrap and revive old handles.
#pragma once

#include <cassert>
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

template <class Slot>
class Pool {
 public:
  // keepers: a counter shared by all of a loop's pools, of the live slots
  // that are not weak (what keeps run() going), so that the loop can ask
  // "anything alive?" with one load. May be null.
  void init(Slot* slots, uint32_t capacity, uint32_t* keepers = nullptr) {
    assert(capacity <= handle::kMaxIndex);
    slots_ = slots;
    keepers_ = keepers != nullptr ? keepers : &own_keepers_;
    stats_ = PoolStats{capacity, 0, 0, 0, 0};
    free_ = kNoSlot;
    for (uint32_t i = capacity; i-- > 0;) {
      slots_[i].meta = meta::with_gen(1);
      slots_[i].link() = free_;
      free_ = i;
    }
  }

  // The next free slot, marked live, or nullptr when the pool is full.
  Slot* alloc(uint32_t* index) {
    if (free_ == kNoSlot) return nullptr;
    const uint32_t i = free_;
    Slot& s = slots_[i];
    free_ = s.link();
    s.meta = meta::with_gen(meta::gen(s.meta)) | meta::kLive;
    if (++stats_.used > stats_.high_water) stats_.high_water = stats_.used;
    ++*keepers_;
    *index = i;
    return &s;
  }

  void release(uint32_t i) {
    Slot& s = slots_[i];
    assert(meta::live(s.meta));
    --stats_.used;
    if ((s.meta & meta::kWeak) != 0) {
      --stats_.weak;
    } else {
      --*keepers_;
    }
    const uint32_t g = meta::gen(s.meta);
    if (g >= handle::kGenMask) {
      s.meta = meta::with_gen(0);  // not live, not free, generation 0: retired for good
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
  const PoolStats& stats() const { return stats_; }
  // Raises the high-water mark to hw (at most the capacity).
  void raise_high_water(uint32_t hw) {
    if (hw > stats_.capacity) hw = stats_.capacity;
    if (hw > stats_.high_water) stats_.high_water = hw;
  }
  uint32_t capacity() const { return stats_.capacity; }

 private:
  Slot* slots_ = nullptr;
  uint32_t free_ = kNoSlot;
  PoolStats stats_;
  uint32_t* keepers_ = &own_keepers_;
  uint32_t own_keepers_ = 0;
};

}  // namespace evl
