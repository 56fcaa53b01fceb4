// A fixed pool of watcher slots over caller-supplied storage.
//
// Instantiated once per slot type, never per capacity: the capacity is a run
// time value, the storage array comes from StaticLoop. Free slots form a
// LIFO list through Slot::link(); each slot carries a 24-bit generation in
// the top of Slot::meta that is bumped (skipping 0) on every release.
// Slot::meta bit kLive marks a slot in use; bits 0..6 belong to the kind.
#pragma once

#include <cassert>
#include <cstdint>

#include "loop/handle.h"

namespace evl {

struct PoolStats {
  uint32_t capacity = 0;
  uint32_t used = 0;
  uint32_t high_water = 0;
};

constexpr uint32_t kLive = 0x80;
constexpr uint32_t kNoSlot = 0xffffffffu;

constexpr uint32_t meta_gen(uint32_t meta) { return meta >> 8; }
constexpr uint32_t meta_flags(uint32_t meta) { return meta & 0x7f; }

template <class Slot>
class Pool {
 public:
  void init(Slot* slots, uint32_t capacity) {
    assert(capacity <= handle::kMaxIndex);
    slots_ = slots;
    stats_ = PoolStats{capacity, 0, 0};
    free_ = kNoSlot;
    for (uint32_t i = capacity; i-- > 0;) {
      slots_[i].meta = 1u << 8;
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
    s.meta = (s.meta & ~0xffu) | kLive;
    if (++stats_.used > stats_.high_water) stats_.high_water = stats_.used;
    *index = i;
    return &s;
  }

  void release(uint32_t i) {
    Slot& s = slots_[i];
    assert((s.meta & kLive) != 0);
    uint32_t g = (meta_gen(s.meta) + 1) & handle::kGenMask;
    if (g == 0) g = 1;
    s.meta = g << 8;
    s.link() = free_;
    free_ = i;
    --stats_.used;
  }

  // The live slot named by (index, gen), or nullptr.
  Slot* find(uint32_t index, uint32_t gen) const {
    if (index >= stats_.capacity) return nullptr;
    Slot& s = slots_[index];
    if ((s.meta & kLive) == 0 || meta_gen(s.meta) != gen) return nullptr;
    return &s;
  }

  Slot& at(uint32_t index) const { return slots_[index]; }
  uint32_t gen_of(uint32_t index) const { return meta_gen(slots_[index].meta); }
  const PoolStats& stats() const { return stats_; }
  uint32_t capacity() const { return stats_.capacity; }

 private:
  Slot* slots_ = nullptr;
  uint32_t free_ = kNoSlot;
  PoolStats stats_;
};

}  // namespace evl
