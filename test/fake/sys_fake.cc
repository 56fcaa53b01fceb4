// hal/sys.h on the fake kernel: each call forwards to fake::Kernel::current()
// and is folded into the kernel's trace hash (for determinism checks).
#include "hal/sys.h"
#include "test/fake/kernel.h"

namespace hal {

using fake::Call;
using fake::Kernel;

long read(int fd, void* buf, size_t count) {
  Kernel& k = Kernel::current();
  return (k.trace(Call::kRead, k.sys_read(fd, buf, count)));
}

long write(int fd, const void* buf, size_t count) {
  Kernel& k = Kernel::current();
  return (k.trace(Call::kWrite, k.sys_write(fd, buf, count)));
}

int close(int fd) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kClose, k.sys_close(fd)));
}

int pipe2(int fds[2], int flags) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kPipe2, k.sys_pipe2(fds, flags)));
}

int epoll_create1(int flags) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kEpollCreate1, k.sys_epoll_create1(flags)));
}

int epoll_ctl(int epfd, int op, int fd, EpollEvent* event) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kEpollCtl, k.sys_epoll_ctl(epfd, op, fd, event)));
}

int epoll_wait(int epfd, EpollEvent* events, int maxevents, int timeout_ms) {
  Kernel& k = Kernel::current();
  return static_cast<int>(
      k.trace(Call::kEpollWait, k.sys_epoll_wait(epfd, events, maxevents, timeout_ms)));
}

int eventfd(unsigned int initval, int flags) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kEventfd, k.sys_eventfd(initval, flags)));
}

int signalfd(int fd, uint64_t mask, int flags) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kSignalfd, k.sys_signalfd(fd, mask, flags)));
}

int sigprocmask(int how, const uint64_t* set, uint64_t* old) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kSigprocmask, k.sys_sigprocmask(how, set, old)));
}

int kill(int pid, int signo) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kKill, k.sys_kill(pid, signo)));
}

int getpid() {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kKill, k.sys_getpid()));
}

long getrandom(void* buf, size_t len, unsigned flags) {
  Kernel& k = Kernel::current();
  return k.trace(Call::kGetrandom, k.sys_getrandom(buf, len, flags));
}

int on_crash(CrashFn fn) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kOnCrash, k.sys_on_crash(fn)));
}

int clock_gettime(int clock_id, Timespec* ts) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kClockGettime, k.sys_clock_gettime(clock_id, ts)));
}

int timerfd_create(int clock_id, int flags) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kTimerfdCreate, k.sys_timerfd_create(clock_id, flags)));
}

int timerfd_settime(int fd, int flags, const Itimerspec* value, Itimerspec* old) {
  Kernel& k = Kernel::current();
  return static_cast<int>(
      k.trace(Call::kTimerfdSettime, k.sys_timerfd_settime(fd, flags, value, old)));
}

int timerfd_gettime(int fd, Itimerspec* curr) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kTimerfdGettime, k.sys_timerfd_gettime(fd, curr)));
}

int open(const char* path, int flags, unsigned int mode) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kOpen, k.sys_open(path, flags, mode)));
}

int fsync(int fd) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kFsync, k.sys_fsync(fd)));
}

int rename(const char* from, const char* to) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kRename, k.sys_rename(from, to)));
}

int unlink(const char* path) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kUnlink, k.sys_unlink(path)));
}

int dup(int fd) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kOpen, k.sys_dup(fd)));
}

int fstat(int fd, FileStat* out) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kFstat, k.sys_fstat(fd, out)));
}

int get_status_flags(int fd) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kFcntl, k.sys_get_status_flags(fd)));
}

int set_status_flags(int fd, int flags) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kFcntl, k.sys_set_status_flags(fd, flags)));
}

int ioctl(int fd, unsigned long request, void* arg) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kIoctl, k.sys_ioctl(fd, request, arg)));
}

int openpty(int* master, int* slave, char* name, size_t name_len) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kOpen, k.sys_openpty(master, slave, name, name_len)));
}

int socket(int domain, int type, int protocol) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kSocket, k.sys_socket(domain, type, protocol)));
}

int socketpair(int domain, int type, int protocol, int fds[2]) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kSocket, k.sys_socketpair(domain, type, protocol, fds)));
}

int bind(int fd, const SockAddr* addr) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kBind, k.sys_bind(fd, addr)));
}

int connect(int fd, const SockAddr* addr) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kConnect, k.sys_connect(fd, addr)));
}

int listen(int fd, int backlog) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kListen, k.sys_listen(fd, backlog)));
}

int accept4(int fd, SockAddr* peer, int flags) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kAccept, k.sys_accept4(fd, peer, flags)));
}

int getsockopt(int fd, int level, int name, void* value, uint32_t* len) {
  Kernel& k = Kernel::current();
  return static_cast<int>(
      k.trace(Call::kGetsockopt, k.sys_getsockopt(fd, level, name, value, len)));
}

int setsockopt(int fd, int level, int name, const void* value, uint32_t len) {
  Kernel& k = Kernel::current();
  return static_cast<int>(
      k.trace(Call::kSetsockopt, k.sys_setsockopt(fd, level, name, value, len)));
}

int getsockname(int fd, SockAddr* addr) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kGetsockopt, k.sys_getsockname(fd, addr)));
}

int getpeername(int fd, SockAddr* addr) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kGetsockopt, k.sys_getpeername(fd, addr)));
}

long sendto(int fd, const void* buf, size_t len, int flags, const SockAddr* to) {
  Kernel& k = Kernel::current();
  return (k.trace(Call::kSendto, k.sys_sendto(fd, buf, len, flags, to)));
}

long recvfrom(int fd, void* buf, size_t len, int flags, SockAddr* from) {
  Kernel& k = Kernel::current();
  return (k.trace(Call::kRecvfrom, k.sys_recvfrom(fd, buf, len, flags, from)));
}

int shutdown(int fd, int how) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kShutdown, k.sys_shutdown(fd, how)));
}

int spawn(const char* path, char* const argv[], int* pid) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kSpawn, k.sys_spawn(path, argv, pid)));
}

int run_in_child(ChildWork fn, void* ctx, int* pid) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kRunInChild, k.sys_run_in_child(fn, ctx, pid)));
}

int waitpid(int pid, int* status, int options) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kWaitpid, k.sys_waitpid(pid, status, options)));
}

bool signal_claim(uint64_t mask) { return Kernel::current().claim_signals(mask); }
void signal_release(uint64_t mask) { Kernel::current().release_signals(mask); }

int pidfd_open(int pid) {
  Kernel& k = Kernel::current();
  return static_cast<int>(k.trace(Call::kPidfdOpen, k.sys_pidfd_open(pid)));
}

}  // namespace hal
