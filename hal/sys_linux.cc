// The seam on the real kernel: one line per call, errno turned into -errno.
#include "hal/sys.h"
#ifdef EVL_SYSCALL_COUNTERS
#include "hal/sys_counters.h"
#endif

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <ctime>

#include <asm/termbits.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <linux/watchdog.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

namespace hal {
namespace {

static_assert(kCloexec == O_CLOEXEC && kNonblock == O_NONBLOCK, "fd flags");
static_assert(kCloexec == EPOLL_CLOEXEC && kCloexec == EFD_CLOEXEC, "cloexec");
static_assert(kCloexec == SFD_CLOEXEC && kCloexec == TFD_CLOEXEC, "cloexec");
static_assert(kNonblock == EFD_NONBLOCK && kNonblock == SFD_NONBLOCK, "nonblock");
static_assert(kNonblock == TFD_NONBLOCK, "nonblock");
static_assert(kEpollIn == EPOLLIN && kEpollPri == EPOLLPRI && kEpollOut == EPOLLOUT, "epoll");
static_assert(kEpollErr == EPOLLERR && kEpollHup == EPOLLHUP && kEpollRdHup == EPOLLRDHUP, "epoll");
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
static_assert(kSigHup == SIGHUP && kSigInt == SIGINT && kSigKill == SIGKILL &&
                  kSigUsr1 == SIGUSR1 && kSigUsr2 == SIGUSR2 && kSigPipe == SIGPIPE &&
                  kSigAlrm == SIGALRM && kSigTerm == SIGTERM && kSigChld == SIGCHLD &&
                  kSigStop == SIGSTOP,
              "signal numbers");
static_assert(sizeof(SignalfdSiginfo) == sizeof(signalfd_siginfo), "siginfo size");
static_assert(offsetof(SignalfdSiginfo, overrun) == offsetof(signalfd_siginfo, ssi_overrun),
              "siginfo layout");
static_assert(offsetof(SignalfdSiginfo, addr) == offsetof(signalfd_siginfo, ssi_addr),
              "siginfo layout");

static_assert(kRdWr == O_RDWR && kWrOnly == O_WRONLY && kNoCtty == O_NOCTTY, "open flags");
static_assert(kAfUnix == AF_UNIX && kAfInet == AF_INET && kAfInet6 == AF_INET6, "families");
static_assert(kSockStream == SOCK_STREAM && kSockDgram == SOCK_DGRAM, "socket types");
static_assert(kCloexec == SOCK_CLOEXEC && kNonblock == SOCK_NONBLOCK, "socket flags");
static_assert(kSolSocket == SOL_SOCKET && kIpprotoTcp == IPPROTO_TCP, "levels");
static_assert(kSoReuseaddr == SO_REUSEADDR && kSoError == SO_ERROR && kSoSndbuf == SO_SNDBUF &&
                  kSoRcvbuf == SO_RCVBUF && kSoKeepalive == SO_KEEPALIVE,
              "socket options");
static_assert(kTcpNodelay == TCP_NODELAY && kTcpKeepidle == TCP_KEEPIDLE &&
                  kTcpKeepintvl == TCP_KEEPINTVL && kTcpKeepcnt == TCP_KEEPCNT,
              "tcp options");
static_assert(kMsgPeek == MSG_PEEK && kMsgTrunc == MSG_TRUNC && kMsgDontwait == MSG_DONTWAIT &&
                  kMsgNosignal == MSG_NOSIGNAL,
              "msg flags");
static_assert(kShutRd == SHUT_RD && kShutWr == SHUT_WR && kShutRdWr == SHUT_RDWR, "shutdown");
static_assert(sizeof(SockAddr::data) == sizeof(sockaddr_storage), "sockaddr_storage");
static_assert(sizeof(Termios2) == sizeof(termios2), "termios2");
static_assert(offsetof(Termios2, ispeed) == offsetof(termios2, c_ispeed), "termios2 layout");
static_assert(sizeof(Termios) == sizeof(termios), "kernel termios");
static_assert(kTcgets == TCGETS && kTcsets == TCSETS, "ioctls");
static_assert(kTcgets2 == TCGETS2 && kTcsets2 == TCSETS2 && kTcsetsw2 == TCSETSW2, "ioctls");
static_assert(kTcflsh == TCFLSH && kTiocexcl == TIOCEXCL && kTiocnxcl == TIOCNXCL, "ioctls");
static_assert(kFionread == FIONREAD && kTiocgexcl == TIOCGEXCL && kSiocOutq == SIOCOUTQ, "ioctls");
static_assert(kTcpUserTimeout == TCP_USER_TIMEOUT, "tcp options");
static_assert(kSIfmt == S_IFMT && kSIfsock == S_IFSOCK && kSIfreg == S_IFREG &&
                  kSIfdir == S_IFDIR && kSIfchr == S_IFCHR && kSIfifo == S_IFIFO,
              "file types");
static_assert(kWdiocKeepalive == WDIOC_KEEPALIVE, "watchdog");
static_assert(kWnohang == WNOHANG, "waitpid");
static_assert(exited_normally(0x0300) && exit_status(0x0300) == 3 && term_signal(9) == 9,
              "wait status layout");

#ifdef EVL_SYSCALL_COUNTERS
SyscallCounts g_counts;  // benchmark builds only
#define EVL_COUNT(field) (++g_counts.total, ++g_counts.field)
#else
#define EVL_COUNT(field) ((void)0)
#endif

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

#ifdef EVL_SYSCALL_COUNTERS
const SyscallCounts& syscall_counts() { return g_counts; }
#endif

long read(int fd, void* buf, size_t count) {
  EVL_COUNT(read);
  return ret_long(::read(fd, buf, count));
}
long write(int fd, const void* buf, size_t count) {
  EVL_COUNT(write);
  return ret_long(::write(fd, buf, count));
}
int close(int fd) { return ret(::close(fd)); }
int pipe2(int fds[2], int flags) { return ret(::pipe2(fds, flags)); }

int open(const char* path, int flags, unsigned int mode) {
  return ret(::open(path, flags, static_cast<mode_t>(mode)));
}
int dup(int fd) { return ret(::fcntl(fd, F_DUPFD_CLOEXEC, 0)); }
int fstat(int fd, FileStat* out) {
  struct stat st {};
  if (::fstat(fd, &st) < 0) return -errno;
  out->mode = static_cast<uint32_t>(st.st_mode);
  out->size = static_cast<int64_t>(st.st_size);
  return 0;
}
int get_status_flags(int fd) { return ret(::fcntl(fd, F_GETFL)); }
int set_status_flags(int fd, int flags) { return ret(::fcntl(fd, F_SETFL, flags)); }
int ioctl(int fd, unsigned long request, void* arg) { return ret(::ioctl(fd, request, arg)); }

int openpty(int* master, int* slave, char* name, size_t name_len) {
  const int m = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
  if (m < 0) return -errno;
  if (::grantpt(m) < 0 || ::unlockpt(m) < 0 || ::ptsname_r(m, name, name_len) != 0) {
    const int e = errno;
    ::close(m);
    return -e;
  }
  const int s = ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  // GCOVR_EXCL_START: only a full fd table fails here, not reproducible
  // without starving the test process itself.
  if (s < 0) {
    const int e = errno;
    ::close(m);
    return -e;
  }
  // GCOVR_EXCL_STOP
  *master = m;
  *slave = s;
  return 0;
}

int socket(int domain, int type, int protocol) { return ret(::socket(domain, type, protocol)); }
int socketpair(int domain, int type, int protocol, int fds[2]) {
  return ret(::socketpair(domain, type, protocol, fds));
}
int bind(int fd, const SockAddr* addr) {
  return ret(::bind(fd, reinterpret_cast<const sockaddr*>(addr->data), addr->len));
}
int connect(int fd, const SockAddr* addr) {
  return ret(::connect(fd, reinterpret_cast<const sockaddr*>(addr->data), addr->len));
}
int listen(int fd, int backlog) { return ret(::listen(fd, backlog)); }
int accept4(int fd, SockAddr* peer, int flags) {
  socklen_t len = sizeof peer->data;
  const int r = ::accept4(fd, peer != nullptr ? reinterpret_cast<sockaddr*>(peer->data) : nullptr,
                          peer != nullptr ? &len : nullptr, flags);
  if (r >= 0 && peer != nullptr) peer->len = len;
  return ret(r);
}
int getsockopt(int fd, int level, int name, void* value, uint32_t* len) {
  socklen_t l = *len;
  const int r = ::getsockopt(fd, level, name, value, &l);
  *len = l;
  return ret(r);
}
int setsockopt(int fd, int level, int name, const void* value, uint32_t len) {
  return ret(::setsockopt(fd, level, name, value, len));
}
int getsockname(int fd, SockAddr* addr) {
  socklen_t len = sizeof addr->data;
  const int r = ::getsockname(fd, reinterpret_cast<sockaddr*>(addr->data), &len);
  addr->len = len;
  return ret(r);
}
int getpeername(int fd, SockAddr* addr) {
  socklen_t len = sizeof addr->data;
  const int r = ::getpeername(fd, reinterpret_cast<sockaddr*>(addr->data), &len);
  addr->len = len;
  return ret(r);
}
long sendto(int fd, const void* buf, size_t len, int flags, const SockAddr* to) {
  return ret_long(::sendto(fd, buf, len, flags,
                           to != nullptr ? reinterpret_cast<const sockaddr*>(to->data) : nullptr,
                           to != nullptr ? to->len : 0));
}
long recvfrom(int fd, void* buf, size_t len, int flags, SockAddr* from) {
  socklen_t l = sizeof(SockAddr::data);
  const ssize_t r = ::recvfrom(fd, buf, len, flags,
                               from != nullptr ? reinterpret_cast<sockaddr*>(from->data) : nullptr,
                               from != nullptr ? &l : nullptr);
  if (r >= 0 && from != nullptr) from->len = l;
  return ret_long(r);
}
int shutdown(int fd, int how) { return ret(::shutdown(fd, how)); }

int spawn(const char* path, char* const argv[], int* pid) {
  pid_t p = 0;
  const int r = ::posix_spawn(&p, path, nullptr, nullptr, argv, environ);
  if (r != 0) return -r;
  *pid = p;
  return 0;
}
int waitpid(int pid, int* status, int options) { return ret(::waitpid(pid, status, options)); }

namespace {
std::atomic<uint64_t> g_claimed_signals{0};
}  // namespace

bool signal_claim(uint64_t mask) {
  uint64_t cur = g_claimed_signals.load(std::memory_order_relaxed);
  do {
    if ((cur & mask) != 0) return false;
  } while (!g_claimed_signals.compare_exchange_weak(cur, cur | mask, std::memory_order_acq_rel));
  return true;
}

void signal_release(uint64_t mask) {
  g_claimed_signals.fetch_and(~mask, std::memory_order_acq_rel);
}
int pidfd_open(int pid) {
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) return -errno;
  const int r = ::fcntl(static_cast<int>(fd), F_SETFL, O_NONBLOCK);
  // GCOVR_EXCL_START: F_SETFL on a pidfd just made cannot fail; kept for safety.
  if (r < 0) {
    const int e = -errno;
    ::close(static_cast<int>(fd));
    return e;
  }
  // GCOVR_EXCL_STOP
  return static_cast<int>(fd);
}

int epoll_create1(int flags) { return ret(::epoll_create1(flags)); }

int epoll_ctl(int epfd, int op, int fd, EpollEvent* event) {
  EVL_COUNT(epoll_ctl);
  return ret(::epoll_ctl(epfd, op, fd, reinterpret_cast<epoll_event*>(event)));
}

int epoll_wait(int epfd, EpollEvent* events, int maxevents, int timeout_ms) {
  EVL_COUNT(epoll_wait);
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
  EVL_COUNT(timerfd_settime);
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
