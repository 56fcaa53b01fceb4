// evl::Loop: a fixed-allocation epoll event loop.
//
// Use StaticLoop<...> (loop/static_loop.h) to get a loop with its storage;
// Loop is the size-independent core that every StaticLoop shares, so code
// size does not grow with each set of capacities. A loop allocates nothing
// on the heap, ever; it holds no global state; all its fds are close-on-exec.
//
// Threads: a loop belongs to the thread that runs it. The one exception is
// wake(), which any thread and any signal handler may call.
//
// Errors: every call returns 0 (or a count) on success and a negative errno
// on failure, and changes nothing on failure. Caller misuse gives -EINVAL
// (bad argument or flags), -EBADF (negative fd), -ENOSPC (pool full),
// -ESTALE (stale or foreign handle), -EEXIST (fd already watched), -EBUSY
// (signal watched by another loop of the process);
// kernel errors from the seam pass through unchanged.
//
// Callbacks run on the loop's thread, one at a time. Inside any callback the
// caller may start or stop any watcher, itself included, and may call stop()
// (which ends run() before its next iteration, or keeps it from starting).
// A watcher stopped inside a callback receives no further callback, even for
// an event already fetched in the same batch; a slot reused in the same batch
// does not receive the old watcher's event (the event carries the handle).
#pragma once

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "hal/sys.h"
#include "loop/handle.h"
#include "loop/pool.h"
#include "loop/slots.h"
#include "loop/time.h"
#include "loop/timer_set.h"

namespace evl {

class Loop;

// io events: the epoll values, so no translation happens on the hot path.
constexpr uint32_t kIn = hal::kEpollIn;
constexpr uint32_t kPri = hal::kEpollPri;
constexpr uint32_t kOut = hal::kEpollOut;
constexpr uint32_t kRdHup = hal::kEpollRdHup;
constexpr uint32_t kErr = hal::kEpollErr;  // reported only
constexpr uint32_t kHup = hal::kEpollHup;  // reported only
constexpr uint32_t kEdge = hal::kEpollEt;  // request flag: edge triggered

struct SignalInfo {
  int signo;
  int code;
  uint32_t pid;
  uint32_t uid;
  int32_t status;
};

// step_ns: how far CLOCK_REALTIME jumped (new - old), measured as the change
// of (realtime - monotonic) since the loop last sampled it.
using ClockStepFn = void (*)(Loop& loop, int64_t step_ns, void* ctx);

// A timer in full. deadline_ns is absolute on `clock`; 0 means "now +
// period_ns" for a periodic timer. A periodic timer fires at deadline,
// deadline + period, deadline + 2 period, ... (no drift).
struct TimerSpec {
  Clock clock = Clock::kMonotonic;
  int64_t deadline_ns = 0;
  int64_t period_ns = 0;
  Overrun overrun = Overrun::kSkip;
  int64_t slack_ns = 0;  // may fire up to this late to share a wake-up (< 1 h)
};

// A scheduled timer as it stands (Loop::timer_state): its spec with the
// next deadline, its start order and whether it is weak. What an app's
// snapshot keeps of a timer (hal/flight.h): starting the timers again in
// seq order with these specs gives the same expiries in the same order.
struct TimerState {
  TimerSpec spec;
  uint32_t seq = 0;  // start order (wraps: compare differences)
  bool weak = false;
};

// What StaticLoop hands the core: arrays it owns.
// The pointers first, then the sizes: no padding between them.
struct LoopStorage {
  IoSlot* io;
  uint32_t* fd_index;  // fd_index_size entries
  SignalSlot* signals;
  WakeSlot* wakes;
  DeferSlot* defers;
  ChildSlot* children;
  HookSlot* hooks;
  hal::EpollEvent* events;
  TimerStorage timers;
  uint32_t io_capacity;
  uint32_t fd_index_size;  // 2 * io_capacity rounded up to a power of two
  uint32_t signal_capacity;
  uint32_t wake_capacity;
  uint32_t defer_capacity;
  uint32_t child_capacity;
  uint32_t hook_capacity;
  uint32_t event_capacity;
};

// Health figures, readable at any time (from the loop's thread).
struct LoopHealth {
  uint64_t iterations = 0;
  uint64_t events = 0;          // epoll events fetched
  uint64_t callbacks = 0;       // callbacks run
  uint64_t stale_events = 0;    // events dropped: their watcher had stopped
  uint64_t stale_fd_stops = 0;  // stops whose fd was already closed or reused
  int64_t callback_ns_max = 0;  // longest single callback (monotonic clock)
  PoolStats io;
  PoolStats signals;
  PoolStats wakes;
  PoolStats defers;
  PoolStats timers;
  PoolStats children;
  PoolStats hooks;
  uint64_t signals_discarded = 0;  // pending when their last watcher stopped
  uint64_t timerfd_arms = 0;       // timerfd_settime calls
  uint64_t clock_steps = 0;        // CLOCK_REALTIME steps seen
  int64_t timer_lag_ns_last = 0;   // how late the last timer fired
  int64_t timer_lag_ns_max = 0;
};

class Loop {
 public:
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Creates the epoll fd. Must succeed before any other call.
  [[nodiscard]] int init();
  // Stops every watcher, restores the signal mask, closes the loop's fds.
  // Safe to call twice; the destructor calls it.
  void close();

  // IO watchers.
  // Watch fd for events (kIn, kOut, kPri, kRdHup; add kEdge for edge
  // triggering). kErr and kHup are always reported. One watcher per fd:
  // -EEXIST if this loop already watches fd. The fd stays the caller's.
  // Close an fd only after stopping its watcher, or use io_close(): a
  // registration whose file lives on in a dup (a fork child, say) cannot be
  // removed once its fd is closed; the loop then drops its events and counts
  // them in health().stale_events. A stop that finds the fd already closed or
  // reused (EBADF/ENOENT from epoll_ctl) succeeds and counts stale_fd_stops.
  [[nodiscard]] int io_start(int fd, uint32_t events, IoFn fn, void* ctx, IoHandle* out);
  // Changes the events in place (one epoll_ctl MOD).
  [[nodiscard]] int io_modify(IoHandle h, uint32_t events);
  [[nodiscard]] int io_stop(IoHandle h);
  // Stops the watcher, then closes its fd, in the only safe order.
  [[nodiscard]] int io_close(IoHandle h);
  // The watched fd, or a negative errno.
  [[nodiscard]] int io_fd(IoHandle h) const;

  // Signals.
  // Delivers signo through the loop's signalfd. A signal may have several
  // watchers; each delivery calls every one, in start order. The signal is
  // blocked in the calling thread while watched (other threads must block it
  // too, or it may be delivered to them); when its last watcher stops, a
  // delivery still pending is taken and counted (health().signals_discarded),
  // never left to the default action, and the signal's previous blocked state
  // comes back. Signals belong to one loop per process: a signalfd hands a
  // process-directed signal to one reader only, so signal_start() in a second
  // loop for a signal another loop watches gives -EBUSY (until that loop's
  // last watcher of it stops). SIGKILL, SIGSTOP and numbers outside 1..64
  // give -EINVAL.
  [[nodiscard]] int signal_start(int signo, SignalFn fn, void* ctx, SignalHandle* out);
  [[nodiscard]] int signal_stop(SignalHandle h);

  // Wake-ups.
  // A wake watcher runs its callback on the loop's thread after wake(). Wakes
  // that pile up before the loop gets to them deliver one callback with their
  // count. All wake watchers share one eventfd.
  [[nodiscard]] int wake_start(WakeFn fn, void* ctx, WakeHandle* out);
  [[nodiscard]] int wake_stop(WakeHandle h);
  // Safe from any thread and from a signal handler: atomics and one write().
  [[nodiscard]] int wake(WakeHandle h);

  // Deferred calls.
  // fn runs once at the start of the next iteration; calls run in the order
  // they were queued. A call queued from a deferred call runs one iteration
  // later. A pending deferred call makes the next wait non-blocking.
  [[nodiscard]] int defer(DeferFn fn, void* ctx, DeferHandle* out = nullptr);
  [[nodiscard]] int defer_cancel(DeferHandle h);

  // Prepare and check hooks.
  // A prepare hook runs in every iteration just before the loop waits (after
  // the deferred calls), a check hook just after the wait returns, before
  // any event is dispatched; each kind in start order. They let a library
  // with its own fds and timeouts be driven by the loop without a thread.
  // With none started they cost one comparison per iteration.
  [[nodiscard]] int prepare_start(HookFn fn, void* ctx, PrepareHandle* out);
  [[nodiscard]] int prepare_stop(PrepareHandle h);
  [[nodiscard]] int check_start(HookFn fn, void* ctx, CheckHandle* out);
  [[nodiscard]] int check_stop(CheckHandle h);

  // Weak watchers.
  // A weak watcher (libuv's unref) works as any other but does not keep
  // run() going: run() returns when only weak watchers are left, and
  // run_once() does not block then. For a housekeeping timer (health report,
  // watchdog pet) in a loop that should end with its real work. Set at any
  // time after start; active() counts every watcher, weak() the weak ones.
  [[nodiscard]] int set_weak(IoHandle h, bool weak) { return weak_in(io_, h, weak); }
  [[nodiscard]] int set_weak(TimerHandle h, bool weak);  // (out of line: apps/common/snapshot.cc)
  [[nodiscard]] int set_weak(SignalHandle h, bool weak) { return weak_in(signals_, h, weak); }
  [[nodiscard]] int set_weak(WakeHandle h, bool weak) { return weak_in(wakes_, h, weak); }
  [[nodiscard]] int set_weak(ChildHandle h, bool weak) { return weak_in(children_, h, weak); }
  [[nodiscard]] int set_weak(PrepareHandle h, bool weak) { return weak_in(hooks_, h, weak); }
  [[nodiscard]] int set_weak(CheckHandle h, bool weak) { return weak_in(hooks_, h, weak); }
  uint32_t weak() const;

  // Child processes.
  // fn runs once, when child process pid exits, with its wait status; the
  // loop has reaped it (waitpid) and released the watcher before the call.
  // A pidfd (Linux 5.3+) makes the exit an event; where the kernel has none
  // (-ENOSYS), the loop watches SIGCHLD itself and reaps its watched pids on
  // each one (then an app's own SIGCHLD watcher must reap only its own pids,
  // not waitpid(-1)). -ESRCH for a pid that is not a child or already reaped.
  // child_stop() stops watching without reaping: the caller then must.
  [[nodiscard]] int child_start(int pid, ChildFn fn, void* ctx, ChildHandle* out);
  [[nodiscard]] int child_stop(ChildHandle h);

  // Timers.
  // One timerfd per clock in use, re-armed at most once per iteration and
  // only when the earliest deadline changed. Inside a callback any timer may
  // be started, stopped or restarted, itself included; a timer stopped during
  // a batch does not fire later in it, and a timer that becomes due during a
  // batch fires in the next iteration. Deadlines are int64 nanoseconds.
  //
  // Relative times on the monotonic clock count, inside a callback, from the
  // loop's cached time for the iteration (read once, at the first timer call
  // after epoll_wait returned, or the end of the previous callback when
  // callback timing is on: as libev's ev_now, no clock read per call);
  // outside callbacks, from the clock read at the call.
  //
  // One-shot on the monotonic clock, delay_ns from now (>= 0).
  [[nodiscard]] int timer_after(int64_t delay_ns, TimerFn fn, void* ctx, TimerHandle* out);
  // Any timer: see TimerSpec. -EINVAL for a negative deadline, period or
  // slack, or a deadline of 0 without a period; -ENOSPC when the timers, the
  // clock's timers or (for one with a period or a slack) the periodic timers
  // of StaticLoop are all in use.
  [[nodiscard]] int timer_start(const TimerSpec& spec, TimerFn fn, void* ctx, TimerHandle* out);
  // New deadline delay_ns from now on the timer's clock (the idle-timeout
  // pattern), O(log n) in the clock's timers. Works on a one-shot
  // timer inside its own callback, re-arming it. A periodic timer continues
  // its period from the new deadline.
  [[nodiscard]] int timer_restart(TimerHandle h, int64_t delay_ns);
  [[nodiscard]] int timer_restart_at(TimerHandle h, int64_t deadline_ns);
  [[nodiscard]] int timer_stop(TimerHandle h);
  // Changes a timer's period (0: one-shot) from its next expiry on (libuv's
  // uv_timer_set_repeat): the expiry already scheduled stays. Inside the
  // callback of a one-shot timer that has fired, the timer has ended: a
  // period given there does not revive it. -ENOSPC when a one-shot timer
  // is given a period and the periodic timers of StaticLoop are all in use.
  [[nodiscard]] int timer_set_period(TimerHandle h, int64_t period_ns);
  // Stops *h if it names a live timer, then zeroes it: "stop if armed and
  // forget", for owners that keep one handle per purpose. A zero or stale
  // handle is simply zeroed.
  void timer_clear(TimerHandle* h);
  // Time until the next expiry (0 when overdue) in *out_ns.
  [[nodiscard]] int timer_remaining(TimerHandle h, int64_t* out_ns);
  // A scheduled timer's state: -ESTALE for a stale handle, -EINVAL for
  // a null out or a one-shot that fired (in its own callback).
  [[nodiscard]] int timer_state(TimerHandle h, TimerState* out) const;
  // Arms the timerfds now for the timers changed since the last iteration's
  // wait (the loop does it before its next wait): a replay restoring an
  // app's snapshot arms them where the recorded loop had armed them.
  [[nodiscard]] int arm_timers_now() { return before_.timers_dirty ? arm_timers() : 0; }
  // The current time on a clock, in ns.
  int64_t now(Clock clock) const;
  // Watch for CLOCK_REALTIME steps (settimeofday, NTP's first sync): fn runs
  // after each step, and realtime timers are re-armed. One watcher; null fn
  // removes it.
  [[nodiscard]] int clock_step_watch(ClockStepFn fn, void* ctx);
  // The realtime offset (realtime minus monotonic) the next step is
  // measured from: a snapshot carries it, so that a replay restored past a
  // step reports the next one as the recorded loop did.
  int64_t clock_step_base() const;
  void set_clock_step_base(int64_t offset_ns);

  // Checks the loop's invariants (pools, timer heaps, fd index); false on
  // the first violation. For tests and simulations.
  bool verify() const;

  // Running.
  // Runs until stop() or until nothing keeps it alive (no watcher but weak
  // ones, no deferred call). Retries EINTR from epoll_wait; any other error
  // ends it with that error. Returns 0 when stopped or idle.
  [[nodiscard]] int run();
  // One iteration: deferred calls, prepare hooks, one epoll_wait (timeout_ms:
  // -1 blocks, 0 polls; it does not block after stop(), with a deferred call
  // pending, or with nothing that keeps the loop alive), check hooks,
  // dispatch. Returns the number of events fetched or a negative errno
  // (-EINTR included).
  [[nodiscard]] int run_once(int timeout_ms);
  // Ends run() before its next iteration; events already fetched in this
  // iteration are still delivered (under edge triggering they would be
  // lost). A stop() before run() makes run() return at once, running no
  // callback. The request is used up when run() or run_once() returns, so
  // the next call runs normally.
  void stop() { before_.stop = true; }
  // The epoll fd, for embedding in a parent loop, or -1 before init(). The
  // first call makes the loop embedded: from then on the fd is readable
  // whenever run_once(0) has work (a pending deferred call, a due timer, a
  // ready fd): timers changed outside callbacks are armed at once (only if
  // the earliest deadline moved), and a deferred call queued outside an
  // iteration, or left pending by one, makes it readable through the loop's
  // eventfd. The parent polls fd() for reading, sleeps at most
  // next_wakeup_ns(), and calls run_once(0).
  int fd();
  // How long a parent may sleep before this loop has work (libuv's
  // uv_backend_timeout): 0 when a deferred call is pending, -1 when no timer
  // is scheduled (only an fd can wake it), else ns to the next timer.
  int64_t next_wakeup_ns();
  // Number of active watchers (weak ones included) plus pending deferred calls.
  uint32_t active() const;
  const LoopHealth& health();
  // Sets health()'s counters, lags and longest callback to h's and raises
  // the pools' high-water marks to h's: a replay restoring an app's
  // snapshot (hal/flight.h) goes on with the recorded loop's figures.
  void restore_health(const LoopHealth& h);
  // Off by default: timing each callback (health().callback_ns_max) costs one
  // clock read per callback; a daemon that reports it turns it on.
  void set_callback_timing(bool on) {
    after_.timed = on;
    io_tag_ = io_tag(on);
  }

 protected:
  explicit Loop(const LoopStorage& storage);
  ~Loop() { close(); }

 private:
  enum Internal : uint32_t { kWakeFd = 0, kSignalFd = 1, kTimerFd0 = 2 };

  // A handle of this loop and of kind K (salt and kind match).
  bool ours(uint64_t raw, Kind k) const {
    return handle::salt(raw) == salt_ && handle::kind(raw) == k;
  }
  // The live slot a handle names, or nullptr for a stale or foreign handle.
  template <Kind K, class Slot>
  Slot* lookup(const Pool<Slot>& pool, TypedHandle<K> h) const {
    return ours(h.raw, K) ? pool.find(handle::index(h.raw), handle::gen(h.raw)) : nullptr;
  }
  int io_find(IoHandle h, uint32_t* index) const;
  bool owns_fd(int fd) const;
  int epoll_add_internal(int fd, uint32_t id);
  uint64_t internal_data(uint32_t id) const;
  void dispatch(const hal::EpollEvent& ev);
  // An io event: inline in iterate() untimed, from dispatch() timed.
  template <bool kTimed>
  void dispatch_io(uint64_t data, uint32_t events) {
    IoSlot* s = io_.find_registered(data);
    if (s == nullptr) {
      ++health_.stale_events;
      return;
    }
    s->fn(*this, IoHandle{data}, events, s->ctx);
    ++health_.callbacks;
    if (kTimed) time_callback();
  }
  // What iterate() compares the top 16 bits of an event's cookie with to
  // dispatch it inline: this loop's io handles' salt and kind, or, when
  // callbacks are timed, a kind no handle has (io then goes to dispatch(),
  // and the inline path tests no flag).
  uint16_t io_tag(bool timed) const {
    return static_cast<uint16_t>(handle::pack(salt_, timed ? Kind::kNone : Kind::kIo, 0, 0) >> 48);
  }
  void dispatch_internal(uint32_t id);
  void run_defers();
  void drain_wakes();
  void drain_signals();
  bool signal_watched(int signo) const;
  int signal_add(int signo);
  int signal_remove(int signo);
  int hook_start(bool check, HookFn fn, void* ctx, uint64_t* raw);
  void run_hooks(bool check);
  template <Kind K, class Slot>
  int weak_in(Pool<Slot>& pool, TypedHandle<K> h, bool weak) {
    if (lookup(pool, h) == nullptr) return -ESTALE;
    pool.set_weak(handle::index(h.raw), weak);
    return 0;
  }
  // Stops every live watcher of a pool through its kind's stop call (close()).
  template <Kind K, class Slot>
  void stop_all(const Pool<Slot>& pool, int (Loop::*stop_fn)(TypedHandle<K>)) {
    for (uint32_t i = 0; i < pool.capacity(); ++i) {
      if (pool.live(i))
        (void)(this->*stop_fn)(TypedHandle<K>{handle::pack(salt_, K, pool.gen_of(i), i)});
    }
  }
  bool alive() const;
  // iterate<true>'s result when run() is to end before the wait (stop()).
  static constexpr int kStopped = -0x7fffffff - 1;
  template <bool kInRun>
  int iterate(int timeout_ms);
  struct Prepared {
    int timeout_ms;
    int error;  // 0, or arming's
  };
  Prepared prepare(int timeout_ms);
  void begin_dispatch_after_wait();
  void after_iteration_embedded();
  int kick();
  int ensure_wake_fd();
  // Outside callbacks an embedded loop arms at once, so that a parent
  // polling fd() sees the new deadline; otherwise the next iteration arms.
  void timers_changed() {
    before_.timers_dirty = true;
    if (after_.embedded && !dispatching_) (void)arm_timers();
  }
  // The timer calls of an embedded loop: r (the heap's 0) once the change is
  // armed. The others set timers_dirty first and end in the heap's call.
  int changed_embedded(int r) {
    timers_changed();
    return r;
  }
  // Out of line (and out of the common path's registers): an embedded
  // loop's timer calls arm at once.
  __attribute__((noinline, cold)) int stop_embedded(uint32_t i);
  int start_general(const TimerSpec& spec, TimerFn fn, void* ctx, TimerHandle* out);
  int start_in(Clock clock, int64_t deadline_ns, int64_t period_ns, Overrun overrun,
               uint32_t slack_us, TimerFn fn, void* ctx, TimerHandle* out);
  int restart_index(uint32_t i, int64_t deadline_ns);
  __attribute__((noinline, cold)) int restart_embedded(uint32_t i, int64_t deadline_ns);
  int restart_after(uint32_t i, Clock c, int64_t delay_ns);
  void dispatch_child(uint64_t data);
  void close_signals();
  void close_wakes();
  void close_children();
  void close_hooks();
  void close_defers();
  void finish_child(uint32_t index, int status);
  void reap_polled_children();
  int watch_sigchld(bool on);
  int update_signal_mask(uint64_t new_mask);
  // The slot index a live timer handle names, or kNoSlot: one comparison
  // of the whole handle against the one the slot would give now.
  uint32_t timer_index(TimerHandle h) const {
    const uint32_t i = handle::index(h.raw);
    const Pool<TimerSlot>& pool = timers_.pool();
    if (i >= pool.capacity()) return kNoSlot;
    const uint32_t m = pool.at(i).meta;
    if ((h.raw >> handle::kIndexBits) != (timer_tag_ | meta::gen(m)) || !meta::live(m))
      return kNoSlot;
    return i;
  }
  int timer_fd_for(Clock clock);
  int arm_timers();
  void expire_timers(Clock clock);
  void on_clock_step();
  int64_t realtime_offset() const;
  // After each callback: counted, and timed when callback timing is on.
  void timed_end() {
    ++health_.callbacks;
    if (after_.timed) time_callback();
  }
  void time_callback();
  // The monotonic time relative timers count from (see the Timers section).
  int64_t timer_base_ns() { return dispatching_ && mark_valid_ ? mark_ns_ : timer_base_slow(); }
  int64_t timer_base_slow();
  void begin_dispatch();

  uint32_t fd_index_find(int fd) const;
  void fd_index_insert(uint32_t slot);
  void fd_index_erase(int fd);

  // The optional parts (signals, wake-ups, deferred calls, child watchers,
  // hooks) are reached from the core (iterate, dispatch, close) only through
  // these, set when a part is first used: a program that never uses a part
  // links none of its code (with section garbage collection).
  struct Parts {
    using Fn = void (*)(Loop&);
    Fn close_signals = nullptr;
    Fn close_wakes = nullptr;
    Fn close_children = nullptr;
    Fn close_hooks = nullptr;
    Fn close_defers = nullptr;
    Fn run_defers = nullptr;                            // set with a deferred call
    Fn reap_children = nullptr;                         // set with poll_children
    void (*run_hooks)(Loop&, bool) = nullptr;           // set with a hook
    void (*dispatch_child)(Loop&, uint64_t) = nullptr;  // set before a pidfd is watched
    Fn drain_wakes = nullptr;                           // set with the eventfd
    Fn drain_signals = nullptr;                         // set with the signalfd
    int (*kick)(Loop&) = nullptr;                       // set with a defer or poll_children
  };

  // What an iteration does besides the wait and the io callbacks, a byte
  // each, so that the busiest path tests each group as one word (any()).
  struct BeforeWait {
    bool timers_dirty = false;   // a timer changed since the timerfds were last armed
    bool poll_children = false;  // reap once before the next wait
    bool defers = false;         // a deferred call is queued (defer_head_ is a slot)
    bool hooks = false;          // a prepare or check hook is live
    bool stop = false;           // stop() was asked for (used up when run() returns)
    bool unused[3] = {};
  };
  struct AfterWait {
    bool hooks = false;     // the same: check hooks run after the wait
    bool timed = false;     // callbacks are timed (set_callback_timing)
    bool embedded = false;  // fd() was asked for (see fd())
    bool unused = false;
  };
  template <class Flags>
  __attribute__((always_inline)) static bool any(const Flags& f) {
    static_assert(sizeof(Flags) == sizeof(uint32_t) || sizeof(Flags) == sizeof(uint64_t),
                  "four or eight flags, one word");
    std::conditional_t<sizeof(Flags) == sizeof(uint32_t), uint32_t, uint64_t> w;
    std::memcpy(&w, &f, sizeof w);
    return w != 0;
  }
  // After a hook starts or stops.
  void hooks_changed() { before_.hooks = after_.hooks = hooks_.stats().used != 0; }

  LoopStorage st_;
  Parts parts_;
  Pool<IoSlot> io_;
  Pool<SignalSlot> signals_;
  Pool<WakeSlot> wakes_;
  Pool<DeferSlot> defers_;
  Pool<ChildSlot> children_;
  Pool<HookSlot> hooks_;
  TimerSet timers_;
  int timer_fd_[kClockCount] = {-1, -1, -1};
  int64_t armed_ns_[kClockCount] = {TimerSet::kNever, TimerSet::kNever, TimerSet::kNever};
  ClockStepFn step_fn_ = nullptr;
  void* step_ctx_ = nullptr;
  int64_t rt_offset_ns_ = 0;
  LoopHealth health_;
  int epfd_ = -1;
  int wake_fd_ = -1;
  int signal_fd_ = -1;
  BeforeWait before_;
  AfterWait after_;
  uint64_t signal_mask_ = 0;             // signals this loop watches
  uint64_t internal_signals_ = 0;        // signals the loop itself needs (SIGCHLD, see child_start)
  uint32_t polled_children_ = 0;         // child watchers without a pidfd
  uint64_t signals_blocked_before_ = 0;  // of those, the ones blocked at start
  uint32_t defer_head_ = kNoSlot;
  uint32_t defer_tail_ = kNoSlot;
  uint32_t defer_seq_ = 0;
  uint16_t salt_ = 0;
  uint64_t timer_tag_ = 0;  // a timer handle's salt and kind, shifted down to its generation
  uint16_t io_tag_ = 0;     // io_tag(after_.timed)
  int64_t mark_ns_ = 0;     // monotonic: after epoll_wait, then after each callback
  bool dispatching_ = false;
  bool mark_valid_ = false;  // mark_ns_ holds this iteration's time
  uint32_t keepers_ = 0;     // live watchers that are not weak, and pending defers (Pool)
  bool kicked_ = false;      // the eventfd was written to wake a parent's poll
  uint32_t signal_seq_ = 0;
  uint32_t hook_seq_ = 0;
};

}  // namespace evl
