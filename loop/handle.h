// Handles: what the loop gives the caller for each watcher it starts.
//
// A handle packs the slot index, the slot's generation, the watcher kind and
// a salt taken from the owning loop. The generation changes every time a slot
// is released, so a handle kept after its watcher stopped (a stale handle)
// never matches the slot again, even once the slot is reused; the salt makes a
// handle from another loop (a foreign handle) fail the same check. Every call
// that takes a handle returns -ESTALE for a stale or foreign one and changes
// nothing. A zero handle is never valid; default-constructed handles are zero.
//
// The same 64-bit value is what the loop stores in the epoll registration's
// data, so an event that arrives for a watcher already stopped (or whose slot
// was reused) is recognised and dropped.
#pragma once

#include <cstdint>

namespace evl {

enum class Kind : uint8_t {
  kNone = 0,
  kIo = 1,
  kTimer = 2,
  kSignal = 3,
  kWake = 4,
  kDefer = 5,
  kChild = 6,
  kPrepare = 7,
  kCheck = 8,
  kInternal = 15,  // the loop's own fds: wake eventfd, signalfd, timerfds
};

template <Kind K>
struct TypedHandle {
  uint64_t raw = 0;
  explicit operator bool() const { return raw != 0; }
  friend bool operator==(TypedHandle a, TypedHandle b) { return a.raw == b.raw; }
  friend bool operator!=(TypedHandle a, TypedHandle b) { return a.raw != b.raw; }
};

using IoHandle = TypedHandle<Kind::kIo>;
using TimerHandle = TypedHandle<Kind::kTimer>;
using SignalHandle = TypedHandle<Kind::kSignal>;
using WakeHandle = TypedHandle<Kind::kWake>;
using DeferHandle = TypedHandle<Kind::kDefer>;
using ChildHandle = TypedHandle<Kind::kChild>;
using PrepareHandle = TypedHandle<Kind::kPrepare>;
using CheckHandle = TypedHandle<Kind::kCheck>;

namespace handle {

constexpr uint32_t kIndexBits = 24;
constexpr uint32_t kGenBits = 24;
constexpr uint32_t kMaxIndex = (1u << kIndexBits) - 1;
constexpr uint32_t kGenMask = (1u << kGenBits) - 1;

constexpr uint64_t pack(uint16_t salt, Kind kind, uint32_t gen, uint32_t index) {
  return (uint64_t{salt} << 52) | (uint64_t{static_cast<uint8_t>(kind)} << 48) |
         (uint64_t{gen & kGenMask} << 24) | uint64_t{index & kMaxIndex};
}
constexpr uint32_t index(uint64_t raw) { return static_cast<uint32_t>(raw) & kMaxIndex; }
constexpr uint32_t gen(uint64_t raw) { return static_cast<uint32_t>(raw >> 24) & kGenMask; }
constexpr Kind kind(uint64_t raw) { return static_cast<Kind>((raw >> 48) & 0xf); }
constexpr uint16_t salt(uint64_t raw) { return static_cast<uint16_t>(raw >> 52); }

}  // namespace handle
}  // namespace evl
