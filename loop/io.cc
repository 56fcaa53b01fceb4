// io watchers and the fd -> slot index that enforces one watcher per fd.
#include <cerrno>

#include "loop/loop.h"

namespace evl {
namespace {

constexpr uint32_t kRequestable = kIn | kPri | kOut | kRdHup | kEdge;
constexpr uint32_t kWaitable = kIn | kPri | kOut | kRdHup;

bool valid_events(uint32_t events) {
  return (events & ~kRequestable) == 0 && (events & kWaitable) != 0;
}

uint32_t hash_fd(int fd) { return static_cast<uint32_t>(fd) * 2654435761u; }

}  // namespace

int Loop::io_find(IoHandle h, uint32_t* index) const {
  if (lookup(io_, h) == nullptr) return -ESTALE;
  *index = handle::index(h.raw);
  return 0;
}

int Loop::io_start(int fd, uint32_t events, IoFn fn, void* ctx, IoHandle* out) {
  if (out == nullptr || fn == nullptr || !valid_events(events)) return -EINVAL;
  if (fd < 0) return -EBADF;
  if (epfd_ < 0) return -EINVAL;
  if (fd_index_find(fd) != kNoSlot) return -EEXIST;
  uint32_t i = 0;
  IoSlot* s = io_.alloc(&i);
  if (s == nullptr) return -ENOSPC;
  const uint64_t data = handle::pack(salt_, Kind::kIo, meta::gen(s->meta), i);
  hal::EpollEvent ev{events, data};
  const int r = hal::epoll_ctl(epfd_, hal::kEpollCtlAdd, fd, &ev);
  if (r < 0) {
    io_.release(i);
    return r;
  }
  s->fn = fn;
  s->ctx = ctx;
  s->fd = fd;
  fd_index_insert(i);
  out->raw = data;
  return 0;
}

int Loop::io_modify(IoHandle h, uint32_t events) {
  uint32_t i = 0;
  const int f = io_find(h, &i);
  if (f < 0) return f;
  if (!valid_events(events)) return -EINVAL;
  IoSlot& s = io_.at(i);
  hal::EpollEvent ev{events, h.raw};
  const int r = hal::epoll_ctl(epfd_, hal::kEpollCtlMod, s.fd, &ev);
  return r;
}

int Loop::io_stop(IoHandle h) {
  uint32_t i = 0;
  const int f = io_find(h, &i);
  if (f < 0) return f;
  IoSlot& s = io_.at(i);
  hal::EpollEvent ev{0, 0};
  // If the caller closed the fd and the loop's own timerfd, eventfd or
  // signalfd got its number, the registration under that number is the
  // loop's: leave it alone.
  const int r = owns_fd(s.fd) ? -EBADF : hal::epoll_ctl(epfd_, hal::kEpollCtlDel, s.fd, &ev);
  // EBADF: the fd was closed first. ENOENT: closed and its number reused by a
  // file this epoll does not hold. Either way the watcher is gone.
  if (r == -EBADF || r == -ENOENT) {
    ++health_.stale_fd_stops;
  } else if (r < 0) {
    return r;
  }
  fd_index_erase(s.fd);
  io_.release(i);
  return 0;
}

bool Loop::owns_fd(int fd) const {
  if (fd == epfd_ || fd == wake_fd_ || fd == signal_fd_) return true;
  for (int t : timer_fd_) {
    if (fd == t) return true;
  }
  return false;
}

int Loop::io_close(IoHandle h) {
  uint32_t i = 0;
  const int f = io_find(h, &i);
  if (f < 0) return f;
  const int fd = io_.at(i).fd;
  const int r = io_stop(h);
  if (r < 0) return r;
  if (owns_fd(fd)) return -EBADF;  // closed earlier by the caller; the number is ours now
  return hal::close(fd);
}

int Loop::io_fd(IoHandle h) const {
  uint32_t i = 0;
  const int f = io_find(h, &i);
  if (f < 0) return f;
  return io_.at(i).fd;
}

// Open addressing with linear probing; entries hold slot + 1 (0 is empty).
// The table has at least twice as many entries as the pool has slots.
uint32_t Loop::fd_index_find(int fd) const {
  const uint32_t mask = st_.fd_index_size - 1;
  for (uint32_t p = hash_fd(fd) & mask;; p = (p + 1) & mask) {
    const uint32_t e = st_.fd_index[p];
    if (e == 0) return kNoSlot;
    if (io_.at(e - 1).fd == fd) return e - 1;
  }
}

void Loop::fd_index_insert(uint32_t slot) {
  const uint32_t mask = st_.fd_index_size - 1;
  uint32_t p = hash_fd(io_.at(slot).fd) & mask;
  while (st_.fd_index[p] != 0) p = (p + 1) & mask;
  st_.fd_index[p] = slot + 1;
}

// Backward-shift deletion keeps probe chains intact without tombstones.
void Loop::fd_index_erase(int fd) {
  const uint32_t mask = st_.fd_index_size - 1;
  uint32_t p = hash_fd(fd) & mask;
  while (io_.at(st_.fd_index[p] - 1).fd != fd) p = (p + 1) & mask;
  for (uint32_t q = (p + 1) & mask;; q = (q + 1) & mask) {
    const uint32_t e = st_.fd_index[q];
    if (e == 0) break;
    const uint32_t home = hash_fd(io_.at(e - 1).fd) & mask;
    // Move e into the hole at p unless its home lies cyclically in (p, q].
    const bool stays = (p <= q) ? (p < home && home <= q) : (p < home || home <= q);
    if (!stays) {
      st_.fd_index[p] = e;
      p = q;
    }
  }
  st_.fd_index[p] = 0;
}

}  // namespace evl
