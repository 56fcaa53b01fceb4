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
    return 0;
  }
  const int r = hal::signalfd(signal_fd_, new_mask, 0);
  return r < 0 ? r : 0;
}

int Loop::signal_start(int signo, SignalFn fn, void* ctx, SignalHandle* out) {
  if (out == nullptr || fn == nullptr) return -EINVAL;
  if (signo < 1 || signo > 64 || signo == hal::kSigKill || signo == hal::kSigStop) return -EINVAL;
  if (epfd_ < 0) return -EINVAL;
  const uint64_t bit = hal::sig_bit(signo);
  if ((signal_mask_ & bit) != 0) return -EEXIST;
  uint32_t i = 0;
  SignalSlot* s = signals_.alloc(&i);
  if (s == nullptr) return -ENOSPC;
  uint64_t old = 0;
  int r = hal::sigprocmask(hal::kSigBlock, &bit, &old);
  if (r == 0) {
    r = update_signal_mask(signal_mask_ | bit);
    if (r < 0 && (old & bit) == 0) (void)hal::sigprocmask(hal::kSigUnblock, &bit, nullptr);
  }
  if (r < 0) {
    signals_.release(i);
    return r;
  }
  signal_mask_ |= bit;
  signals_blocked_before_ = (signals_blocked_before_ & ~bit) | (old & bit);
  s->fn = fn;
  s->ctx = ctx;
  s->signo = signo;
  out->raw = handle::pack(salt_, Kind::kSignal, meta::gen(s->meta), i);
  return 0;
}

int Loop::signal_stop(SignalHandle h) {
  SignalSlot* s = lookup(signals_, h);
  if (s == nullptr) return -ESTALE;
  const uint64_t bit = hal::sig_bit(s->signo);
  const int r = update_signal_mask(signal_mask_ & ~bit);
  if (r < 0) return r;
  signal_mask_ &= ~bit;
  if ((signals_blocked_before_ & bit) == 0 && (internal_signals_ & bit) == 0) {
    // A signal still pending is delivered to its previous disposition here,
    // as it would have been without the loop.
    (void)hal::sigprocmask(hal::kSigUnblock, &bit, nullptr);
  }
  signals_.release(handle::index(h.raw));
  return 0;
}

void Loop::drain_signals() {
  for (int n = 0; n < kSignalsPerIteration; ++n) {
    hal::SignalfdSiginfo si{};
    const long r = hal::read(signal_fd_, &si, sizeof si);
    if (r != static_cast<long>(sizeof si)) return;  // EAGAIN, EINTR: next time
    const int signo = static_cast<int>(si.signo);
    const bool internal = (internal_signals_ & hal::sig_bit(signo)) != 0;
    if (signo == hal::kSigChld && polled_children_ > 0) reap_polled_children();
    SignalSlot* found = nullptr;
    uint32_t idx = 0;
    for (uint32_t i = 0; i < signals_.capacity(); ++i) {
      SignalSlot& s = signals_.at(i);
      if (meta::live(s.meta) && s.signo == signo) {
        found = &s;
        idx = i;
        break;
      }
    }
    if (found == nullptr) {
      if (!internal) ++health_.stale_events;
      continue;
    }
    const SignalInfo info{signo, si.code, si.pid, si.uid, si.status};
    found->fn(*this, SignalHandle{handle::pack(salt_, Kind::kSignal, meta::gen(found->meta), idx)},
              info, found->ctx);
    timed_end();
  }
}

}  // namespace evl
