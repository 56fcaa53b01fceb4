// The system-call seam. Every call the product makes to the kernel goes
// through one of these functions, so that a test can link the fake kernel
// (//test/fake:kernel) instead of the real one (//hal:sys_linux) and inject
// any error on any path.
//
// Contract, for every function here:
// - Same name, arguments and meaning as the Linux call (man 2), with two
//   differences: failures return -errno instead of setting errno, and kernel
//   structures are replaced by plain mirrors declared below (static_asserted
//   against the real ones in sys_linux.cc), so that no caller needs a kernel
//   header.
// - Nothing is hidden: EINTR and EAGAIN come back to the caller, who decides.
// - Signal sets are 64-bit masks, bit (signo - 1) for signal signo, the same
//   width the kernel uses.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace hal {

// Values are Linux's (identical on x86-64, armv7 and aarch64).
constexpr int kCloexec = 02000000;  // O_CLOEXEC, EPOLL_CLOEXEC, ...
constexpr int kNonblock = 04000;    // O_NONBLOCK, EFD_NONBLOCK, ...

constexpr uint32_t kEpollIn = 0x001;
constexpr uint32_t kEpollPri = 0x002;
constexpr uint32_t kEpollOut = 0x004;
constexpr uint32_t kEpollErr = 0x008;
constexpr uint32_t kEpollHup = 0x010;
constexpr uint32_t kEpollRdHup = 0x2000;
constexpr uint32_t kEpollOneshot = 1u << 30;
constexpr uint32_t kEpollEt = 1u << 31;
constexpr int kEpollCtlAdd = 1;
constexpr int kEpollCtlDel = 2;
constexpr int kEpollCtlMod = 3;

// struct epoll_event: packed on x86-64 only, as the kernel's.
struct EpollEvent {
  uint32_t events;
  uint64_t data;
}
#if defined(__x86_64__)
__attribute__((packed))
#endif
;

constexpr int kClockRealtime = 0;
constexpr int kClockMonotonic = 1;
constexpr int kClockBoottime = 7;

constexpr int kTfdTimerAbstime = 1;
constexpr int kTfdTimerCancelOnSet = 2;

struct Timespec {
  int64_t sec;
  int64_t nsec;
};

struct Itimerspec {
  Timespec interval;
  Timespec value;
};

constexpr int kSigBlock = 0;
constexpr int kSigUnblock = 1;
constexpr int kSigSetmask = 2;

// Signal numbers (the same on x86-64, armv7 and aarch64; checked against
// <signal.h> in sys_linux.cc).
constexpr int kSigHup = 1;
constexpr int kSigInt = 2;
constexpr int kSigIll = 4;
constexpr int kSigAbrt = 6;
constexpr int kSigBus = 7;
constexpr int kSigFpe = 8;
constexpr int kSigKill = 9;
constexpr int kSigSegv = 11;
constexpr int kSigUsr1 = 10;
constexpr int kSigUsr2 = 12;
constexpr int kSigPipe = 13;
constexpr int kSigAlrm = 14;
constexpr int kSigTerm = 15;
constexpr int kSigChld = 17;
constexpr int kSigStop = 19;

// struct signalfd_siginfo: 128 bytes; the fields the product reads.
struct SignalfdSiginfo {
  uint32_t signo;
  int32_t err;
  int32_t code;
  uint32_t pid;
  uint32_t uid;
  int32_t fd;
  uint32_t tid;
  uint32_t band;
  uint32_t overrun;
  uint32_t trapno;
  int32_t status;
  int32_t int_value;
  uint64_t ptr;
  uint64_t utime;
  uint64_t stime;
  uint64_t addr;
  uint8_t pad[128 - 80];
};
static_assert(sizeof(SignalfdSiginfo) == 128, "signalfd_siginfo is 128 bytes");

constexpr uint64_t sig_bit(int signo) { return uint64_t{1} << (signo - 1); }

// Files.
constexpr int kRdOnly = 0;
constexpr int kWrOnly = 1;
constexpr int kRdWr = 2;
constexpr int kNoCtty = 0400;
constexpr int kCreat = 0100;
constexpr int kExcl = 0200;
constexpr int kTrunc = 01000;
constexpr int kAppend = 02000;

// Sockets (the generic Linux values, shared by x86-64, arm and arm64).
constexpr int kAfUnix = 1;
constexpr int kAfInet = 2;
constexpr int kAfInet6 = 10;
constexpr int kSockStream = 1;
constexpr int kSockDgram = 2;
constexpr int kSolSocket = 1;
constexpr int kIpprotoTcp = 6;
constexpr int kSoReuseaddr = 2;
constexpr int kSoError = 4;
constexpr int kSoSndbuf = 7;
constexpr int kSoRcvbuf = 8;
constexpr int kSoKeepalive = 9;
constexpr int kSoBroadcast = 6;
constexpr int kTcpNodelay = 1;
constexpr int kTcpKeepidle = 4;
constexpr int kTcpKeepintvl = 5;
constexpr int kTcpKeepcnt = 6;
constexpr int kTcpUserTimeout = 18;
constexpr int kMsgPeek = 0x2;
constexpr int kMsgTrunc = 0x20;
constexpr int kMsgDontwait = 0x40;
constexpr int kMsgNosignal = 0x4000;
constexpr int kShutRd = 0;
constexpr int kShutWr = 1;
constexpr int kShutRdWr = 2;

// A socket address: the bytes of a struct sockaddr_* and their length
// (struct sockaddr_storage is 128 bytes). hal/address.h builds and reads them.
struct SockAddr {
  uint32_t len = 0;
  alignas(8) uint8_t data[128] = {};
};

// Terminals: struct termios2 and the ioctls that read and write it, so any
// baud rate can be set with BOTHER.
struct Termios2 {
  uint32_t iflag;
  uint32_t oflag;
  uint32_t cflag;
  uint32_t lflag;
  uint8_t line;
  uint8_t cc[19];
  uint32_t ispeed;
  uint32_t ospeed;
};
static_assert(sizeof(Termios2) == 44, "struct termios2 is 44 bytes");

// The classic struct termios (no speed fields: the rate is a code in cflag),
// for kernels or emulators without termios2 (qemu-user lacks TCGETS2).
struct Termios {
  uint32_t iflag;
  uint32_t oflag;
  uint32_t cflag;
  uint32_t lflag;
  uint8_t line;
  uint8_t cc[19];
};
static_assert(sizeof(Termios) == 36, "kernel struct termios is 36 bytes");

constexpr unsigned long kTcgets = 0x5401;
constexpr unsigned long kTcsets = 0x5402;
constexpr unsigned long kTcgets2 = 0x802C542AUL;
constexpr unsigned long kTcsets2 = 0x402C542BUL;
constexpr unsigned long kTcsetsw2 = 0x402C542CUL;
constexpr unsigned long kTcflsh = 0x540B;
constexpr unsigned long kTiocexcl = 0x540C;
constexpr unsigned long kTiocnxcl = 0x540D;
constexpr unsigned long kFionread = 0x541B;
constexpr unsigned long kSiocOutq = 0x5411;  // bytes sent but not yet acknowledged
constexpr unsigned long kTiocgexcl = 0x80045440UL;
constexpr unsigned long kWdiocKeepalive = 0x80045705UL;
constexpr unsigned long kWdiocGetsupport = 0x80285700UL;  // WatchdogInfo
constexpr unsigned long kWdiocGettimeout = 0x80045707UL;  // int: seconds
// struct watchdog_info (linux/watchdog.h): what WDIOC_GETSUPPORT fills in.
struct WatchdogInfo {
  uint32_t options;
  uint32_t firmware_version;
  uint8_t identity[32];  // NUL-padded, not always NUL-terminated
};

// File descriptors.
[[nodiscard]] long read(int fd, void* buf, size_t count);
[[nodiscard]] long write(int fd, const void* buf, size_t count);
// All len bytes to a blocking fd (a file): write again after a short write
// or EINTR. 0, -errno, or -EIO when write wrote nothing.
[[nodiscard]] inline int write_all(int fd, const void* buf, size_t len) {
  const auto* b = static_cast<const unsigned char*>(buf);
  while (len > 0) {
    const long n = write(fd, b, len);
    if (n == -EINTR) continue;
    if (n < 0) return static_cast<int>(n);
    if (n == 0) return -EIO;
    b += n;
    len -= static_cast<size_t>(n);
  }
  return 0;
}
[[nodiscard]] int close(int fd);
[[nodiscard]] int pipe2(int fds[2], int flags);

[[nodiscard]] int open(const char* path, int flags, unsigned int mode);
[[nodiscard]] int fsync(int fd);
[[nodiscard]] int rename(const char* from, const char* to);
[[nodiscard]] int unlink(const char* path);
[[nodiscard]] int dup(int fd);
// fstat, reduced to what the product needs: the file type and the size.
struct FileStat {
  uint32_t mode;  // st_mode: the type bits (kSIf*) and permissions
  int64_t size;
};
constexpr uint32_t kSIfmt = 0170000;
constexpr uint32_t kSIfsock = 0140000;
constexpr uint32_t kSIfreg = 0100000;
constexpr uint32_t kSIfdir = 0040000;
constexpr uint32_t kSIfchr = 0020000;
constexpr uint32_t kSIfifo = 0010000;
[[nodiscard]] int fstat(int fd, FileStat* out);
// A path's FileStat, through open (read-only, non-blocking), fstat and
// close: 0, or open's or fstat's -errno.
[[nodiscard]] inline int stat_path(const char* path, FileStat* out) {
  const int fd = open(path, kRdOnly | kNonblock | kCloexec, 0);
  if (fd < 0) return fd;
  const int r = fstat(fd, out);
  (void)close(fd);
  return r;
}
// fcntl F_GETFL (returns the status flags) and F_SETFL.
[[nodiscard]] int get_status_flags(int fd);
[[nodiscard]] int set_status_flags(int fd, int flags);
// ioctl with a pointer argument (every ioctl the product uses has one).
[[nodiscard]] int ioctl(int fd, unsigned long request, void* arg);
// A pseudo-terminal pair: master and slave fds (close-on-exec, master
// non-blocking), and the slave's path in name.
[[nodiscard]] int openpty(int* master, int* slave, char* name, size_t name_len);

// Sockets.
[[nodiscard]] int socket(int domain, int type, int protocol);
[[nodiscard]] int socketpair(int domain, int type, int protocol, int fds[2]);
[[nodiscard]] int bind(int fd, const SockAddr* addr);
[[nodiscard]] int connect(int fd, const SockAddr* addr);
[[nodiscard]] int listen(int fd, int backlog);
[[nodiscard]] int accept4(int fd, SockAddr* peer, int flags);
[[nodiscard]] int getsockopt(int fd, int level, int name, void* value, uint32_t* len);
[[nodiscard]] int setsockopt(int fd, int level, int name, const void* value, uint32_t len);
[[nodiscard]] int getsockname(int fd, SockAddr* addr);
[[nodiscard]] int getpeername(int fd, SockAddr* addr);
// to may be null (a connected socket); from may be null.
[[nodiscard]] long sendto(int fd, const void* buf, size_t len, int flags, const SockAddr* to);
[[nodiscard]] long recvfrom(int fd, void* buf, size_t len, int flags, SockAddr* from);
[[nodiscard]] int shutdown(int fd, int how);

// Processes: start path with argv (no shell, no PATH search), and reap.
// The program starts with no signal blocked and every signal at its default
// action, whatever the caller's mask (the loop blocks its signalfd's) and
// dispositions; it inherits the caller's environment and descriptors not
// marked close-on-exec.
[[nodiscard]] int spawn(const char* path, char* const argv[], int* pid);
[[nodiscard]] int waitpid(int pid, int* status, int options);
constexpr int kWnohang = 1;
// Runs fn(ctx) in a child process (fork) and returns at once with its pid
// in *pid: work that may block for long (an fsync on a stalling SD card)
// without blocking the caller's loop. The child sees the caller's memory
// as it was at the call (copy-on-write: a consistent state, nothing
// copied), must make its calls through this seam only and leave the
// caller's fds alone, and exits 0 when fn returns 0, else with -fn's
// result (an errno; 255 when out of range) as its exit status. The child
// has every signal blocked: SIGKILL ends it (a fault still does too), not
// a terminal's SIGINT or systemd's SIGTERM to the control group. The flight
// recorder does not record the child's calls. Reap it with waitpid or a
// child watcher. 0 or -errno (-EAGAIN, -ENOMEM).
using ChildWork = int (*)(void* ctx);
[[nodiscard]] int run_in_child(ChildWork fn, void* ctx, int* pid);
// A pidfd for child pid (close-on-exec, non-blocking): readable once the
// process exits. -ENOSYS where the kernel is older than 5.3.
[[nodiscard]] int pidfd_open(int pid);
// Wait statuses, as Linux encodes them on every architecture.
constexpr bool exited_normally(int status) { return (status & 0x7f) == 0; }
constexpr int exit_status(int status) { return (status >> 8) & 0xff; }
constexpr int term_signal(int status) { return status & 0x7f; }

// epoll.
[[nodiscard]] int epoll_create1(int flags);
[[nodiscard]] int epoll_ctl(int epfd, int op, int fd, EpollEvent* event);
[[nodiscard]] int epoll_wait(int epfd, EpollEvent* events, int maxevents, int timeout_ms);

// eventfd and signals.
[[nodiscard]] int eventfd(unsigned int initval, int flags);
[[nodiscard]] int signalfd(int fd, uint64_t mask, int flags);
// Per-thread signal mask (pthread_sigmask): set and old may be null.
[[nodiscard]] int sigprocmask(int how, const uint64_t* set, uint64_t* old);
[[nodiscard]] int kill(int pid, int signo);
// The process-wide claim on signals that evl::Loop keeps (one loop per
// process may watch a signal): not a system call, but process state, so it
// lives behind the seam (the fake kernel keeps one per simulated process).
// signal_claim() sets the bits of `mask` if none is set yet and returns
// true, else changes nothing and returns false.
[[nodiscard]] bool signal_claim(uint64_t mask);
void signal_release(uint64_t mask);
[[nodiscard]] int getpid();
// Random bytes from the kernel (getrandom(2)): with kGrndNonblock,
// -EAGAIN while its pool is not ready yet (early at boot on a board with
// little entropy) instead of waiting. The bytes written (all of len, which
// is at most 256), or -errno (-ENOSYS before Linux 3.17).
constexpr unsigned kGrndNonblock = 1;
[[nodiscard]] long getrandom(void* buf, size_t len, unsigned flags);
// Crashes: fn runs on an alternate stack (static, 64 KiB) when the process
// gets SIGSEGV, SIGBUS, SIGILL, SIGFPE or SIGABRT, with that signal's
// action already back to the default (SA_RESETHAND), so fn ends the
// process by sending the signal again (kill(getpid(), signo)); it must
// only make system calls through this seam. One handler per process;
// nullptr puts the default actions back. 0 or -errno.
using CrashFn = void (*)(int signo);
[[nodiscard]] int on_crash(CrashFn fn);

// Clocks and timers.
[[nodiscard]] int clock_gettime(int clock_id, Timespec* ts);
[[nodiscard]] int timerfd_create(int clock_id, int flags);
[[nodiscard]] int timerfd_settime(int fd, int flags, const Itimerspec* value, Itimerspec* old);
[[nodiscard]] int timerfd_gettime(int fd, Itimerspec* curr);

}  // namespace hal
