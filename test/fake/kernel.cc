#include "test/fake/kernel.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "test/fake/files.h"

namespace fake {
namespace {

thread_local Kernel* g_current = nullptr;  // one kernel per thread

const char* const kCallNames[] = {
    "read",
    "write",
    "close",
    "pipe2",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "eventfd",
    "signalfd",
    "sigprocmask",
    "kill",
    "clock_gettime",
    "timerfd_create",
    "timerfd_settime",
    "timerfd_gettime",
    "open",
    "ioctl",
    "socket",
    "bind",
    "connect",
    "listen",
    "accept4",
    "getsockopt",
    "setsockopt",
    "sendto",
    "recvfrom",
    "shutdown",
    "spawn",
    "fstat",
    "fcntl",
    "pidfd_open",
    "waitpid",
    "fsync",
    "rename",
    "unlink",
    "on_crash",
    "getrandom",
    "run_in_child",
};
static_assert(sizeof(kCallNames) / sizeof(kCallNames[0]) == static_cast<int>(Call::kCount),
              "one name per call");

}  // namespace

const char* call_name(Call c) { return kCallNames[static_cast<int>(c)]; }

Kernel::Kernel() {
  if (g_current != nullptr) {
    std::fprintf(stderr, "fake::Kernel: only one may exist at a time\n");
    std::abort();
  }
  g_current = this;
  for (int i = 0; i < 3; ++i) (void)open_regular_file();  // stdin, stdout, stderr
}

Kernel::~Kernel() {
  for (size_t fd = 3; fd < fds_.size(); ++fd) {
    if (fds_[fd]) (void)sys_close(static_cast<int>(fd));
  }
  g_current = nullptr;
}

Kernel& Kernel::current() {
  if (g_current == nullptr) {
    std::fprintf(stderr, "fake kernel: a hal:: call was made with no fake::Kernel alive\n");
    std::abort();
  }
  return *g_current;
}

void Kernel::advance(int64_t ns) {
  if (ns > 0) mono_ns_ += ns;
}

void Kernel::suspend(int64_t ns) {
  if (ns <= 0) return;
  suspended_ns_ += ns;
  realtime_offset_ns_ += ns;
  for (TimerFd* t : timerfds_) t->clock_stepped();  // Linux cancels on resume too
}

int64_t Kernel::clock_ns(int clock_id) const {
  switch (clock_id) {
    case hal::kClockMonotonic: return monotonic_ns();
    case hal::kClockBoottime: return boottime_ns();
    case hal::kClockRealtime: return realtime_ns();
    default: return -1;
  }
}

void Kernel::seed(uint64_t seed) {
  rng_ = Rng{seed * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL};
  random_ = Rng{(seed ^ 0x5851f42d4c957f2dULL) | 1};
  for (int i = 0; i < 4; ++i) (void)rng_.next();
  // Each seed draws its own rates; a quarter of the time a fault is off.
  auto draw = [this](double max) { return rng_.chance(0.25) ? 0.0 : rng_.uniform(0, max); };
  rates_.eintr_wait = draw(0.05);
  rates_.short_io = draw(0.5);
  rates_.spurious_eagain = draw(0.05);
  rates_.enomem = draw(0.02);
  rates_.shuffle = !rng_.chance(0.25);
  chaos_ = true;
}

void Kernel::fail_next(Call call, int err, int times, int after) {
  faults_.push_back(Fault{call, err, times, after});
}

void Kernel::short_next(Call call, size_t bytes) { shorts_.emplace_back(call, bytes); }

void Kernel::reset_calls() {
  for (auto& c : calls_) c = 0;
}

bool Kernel::fault(Call call, int* err) {
  ++calls_[static_cast<int>(call)];
  if (chaos_) {
    // (epoll_ctl draws its ENOMEM itself: only ADD and MOD allocate.)
    const bool can_enomem =
        call == Call::kTimerfdSettime || call == Call::kEventfd || call == Call::kPipe2;
    if (can_enomem && rng_.chance(rates_.enomem)) {
      *err = call == Call::kPipe2 ? EMFILE : ENOMEM;
      return true;
    }
    if (call == Call::kEpollWait && rng_.chance(rates_.eintr_wait)) {
      *err = EINTR;
      return true;
    }
  }
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (it->call != call) continue;
    if (it->after > 0) {
      --it->after;
      return false;
    }
    *err = it->err;
    if (--it->times <= 0) faults_.erase(it);
    return true;
  }
  return false;
}

size_t Kernel::limit(Call call, size_t count) {
  for (auto it = shorts_.begin(); it != shorts_.end(); ++it) {
    if (it->first != call) continue;
    const size_t n = it->second < count ? it->second : count;
    shorts_.erase(it);
    return n;
  }
  return count;
}

int Kernel::install(std::shared_ptr<File> f) {
  f->kernel = this;
  for (size_t fd = 0; fd < fds_.size(); ++fd) {
    if (!fds_[fd]) {
      ++f->refs;
      fds_[fd] = std::move(f);
      return static_cast<int>(fd);
    }
  }
  if (fds_.size() >= static_cast<size_t>(kMaxFds)) return -EMFILE;
  ++f->refs;
  fds_.push_back(std::move(f));
  return static_cast<int>(fds_.size() - 1);
}

File* Kernel::file(int fd) const {
  if (fd < 0 || static_cast<size_t>(fd) >= fds_.size()) return nullptr;
  return fds_[static_cast<size_t>(fd)].get();
}

int Kernel::open_fd_count() const {
  int n = 0;
  for (size_t fd = 3; fd < fds_.size(); ++fd) n += fds_[fd] ? 1 : 0;
  return n;
}

int Kernel::open_regular_file() { return install(std::make_shared<RegularFile>()); }

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  long n;
  while ((n = hal::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

std::string Kernel::written(int fd) {
  const auto* f = dynamic_cast<const RegularFile*>(file(fd));
  return f != nullptr ? f->written() : std::string();
}

int Kernel::dup(int fd) {
  File* f = file(fd);
  if (f == nullptr) return -EBADF;
  return install(fds_[static_cast<size_t>(fd)]);
}

void Kernel::release(File* f) {
  for (Epoll* ep : epolls_) ep->forget(f);
  f->last_close();
}

long Kernel::sys_read(int fd, void* buf, size_t count) {
  int err = 0;
  if (fault(Call::kRead, &err)) return -err;
  File* f = file(fd);
  if (f == nullptr) return -EBADF;
  if (chaos_ && f->stream_like()) {
    if (rng_.chance(rates_.spurious_eagain) && f->nonblock) return -EAGAIN;
    if (count > 1 && rng_.chance(rates_.short_io)) count = 1 + rng_.below(count - 1);
  }
  const long r = f->read(buf, limit(Call::kRead, count));
  if (r == -EDEADLK) ++would_block_;
  return r;
}

long Kernel::sys_write(int fd, const void* buf, size_t count) {
  int err = 0;
  if (fault(Call::kWrite, &err)) return -err;
  File* f = file(fd);
  if (f == nullptr) return -EBADF;
  if (chaos_ && f->stream_like() && count > 1 && rng_.chance(rates_.short_io)) {
    count = 1 + rng_.below(count - 1);
  }
  const long r = f->write(buf, limit(Call::kWrite, count));
  if (r == -EPIPE) raise(hal::kSigPipe);  // as Linux sends it
  if (r == -EDEADLK) ++would_block_;
  return r;
}

int Kernel::sys_close(int fd) {
  int err = 0;
  if (fault(Call::kClose, &err)) return -err;
  File* f = file(fd);
  if (f == nullptr) return -EBADF;
  std::shared_ptr<File> keep = std::move(fds_[static_cast<size_t>(fd)]);
  if (--keep->refs == 0) release(keep.get());
  return 0;
}

int Kernel::sys_pipe2(int fds[2], int flags) {
  int err = 0;
  if (fault(Call::kPipe2, &err)) return -err;
  if ((flags & ~(hal::kCloexec | hal::kNonblock)) != 0) return -EINVAL;
  auto buf = std::make_shared<PipeBuffer>();
  auto r = std::make_shared<PipeEnd>(buf, true);
  auto w = std::make_shared<PipeEnd>(buf, false);
  r->nonblock = w->nonblock = (flags & hal::kNonblock) != 0;
  const int rfd = install(r);
  if (rfd < 0) return rfd;
  const int wfd = install(w);
  if (wfd < 0) {
    (void)sys_close(rfd);
    return wfd;
  }
  fds[0] = rfd;
  fds[1] = wfd;
  return 0;
}

int Kernel::sys_epoll_create1(int flags) {
  int err = 0;
  if (fault(Call::kEpollCreate1, &err)) return -err;
  if ((flags & ~hal::kCloexec) != 0) return -EINVAL;
  auto ep = std::make_shared<Epoll>();
  const int fd = install(ep);
  if (fd >= 0) epolls_.push_back(ep.get());
  return fd;
}

int Kernel::sys_epoll_ctl(int epfd, int op, int fd, hal::EpollEvent* event) {
  int err = 0;
  if (fault(Call::kEpollCtl, &err)) return -err;
  File* e = file(epfd);
  File* f = file(fd);
  if (e == nullptr || f == nullptr) return -EBADF;
  auto* ep = dynamic_cast<Epoll*>(e);
  if (ep == nullptr || e == f) return -EINVAL;
  if (!f->pollable()) return -EPERM;
  if (op != hal::kEpollCtlDel && event == nullptr) return -EFAULT;
  if (chaos_ && op != hal::kEpollCtlDel && rng_.chance(rates_.enomem)) return -ENOMEM;
  return ep->ctl(op, fd, f, event);
}

int Kernel::sys_epoll_wait(int epfd, hal::EpollEvent* events, int maxevents, int timeout_ms) {
  int err = 0;
  if (fault(Call::kEpollWait, &err)) return -err;
  auto* ep = dynamic_cast<Epoll*>(file(epfd));
  if (ep == nullptr) return file(epfd) == nullptr ? -EBADF : -EINVAL;
  if (maxevents <= 0) return -EINVAL;
  const int64_t until = timeout_ms < 0 ? -1 : mono_ns_ + int64_t{timeout_ms} * 1000000;
  for (int spins = 0; spins < 1000000; ++spins) {
    const int n = ep->collect(events, maxevents);
    if (n > 1 && chaos_ && rates_.shuffle) {
      for (int i = n - 1; i > 0; --i) {
        const int j = static_cast<int>(rng_.below(static_cast<uint64_t>(i) + 1));
        const hal::EpollEvent t = events[i];
        events[i] = events[j];
        events[j] = t;
      }
    }
    if (n > 0 || timeout_ms == 0) return n;
    const int64_t next = next_timer_deadline_mono();
    if (next >= 0 && (until < 0 || next < until)) {
      mono_ns_ = next > mono_ns_ ? next : mono_ns_;
      continue;
    }
    if (until < 0) return -EDEADLK;  // nothing could ever wake this wait
    mono_ns_ = until;
    timeout_ms = 0;  // collect (and shuffle) once more at the new time
  }
  return -EDEADLK;  // a timer kept expiring without ever waking this epoll
}

int Kernel::sys_eventfd(unsigned int initval, int flags) {
  int err = 0;
  if (fault(Call::kEventfd, &err)) return -err;
  constexpr int kSemaphore = 1;
  if ((flags & ~(hal::kCloexec | hal::kNonblock | kSemaphore)) != 0) return -EINVAL;
  auto f = std::make_shared<EventFd>(initval, (flags & kSemaphore) != 0);
  f->nonblock = (flags & hal::kNonblock) != 0;
  return install(f);
}

int Kernel::sys_signalfd(int fd, uint64_t mask, int flags) {
  int err = 0;
  if (fault(Call::kSignalfd, &err)) return -err;
  if ((flags & ~(hal::kCloexec | hal::kNonblock)) != 0) return -EINVAL;
  // SIGKILL and SIGSTOP are silently ignored in the mask, as by Linux.
  mask &= ~(hal::sig_bit(9) | hal::sig_bit(19));
  if (fd == -1) {
    auto f = std::make_shared<SignalFd>(mask);
    f->nonblock = (flags & hal::kNonblock) != 0;
    return install(f);
  }
  auto* s = dynamic_cast<SignalFd*>(file(fd));
  if (s == nullptr) return file(fd) == nullptr ? -EBADF : -EINVAL;
  s->mask = mask;
  ++s->seq;
  return fd;
}

int Kernel::sys_sigprocmask(int how, const uint64_t* set, uint64_t* old) {
  int err = 0;
  if (fault(Call::kSigprocmask, &err)) return -err;
  const uint64_t before = blocked_;
  if (set != nullptr) {
    const uint64_t s = *set & ~(hal::sig_bit(9) | hal::sig_bit(19));
    switch (how) {
      case hal::kSigBlock: blocked_ |= s; break;
      case hal::kSigUnblock: blocked_ &= ~s; break;
      case hal::kSigSetmask: blocked_ = s; break;
      default: return -EINVAL;
    }
  }
  if (old != nullptr) *old = before;
  // Pending signals that are no longer blocked are delivered now.
  const uint64_t now_free = pending_ & ~blocked_;
  for (int s = 1; s <= 64; ++s) {
    if ((now_free & hal::sig_bit(s)) != 0) ++delivered_[s];
  }
  pending_ &= blocked_;
  return 0;
}

void Kernel::raise(int signo) {
  if (signo < 1 || signo > 64) return;
  const uint64_t bit = hal::sig_bit(signo);
  if ((blocked_ & bit) != 0) {
    pending_ |= bit;
    ++signal_seq_;
  } else {
    ++delivered_[signo];
  }
}

uint64_t Kernel::take_signal(uint64_t mask) {
  const uint64_t avail = pending_ & mask;
  if (avail == 0) return 0;
  const uint64_t bit = avail & (~avail + 1);
  pending_ &= ~bit;
  ++signal_seq_;
  return bit;
}

int Kernel::sys_kill(int pid, int signo) {
  int err = 0;
  if (fault(Call::kKill, &err)) return -err;
  if (signo < 0 || signo > 64) return -EINVAL;
  if (pid != kPid) {
    Process* p = process(pid);
    if (p == nullptr || p->reaped) return -ESRCH;
    const bool running = p->exit_at < 0 || p->exit_at > mono_ns_;
    if (signo != 0 && running) exit_process(pid, signo);  // killed: status holds the signal
    return 0;
  }
  if (signo > 0) raise(signo);
  return 0;
}

int Kernel::sys_on_crash(hal::CrashFn fn) {
  int err = 0;
  if (fault(Call::kOnCrash, &err)) return -err;
  crash_fn_ = fn;
  return 0;
}

long Kernel::sys_getrandom(void* buf, size_t len, unsigned flags) {
  int err = 0;
  if (fault(Call::kGetrandom, &err)) return -err;
  if ((flags & ~hal::kGrndNonblock) != 0 || len > 256) return -EINVAL;
  auto* out = static_cast<unsigned char*>(buf);
  for (size_t i = 0; i < len; ++i) out[i] = static_cast<unsigned char>(random_.next() >> 56);
  return static_cast<long>(len);
}

bool Kernel::crash(int signo) {
  const hal::CrashFn fn = crash_fn_;
  if (fn == nullptr) return false;
  crash_fn_ = nullptr;
  fn(signo);
  return true;
}

int Kernel::sys_clock_gettime(int clock_id, hal::Timespec* ts) {
  int err = 0;
  if (fault(Call::kClockGettime, &err)) return -err;
  const int64_t ns = clock_ns(clock_id);
  if (ns < 0) return -EINVAL;
  ts->sec = ns / 1000000000;
  ts->nsec = ns % 1000000000;
  return 0;
}

}  // namespace fake
