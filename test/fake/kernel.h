// The fake kernel: a deterministic implementation of hal/sys.h for tests.
//
// A test creates one fake::Kernel; while it lives, every hal:: call in the
// process goes to it (the link-time seam: test binaries link
// //test/fake:kernel instead of //hal:sys_linux). It owns every source of
// nondeterminism: virtual clocks, fd numbers (Linux's lowest-free rule),
// readiness order and injected faults.
//
// Time: the clocks move only when a test calls advance(), suspend() or
// step_realtime(), or when epoll_wait would block: then the fake jumps
// virtual time to the next timerfd expiry or the timeout, whichever is first. A wait that would
// block forever with nothing to wake it returns -EDEADLK instead of hanging the test.
//
// Blocking: files are modelled as non-blocking; a read or write that would
// block on a blocking fd returns -EDEADLK (a real process would hang there).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "hal/sys.h"

namespace fake {

enum class Call {
  kRead,
  kWrite,
  kClose,
  kPipe2,
  kEpollCreate1,
  kEpollCtl,
  kEpollWait,
  kEventfd,
  kSignalfd,
  kSigprocmask,
  kKill,
  kClockGettime,
  kTimerfdCreate,
  kTimerfdSettime,
  kTimerfdGettime,
  kOpen,
  kIoctl,
  kSocket,
  kBind,
  kConnect,
  kListen,
  kAccept,
  kGetsockopt,
  kSetsockopt,
  kSendto,
  kRecvfrom,
  kShutdown,
  kSpawn,
  kFstat,
  kFcntl,
  kPidfdOpen,
  kWaitpid,
  kFsync,
  kRename,
  kUnlink,
  kOnCrash,
  kGetrandom,
  kRunInChild,
  kCount,
};

const char* call_name(Call c);

// A small, fast generator with the same sequence on every architecture.
struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ULL;
  }
  uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }
  bool chance(double p) { return p > 0 && static_cast<double>(next() >> 11) * 0x1.0p-53 < p; }
  double uniform(double lo, double hi) {
    return lo + (hi - lo) * static_cast<double>(next() >> 11) * 0x1.0p-53;
  }
};

// Fault rates of a seeded run. Each seed draws its own (Kernel::seed()).
struct ChaosRates {
  double eintr_wait = 0;       // epoll_wait fails with EINTR
  double short_io = 0;         // a read or write on a stream moves fewer bytes
  double spurious_eagain = 0;  // a stream read finds nothing (stale readiness)
  double enomem = 0;           // epoll_ctl, timerfd_settime, eventfd, pipe2 fail
  bool shuffle = false;        // ready events come back in random order
};

class Kernel;
class Epoll;
class TimerFd;
class Socket;
class SerialDevice;

// An open file description. fds (and dups of them) share one File.
class File {
 public:
  virtual ~File() = default;
  // Current readiness: any of kEpollIn/Out/Err/Hup/RdHup/Pri.
  virtual uint32_t poll() const = 0;
  virtual long read(void* buf, size_t count) = 0;
  virtual long write(const void* buf, size_t count) = 0;
  // Called once, when the last fd referring to this file is closed.
  virtual void last_close() {}
  virtual bool pollable() const { return true; }
  // Pipes, stream sockets and ttys: reads and writes may be short.
  virtual bool stream_like() const { return false; }
  // Changes that wake waiters; edge-triggered epoll reports an item once per
  // change.
  virtual uint64_t changes() const { return seq; }
  // When this file next becomes ready by itself (a timer, bytes arriving on
  // a serial line), in monotonic ns; -1 if never.
  virtual int64_t wake_time() const { return -1; }
  virtual const char* type() const = 0;
  // st_mode's type bits (hal::kSIf*); 0 for anonymous inodes (epoll, ...).
  virtual uint32_t mode() const { return 0; }
  virtual int64_t size() const { return 0; }

  uint64_t seq = 1;
  int refs = 0;
  bool nonblock = false;
  bool append = false;  // O_APPEND, as set by fcntl (writes to the fake's files append anyway)
  Kernel* kernel = nullptr;
};

class Kernel {
 public:
  Kernel();
  ~Kernel();
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  // The kernel that hal:: calls go to; aborts with a message if none.
  static Kernel& current();

  // Clocks.
  int64_t monotonic_ns() const { return mono_ns_; }
  int64_t boottime_ns() const { return mono_ns_ + suspended_ns_; }
  int64_t realtime_ns() const { return mono_ns_ + realtime_offset_ns_; }
  void advance(int64_t ns);
  // Simulated suspend: boottime and realtime move on, monotonic does not.
  void suspend(int64_t ns);
  // Steps CLOCK_REALTIME by delta_ns (settimeofday): realtime timerfds armed
  // with TFD_TIMER_CANCEL_ON_SET become readable and read -ECANCELED.
  void step_realtime(int64_t delta_ns);
  // The current time on a clock id (hal::kClock*), or -1 for an unknown one.
  int64_t clock_ns(int clock_id) const;
  // Every live timerfd, to find the next deadline and to cancel on a step.
  std::vector<TimerFd*>& timerfds() { return timerfds_; }

  // Faults.
  // The next `times` calls of `call` fail with -err and have no effect;
  // with `after`, only once `after` calls of `call` have succeeded first.
  void fail_next(Call call, int err, int times = 1, int after = 0);
  // The next read or write on any fd moves at most `bytes` bytes.
  void short_next(Call call, size_t bytes);
  uint64_t calls(Call call) const { return calls_[static_cast<int>(call)]; }
  // Reads and writes on blocking fds that found nothing to do: a real
  // process would have hung there (the fake returns -EDEADLK instead).
  uint64_t would_block() const { return would_block_; }
  void reset_calls();

  // Seeded simulation.
  // Seeds every choice the fake makes from now on: fault rates (drawn from
  // the seed), partial I/O sizes, the order of ready events.
  void seed(uint64_t seed);
  const ChaosRates& rates() const { return rates_; }
  Rng& rng() { return rng_; }
  // A hash of every system call made and its result, to compare two runs.
  uint64_t trace_hash() const { return trace_; }
  long trace(Call call, long result) {
    trace_ = (trace_ ^ (static_cast<uint64_t>(call) * 0x9e3779b97f4a7c15ULL ^
                        static_cast<uint64_t>(result) ^ static_cast<uint64_t>(mono_ns_))) *
             0x100000001b3ULL;
    return result;
  }

  // Signals.
  // Sends signo to the process: pending if blocked, else counted as
  // delivered to its default disposition.
  void raise(int signo);
  uint64_t blocked_mask() const { return blocked_; }
  // A crash: calls the handler hal::on_crash() installed, as the kernel
  // would for a fault, and resets it (SA_RESETHAND). False if none was.
  bool crash(int signo);
  // The process-wide claim of hal::signal_claim(): one per fake process.
  bool claim_signals(uint64_t mask) {
    if ((claimed_signals_ & mask) != 0) return false;
    claimed_signals_ |= mask;
    return true;
  }
  void release_signals(uint64_t mask) { claimed_signals_ &= ~mask; }
  uint64_t claimed_signals() const { return claimed_signals_; }
  uint64_t pending_mask() const { return pending_; }
  uint64_t delivered_unblocked(int signo) const { return delivered_[signo]; }

  // Files.
  // A regular file (epoll refuses it with EPERM, as Linux does).
  int open_regular_file();
  // What was written to fd, a regular file such as stdout (1) and stderr
  // (2); empty for other fds.
  std::string written(int fd);
  int dup(int fd);
  int open_fd_count() const;
  File* file(int fd) const;

  // Network.
  // Connects to this address never complete (no SYN-ACK, no RST).
  void blackhole(const char* address);
  // Resets the connection of stream socket fd: the peer reads ECONNRESET.
  int reset(int fd);
  // The stream's peer resets after reading `bytes` more bytes sent from fd.
  int reset_after(int fd, size_t bytes);
  // The next n datagrams sent anywhere are lost.
  void drop_datagrams(int n) { drop_datagrams_ += n; }
  uint64_t datagrams_dropped() const { return datagrams_dropped_; }
  // Datagrams a full receive queue dropped (UDP does that silently).
  uint64_t datagrams_overflowed() const { return datagrams_overflowed_; }
  void note_overflow() { ++datagrams_overflowed_; }
  // A socket option as last set, or -1.
  int sockopt(int fd, int level, int name) const;
  std::vector<Socket*>& sockets() { return sockets_; }
  // A Unix datagram socket is bound at `at`.
  bool unix_dgram_bound(const hal::SockAddr& at);
  int next_ephemeral_port() { return ephemeral_++; }

  // Devices and processes.
  // A serial device at path; the test drives its far end.
  SerialDevice& add_serial(const char* path);
  // The device at path goes away (a USB adapter pulled): open fds of it hang
  // up (reads of 0, poll IN|ERR|HUP) and the path no longer opens (ENOENT)
  // until add_serial(path) plugs a new device in.
  void unplug_serial(const char* path);
  SerialDevice* serial(const char* path);
  // A path that exists but is no tty (a regular file), or that open refuses.
  void add_regular_path(const char* path, const std::string& content = "");
  // Its permission bits as fstat gives them (0644 until set).
  void set_path_mode(const char* path, uint32_t mode) { path_modes_.emplace_back(path, mode); }
  // Paths that open as something other than a plain regular file or a tty
  // (kExecutable: a regular file with mode 0755 and no bytes; kZero: a
  // character device like /dev/zero or /dev/null, no ioctls; kWatchdog: a
  // Linux watchdog device, see set_watchdog_timeout()).
  enum class Special { kDirectory, kZero, kFifo, kExecutable, kWatchdog };
  void add_special_path(const char* path, Special kind);
  // The kWatchdog devices answer WDIOC_GETSUPPORT (identity "fake
  // watchdog"), WDIOC_KEEPALIVE (counted: watchdog_pets()) and
  // WDIOC_GETTIMEOUT with this many seconds (0: EOPNOTSUPP, as Linux answers
  // for a driver without a timeout). Default 60.
  void set_watchdog_timeout(int seconds) { watchdog_timeout_s_ = seconds; }
  uint64_t watchdog_pets() const { return watchdog_pets_; }
  void deny_path(const char* path);
  // Files created by open(O_CREAT): their content by path (after renames),
  // or null if no such file exists.
  const std::string* created_file(const char* path) const;
  // The argv of every spawn() so far, one string per argument.
  const std::vector<std::vector<std::string>>& spawned() const { return spawned_; }
  // How the processes spawned from now on behave: each exits exit_after_ns
  // after its start with wait status `status` (0 at once, the default; -1
  // never: it hangs until killed). An exit by exit_process() or kill()
  // raises SIGCHLD; a timed exit is seen through its pidfd and waitpid()
  // only (the fake has no timer to raise SIGCHLD with): tests of the SIGCHLD
  // fallback end their processes with exit_process() or kill().
  void spawn_behaviour(int64_t exit_after_ns, int status);
  // run_in_child(): the work runs at the call, on this kernel (its calls
  // are the child's: traced and open to faults like any other), and the
  // child exits exit_after_ns later (0, the default: at once; -1: it hangs
  // until killed) with the work's result as its exit status. How long a
  // stalling fsync takes is this delay.
  void child_work_behaviour(int64_t exit_after_ns);
  // run_in_child() calls so far, and the pid the last process got.
  int children_run() const { return children_run_; }
  int last_pid() const { return next_pid_ - 1; }
  // The process exits now with wait status `status` (SIGCHLD is raised).
  void exit_process(int pid, int status);
  // Spawned processes not yet exited at this virtual time.
  int running_processes() const;
  struct Process {
    int pid;
    int64_t exit_at;  // monotonic ns; -1: not before it is killed
    int status;
    bool reaped;
    bool chld_raised;
  };
  Process* process(int pid);

  // The seam (hal/sys.h).
  long sys_read(int fd, void* buf, size_t count);
  long sys_write(int fd, const void* buf, size_t count);
  int sys_close(int fd);
  int sys_pipe2(int fds[2], int flags);
  int sys_epoll_create1(int flags);
  int sys_epoll_ctl(int epfd, int op, int fd, hal::EpollEvent* event);
  int sys_epoll_wait(int epfd, hal::EpollEvent* events, int maxevents, int timeout_ms);
  int sys_eventfd(unsigned int initval, int flags);
  int sys_signalfd(int fd, uint64_t mask, int flags);
  int sys_sigprocmask(int how, const uint64_t* set, uint64_t* old);
  int sys_kill(int pid, int signo);
  int sys_getpid() const { return kPid; }
  int sys_on_crash(hal::CrashFn fn);
  // Bytes from the kernel's own generator (a seed of seed()'s, or the
  // default): the same on every run and architecture.
  long sys_getrandom(void* buf, size_t len, unsigned flags);
  int sys_clock_gettime(int clock_id, hal::Timespec* ts);
  int sys_timerfd_create(int clock_id, int flags);
  int sys_timerfd_settime(int fd, int flags, const hal::Itimerspec* value, hal::Itimerspec* old);
  int sys_timerfd_gettime(int fd, hal::Itimerspec* curr);
  int sys_open(const char* path, int flags, unsigned int mode);
  int sys_dup(int fd) { return dup(fd); }
  int sys_fstat(int fd, hal::FileStat* out);
  int sys_get_status_flags(int fd);
  int sys_set_status_flags(int fd, int flags);
  int sys_ioctl(int fd, unsigned long request, void* arg);
  int sys_openpty(int* master, int* slave, char* name, size_t name_len);
  int sys_socket(int domain, int type, int protocol);
  int sys_socketpair(int domain, int type, int protocol, int fds[2]);
  int sys_bind(int fd, const hal::SockAddr* addr);
  int sys_connect(int fd, const hal::SockAddr* addr);
  int sys_listen(int fd, int backlog);
  int sys_accept4(int fd, hal::SockAddr* peer, int flags);
  int sys_getsockopt(int fd, int level, int name, void* value, uint32_t* len);
  int sys_setsockopt(int fd, int level, int name, const void* value, uint32_t len);
  int sys_getsockname(int fd, hal::SockAddr* addr);
  int sys_getpeername(int fd, hal::SockAddr* addr);
  long sys_sendto(int fd, const void* buf, size_t len, int flags, const hal::SockAddr* to);
  long sys_recvfrom(int fd, void* buf, size_t len, int flags, hal::SockAddr* from);
  int sys_shutdown(int fd, int how);
  int sys_spawn(const char* path, char* const argv[], int* pid);
  int sys_run_in_child(hal::ChildWork fn, void* ctx, int* pid);
  int sys_waitpid(int pid, int* status, int options);
  int sys_pidfd_open(int pid);
  int sys_fsync(int fd);
  int sys_rename(const char* from, const char* to);
  int sys_unlink(const char* path);

  static constexpr int kPid = 4242;
  static constexpr int kMaxFds = 1024;

  // Used by files: signals pending for signalfd reads.
  uint64_t take_signal(uint64_t mask);
  uint64_t signal_seq() const { return signal_seq_; }
  // Every live epoll, so a file's last close can remove it from all of them.
  std::vector<Epoll*>& epolls() { return epolls_; }
  // The earliest wake_time() of any file an epoll watches, or -1.
  int64_t next_timer_deadline_mono() const;
  bool take_datagram_drop() {
    if (drop_datagrams_ == 0) return false;
    --drop_datagrams_;
    ++datagrams_dropped_;
    return true;
  }

 private:
  struct Fault {
    Call call;
    int err;
    int times;
    int after;
  };
  bool fault(Call call, int* err);
  size_t limit(Call call, size_t count);
  int install(std::shared_ptr<File> f);
  void release(File* f);

  std::vector<std::shared_ptr<File>> fds_;
  std::vector<Epoll*> epolls_;
  std::vector<TimerFd*> timerfds_;
  std::vector<Socket*> sockets_;
  std::vector<std::string> blackholes_;
  std::vector<std::pair<std::string, std::shared_ptr<SerialDevice>>> serials_;
  std::vector<std::pair<std::string, std::string>> regular_paths_;
  std::vector<std::pair<std::string, uint32_t>> path_modes_;  // the last set wins
  std::vector<std::string> denied_paths_;
  std::vector<std::pair<std::string, Special>> special_paths_;
  std::vector<std::pair<std::string, std::shared_ptr<std::string>>> created_;
  std::vector<std::vector<std::string>> spawned_;
  std::vector<Process> procs_;
  int64_t spawn_exit_after_ns_ = 0;
  int64_t child_work_after_ns_ = 0;
  int children_run_ = 0;
  int spawn_status_ = 0;
  int ephemeral_ = 40000;
  int next_pid_ = 5000;
  int drop_datagrams_ = 0;
  uint64_t datagrams_dropped_ = 0;
  uint64_t datagrams_overflowed_ = 0;
  int pty_count_ = 0;
  int watchdog_timeout_s_ = 60;
  uint64_t watchdog_pets_ = 0;
  friend class Socket;
  std::vector<Fault> faults_;
  ChaosRates rates_;
  Rng rng_{0x853c49e6748fea9bULL};
  Rng random_{0x9b05688c2b3e6c1fULL};  // getrandom's bytes (apart: they move no other draw)
  bool chaos_ = false;
  uint64_t trace_ = 0xcbf29ce484222325ULL;
  std::vector<std::pair<Call, size_t>> shorts_;
  uint64_t calls_[static_cast<int>(Call::kCount)] = {};
  int64_t mono_ns_ = 1000 * 1000000000LL;
  int64_t suspended_ns_ = 0;
  int64_t realtime_offset_ns_ = 1767225600LL * 1000000000LL;  // 2026-01-01
  uint64_t blocked_ = 0;
  uint64_t pending_ = 0;
  hal::CrashFn crash_fn_ = nullptr;
  uint64_t signal_seq_ = 1;
  uint64_t delivered_[65] = {};
  uint64_t would_block_ = 0;
  uint64_t claimed_signals_ = 0;
};

// Everything fd has to read now, through the seam (until 0 or an error
// such as EAGAIN).
std::string read_all(int fd);

}  // namespace fake
