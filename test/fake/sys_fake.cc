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

int open(const char* path, int flags, unsigned int mode) {
  return Kernel::current().sys_open(path, flags, mode);
}
int dup(int fd) { return Kernel::current().sys_dup(fd); }
int ioctl(int fd, unsigned long request, void* arg) {
  return Kernel::current().sys_ioctl(fd, request, arg);
}
int openpty(int* master, int* slave, char* name, size_t name_len) {
  return Kernel::current().sys_openpty(master, slave, name, name_len);
}
int socket(int domain, int type, int protocol) {
  return Kernel::current().sys_socket(domain, type, protocol);
}
int socketpair(int domain, int type, int protocol, int fds[2]) {
  return Kernel::current().sys_socketpair(domain, type, protocol, fds);
}
int bind(int fd, const SockAddr* addr) { return Kernel::current().sys_bind(fd, addr); }
int connect(int fd, const SockAddr* addr) { return Kernel::current().sys_connect(fd, addr); }
int listen(int fd, int backlog) { return Kernel::current().sys_listen(fd, backlog); }
int accept4(int fd, SockAddr* peer, int flags) {
  return Kernel::current().sys_accept4(fd, peer, flags);
}
int getsockopt(int fd, int level, int name, void* value, uint32_t* len) {
  return Kernel::current().sys_getsockopt(fd, level, name, value, len);
}
int setsockopt(int fd, int level, int name, const void* value, uint32_t len) {
  return Kernel::current().sys_setsockopt(fd, level, name, value, len);
}
int getsockname(int fd, SockAddr* addr) { return Kernel::current().sys_getsockname(fd, addr); }
int getpeername(int fd, SockAddr* addr) { return Kernel::current().sys_getpeername(fd, addr); }
long sendto(int fd, const void* buf, size_t len, int flags, const SockAddr* to) {
  return Kernel::current().sys_sendto(fd, buf, len, flags, to);
}
long recvfrom(int fd, void* buf, size_t len, int flags, SockAddr* from) {
  return Kernel::current().sys_recvfrom(fd, buf, len, flags, from);
}
int shutdown(int fd, int how) { return Kernel::current().sys_shutdown(fd, how); }
int spawn(const char* path, char* const argv[], int* pid) {
  return Kernel::current().sys_spawn(path, argv, pid);
}
int waitpid(int pid, int* status, int options) {
  return Kernel::current().sys_waitpid(pid, status, options);
}

}  // namespace hal
