// What the flight recorder keeps of each seam call's arguments: the values
// that matter to the kernel, and hashes of the bytes it only reads (written
// data, paths, addresses). The recording seam (sys_linux.cc built with
// EVL_FLIGHT_RECORDER) and the replay kernel both build their Args here, so
// a replay compares like with like. Pointers and the caller's buffers are
// never kept; the epoll cookie is kept but not compared (the replay maps it,
// since a loop's cookies carry bits of its address).
#pragma once

#include <cstring>

#include "hal/flight.h"
#include "hal/sys.h"

namespace flight {
namespace args {

template <class... T>
constexpr Args of(T... v) {
  static_assert(sizeof...(T) <= kMaxArgs, "at most kMaxArgs arguments");
  return Args{{static_cast<int64_t>(v)...}, static_cast<int>(sizeof...(T))};
}
inline int64_t u(uint64_t v) { return static_cast<int64_t>(v); }

inline Args read(int fd, size_t count) { return of(fd, u(count)); }
inline Args write(int fd, const void* buf, size_t count) {
  return of(fd, u(count), hash(buf, count));
}
inline Args fd(int fd) { return of(fd); }
inline Args flags(int flags) { return of(flags); }
inline Args fd_value(int fd, int64_t v) { return of(fd, v); }
inline Args open(const char* path, int flags, unsigned int mode) {
  return of(hash_str(path), flags, mode);
}
inline Args path(const char* p) { return of(hash_str(p)); }
inline Args rename(const char* from, const char* to) { return of(hash_str(from), hash_str(to)); }

// Bytes an ioctl's argument points at, for the requests the product uses.
inline size_t ioctl_bytes(unsigned long request) {
  switch (request) {
    case hal::kTcgets:
    case hal::kTcsets: return sizeof(hal::Termios);
    case hal::kTcgets2:
    case hal::kTcsets2:
    case hal::kTcsetsw2: return sizeof(hal::Termios2);
    case hal::kFionread:
    case hal::kSiocOutq:
    case hal::kTiocgexcl:
    case hal::kWdiocKeepalive:
    case hal::kWdiocGettimeout: return sizeof(int);
    case hal::kWdiocGetsupport: return sizeof(hal::WatchdogInfo);
    default: return 0;
  }
}
inline Args ioctl(int fd, unsigned long request, const void* arg) {
  const size_t n = arg != nullptr ? ioctl_bytes(request) : 0;
  return of(fd, u(request), n > 0 ? hash(arg, n) : 0);
}

inline Args socket(int domain, int type, int protocol) { return of(domain, type, protocol); }
inline int64_t addr_hash(const hal::SockAddr* a) {
  if (a == nullptr) return 0;
  const size_t n = a->len < sizeof a->data ? a->len : sizeof a->data;
  return hash(a->data, n);
}
inline Args address(int fd, const hal::SockAddr* addr) { return of(fd, addr_hash(addr)); }
inline Args accept4(int fd, const hal::SockAddr* peer, int flags) {
  return of(fd, peer != nullptr, flags);
}
inline Args getsockopt(int fd, int level, int name, uint32_t len) {
  return of(fd, level, name, len);
}
inline Args setsockopt(int fd, int level, int name, const void* value, uint32_t len) {
  return of(fd, level, name, len, hash(value, len));
}
inline Args sendto(int fd, const void* buf, size_t len, int flags, const hal::SockAddr* to) {
  return of(fd, u(len), flags, hash(buf, len), addr_hash(to));
}
inline Args recvfrom(int fd, size_t len, int flags, const hal::SockAddr* from) {
  return of(fd, u(len), flags, from != nullptr);
}
inline Args spawn(const char* path, char* const argv[]) {
  uint64_t h = static_cast<uint64_t>(hash_str(path));
  for (int i = 0; argv != nullptr && argv[i] != nullptr; ++i) {
    h = h * 31 + static_cast<uint64_t>(hash_str(argv[i]));
  }
  return of(u(h));
}
inline Args epoll_ctl(int epfd, int op, int fd, const hal::EpollEvent* ev) {
  return of(epfd, op, fd, ev != nullptr ? int64_t{ev->events} : -1,
            ev != nullptr ? u(ev->data) : 0);
}
constexpr int kEpollCtlCookie = 4;  // the argument the replay maps, not compares
constexpr Args epoll_wait(int epfd, int maxevents, int timeout_ms) {
  return of(epfd, maxevents, timeout_ms);
}
inline Args getrandom(size_t len, unsigned flags) { return of(u(len), flags); }
inline Args signalfd(int fd, uint64_t mask, int flags) { return of(fd, u(mask), flags); }
inline Args sigprocmask(int how, const uint64_t* set, const uint64_t* old) {
  return of(how, set != nullptr ? u(*set) : -1, old != nullptr);
}
inline Args timerfd_settime(int fd, int flags, const hal::Itimerspec* v,
                            const hal::Itimerspec* old) {
  return of(fd, flags, v->value.sec, v->value.nsec, hash(&v->interval, sizeof v->interval),
            old != nullptr);
}

}  // namespace args

// An epoll event as recorded: the same 16 bytes on every target (x86-64's
// struct epoll_event is packed to 12).
struct WireEvent {
  uint32_t events;
  uint32_t pad;
  uint64_t data;
};
static_assert(sizeof(WireEvent) == 16, "wire event");
static_assert(sizeof(hal::FileStat) == 16 && sizeof(hal::Itimerspec) == 32,
              "recorded structs have one layout on every target");

}  // namespace flight
