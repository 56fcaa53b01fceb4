// The seam on the real kernel: one line per call, errno turned into -errno
// (epoll_wait makes the system call itself where it can: kernel_epoll_wait).
#include "hal/sys.h"
#ifdef EVL_SYSCALL_COUNTERS
#include "hal/sys_counters.h"
#endif
#ifdef EVL_FLIGHT_RECORDER
#include "hal/flight_calls.h"
#endif

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

namespace hal {
namespace {

static_assert(sizeof(time_t) == 8, "64-bit time_t (BUILD.bazel sets _TIME_BITS=64 for armv7)");
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
                  kSigStop == SIGSTOP && kSigIll == SIGILL && kSigAbrt == SIGABRT &&
                  kSigBus == SIGBUS && kSigFpe == SIGFPE && kSigSegv == SIGSEGV,
              "signal numbers");
static_assert(sizeof(SignalfdSiginfo) == sizeof(signalfd_siginfo), "siginfo size");
static_assert(offsetof(SignalfdSiginfo, overrun) == offsetof(signalfd_siginfo, ssi_overrun),
              "siginfo layout");
static_assert(offsetof(SignalfdSiginfo, addr) == offsetof(signalfd_siginfo, ssi_addr),
              "siginfo layout");

static_assert(kRdWr == O_RDWR && kWrOnly == O_WRONLY && kNoCtty == O_NOCTTY, "open flags");
static_assert(kCreat == O_CREAT && kExcl == O_EXCL && kTrunc == O_TRUNC, "open flags");
static_assert(kAfUnix == AF_UNIX && kAfInet == AF_INET && kAfInet6 == AF_INET6, "families");
static_assert(kSockStream == SOCK_STREAM && kSockDgram == SOCK_DGRAM, "socket types");
static_assert(kCloexec == SOCK_CLOEXEC && kNonblock == SOCK_NONBLOCK, "socket flags");
static_assert(kSolSocket == SOL_SOCKET && kIpprotoTcp == IPPROTO_TCP, "levels");
static_assert(kSoReuseaddr == SO_REUSEADDR && kSoError == SO_ERROR && kSoSndbuf == SO_SNDBUF &&
                  kSoRcvbuf == SO_RCVBUF && kSoKeepalive == SO_KEEPALIVE &&
                  kSoBroadcast == SO_BROADCAST,
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
static_assert(kWdiocKeepalive == WDIOC_KEEPALIVE && kWdiocGetsupport == WDIOC_GETSUPPORT &&
                  kWdiocGettimeout == WDIOC_GETTIMEOUT,
              "watchdog");
static_assert(sizeof(WatchdogInfo) == sizeof(watchdog_info) &&
                  offsetof(WatchdogInfo, identity) == offsetof(watchdog_info, identity),
              "watchdog_info");
static_assert(kWnohang == WNOHANG, "waitpid");
static_assert(kGrndNonblock == GRND_NONBLOCK, "getrandom");
static_assert(exited_normally(0x0300) && exit_status(0x0300) == 3 && term_signal(9) == 9,
              "wait status layout");

#ifdef EVL_SYSCALL_COUNTERS
SyscallCounts g_counts;  // benchmark builds only
#define EVL_COUNT(field) (++g_counts.total, ++g_counts.field)
#else
#define EVL_COUNT(field) ((void)0)
#endif

// The flight recorder's note of a call (//hal:sys_record only): the
// arguments as flight::args::NAME(...) builds them, the result, the bytes
// the call gave back. Nothing is evaluated unless recording.
#ifdef EVL_FLIGHT_RECORDER
#define EVL_REC(call, result, a, out, len)                                             \
  (flight::g_on ? flight::record(flight::Call::call, (result), flight::args::a, (out), \
                                 static_cast<size_t>(len))                             \
                : (void)0)
#define EVL_REC2(call, result, a, out1, len1, out2, len2)                                       \
  (flight::g_on ? flight::record2(flight::Call::call, (result), flight::args::a, (out1),        \
                                  static_cast<size_t>(len1), (out2), static_cast<size_t>(len2)) \
                : (void)0)
#else
#define EVL_REC(call, result, args, out, len) ((void)0)
#define EVL_REC2(call, result, args, out1, len1, out2, len2) ((void)0)
#endif

int ret(int r) { return r < 0 ? -errno : r; }
long ret_long(ssize_t r) { return r < 0 ? -errno : static_cast<long>(r); }

// epoll_wait, the loop's one call per iteration, goes straight to the
// kernel where that takes a few instructions: the kernel's result is
// already the seam's (-errno), so libc's wrapper and the errno round trip
// are skipped. x86-64 and aarch64 (epoll_pwait with no mask, as libc's);
// armv7 (its system-call number register, r7, is Thumb code's frame
// pointer) and ThreadSanitizer builds (its interceptor orders epoll_ctl
// before the wait) go through libc.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define EVL_LIBC_EPOLL_WAIT 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define EVL_LIBC_EPOLL_WAIT 1
#endif
#if defined(__x86_64__) && !defined(EVL_LIBC_EPOLL_WAIT)
__attribute__((always_inline)) inline int kernel_epoll_wait(int epfd, void* events, int maxevents,
                                                            int timeout_ms) {
  // The int arguments as they are: the kernel reads their low 32 bits.
  long r = SYS_epoll_wait;
  register int r10 __asm__("r10") = timeout_ms;
  __asm__ volatile("syscall"
                   : "+a"(r)
                   : "D"(epfd), "S"(events), "d"(maxevents), "r"(r10)
                   : "rcx", "r11", "memory");
  return static_cast<int>(r);
}
#elif defined(__aarch64__) && !defined(EVL_LIBC_EPOLL_WAIT)
__attribute__((always_inline)) inline int kernel_epoll_wait(int epfd, void* events, int maxevents,
                                                            int timeout_ms) {
  register long x8 __asm__("x8") = SYS_epoll_pwait;
  register long x0 __asm__("x0") = epfd;
  register void* x1 __asm__("x1") = events;
  register long x2 __asm__("x2") = maxevents;
  register long x3 __asm__("x3") = timeout_ms;
  register long x4 __asm__("x4") = 0;  // no signal mask
  register long x5 __asm__("x5") = 8;  // the kernel's sigset_t
  __asm__ volatile("svc #0"
                   : "+r"(x0)
                   : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                   : "memory");
  return static_cast<int>(x0);
}
#else
inline int kernel_epoll_wait(int epfd, void* events, int maxevents, int timeout_ms) {
  return ret(::epoll_wait(epfd, static_cast<epoll_event*>(events), maxevents, timeout_ms));
}
#endif

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

int openpty_real(int* master, int* slave, char* name, size_t name_len) {
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

int pidfd_open_real(int pid) {
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

#ifdef EVL_FLIGHT_RECORDER
size_t addr_len(const SockAddr* a) { return a->len < sizeof a->data ? a->len : sizeof a->data; }

#include "hal/sys_record_wait.inc"  // recorded_epoll_wait()
#endif

}  // namespace

#ifdef EVL_SYSCALL_COUNTERS
const SyscallCounts& syscall_counts() { return g_counts; }
#endif

long read(int fd, void* buf, size_t count) {
  EVL_COUNT(read);
  const long r = ret_long(::read(fd, buf, count));
  EVL_REC(kRead, r, read(fd, count), buf, r > 0 ? r : 0);
  return r;
}
long write(int fd, const void* buf, size_t count) {
  EVL_COUNT(write);
  const long r = ret_long(::write(fd, buf, count));
  EVL_REC(kWrite, r, write(fd, buf, count), nullptr, 0);
  return r;
}
int close(int fd) {
  const int r = ret(::close(fd));
#ifdef EVL_FLIGHT_RECORDER
  if (flight::g_on) {
    flight::record(flight::Call::kClose, r, flight::args::fd(fd), nullptr, 0);
    flight::note_close(fd, r);
  }
#endif
  return r;
}
int pipe2(int fds[2], int flags) {
  const int r = ret(::pipe2(fds, flags));
  EVL_REC(kPipe2, r, flags(flags), fds, r == 0 ? 2 * sizeof(int) : 0);
  return r;
}

int open(const char* path, int flags, unsigned int mode) {
  const int r = ret(::open(path, flags, static_cast<mode_t>(mode)));
  EVL_REC(kOpen, r, open(path, flags, mode), nullptr, 0);
  return r;
}
int fsync(int fd) {
  const int r = ret(::fsync(fd));
  EVL_REC(kFsync, r, fd(fd), nullptr, 0);
  return r;
}
int rename(const char* from, const char* to) {
  const int r = ret(::rename(from, to));
  EVL_REC(kRename, r, rename(from, to), nullptr, 0);
  return r;
}
int unlink(const char* path) {
  const int r = ret(::unlink(path));
  EVL_REC(kUnlink, r, path(path), nullptr, 0);
  return r;
}
int dup(int fd) {
  const int r = ret(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  EVL_REC(kDup, r, fd(fd), nullptr, 0);
  return r;
}
int fstat(int fd, FileStat* out) {
  struct stat st {};
  const int r = ret(::fstat(fd, &st));
  if (r == 0) {
    out->mode = static_cast<uint32_t>(st.st_mode);
    out->size = static_cast<int64_t>(st.st_size);
  }
  EVL_REC(kFstat, r, fd(fd), out, r == 0 ? sizeof *out : 0);
  return r;
}
int get_status_flags(int fd) {
  const int r = ret(::fcntl(fd, F_GETFL));
  EVL_REC(kGetFlags, r, fd(fd), nullptr, 0);
  return r;
}
int set_status_flags(int fd, int flags) {
  const int r = ret(::fcntl(fd, F_SETFL, flags));
  EVL_REC(kSetFlags, r, fd_value(fd, flags), nullptr, 0);
  return r;
}
int ioctl(int fd, unsigned long request, void* arg) {
#ifdef EVL_FLIGHT_RECORDER
  // The argument's bytes are hashed before the call (what was set) and kept
  // after it (what was got).
  const flight::Args in = flight::g_on ? flight::args::ioctl(fd, request, arg) : flight::Args{};
  const int r = ret(::ioctl(fd, request, arg));
  if (flight::g_on) {
    flight::record(flight::Call::kIoctl, r, in, arg,
                   arg != nullptr ? flight::args::ioctl_bytes(request) : 0);
  }
  return r;
#else
  return ret(::ioctl(fd, request, arg));
#endif
}

int openpty(int* master, int* slave, char* name, size_t name_len) {
  const int r = openpty_real(master, slave, name, name_len);
#ifdef EVL_FLIGHT_RECORDER
  if (flight::g_on) {
    int fds[2] = {r == 0 ? *master : -1, r == 0 ? *slave : -1};
    const size_t n = r == 0 ? std::strlen(name) + 1 : 0;
    flight::record2(flight::Call::kOpenpty, r, flight::args::of(static_cast<int64_t>(name_len)),
                    fds, r == 0 ? sizeof fds : 0, name, n);
  }
#endif
  return r;
}

int socket(int domain, int type, int protocol) {
  const int r = ret(::socket(domain, type, protocol));
  EVL_REC(kSocket, r, socket(domain, type, protocol), nullptr, 0);
  return r;
}
int socketpair(int domain, int type, int protocol, int fds[2]) {
  const int r = ret(::socketpair(domain, type, protocol, fds));
  EVL_REC(kSocketpair, r, socket(domain, type, protocol), fds, r == 0 ? 2 * sizeof(int) : 0);
  return r;
}
int bind(int fd, const SockAddr* addr) {
  const int r = ret(::bind(fd, reinterpret_cast<const sockaddr*>(addr->data), addr->len));
  EVL_REC(kBind, r, address(fd, addr), nullptr, 0);
  return r;
}
int connect(int fd, const SockAddr* addr) {
  const int r = ret(::connect(fd, reinterpret_cast<const sockaddr*>(addr->data), addr->len));
  EVL_REC(kConnect, r, address(fd, addr), nullptr, 0);
  return r;
}
int listen(int fd, int backlog) {
  const int r = ret(::listen(fd, backlog));
  EVL_REC(kListen, r, fd_value(fd, backlog), nullptr, 0);
  return r;
}
int accept4(int fd, SockAddr* peer, int flags) {
  socklen_t len = sizeof peer->data;
  const int r =
      ret(::accept4(fd, peer != nullptr ? reinterpret_cast<sockaddr*>(peer->data) : nullptr,
                    peer != nullptr ? &len : nullptr, flags));
  if (r >= 0 && peer != nullptr) peer->len = len;
  EVL_REC2(kAccept4, r, accept4(fd, peer, flags), peer, r >= 0 && peer != nullptr ? 4 : 0,
           peer != nullptr ? peer->data : nullptr, r >= 0 && peer != nullptr ? addr_len(peer) : 0);
  return r;
}
int getsockopt(int fd, int level, int name, void* value, uint32_t* len) {
  socklen_t l = *len;
#ifdef EVL_FLIGHT_RECORDER
  const uint32_t len_in = *len;
#endif
  const int r = ret(::getsockopt(fd, level, name, value, &l));
  *len = l;
  EVL_REC2(kGetsockopt, r, getsockopt(fd, level, name, len_in), len, r == 0 ? 4 : 0, value,
           r == 0 ? (l < len_in ? l : len_in) : 0);
  return r;
}
int setsockopt(int fd, int level, int name, const void* value, uint32_t len) {
  const int r = ret(::setsockopt(fd, level, name, value, len));
  EVL_REC(kSetsockopt, r, setsockopt(fd, level, name, value, len), nullptr, 0);
  return r;
}
int getsockname(int fd, SockAddr* addr) {
  socklen_t len = sizeof addr->data;
  const int r = ret(::getsockname(fd, reinterpret_cast<sockaddr*>(addr->data), &len));
  addr->len = len;
  EVL_REC2(kGetsockname, r, fd(fd), addr, r == 0 ? 4 : 0, addr->data, r == 0 ? addr_len(addr) : 0);
  return r;
}
int getpeername(int fd, SockAddr* addr) {
  socklen_t len = sizeof addr->data;
  const int r = ret(::getpeername(fd, reinterpret_cast<sockaddr*>(addr->data), &len));
  addr->len = len;
  EVL_REC2(kGetpeername, r, fd(fd), addr, r == 0 ? 4 : 0, addr->data, r == 0 ? addr_len(addr) : 0);
  return r;
}
long sendto(int fd, const void* buf, size_t len, int flags, const SockAddr* to) {
  const long r = ret_long(::sendto(
      fd, buf, len, flags, to != nullptr ? reinterpret_cast<const sockaddr*>(to->data) : nullptr,
      to != nullptr ? to->len : 0));
  EVL_REC(kSendto, r, sendto(fd, buf, len, flags, to), nullptr, 0);
  return r;
}
long recvfrom(int fd, void* buf, size_t len, int flags, SockAddr* from) {
  socklen_t l = sizeof(SockAddr::data);
  const long r = ret_long(::recvfrom(
      fd, buf, len, flags, from != nullptr ? reinterpret_cast<sockaddr*>(from->data) : nullptr,
      from != nullptr ? &l : nullptr));
  if (r >= 0 && from != nullptr) from->len = l;
  // The bytes copied (r may be larger with MSG_TRUNC), then the sender's address.
  EVL_REC2(kRecvfrom, r, recvfrom(fd, len, flags, from), buf,
           r > 0 ? (static_cast<size_t>(r) < len ? static_cast<size_t>(r) : len) : 0, from,
           r >= 0 && from != nullptr ? 4 + addr_len(from) : 0);
  return r;
}
int shutdown(int fd, int how) {
  const int r = ret(::shutdown(fd, how));
  EVL_REC(kShutdown, r, fd_value(fd, how), nullptr, 0);
  return r;
}

// The program starts with no signal blocked and every one at its default
// action: not with the loop's mask (its signalfd's signals are blocked),
// which would leave SIGTERM, SIGINT, SIGHUP and SIGPIPE without effect on
// it, nor with a caller's SIG_IGN. (The attribute calls cannot fail with
// these arguments: glibc checks only the flags and the signal numbers.)
int spawn(const char* path, char* const argv[], int* pid) {
  pid_t p = 0;
  posix_spawnattr_t attr;
  int e = ::posix_spawnattr_init(&attr);
  if (e == 0) {
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    (void)::posix_spawnattr_setsigmask(&attr, &none);
    (void)::posix_spawnattr_setsigdefault(&attr, &all);
    (void)::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    e = ::posix_spawn(&p, path, nullptr, &attr, argv, environ);
    (void)::posix_spawnattr_destroy(&attr);
  }
  if (e == 0) *pid = p;
  EVL_REC(kSpawn, -e, spawn(path, argv), pid, e == 0 ? sizeof *pid : 0);
  return -e;
}
// The child has every signal blocked from its first instruction (they are
// blocked around the fork): a writer is ended by SIGKILL only, not by the
// SIGINT a terminal's ^C sends to the whole process group, nor by the
// SIGTERM systemd's stop sends to the unit's control group while a writer
// the daemon left finishes. (A fault still ends it: the kernel unblocks
// SIGSEGV, SIGBUS, SIGILL and SIGFPE when it raises them.)
int run_in_child(ChildWork fn, void* ctx, int* pid) {
  sigset_t all, old;
  sigfillset(&all);
  (void)::pthread_sigmask(SIG_SETMASK, &all, &old);  // (cannot fail with these arguments)
  const pid_t p = ::fork();
  if (p == 0) {  // GCOVR_EXCL_START: the child ends in _exit, so gcov never writes its counts
#ifdef EVL_FLIGHT_RECORDER
    flight::in_child();  // the parent's recording: the child adds nothing, a crash dumps nothing
#endif
    const int r = fn(ctx);
    ::_exit(r == 0 ? 0 : (r < 0 && r > -256 ? -r : 255));
  }  // GCOVR_EXCL_STOP
  const int r = p < 0 ? -errno : 0;
  (void)::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (r == 0) *pid = p;
  EVL_REC(kRunInChild, r, of(), pid, r == 0 ? sizeof *pid : 0);
  return r;
}
int waitpid(int pid, int* status, int options) {
  const int r = ret(::waitpid(pid, status, options));
  EVL_REC(kWaitpid, r, fd_value(pid, options), status, r > 0 ? sizeof *status : 0);
  return r;
}
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
  int r = pidfd_open_real(pid);
  EVL_REC(kPidfdOpen, r, fd(pid), nullptr, 0);
  return r;
}

int epoll_create1(int flags) {
  const int r = ret(::epoll_create1(flags));
  EVL_REC(kEpollCreate1, r, flags(flags), nullptr, 0);
  return r;
}

int epoll_ctl(int epfd, int op, int fd, EpollEvent* event) {
  EVL_COUNT(epoll_ctl);
  const int r = ret(::epoll_ctl(epfd, op, fd, reinterpret_cast<epoll_event*>(event)));
#ifdef EVL_FLIGHT_RECORDER
  if (flight::g_on) {
    flight::record(flight::Call::kEpollCtl, r, flight::args::epoll_ctl(epfd, op, fd, event),
                   nullptr, 0);
    flight::note_epoll_ctl(epfd, op, fd, event != nullptr ? event->data : 0, r);
  }
#endif
  return r;
}

int epoll_wait(int epfd, EpollEvent* events, int maxevents, int timeout_ms) {
#ifdef EVL_FLIGHT_RECORDER
  // Tested before the call: the loop's hot path without the recorder keeps
  // no frame for it.
  if (flight::g_on) return recorded_epoll_wait(epfd, events, maxevents, timeout_ms);
#endif
  EVL_COUNT(epoll_wait);
  return kernel_epoll_wait(epfd, events, maxevents, timeout_ms);
}

int eventfd(unsigned int initval, int flags) {
  const int r = ret(::eventfd(initval, flags));
  EVL_REC(kEventfd, r, fd_value(static_cast<int>(initval), flags), nullptr, 0);
  return r;
}

int signalfd(int fd, uint64_t mask, int flags) {
  sigset_t set;
  to_sigset(mask, &set);
  const int r = ret(::signalfd(fd, &set, flags));
  EVL_REC(kSignalfd, r, signalfd(fd, mask, flags), nullptr, 0);
  return r;
}

int sigprocmask(int how, const uint64_t* set, uint64_t* old) {
  sigset_t s;
  sigset_t o;
  if (set != nullptr) to_sigset(*set, &s);
  const int e = ::pthread_sigmask(how, set != nullptr ? &s : nullptr, &o);
  if (e == 0 && old != nullptr) *old = from_sigset(&o);
  EVL_REC(kSigprocmask, -e, sigprocmask(how, set, old), old, e == 0 && old != nullptr ? 8 : 0);
  return -e;
}

int kill(int pid, int signo) {
  const int r = ret(::kill(pid, signo));
  EVL_REC(kKill, r, fd_value(pid, signo), nullptr, 0);
  return r;
}
int getpid() {
  const int r = ::getpid();
  EVL_REC(kGetpid, r, of(), nullptr, 0);
  return r;
}

long getrandom(void* buf, size_t len, unsigned flags) {
  const long r = ret_long(::getrandom(buf, len, flags));
  EVL_REC(kGetrandom, r, getrandom(len, flags), buf, r > 0 ? r : 0);
  return r;
}

namespace {

CrashFn g_crash_fn = nullptr;
alignas(16) unsigned char g_crash_stack[64 * 1024];  // a crash may be a stack overflow
constexpr int kCrashSignals[] = {kSigSegv, kSigBus, kSigIll, kSigFpe, kSigAbrt};

void crash_signal(int signo) {
  const CrashFn fn = g_crash_fn;
  if (fn != nullptr) fn(signo);
}

int set_crash_actions(CrashFn fn) {
  if (fn != nullptr) {
    stack_t ss{};
    ss.ss_sp = g_crash_stack;
    ss.ss_size = sizeof g_crash_stack;
    if (::sigaltstack(&ss, nullptr) != 0) return -errno;
  }
  for (const int s : kCrashSignals) {
    struct sigaction sa {};
    sa.sa_handler = fn != nullptr ? crash_signal : SIG_DFL;
    sa.sa_flags = fn != nullptr ? static_cast<int>(SA_ONSTACK | SA_RESETHAND | SA_NODEFER) : 0;
    sigemptyset(&sa.sa_mask);
    if (::sigaction(s, &sa, nullptr) != 0) return -errno;
  }
  g_crash_fn = fn;
  return 0;
}

}  // namespace

int on_crash(CrashFn fn) {
  const int r = set_crash_actions(fn);
  EVL_REC(kOnCrash, r, of(fn != nullptr), nullptr, 0);
  return r;
}

int clock_gettime(int clock_id, Timespec* ts) {
  timespec t{};
  const int r = ret(::clock_gettime(clock_id, &t));
  if (r == 0) *ts = from_ts(t);
  EVL_REC(kClockGettime, r, fd(clock_id), ts, r == 0 ? sizeof *ts : 0);
  return r;
}

int timerfd_create(int clock_id, int flags) {
  const int r = ret(::timerfd_create(clock_id, flags));
  EVL_REC(kTimerfdCreate, r, fd_value(clock_id, flags), nullptr, 0);
  return r;
}

int timerfd_settime(int fd, int flags, const Itimerspec* value, Itimerspec* old) {
  EVL_COUNT(timerfd_settime);
  itimerspec v{};
  itimerspec o{};
  v.it_interval = to_ts(value->interval);
  v.it_value = to_ts(value->value);
  const int r = ret(::timerfd_settime(fd, flags, &v, &o));
  if (r == 0 && old != nullptr) *old = Itimerspec{from_ts(o.it_interval), from_ts(o.it_value)};
  EVL_REC(kTimerfdSettime, r, timerfd_settime(fd, flags, value, old), old,
          r == 0 && old != nullptr ? sizeof *old : 0);
  return r;
}

int timerfd_gettime(int fd, Itimerspec* curr) {
  itimerspec c{};
  const int r = ret(::timerfd_gettime(fd, &c));
  if (r == 0) *curr = Itimerspec{from_ts(c.it_interval), from_ts(c.it_value)};
  EVL_REC(kTimerfdGettime, r, fd(fd), curr, r == 0 ? sizeof *curr : 0);
  return r;
}

}  // namespace hal
