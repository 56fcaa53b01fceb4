// hal/sys.h on the fake kernel: each call forwards to fake::Kernel::current().
#include "hal/sys.h"
#include "test/fake/kernel.h"

namespace hal {

using fake::Kernel;

long read(int fd, void* buf, size_t count) { return Kernel::current().sys_read(fd, buf, count); }
long write(int fd, const void* buf, size_t count) {
  return Kernel::current().sys_write(fd, buf, count);
}
int close(int fd) { return Kernel::current().sys_close(fd); }
int pipe2(int fds[2], int flags) { return Kernel::current().sys_pipe2(fds, flags); }
int epoll_create1(int flags) { return Kernel::current().sys_epoll_create1(flags); }
int epoll_ctl(int epfd, int op, int fd, EpollEvent* event) {
  return Kernel::current().sys_epoll_ctl(epfd, op, fd, event);
}
int epoll_wait(int epfd, EpollEvent* events, int maxevents, int timeout_ms) {
  return Kernel::current().sys_epoll_wait(epfd, events, maxevents, timeout_ms);
}
int eventfd(unsigned int initval, int flags) {
  return Kernel::current().sys_eventfd(initval, flags);
}
int signalfd(int fd, uint64_t mask, int flags) {
  return Kernel::current().sys_signalfd(fd, mask, flags);
}
int sigprocmask(int how, const uint64_t* set, uint64_t* old) {
  return Kernel::current().sys_sigprocmask(how, set, old);
}
int kill(int pid, int signo) { return Kernel::current().sys_kill(pid, signo); }
int getpid() { return Kernel::current().sys_getpid(); }
int clock_gettime(int clock_id, Timespec* ts) {
  return Kernel::current().sys_clock_gettime(clock_id, ts);
}
int timerfd_create(int clock_id, int flags) {
  return Kernel::current().sys_timerfd_create(clock_id, flags);
}
int timerfd_settime(int fd, int flags, const Itimerspec* value, Itimerspec* old) {
  return Kernel::current().sys_timerfd_settime(fd, flags, value, old);
}
int timerfd_gettime(int fd, Itimerspec* curr) {
  return Kernel::current().sys_timerfd_gettime(fd, curr);
}

}  // namespace hal
