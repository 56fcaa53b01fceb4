// StaticLoop: a Loop with its storage inside, capacities fixed at compile
// time. Put one in static storage or on the stack; it never touches the heap.
//
//   evl::StaticLoop<64, 128> loop;     // 64 io watchers, 128 timers
//   if (int r = loop.init(); r < 0) ...
//
// Only this thin template depends on the capacities; all code is in Loop.
#pragma once

#include <algorithm>
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
template <uint32_t IoCapacity, uint32_t TimerCapacity, uint32_t SignalCapacity,
          uint32_t WakeCapacity, uint32_t DeferCapacity, uint32_t EventCapacity,
          uint32_t OtherClockTimers, uint32_t ChildCapacity, uint32_t HookCapacity,
          uint32_t PeriodicTimers>
struct LoopArrays {
  static constexpr uint32_t kFdIndexSize = round_up_pow2(2 * IoCapacity);
  static constexpr uint32_t kOther = std::min(OtherClockTimers, TimerCapacity);
  static constexpr uint32_t kExtras = std::min(PeriodicTimers, TimerCapacity);
  TimerSlot timers[TimerCapacity];
  TimerExtra extras[kExtras];
  HeapEntry mono_heap[TimerCapacity];
  HeapEntry boot_heap[kOther];
  HeapEntry real_heap[kOther];
  IoSlot io[IoCapacity];
  uint32_t fd_index[kFdIndexSize];
  SignalSlot signals[SignalCapacity];
  WakeSlot wakes[WakeCapacity];
  DeferSlot defers[DeferCapacity];
  ChildSlot children[ChildCapacity];
  HookSlot hooks[HookCapacity];
  hal::EpollEvent events[EventCapacity];

  LoopStorage storage() {
    LoopStorage st{};
    st.io = io;
    st.io_capacity = IoCapacity;
    st.fd_index = fd_index;
    st.fd_index_size = kFdIndexSize;
    st.signals = signals;
    st.signal_capacity = SignalCapacity;
    st.wakes = wakes;
    st.wake_capacity = WakeCapacity;
    st.defers = defers;
    st.defer_capacity = DeferCapacity;
    st.children = children;
    st.child_capacity = ChildCapacity;
    st.hooks = hooks;
    st.hook_capacity = HookCapacity;
    st.events = events;
    st.event_capacity = EventCapacity;
    st.timers = TimerStorage{
        timers, TimerCapacity, {mono_heap, boot_heap, real_heap}, {TimerCapacity, kOther, kOther},
        extras, kExtras};
    return st;
  }
};

}  // namespace detail

// Capacities: io watchers, timers (all clocks), signals, wake-up watchers,
// deferred calls, epoll events fetched per iteration, how many of the
// timers may be on CLOCK_BOOTTIME and on CLOCK_REALTIME each, child
// process watchers, prepare and check hooks (together), and how many of the
// timers may have a period or a slack (a TimerExtra each, 24 bytes).
template <uint32_t IoCapacity, uint32_t TimerCapacity = 16, uint32_t SignalCapacity = 8,
          uint32_t WakeCapacity = 4, uint32_t DeferCapacity = 16, uint32_t EventCapacity = 64,
          uint32_t OtherClockTimers = 16, uint32_t ChildCapacity = 2, uint32_t HookCapacity = 2,
          uint32_t PeriodicTimers = 16>
class StaticLoop
    : private detail::LoopArrays<IoCapacity, TimerCapacity, SignalCapacity, WakeCapacity,
                                 DeferCapacity, EventCapacity, OtherClockTimers, ChildCapacity,
                                 HookCapacity, PeriodicTimers>,
      public Loop {
  static_assert(IoCapacity >= 1 && SignalCapacity >= 1 && WakeCapacity >= 1, "capacity");
  static_assert(DeferCapacity >= 1 && EventCapacity >= 1 && TimerCapacity >= 1, "capacity");
  static_assert(OtherClockTimers >= 1 && ChildCapacity >= 1 && HookCapacity >= 1, "capacity");
  static_assert(PeriodicTimers >= 1, "capacity");
  static_assert(IoCapacity <= handle::kMaxIndex && TimerCapacity <= handle::kMaxIndex,
                "capacity above the handle's index range");
  using Arrays = detail::LoopArrays<IoCapacity, TimerCapacity, SignalCapacity, WakeCapacity,
                                    DeferCapacity, EventCapacity, OtherClockTimers, ChildCapacity,
                                    HookCapacity, PeriodicTimers>;

 public:
  StaticLoop() : Arrays(), Loop(Arrays::storage()) {}
};

}  // namespace evl
