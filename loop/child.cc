// Child-process watchers: a pidfd per watched child, or SIGCHLD and waitpid
// where the kernel has no pidfd.
#include <cerrno>

#include "loop/loop.h"

namespace evl {

int Loop::child_start(int pid, ChildFn fn, void* ctx, ChildHandle* out) {
  if (out == nullptr || fn == nullptr || pid <= 0) return -EINVAL;
  if (epfd_ < 0) return -EINVAL;
  parts_.close_children = [](Loop& l) { l.close_children(); };
  parts_.dispatch_child = [](Loop& l, uint64_t data) { l.dispatch_child(data); };
  parts_.reap_children = [](Loop& l) { l.reap_polled_children(); };
  parts_.kick = [](Loop& l) { return l.kick(); };
  uint32_t i = 0;
  ChildSlot* s = children_.alloc(&i);
  if (s == nullptr) return -ENOSPC;
  const uint64_t data = handle::pack(salt_, Kind::kChild, meta::gen(s->meta), i);
  int fd = hal::pidfd_open(pid);
  if (fd >= 0) {
    hal::EpollEvent ev{hal::kEpollIn, data};
    const int r = hal::epoll_ctl(epfd_, hal::kEpollCtlAdd, fd, &ev);
    if (r < 0) {
      (void)hal::close(fd);
      children_.release(i);
      return r;
    }
  } else if (fd == -ENOSYS) {
    const int r = watch_sigchld(true);
    if (r < 0) {
      children_.release(i);
      return r;
    }
    fd = -1;
    ++polled_children_;
    before_.poll_children = true;  // it may have exited before SIGCHLD was ours
  } else {
    children_.release(i);
    return fd;
  }
  s->fn = fn;
  s->ctx = ctx;
  s->pid = pid;
  s->fd = fd;
  out->raw = data;
  return 0;
}

int Loop::child_stop(ChildHandle h) {
  ChildSlot* s = lookup(children_, h);
  if (s == nullptr) return -ESTALE;
  if (s->fd >= 0) {
    (void)hal::close(s->fd);  // its only fd: closing it leaves the epoll set too
  } else if (--polled_children_ == 0) {
    (void)watch_sigchld(false);
  }
  children_.release(handle::index(h.raw));
  return 0;
}

void Loop::close_children() { stop_all(children_, &Loop::child_stop); }

// Releases the watcher first, so that fn may start another in its place.
void Loop::finish_child(uint32_t index, int status) {
  ChildSlot& s = children_.at(index);
  const ChildHandle h{handle::pack(salt_, Kind::kChild, meta::gen(s.meta), index)};
  const ChildFn fn = s.fn;
  void* const ctx = s.ctx;
  const int pid = s.pid;
  (void)child_stop(h);
  fn(*this, h, pid, status, ctx);
  timed_end();
}

void Loop::dispatch_child(uint64_t data) {
  const uint32_t i = handle::index(data);
  if (children_.find(i, handle::gen(data)) == nullptr) {
    ++health_.stale_events;
    return;
  }
  int status = 0;
  const int r = hal::waitpid(children_.at(i).pid, &status, hal::kWnohang);
  if (r == 0) return;  // not yet (a pidfd is readable only at the exit: spurious)
  finish_child(i, r > 0 ? status : r);
}

void Loop::reap_polled_children() {
  before_.poll_children = false;
  for (uint32_t i = 0; i < children_.capacity() && polled_children_ > 0; ++i) {
    if (!children_.live(i) || children_.at(i).fd >= 0) continue;
    int status = 0;
    const int r = hal::waitpid(children_.at(i).pid, &status, hal::kWnohang);
    if (r != 0 && r != -EINTR) finish_child(i, r > 0 ? status : r);
  }
}

}  // namespace evl
