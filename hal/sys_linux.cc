// The seam on the real kernel: one line per call, errno turned into -errno.
#include "hal/sys.h"

#include <cerrno>
#include <csignal>
#include <cstddef>
#include <ctime>

#include <fcntl.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

namespace hal {
namespace {

static_assert(kCloexec == O_CLOEXEC && kNonblock == O_NONBLOCK, "fd flags");
static_assert(kCloexec == EPOLL_CLOEXEC && kCloexec == EFD_CLOEXEC, "cloexec");
static_assert(kCloexec == SFD_CLOEXEC && kCloexec == TFD_CLOEXEC, "cloexec");
static_assert(kNonblock == EFD_NONBLOCK && kNonblock == SFD_NONBLOCK, "nonblock");
static_assert(kNonblock == TFD_NONBLOCK, "nonblock");
static_assert(kEpollIn == EPOLLIN && kEpollPri == EPOLLPRI && kEpollOut == EPOLLOUT, "epoll");
static_assert(kEpollErr == EPOLLERR && kEpollHup == EPOLLHUP && kEpollRdHup == EPOLLRDHUP,
              "epoll");
static_assert(kEpollOneshot == EPOLLONESHOT && kEpollEt == EPOLLET, "epoll");
static_assert(kEpollCtlAdd == EPOLL_CTL_ADD && kEpollCtlDel == EPOLL_CTL_DEL &&
                  kEpollCtlMod == EPOLL_CTL_MOD,
              "epoll_ctl ops");
static_assert(sizeof(EpollEvent) == sizeof(epoll_event), "epoll_event size");
static_assert(offsetof(EpollEvent, data) == offsetof(epoll_event, data), "epoll_event layout");
static_assert(kClockRealtime == CLOCK_REALTIME && kClockMonotonic == CLOCK_MONOTONIC &&
                  kClockBoottime == CLOCK_BOOTTIME,
              "clocks");
static_assert(kTfdTimerAbstime == TFD_TIMER_ABSTIME, "timerfd");
static_assert(kTfdTimerCancelOnSet == TFD_TIMER_CANCEL_ON_SET, "timerfd");
static_assert(kSigBlock == SIG_BLOCK && kSigUnblock == SIG_UNBLOCK && kSigSetmask == SIG_SETMASK,
              "sigprocmask");
static_assert(sizeof(SignalfdSiginfo) == sizeof(signalfd_siginfo), "siginfo size");
static_assert(offsetof(SignalfdSiginfo, overrun) == offsetof(signalfd_siginfo, ssi_overrun),
              "siginfo layout");
static_assert(offsetof(SignalfdSiginfo, addr) == offsetof(signalfd_siginfo, ssi_addr),
              "siginfo layout");

int ret(int r) { return r < 0 ? -errno : r; }
long ret_long(ssize_t r) { return r < 0 ? -errno : static_cast<long>(r); }

void to_sigset(uint64_t mask, sigset_t* set) {
  sigemptyset(set);
  for (int s = 1; s <= 64; ++s) {
    if ((mask & sig_bit(s)) != 0) sigaddset(set, s);
  }
}

uint64_t from_sigset(const sigset_t* set) {
  uint64_t mask = 0;
  for (int s = 1; s <= 64; ++s) {
    if (sigismember(set, s) == 1) mask |= sig_bit(s);
  }
  return mask;
}

timespec to_ts(const Timespec& t) {
  timespec r{};
  r.tv_sec = static_cast<time_t>(t.sec);
  r.tv_nsec = static_cast<long>(t.nsec);
  return r;
}

Timespec from_ts(const timespec& t) { return Timespec{t.tv_sec, t.tv_nsec}; }

}  // namespace

long read(int fd, void* buf, size_t count) { return ret_long(::read(fd, buf, count)); }
long write(int fd, const void* buf, size_t count) { return ret_long(::write(fd, buf, count)); }
int close(int fd) { return ret(::close(fd)); }
int pipe2(int fds[2], int flags) { return ret(::pipe2(fds, flags)); }

int epoll_create1(int flags) { return ret(::epoll_create1(flags)); }

int epoll_ctl(int epfd, int op, int fd, EpollEvent* event) {
  return ret(::epoll_ctl(epfd, op, fd, reinterpret_cast<epoll_event*>(event)));
}

int epoll_wait(int epfd, EpollEvent* events, int maxevents, int timeout_ms) {
  return ret(::epoll_wait(epfd, reinterpret_cast<epoll_event*>(events), maxevents, timeout_ms));
}

int eventfd(unsigned int initval, int flags) { return ret(::eventfd(initval, flags)); }

int signalfd(int fd, uint64_t mask, int flags) {
  sigset_t set;
  to_sigset(mask, &set);
  return ret(::signalfd(fd, &set, flags));
}

int sigprocmask(int how, const uint64_t* set, uint64_t* old) {
  sigset_t s;
  sigset_t o;
  if (set != nullptr) to_sigset(*set, &s);
  const int r = ::pthread_sigmask(how, set != nullptr ? &s : nullptr, &o);
  if (r != 0) return -r;
  if (old != nullptr) *old = from_sigset(&o);
  return 0;
}

int kill(int pid, int signo) { return ret(::kill(pid, signo)); }
int getpid() { return ::getpid(); }

int clock_gettime(int clock_id, Timespec* ts) {
  timespec t{};
  const int r = ::clock_gettime(clock_id, &t);
  if (r < 0) return -errno;
  *ts = from_ts(t);
  return 0;
}

int timerfd_create(int clock_id, int flags) { return ret(::timerfd_create(clock_id, flags)); }

int timerfd_settime(int fd, int flags, const Itimerspec* value, Itimerspec* old) {
  itimerspec v{};
  itimerspec o{};
  v.it_interval = to_ts(value->interval);
  v.it_value = to_ts(value->value);
  const int r = ::timerfd_settime(fd, flags, &v, &o);
  if (r < 0) return -errno;
  if (old != nullptr) *old = Itimerspec{from_ts(o.it_interval), from_ts(o.it_value)};
  return 0;
}

int timerfd_gettime(int fd, Itimerspec* curr) {
  itimerspec c{};
  const int r = ::timerfd_gettime(fd, &c);
  if (r < 0) return -errno;
  *curr = Itimerspec{from_ts(c.it_interval), from_ts(c.it_value)};
  return 0;
}

}  // namespace hal
