// timerfd on the fake kernel's virtual clocks: relative and absolute expiry,
// it_interval, the overrun count returned by read, TFD_TIMER_CANCEL_ON_SET.
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "test/fake/files.h"

namespace fake {
namespace {

constexpr int64_t kNsPerSec = 1000000000;

int64_t to_ns(const hal::Timespec& t) { return t.sec * kNsPerSec + t.nsec; }
hal::Timespec to_ts(int64_t ns) { return hal::Timespec{ns / kNsPerSec, ns % kNsPerSec}; }
bool valid(const hal::Timespec& t) { return t.sec >= 0 && t.nsec >= 0 && t.nsec < kNsPerSec; }

}  // namespace

uint64_t TimerFd::due() const {
  if (deadline_ns_ == 0) return unread_;
  const int64_t now = kernel->clock_ns(clock_id_);
  if (now < deadline_ns_) return unread_;
  const uint64_t n =
      interval_ns_ > 0 ? static_cast<uint64_t>((now - deadline_ns_) / interval_ns_) + 1 : 1;
  return unread_ + n;
}

uint32_t TimerFd::poll() const { return (canceled_ || due() > 0) ? hal::kEpollIn : 0; }

uint64_t TimerFd::changes() const { return seq + due() + (canceled_ ? 1 : 0); }

long TimerFd::read(void* buf, size_t count) {
  if (count < 8) return -EINVAL;
  if (canceled_) {
    canceled_ = false;
    unread_ = 0;
    ++seq;
    return -ECANCELED;
  }
  const uint64_t n = due();
  if (n == 0) return nonblock ? -EAGAIN : -EDEADLK;
  if (deadline_ns_ != 0 && kernel->clock_ns(clock_id_) >= deadline_ns_) {
    if (interval_ns_ > 0) {
      deadline_ns_ += static_cast<int64_t>(n - unread_) * interval_ns_;
    } else {
      deadline_ns_ = 0;
    }
  }
  unread_ = 0;
  ++seq;
  std::memcpy(buf, &n, 8);
  return 8;
}

int TimerFd::settime(int flags, const hal::Itimerspec& value, hal::Itimerspec* old) {
  if ((flags & ~(hal::kTfdTimerAbstime | hal::kTfdTimerCancelOnSet)) != 0) return -EINVAL;
  if (!valid(value.value) || !valid(value.interval)) return -EINVAL;
  if (old != nullptr) gettime(old);
  const int64_t v = to_ns(value.value);
  const bool abs = (flags & hal::kTfdTimerAbstime) != 0;
  interval_ns_ = to_ns(value.interval);
  unread_ = 0;
  canceled_ = false;
  cancel_on_set_ =
      abs && (flags & hal::kTfdTimerCancelOnSet) != 0 && clock_id_ == hal::kClockRealtime;
  if (v == 0) {
    deadline_ns_ = 0;
  } else {
    deadline_ns_ = abs ? v : kernel->clock_ns(clock_id_) + v;
    if (deadline_ns_ <= 0) deadline_ns_ = 1;
  }
  ++seq;
  return 0;
}

// The next expiry after now on the timer's clock, or 0 when there is none
// (disarmed, or a one-shot timer that has expired).
int64_t TimerFd::upcoming(int64_t now) const {
  if (deadline_ns_ == 0) return 0;
  if (now < deadline_ns_) return deadline_ns_;
  if (interval_ns_ == 0) return 0;
  return deadline_ns_ + ((now - deadline_ns_) / interval_ns_ + 1) * interval_ns_;
}

void TimerFd::gettime(hal::Itimerspec* curr) const {
  curr->interval = to_ts(interval_ns_);
  const int64_t now = kernel->clock_ns(clock_id_);
  const int64_t next = upcoming(now);
  curr->value = to_ts(next == 0 ? 0 : next - now);  // an expired one-shot reads as 0
}

int64_t TimerFd::next_mono() const {
  if (canceled_) return -1;  // readable already: not a deadline
  const int64_t now = kernel->clock_ns(clock_id_);
  const int64_t next = upcoming(now);
  return next == 0 ? -1 : kernel->monotonic_ns() + (next - now);
}

// As Linux: the cancel flag belongs to the last timerfd_settime, so a timerfd
// that has already expired (or was set to 0 with the flags) is canceled too.
void TimerFd::clock_stepped() {
  if (!cancel_on_set_) return;
  canceled_ = true;
  ++seq;
}

void TimerFd::last_close() {
  auto& v = kernel->timerfds();
  v.erase(std::remove(v.begin(), v.end(), this), v.end());
}

int Kernel::sys_timerfd_create(int clock_id, int flags) {
  int err = 0;
  if (fault(Call::kTimerfdCreate, &err)) return -err;
  if (clock_ns(clock_id) < 0) return -EINVAL;
  if ((flags & ~(hal::kCloexec | hal::kNonblock)) != 0) return -EINVAL;
  auto t = std::make_shared<TimerFd>(clock_id);
  t->nonblock = (flags & hal::kNonblock) != 0;
  const int fd = install(t);
  if (fd >= 0) timerfds_.push_back(t.get());
  return fd;
}

int Kernel::sys_timerfd_settime(int fd, int flags, const hal::Itimerspec* value,
                                hal::Itimerspec* old) {
  int err = 0;
  if (fault(Call::kTimerfdSettime, &err)) return -err;
  auto* t = dynamic_cast<TimerFd*>(file(fd));
  if (t == nullptr) return file(fd) == nullptr ? -EBADF : -EINVAL;
  if (value == nullptr) return -EFAULT;
  return t->settime(flags, *value, old);
}

int Kernel::sys_timerfd_gettime(int fd, hal::Itimerspec* curr) {
  int err = 0;
  if (fault(Call::kTimerfdGettime, &err)) return -err;
  auto* t = dynamic_cast<TimerFd*>(file(fd));
  if (t == nullptr) return file(fd) == nullptr ? -EBADF : -EINVAL;
  t->gettime(curr);
  return 0;
}

int64_t Kernel::next_timer_deadline_mono() const {
  int64_t best = -1;
  for (const Epoll* ep : epolls_) {
    const int64_t n = ep->earliest_wake();
    if (n >= 0 && (best < 0 || n < best)) best = n;
  }
  return best;
}

void Kernel::step_realtime(int64_t delta_ns) {
  realtime_offset_ns_ += delta_ns;
  for (TimerFd* t : timerfds_) t->clock_stepped();
}

}  // namespace fake
