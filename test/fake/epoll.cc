// The fake epoll: interest lists, level and edge triggering, EPOLLONESHOT,
// maxevents with round-robin fairness, removal on a file's last close.
#include <algorithm>
#include <cerrno>

#include "test/fake/files.h"

namespace fake {

uint32_t Epoll::ready_bits(const Item& it) const {
  if (it.disabled) return 0;
  const uint32_t r = readiness(*it.file, it.events);
  if (r == 0) return 0;
  if ((it.events & hal::kEpollEt) != 0 && it.seen_seq == it.file->changes()) return 0;
  return r;
}

uint32_t Epoll::poll() const {
  for (const Item& it : items_) {
    if (ready_bits(it) != 0) return hal::kEpollIn;
  }
  return 0;
}

uint64_t Epoll::changes() const {
  uint64_t s = seq;
  for (const Item& it : items_) s += it.file->changes();
  return s;
}

void Epoll::last_close() {
  auto& v = kernel->epolls();
  v.erase(std::remove(v.begin(), v.end(), this), v.end());
  items_.clear();
}

bool Epoll::owns(const File* f) const {
  for (const Item& it : items_) {
    if (it.file == f) return true;
  }
  return false;
}

int64_t Epoll::earliest_wake() const {
  int64_t best = -1;
  for (const Item& it : items_) {
    if (it.disabled) continue;
    const int64_t n = it.file->wake_time();
    if (n >= 0 && (best < 0 || n < best)) best = n;
  }
  return best;
}

void Epoll::forget(File* f) {
  items_.erase(
      std::remove_if(items_.begin(), items_.end(), [f](const Item& it) { return it.file == f; }),
      items_.end());
  ++seq;
}

int Epoll::ctl(int op, int fd, File* f, const hal::EpollEvent* ev) {
  auto it = std::find_if(items_.begin(), items_.end(),
                         [fd, f](const Item& i) { return i.fd == fd && i.file == f; });
  switch (op) {
    case hal::kEpollCtlAdd:
      if (it != items_.end()) return -EEXIST;
      items_.push_back(Item{fd, f, ev->events, ev->data, kUnseen, false});
      break;
    case hal::kEpollCtlMod:
      if (it == items_.end()) return -ENOENT;
      // Linux re-checks readiness on MOD, so an edge is reported again.
      it->events = ev->events;
      it->data = ev->data;
      it->seen_seq = kUnseen;
      it->disabled = false;
      break;
    case hal::kEpollCtlDel:
      if (it == items_.end()) return -ENOENT;
      items_.erase(it);
      break;
    default: return -EINVAL;
  }
  ++seq;
  return 0;
}

// Scans from a rotating cursor so that with a small maxevents every ready
// item gets its turn, as Linux's ready list does.
int Epoll::collect(hal::EpollEvent* out, int max) {
  const size_t n = items_.size();
  int got = 0;
  size_t last = cursor_;
  for (size_t k = 0; k < n && got < max; ++k) {
    const size_t i = (cursor_ + k) % n;
    Item& it = items_[i];
    const uint32_t r = ready_bits(it);
    if (r == 0) continue;
    out[got].events = r;
    out[got].data = it.data;
    ++got;
    it.seen_seq = it.file->changes();
    if ((it.events & hal::kEpollOneshot) != 0) it.disabled = true;
    last = i;
  }
  if (got == max && n > 0) cursor_ = (last + 1) % n;
  return got;
}

}  // namespace fake
