// The slots the loop's pools hold, and the one layout of their meta word.
//
// Every slot has a 32-bit meta word:
//   bits 8..31  generation (24 bits, never 0 for a slot in use; 0 once retired)
//   bit  7      live: the slot holds a started watcher
//   bit  6      weak: the watcher does not keep run() going (Loop::set_weak)
//   bits 0..5   the kind's own bits (timers: clock, overrun policy, extra;
//               hooks: check; the other kinds use none)
// A slot whose generation would wrap is retired instead of reused (see
// Pool::release), so a handle is never valid twice.
#pragma once

#include <atomic>
#include <cstdint>

#include "hal/sys.h"
#include "loop/handle.h"

namespace evl {

class Loop;
struct SignalInfo;

namespace meta {

constexpr uint32_t kGenShift = 8;
constexpr uint32_t kLive = 1u << 7;
constexpr uint32_t kWeak = 1u << 6;
constexpr uint32_t kKindBits = kWeak - 1;

constexpr uint32_t gen(uint32_t m) { return m >> kGenShift; }
constexpr bool live(uint32_t m) { return (m & kLive) != 0; }
constexpr uint32_t with_gen(uint32_t gen) { return gen << kGenShift; }

}  // namespace meta

using IoFn = void (*)(Loop& loop, IoHandle h, uint32_t events, void* ctx);
using SignalFn = void (*)(Loop& loop, SignalHandle h, const SignalInfo& info, void* ctx);
using WakeFn = void (*)(Loop& loop, WakeHandle h, uint32_t count, void* ctx);
using DeferFn = void (*)(Loop& loop, void* ctx);
// status: the wait status (hal::exited_normally, exit_status, term_signal),
// or a negative errno when the child could not be reaped (-ECHILD: someone
// else reaped it).
using ChildFn = void (*)(Loop& loop, ChildHandle h, int pid, int status, void* ctx);

struct IoSlot {
  IoFn fn;
  void* ctx;
  union {
    int32_t fd;
    uint32_t next_free;
  };
  uint32_t meta;
  uint32_t& link() { return next_free; }
};

struct SignalSlot {
  SignalFn fn;
  void* ctx;
  uint32_t meta;
  union {
    int32_t signo;
    uint32_t next_free;
  };
  uint32_t seq;  // start order: watchers of one signal are called in it
  uint32_t& link() { return next_free; }
};

struct WakeSlot {
  WakeFn fn;
  void* ctx;
  uint32_t meta;
  uint32_t next_free;
  // gen in the high half, pending wakes in the low half; the only field that
  // other threads touch.
  std::atomic<uint64_t> state;
  uint32_t& link() { return next_free; }
};

struct DeferSlot {
  DeferFn fn;
  void* ctx;
  uint32_t meta;
  uint32_t next;  // free list, or FIFO successor
  uint32_t prev;  // FIFO predecessor
  uint32_t seq;   // order of queueing, to split batches
  uint32_t& link() { return next; }
};

// Prepare hooks run just before the loop waits, check hooks just after it
// wakes (before any event is dispatched).
using HookFn = void (*)(Loop& loop, void* ctx);

struct HookSlot {
  HookFn fn;
  void* ctx;
  uint32_t meta;  // kind bit 0: a check hook (else prepare)
  union {
    uint32_t seq;  // start order
    uint32_t next_free;
  };
  uint32_t& link() { return next_free; }
};

struct ChildSlot {
  ChildFn fn;
  void* ctx;
  uint32_t meta;
  union {
    int32_t pid;
    uint32_t next_free;
  };
  int32_t fd;  // the pidfd, or -1 when reaped on SIGCHLD (no pidfd here)
  uint32_t& link() { return next_free; }
};

}  // namespace evl
