// Snapshots of a daemon's state, so that a replay of a flight recording
// whose ring lost calls can go on past them (hal/flight.h, "Snapshots").
//
// Each part of an app writes what it holds that the recording's start does
// not give back (counters, a connection's state and fd, buffered bytes, its
// timers) with save(); in the replay, drop() forgets the state its start
// built and restore() rebuilds the saved one through the loop's ordinary
// calls (the replay answers them without the recording). Timers are
// started last, all together, in the order the recorded loop had started
// them, so that same-deadline timers fire in the same order.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hal/flight.h"
#include "hal/ring.h"
#include "loop/loop.h"

namespace app {

// Writes a timer's state (an unarmed or stale handle: none).
void save_timer(flight::SnapWriter& w, const evl::Loop& loop, evl::TimerHandle h);

// Writes a ring's bytes (its size, then the bytes, oldest first).
template <size_t N>
void save_ring(flight::SnapWriter& w, const hal::Ring<N>& ring) {
  const uint32_t n = static_cast<uint32_t>(ring.size());
  w.put(n);
  uint8_t chunk[256];
  for (size_t done = 0; done < n;) {
    size_t k = n - done < sizeof chunk ? n - done : sizeof chunk;
    for (size_t i = 0; i < k; ++i) chunk[i] = static_cast<uint8_t>(ring.at(done + i));
    w.put(chunk, k);
    done += k;
  }
}

class Restore {
 public:
  static constexpr size_t kMaxTimers = 16;

  Restore(evl::Loop& loop, flight::SnapReader& in) : loop_(loop), in_(in) {}
  evl::Loop& loop() { return loop_; }
  flight::SnapReader& in() { return in_; }
  // Reads a value save() wrote; false (and failed() from then on) past the end.
  template <class T>
  bool get(T* v) {
    return in_.get(v);
  }
  bool get(void* p, size_t n) { return in_.get(p, n); }
  // Reads a ring save_ring() wrote into ring (cleared first).
  template <size_t N>
  bool ring(hal::Ring<N>* ring) {
    ring->clear();
    uint32_t n = 0;
    if (!get(&n) || n > N) return fail();
    uint8_t chunk[256];
    for (size_t done = 0; done < n;) {
      const size_t k = n - done < sizeof chunk ? n - done : sizeof chunk;
      if (!get(chunk, k)) return false;
      (void)ring->push(chunk, k);
      done += k;
    }
    return true;
  }
  // Reads a timer save_timer() wrote: finish() starts it into *h with fn
  // and ctx (*h is zero until then, and stays zero for a timer not armed).
  void timer(evl::TimerHandle* h, evl::TimerFn fn, void* ctx);
  // Starts an io watcher as it was saved (fd, events), into *h.
  void io(int fd, uint32_t events, evl::IoFn fn, void* ctx, evl::IoHandle* h);
  // Marks the snapshot unusable (a value out of range); false.
  bool fail() {
    failed_ = true;
    return false;
  }
  bool failed() const { return failed_ || !in_.ok(); }
  // Starts the timers in their recorded order and arms the timerfds as the
  // recorded loop had them. 0, or -EINVAL when the snapshot was unusable
  // or a watcher could not be started.
  [[nodiscard]] int finish();

 private:
  struct Pending {
    evl::TimerState st;
    evl::TimerHandle* h;
    evl::TimerFn fn;
    void* ctx;
  };
  evl::Loop& loop_;
  flight::SnapReader& in_;
  Pending timers_[kMaxTimers] = {};
  size_t ntimers_ = 0;
  bool failed_ = false;
};

}  // namespace app
