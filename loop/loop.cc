#include "loop/loop.h"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "loop/clock.h"

#include <initializer_list>

namespace evl {

void PoolBase::init_base(uint32_t* first_meta, size_t stride, uint32_t capacity,
                         uint32_t* keepers) {
  keepers_ = keepers != nullptr ? keepers : &own_keepers_;
  stats_ = PoolStats{capacity, 0, 0, 0, 0};
  free_ = kNoSlot;
  fresh_ = 0;
  saved_high_water_ = 0;
  auto* p = reinterpret_cast<unsigned char*>(first_meta);
  for (uint32_t i = 0; i < capacity; ++i, p += stride) {
    *reinterpret_cast<uint32_t*>(p) = meta::with_gen(1);
  }
}

Loop::Loop(const LoopStorage& storage) : st_(storage) {
  io_.init(st_.io, st_.io_capacity, &keepers_);
  signals_.init(st_.signals, st_.signal_capacity, &keepers_);
  wakes_.init(st_.wakes, st_.wake_capacity, &keepers_);
  defers_.init(st_.defers, st_.defer_capacity, &keepers_);
  children_.init(st_.children, st_.child_capacity, &keepers_);
  hooks_.init(st_.hooks, st_.hook_capacity, &keepers_);
  timers_.init(st_.timers, &keepers_);
  for (uint32_t i = 0; i < st_.fd_index_size; ++i) st_.fd_index[i] = 0;
  // The salt tells this loop's handles from another's: bits of its address.
  const auto a = reinterpret_cast<uintptr_t>(this);
  salt_ = static_cast<uint16_t>(((a >> 4) ^ (a >> 16) ^ (a >> 28)) & 0xfff);
  if (salt_ == 0) salt_ = 1;
  timer_tag_ = handle::pack(salt_, Kind::kTimer, 0, 0) >> handle::kIndexBits;
  io_tag_ = io_tag(after_.timed);
}

int Loop::init() {
  if (epfd_ >= 0) return -EINVAL;
  const int ep = hal::epoll_create1(hal::kCloexec);
  if (ep < 0) return ep;
  epfd_ = ep;
  return 0;
}

void Loop::close() {
  stop_all(io_, &Loop::io_stop);
  for (Parts::Fn part :
       {parts_.close_signals, parts_.close_wakes, parts_.close_children, parts_.close_hooks}) {
    if (part != nullptr) part(*this);
  }
  for (uint32_t i = 0; i < timers_.pool().capacity(); ++i) {
    if (timers_.pool().live(i)) (void)timers_.stop(i);
  }
  step_fn_ = nullptr;
  for (int c = 0; c < kClockCount; ++c) {
    if (timer_fd_[c] >= 0) (void)hal::close(timer_fd_[c]);
    timer_fd_[c] = -1;
    armed_ns_[c] = TimerSet::kNever;
  }
  if (parts_.close_defers != nullptr) parts_.close_defers(*this);
  for (int* fd : {&signal_fd_, &wake_fd_, &epfd_}) {
    if (*fd >= 0) (void)hal::close(*fd);
    *fd = -1;
  }
  after_.embedded = false;
  kicked_ = false;
}

uint64_t Loop::internal_data(uint32_t id) const {
  return handle::pack(salt_, Kind::kInternal, 0, id);
}

int Loop::epoll_add_internal(int fd, uint32_t id) {
  hal::EpollEvent ev{hal::kEpollIn, internal_data(id)};
  return hal::epoll_ctl(epfd_, hal::kEpollCtlAdd, fd, &ev);
}

uint32_t Loop::active() const {
  return io_.stats().used + signals_.stats().used + wakes_.stats().used + defers_.stats().used +
         timers_.pool().stats().used + children_.stats().used + hooks_.stats().used;
}

uint32_t Loop::weak() const {
  return io_.stats().weak + signals_.stats().weak + wakes_.stats().weak +
         timers_.pool().stats().weak + children_.stats().weak + hooks_.stats().weak;
}

const LoopHealth& Loop::health() {
  health_.io = io_.stats();
  health_.signals = signals_.stats();
  health_.wakes = wakes_.stats();
  health_.defers = defers_.stats();
  health_.timers = timers_.pool().stats();
  health_.children = children_.stats();
  health_.hooks = hooks_.stats();
  return health_;
}

void Loop::restore_health(const LoopHealth& h) {
  health_ = h;  // (its pool figures are read again from the pools by health())
  io_.raise_high_water(h.io.high_water);
  signals_.raise_high_water(h.signals.high_water);
  wakes_.raise_high_water(h.wakes.high_water);
  defers_.raise_high_water(h.defers.high_water);
  timers_.pool().raise_high_water(h.timers.high_water);
  children_.raise_high_water(h.children.high_water);
  hooks_.raise_high_water(h.hooks.high_water);
}

// One clock read per callback: each callback is timed from the previous
// mark (the end of the last callback, or the return of epoll_wait), so loop
// overhead between callbacks is charged to the next one.
void Loop::time_callback() {
  const int64_t t = now_ns(hal::kClockMonotonic);
  const int64_t d = t - mark_ns_;
  if (d > health_.callback_ns_max) health_.callback_ns_max = d;
  mark_ns_ = t;
}

int64_t Loop::timer_base_slow() {
  if (!dispatching_) return now_ns(hal::kClockMonotonic);
  mark_ns_ = now_ns(hal::kClockMonotonic);
  mark_valid_ = true;
  return mark_ns_;
}

// Marks the start of a dispatch: the time is read now only if callbacks are
// timed; otherwise on first use (timer_base_ns).
void Loop::begin_dispatch() {
  dispatching_ = true;
  mark_valid_ = after_.timed;
  if (after_.timed) mark_ns_ = now_ns(hal::kClockMonotonic);
}

bool Loop::alive() const { return keepers_ != 0; }  // defers are never weak

// The top 16 bits of an event's cookie (salt and kind), loaded alone.
__attribute__((always_inline)) inline uint16_t cookie_tag(const hal::EpollEvent& ev) {
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the top bytes of data");
  uint16_t tag;
  std::memcpy(&tag,
              reinterpret_cast<const unsigned char*>(&ev) + offsetof(hal::EpollEvent, data) + 6,
              sizeof tag);
  return tag;
}

// Before the wait, when there is something to do first (before_):
// children to reap, deferred calls, prepare hooks, timerfds to arm. Sets
// the wait's timeout: nothing may block once a deferred call is pending,
// the loop was stopped, or nothing but weak watchers is left (nothing that
// keeps it alive). Returns 0, or arming's error.
Loop::Prepared Loop::prepare(int timeout_ms) {
  if (before_.defers || before_.poll_children) {
    begin_dispatch();
    if (before_.poll_children) parts_.reap_children(*this);
    if (before_.defers) parts_.run_defers(*this);
    dispatching_ = false;
  }
  if (before_.hooks) parts_.run_hooks(*this, false);
  if (timeout_ms != 0 && (before_.stop || !alive() || before_.defers)) timeout_ms = 0;
  return {timeout_ms, before_.timers_dirty ? arm_timers() : 0};
}

// After the wait, when callbacks are timed or check hooks run (after_).
void Loop::begin_dispatch_after_wait() {
  begin_dispatch();
  if (after_.hooks) parts_.run_hooks(*this, true);
}

// Inlined into run() and run_once(): the busiest path, kept free of calls
// but the wait and the callbacks, and of tests but one word before the
// wait and one after it.
// In run() (kInRun), a stop() ends it here, before the iteration.
template <bool kInRun>
__attribute__((always_inline)) inline int Loop::iterate(int timeout_ms) {
  if (__builtin_expect(any(before_), 0)) {  // the wait at once: the busy path falls through
    if (kInRun && before_.stop) return kStopped;
    ++health_.iterations;
    const Prepared p = prepare(timeout_ms);
    if (p.error < 0) return p.error;
    timeout_ms = p.timeout_ms;
  } else {
    ++health_.iterations;
    if (timeout_ms != 0 && !alive()) timeout_ms = 0;  // (in run(), known false)
  }
  const int max = static_cast<int>(st_.event_capacity);
  const int n = hal::epoll_wait(epfd_, st_.events, max, timeout_ms);
  if (n < 0) return n;
  health_.events += static_cast<uint64_t>(n);
  if (any(after_)) {
    begin_dispatch_after_wait();
  } else {
    dispatching_ = true;
    mark_valid_ = false;  // the time is read on first use (timer_base_ns)
  }
  for (const hal::EpollEvent *ev = st_.events, *end = ev + n; ev != end; ++ev) {
    if (cookie_tag(*ev) == io_tag_) {
      dispatch_io<false>(ev->data, ev->events);
    } else {
      dispatch(*ev);
    }
  }
  dispatching_ = false;
  if (after_.embedded) after_iteration_embedded();
  return n;
}

// A stop() requested before run() (or inside a callback) ends it before the
// next iteration; the request is used up when run() or run_once() returns.
int Loop::run() {
  if (epfd_ < 0) return -EINVAL;
  int r = 0;
  while (alive()) {
    r = iterate<true>(-1);
    if (r < 0 && r != -EINTR) break;
    r = 0;
  }
  if (r == kStopped) r = 0;
  before_.stop = false;
  return r;
}

int Loop::run_once(int timeout_ms) {
  if (epfd_ < 0) return -EINVAL;
  const int r = iterate<false>(timeout_ms);
  before_.stop = false;
  return r;
}

// Embedded (fd() was asked for): the epoll fd must be readable whenever
// run_once(0) has work, so changes made by callbacks are armed now, and
// pending deferred calls kick the loop's eventfd.
void Loop::after_iteration_embedded() {
  if (before_.timers_dirty) (void)arm_timers();  // on failure it stays dirty: retried
  if (defer_head_ != kNoSlot || before_.poll_children) (void)parts_.kick(*this);
}

int Loop::kick() {
  if (kicked_) return 0;
  if (const int r = ensure_wake_fd(); r < 0) return r;
  const uint64_t one = 1;
  const long r = hal::write(wake_fd_, &one, sizeof one);
  if (r < 0 && r != -EAGAIN) return static_cast<int>(r);
  kicked_ = true;
  return 0;
}

int Loop::fd() {
  after_.embedded = true;
  if (epfd_ >= 0 && (before_.timers_dirty || defer_head_ != kNoSlot || before_.poll_children)) {
    after_iteration_embedded();
  }
  return epfd_;
}

int64_t Loop::next_wakeup_ns() {
  if (defer_head_ != kNoSlot || before_.poll_children) return 0;
  int64_t best = -1;
  for (int c = 0; c < kClockCount; ++c) {
    const auto clock = static_cast<Clock>(c);
    if (timers_.count(clock) == 0) continue;
    const int64_t at = timers_.arm_time(clock);
    if (at == TimerSet::kNever) continue;
    int64_t left = at - now(clock);
    if (left < 0) left = 0;
    if (best < 0 || left < best) best = left;
  }
  return best;
}

// Every event but untimed io (dispatched inline in iterate()): timed io, the
// loop's own fds, child pidfds.
void Loop::dispatch(const hal::EpollEvent& ev) {
  const uint64_t data = ev.data;
  // Defensive: only this loop registers fds in its epoll, always with its
  // salt and a known kind; a mismatch would be memory corruption.
  if (handle::salt(data) != salt_) {
    ++health_.stale_events;  // GCOVR_EXCL_LINE: see above
    return;                  // GCOVR_EXCL_LINE
  }
  switch (handle::kind(data)) {
    case Kind::kIo: dispatch_io<true>(data, ev.events); return;
    case Kind::kInternal: dispatch_internal(handle::index(data)); return;
    case Kind::kChild: parts_.dispatch_child(*this, data); return;
    default: ++health_.stale_events; return;  // GCOVR_EXCL_LINE: see above
  }
}

void Loop::dispatch_internal(uint32_t id) {
  switch (id) {
    case kWakeFd: parts_.drain_wakes(*this); return;
    case kSignalFd: parts_.drain_signals(*this); return;
    case kTimerFd0:
    case kTimerFd0 + 1:
    case kTimerFd0 + 2: expire_timers(static_cast<Clock>(id - kTimerFd0)); return;
    default: ++health_.stale_events; return;  // GCOVR_EXCL_LINE: no other internal id is added
  }
}

bool Loop::verify() const {
  if (!timers_.verify()) return false;
  uint32_t indexed = 0;
  for (uint32_t p = 0; p < st_.fd_index_size; ++p) {
    const uint32_t e = st_.fd_index[p];
    if (e == 0) continue;
    if (e - 1 >= io_.capacity() || !io_.live(e - 1)) return false;
    if (fd_index_find(io_.at(e - 1).fd) != e - 1) return false;
    ++indexed;
  }
  if (indexed != io_.stats().used) return false;
  uint32_t queued = 0;
  for (uint32_t i = defer_head_; i != kNoSlot; i = defers_.at(i).next) {
    if (!defers_.live(i) || ++queued > defers_.capacity()) return false;
  }
  return queued == defers_.stats().used;
}

}  // namespace evl
