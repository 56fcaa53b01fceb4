// StaticLoop: a Loop with its storage inside, capacities fixed at compile
// time. Put one in static storage or on the stack; it never touches the heap.
//
//   evl::StaticLoop<64> loop;          // 64 io watchers, defaults elsewhere
//   if (int r = loop.init(); r < 0) ...
//
// Only this thin template depends on the capacities; all code is in Loop.
#pragma once

#include <cstdint>

#include "loop/loop.h"

namespace evl {

constexpr uint32_t round_up_pow2(uint32_t v) {
  uint32_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

namespace detail {

// A base class, so the arrays exist before Loop's constructor fills them.
template <uint32_t IoCapacity, uint32_t SignalCapacity, uint32_t WakeCapacity,
          uint32_t DeferCapacity, uint32_t EventCapacity>
struct LoopArrays {
  static constexpr uint32_t kFdIndexSize = round_up_pow2(2 * IoCapacity);
  IoSlot io[IoCapacity];
  uint32_t fd_index[kFdIndexSize];
  SignalSlot signals[SignalCapacity];
  WakeSlot wakes[WakeCapacity];
  DeferSlot defers[DeferCapacity];
  hal::EpollEvent events[EventCapacity];

  LoopStorage storage() {
    return LoopStorage{io,     IoCapacity,   fd_index, kFdIndexSize, signals,
                       SignalCapacity, wakes, WakeCapacity, defers, DeferCapacity,
                       events, EventCapacity};
  }
};

}  // namespace detail

template <uint32_t IoCapacity, uint32_t SignalCapacity = 8, uint32_t WakeCapacity = 4,
          uint32_t DeferCapacity = 16, uint32_t EventCapacity = 64>
class StaticLoop
    : private detail::LoopArrays<IoCapacity, SignalCapacity, WakeCapacity, DeferCapacity,
                                 EventCapacity>,
      public Loop {
  static_assert(IoCapacity >= 1 && SignalCapacity >= 1 && WakeCapacity >= 1, "capacity");
  static_assert(DeferCapacity >= 1 && EventCapacity >= 1, "capacity");
  static_assert(IoCapacity <= handle::kMaxIndex, "too many io watchers");
  using Arrays = detail::LoopArrays<IoCapacity, SignalCapacity, WakeCapacity, DeferCapacity,
                                    EventCapacity>;

 public:
  StaticLoop() : Arrays(), Loop(Arrays::storage()) {}
};

}  // namespace evl
