// Signal watchers: one signalfd for all the signals a loop watches.
#include <cerrno>

#include "loop/loop.h"

namespace evl {
namespace {

// Signals read per wake-up, so a signal storm cannot starve other sources.
constexpr int kSignalsPerIteration = 16;

}  // namespace

// The signalfd's mask: the watchers' signals and the loop's own.
int Loop::update_signal_mask(uint64_t new_mask) {
  new_mask |= internal_signals_;
  if (signal_fd_ < 0) {
    const int fd = hal::signalfd(-1, new_mask, hal::kCloexec | hal::kNonblock);
    if (fd < 0) return fd;
    const int r = epoll_add_internal(fd, kSignalFd);
    if (r < 0) {
      (void)hal::close(fd);
      return r;
    }
    signal_fd_ = fd;
    parts_.drain_signals = [](Loop& l) { l.drain_signals(); };
    return 0;
  }
  const int r = hal::signalfd(signal_fd_, new_mask, 0);
  return r < 0 ? r : 0;
}

// Signals are process-wide: one loop per process may watch a signal (a
// signalfd hands each delivery to one reader only). The claim is process
// state, so it sits behind the seam (hal::signal_claim).
namespace {

bool claim(uint64_t bit) { return hal::signal_claim(bit); }
void unclaim(uint64_t bit) { hal::signal_release(bit); }

}  // namespace

bool Loop::signal_watched(int signo) const {
  for (uint32_t i = 0; i < signals_.capacity(); ++i) {
    const SignalSlot& s = signals_.at(i);
    if (meta::live(s.meta) && s.signo == signo) return true;
  }
  return false;
}

// First watcher of a signal in this loop: claim it for the process, block
// it, add it to the signalfd; undone in that order on failure.
int Loop::signal_add(int signo) {
  const uint64_t bit = hal::sig_bit(signo);
  if ((internal_signals_ & bit) == 0 && !claim(bit)) return -EBUSY;
  uint64_t old = 0;
  int r = hal::sigprocmask(hal::kSigBlock, &bit, &old);
  if (r == 0) {
    r = update_signal_mask(signal_mask_ | bit);
    if (r < 0 && (old & bit) == 0) (void)hal::sigprocmask(hal::kSigUnblock, &bit, nullptr);
  }
  if (r < 0) {
    if ((internal_signals_ & bit) == 0) unclaim(bit);
    return r;
  }
  signal_mask_ |= bit;
  if ((internal_signals_ & bit) == 0) {
    signals_blocked_before_ = (signals_blocked_before_ & ~bit) | (old & bit);
  }
  return 0;
}

int Loop::signal_start(int signo, SignalFn fn, void* ctx, SignalHandle* out) {
  if (out == nullptr || fn == nullptr) return -EINVAL;
  if (signo < 1 || signo > 64 || signo == hal::kSigKill || signo == hal::kSigStop) return -EINVAL;
  if (epfd_ < 0) return -EINVAL;
  parts_.close_signals = [](Loop& l) { l.close_signals(); };
  uint32_t i = 0;
  SignalSlot* s = signals_.alloc(&i);
  if (s == nullptr) return -ENOSPC;
  if ((signal_mask_ & hal::sig_bit(signo)) == 0) {
    if (const int r = signal_add(signo); r < 0) {
      signals_.release(i);
      return r;
    }
  }
  s->fn = fn;
  s->ctx = ctx;
  s->signo = signo;
  s->seq = signal_seq_++;
  out->raw = handle::pack(salt_, Kind::kSignal, meta::gen(s->meta), i);
  return 0;
}

void Loop::close_signals() { stop_all(signals_, &Loop::signal_stop); }

// The last watcher of a signal stopped: a delivery still pending is taken
// (through a signalfd of its own) and counted, never left to the default
// action when the signal is unblocked (SIGPIPE, SIGTERM would kill).
int Loop::signal_remove(int signo) {
  const uint64_t bit = hal::sig_bit(signo);
  const int r = update_signal_mask(signal_mask_ & ~bit);
  if (r < 0) return r;
  signal_mask_ &= ~bit;
  if ((internal_signals_ & bit) != 0) return 0;  // the loop itself still needs it
  unclaim(bit);
  if ((signals_blocked_before_ & bit) != 0) return 0;  // stays blocked, as it was
  const int fd = hal::signalfd(-1, bit, hal::kCloexec | hal::kNonblock);
  if (fd >= 0) {
    hal::SignalfdSiginfo si{};
    while (hal::read(fd, &si, sizeof si) == static_cast<long>(sizeof si))
      ++health_.signals_discarded;
    (void)hal::close(fd);
  }
  (void)hal::sigprocmask(hal::kSigUnblock, &bit, nullptr);
  return 0;
}

int Loop::signal_stop(SignalHandle h) {
  SignalSlot* s = lookup(signals_, h);
  if (s == nullptr) return -ESTALE;
  const int signo = s->signo;
  signals_.release(handle::index(h.raw));
  if (!signal_watched(signo)) {
    if (const int r = signal_remove(signo); r < 0) return r;
  }
  return 0;
}

// The loop's own SIGCHLD, for child watchers without a pidfd: claimed,
// blocked and in the signalfd like a watcher's, but counted apart.
int Loop::watch_sigchld(bool on) {
  const uint64_t bit = hal::sig_bit(hal::kSigChld);
  if (on == ((internal_signals_ & bit) != 0)) return 0;
  const bool watched = (signal_mask_ & bit) != 0;  // a watcher of this loop has it already
  if (!on) {
    internal_signals_ &= ~bit;
    const int r = update_signal_mask(signal_mask_);
    if (!watched) {
      unclaim(bit);
      // SIGCHLD's default action is to ignore it: unblocking is harmless.
      if ((signals_blocked_before_ & bit) == 0)
        (void)hal::sigprocmask(hal::kSigUnblock, &bit, nullptr);
    }
    return r;
  }
  if (!watched && !claim(bit)) return -EBUSY;
  uint64_t old = 0;
  int r = hal::sigprocmask(hal::kSigBlock, &bit, &old);
  if (r == 0) {
    internal_signals_ |= bit;
    r = update_signal_mask(signal_mask_);
    if (r < 0) internal_signals_ &= ~bit;
  }
  if (r < 0) {
    if (!watched) {
      unclaim(bit);
      if ((old & bit) == 0) (void)hal::sigprocmask(hal::kSigUnblock, &bit, nullptr);
    }
    return r;
  }
  if (!watched) signals_blocked_before_ = (signals_blocked_before_ & ~bit) | (old & bit);
  return 0;
}

// Each delivery goes to every watcher of its signal, in start order; a
// watcher stopped by an earlier one's callback is not called.
void Loop::drain_signals() {
  for (int n = 0; n < kSignalsPerIteration; ++n) {
    hal::SignalfdSiginfo si{};
    const long r = hal::read(signal_fd_, &si, sizeof si);
    if (r != static_cast<long>(sizeof si)) return;  // EAGAIN, EINTR: next time
    const int signo = static_cast<int>(si.signo);
    const bool internal = (internal_signals_ & hal::sig_bit(signo)) != 0;
    if (signo == hal::kSigChld && polled_children_ > 0) reap_polled_children();
    const SignalInfo info{signo, si.code, si.pid, si.uid, si.status};
    const uint32_t batch = signal_seq_;
    bool any = false;
    for (uint32_t after = 0;;) {
      uint32_t idx = kNoSlot;
      for (uint32_t i = 0; i < signals_.capacity(); ++i) {
        const SignalSlot& s = signals_.at(i);
        if (!meta::live(s.meta) || s.signo != signo) continue;
        if (s.seq < after || s.seq >= batch) continue;  // called, or started by a callback
        if (idx == kNoSlot || s.seq < signals_.at(idx).seq) idx = i;
      }
      if (idx == kNoSlot) break;
      SignalSlot& s = signals_.at(idx);
      after = s.seq + 1;
      any = true;
      s.fn(*this, SignalHandle{handle::pack(salt_, Kind::kSignal, meta::gen(s.meta), idx)}, info,
           s.ctx);
      timed_end();
    }
    if (!any && !internal) ++health_.stale_events;
  }
}

}  // namespace evl
