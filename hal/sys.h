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

#include <cstddef>
#include <cstdint>

namespace hal {

// Values are Linux's (identical on x86-64, armv7 and aarch64).
constexpr int kCloexec = 02000000;   // O_CLOEXEC, EPOLL_CLOEXEC, ...
constexpr int kNonblock = 04000;     // O_NONBLOCK, EFD_NONBLOCK, ...

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

// File descriptors.
[[nodiscard]] long read(int fd, void* buf, size_t count);
[[nodiscard]] long write(int fd, const void* buf, size_t count);
[[nodiscard]] int close(int fd);
[[nodiscard]] int pipe2(int fds[2], int flags);

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
[[nodiscard]] int getpid();

// Clocks and timers.
[[nodiscard]] int clock_gettime(int clock_id, Timespec* ts);
[[nodiscard]] int timerfd_create(int clock_id, int flags);
[[nodiscard]] int timerfd_settime(int fd, int flags, const Itimerspec* value, Itimerspec* old);
[[nodiscard]] int timerfd_gettime(int fd, Itimerspec* curr);

}  // namespace hal
