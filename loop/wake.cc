// Wake-up watchers: per-watcher atomic counters behind one shared eventfd.
#include <cerrno>
#include <cstdint>

#include "loop/loop.h"

namespace evl {
namespace {

constexpr uint64_t kCountMask = 0xffffffffu;

}  // namespace

int Loop::ensure_wake_fd() {
  if (wake_fd_ >= 0) return 0;
  const int fd = hal::eventfd(0, hal::kCloexec | hal::kNonblock);
  if (fd < 0) return fd;
  const int r = epoll_add_internal(fd, kWakeFd);
  if (r < 0) {
    (void)hal::close(fd);
    return r;
  }
  wake_fd_ = fd;
  parts_.drain_wakes = [](Loop& l) { l.drain_wakes(); };
  return 0;
}

int Loop::wake_start(WakeFn fn, void* ctx, WakeHandle* out) {
  if (out == nullptr || fn == nullptr) return -EINVAL;
  if (epfd_ < 0) return -EINVAL;
  if (const int r = ensure_wake_fd(); r < 0) return r;
  parts_.close_wakes = [](Loop& l) { l.close_wakes(); };
  uint32_t i = 0;
  WakeSlot* s = wakes_.alloc(&i);
  if (s == nullptr) return -ENOSPC;
  s->fn = fn;
  s->ctx = ctx;
  const uint32_t gen = meta::gen(s->meta);
  s->state.store(uint64_t{gen} << 32, std::memory_order_release);
  out->raw = handle::pack(salt_, Kind::kWake, gen, i);
  return 0;
}

int Loop::wake_stop(WakeHandle h) {
  WakeSlot* s = lookup(wakes_, h);
  if (s == nullptr) return -ESTALE;
  // Generation 0 is never valid: a racing wake() now fails its check.
  s->state.store(0, std::memory_order_release);
  wakes_.release(handle::index(h.raw));
  return 0;
}

void Loop::close_wakes() { stop_all(wakes_, &Loop::wake_stop); }

// Reads only what is fixed after wake_start (the eventfd, capacity, salt)
// and the slot's atomic state.
int Loop::wake(WakeHandle h) {
  const uint64_t raw = h.raw;
  if (!ours(raw, Kind::kWake)) return -ESTALE;
  const uint32_t i = handle::index(raw);
  if (i >= st_.wake_capacity) return -ESTALE;
  std::atomic<uint64_t>& state = st_.wakes[i].state;
  const uint64_t want_gen = handle::gen(raw);
  uint64_t s = state.load(std::memory_order_acquire);
  for (;;) {
    if ((s >> 32) != want_gen) return -ESTALE;
    if ((s & kCountMask) == kCountMask) break;  // saturated: already pending
    if (state.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) break;
  }
  const uint64_t one = 1;
  const long r = hal::write(wake_fd_, &one, sizeof one);
  // EAGAIN: the eventfd counter is full, so the loop is already woken.
  if (r < 0 && r != -EAGAIN) return static_cast<int>(r);
  return 0;
}

void Loop::drain_wakes() {
  uint64_t value = 0;
  (void)hal::read(wake_fd_, &value, sizeof value);
  kicked_ = false;  // a kick (see kick()) only woke the wait
  for (uint32_t i = 0; i < wakes_.capacity(); ++i) {
    WakeSlot& s = wakes_.at(i);
    if (!meta::live(s.meta)) continue;
    uint64_t cur = s.state.load(std::memory_order_acquire);
    while ((cur & kCountMask) != 0 &&
           !s.state.compare_exchange_weak(cur, cur & ~kCountMask, std::memory_order_acq_rel)) {
    }
    const auto count = static_cast<uint32_t>(cur & kCountMask);
    if (count == 0) continue;
    s.fn(*this, WakeHandle{handle::pack(salt_, Kind::kWake, meta::gen(s.meta), i)}, count, s.ctx);
    timed_end();
  }
}

}  // namespace evl
