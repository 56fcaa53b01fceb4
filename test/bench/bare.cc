// The floor: a minimal but real loop, written for these workloads: an
// fd-indexed table of callbacks (function pointer and context) dispatched
// from epoll_wait, one timerfd and a binary heap of deadlines with timer
// callbacks through pointers. It checks nothing it does not need to (no
// stale events, no handles): what a loop costs beyond it is the price of
// its guarantees.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

#include "test/bench/bench.h"

namespace bench {
namespace {

// The loop: callbacks by fd.
struct Entry {
  bool (*fn)(void* ctx) = nullptr;  // true: stop
  void* ctx = nullptr;
};

bool on_link(void* ctx) { return chain_step(*static_cast<ChainLink*>(ctx)); }

void set_timerfd(int tfd, uint64_t at_ns) {
  itimerspec its{};
  its.it_value.tv_sec = static_cast<time_t>(at_ns / 1000000000ULL);
  its.it_value.tv_nsec = static_cast<long>(at_ns % 1000000000ULL);
  if (at_ns == 0) its.it_value.tv_nsec = 1;
  timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, nullptr);
}

// A binary min-heap of timers with their positions (for restarts).
struct Heap {
  std::vector<uint64_t> at;    // deadline by timer id
  std::vector<uint32_t> pos;   // heap position by timer id
  std::vector<uint32_t> heap;  // timer ids
  void init(size_t n) {
    at.assign(n, 0);
    pos.assign(n, 0);
    heap.clear();
  }
  bool less(uint32_t a, uint32_t b) const { return at[a] < at[b]; }
  void place(size_t p, uint32_t id) {
    heap[p] = id;
    pos[id] = static_cast<uint32_t>(p);
  }
  void up(size_t p) {
    const uint32_t id = heap[p];
    while (p > 0 && less(id, heap[(p - 1) / 2])) {
      place(p, heap[(p - 1) / 2]);
      p = (p - 1) / 2;
    }
    place(p, id);
  }
  void down(size_t p) {
    const uint32_t id = heap[p];
    for (;;) {
      size_t c = 2 * p + 1;
      if (c >= heap.size()) break;
      if (c + 1 < heap.size() && less(heap[c + 1], heap[c])) ++c;
      if (!less(heap[c], id)) break;
      place(p, heap[c]);
      p = c;
    }
    place(p, id);
  }
  void push(uint32_t id, uint64_t t) {
    at[id] = t;
    heap.push_back(id);
    up(heap.size() - 1);
  }
  void update(uint32_t id, uint64_t t) {
    const uint64_t old = at[id];
    at[id] = t;
    if (t < old)
      up(pos[id]);
    else
      down(pos[id]);
  }
  void remove(uint32_t id) {
    const size_t p = pos[id];
    const uint32_t last = heap.back();
    heap.pop_back();
    if (p == heap.size()) return;
    place(p, last);
    if (p > 0 && less(last, heap[(p - 1) / 2])) {
      up(p);
    } else {
      down(p);
    }
  }
  uint32_t pop() {
    const uint32_t id = heap[0];
    const uint32_t last = heap.back();
    heap.pop_back();
    if (!heap.empty()) {
      heap[0] = last;
      down(0);
    }
    return id;
  }
};

// Timer i at base + d[i].
void push_all(Heap* h, const std::vector<uint64_t>& d, uint64_t base) {
  for (size_t i = 0; i < d.size(); ++i) h->push(static_cast<uint32_t>(i), base + d[i]);
}

}  // namespace

Phase bare_chain(int n, int a, uint64_t events) {
  Phase ph;
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<int> rd, wr;
  pairs(n, &rd, &wr);
  uint64_t count = 0;
  std::vector<ChainLink> links = chain_links(rd, wr, &count, events);
  int max_fd = 0;
  for (int fd : rd) max_fd = fd > max_fd ? fd : max_fd;
  std::vector<Entry> table(static_cast<size_t>(max_fd) + 1);
  const uint64_t t0 = now_ns();
  for (int i = 0; i < n; ++i) {
    const int fd = rd[static_cast<size_t>(i)];
    table[static_cast<size_t>(fd)] = Entry{on_link, &links[static_cast<size_t>(i)]};
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  ph.setup_ns_per_watcher = static_cast<double>(now_ns() - t0) / n;
  for (int k = 0; k < a; ++k) {
    const ssize_t w = write(wr[static_cast<size_t>(k * n / a)], "x", 1);
    (void)w;
  }
  epoll_event evs[64];
  measure_begin();
  const uint64_t t1 = now_ns();
  bool stop = false;
  while (!stop) {
    const int got = epoll_wait(ep, evs, 64, -1);
    for (int i = 0; i < got; ++i) {
      const Entry& e = table[static_cast<size_t>(evs[i].data.fd)];
      if (e.fn(e.ctx)) stop = true;
    }
  }
  const uint64_t t2 = now_ns();
  measure_end();
  per_op(&ph, t1, t2, count);
  for (int fd : rd) close(fd);
  close(ep);
  return ph;
}

// Timers: start and stop are heap operations (the loop arms its timerfd
// once, before it next waits, for all backends alike: not measured).
Phase bare_timer_start(int t) {
  Phase ph;
  Heap h;
  h.init(static_cast<size_t>(t));
  const std::vector<uint64_t> d = delays_ns(t, kSecLoNs, kSecHiNs);
  measure_begin();
  const uint64_t t1 = now_ns();
  const uint64_t base = now_ns();
  push_all(&h, d, base);
  const uint64_t t2 = now_ns();
  measure_end();
  per_op(&ph, t1, t2, static_cast<uint64_t>(t));
  return ph;
}

Phase bare_timer_stop(int t) {
  Phase ph;
  Heap h;
  h.init(static_cast<size_t>(t));
  const std::vector<uint64_t> d = delays_ns(t, kSecLoNs, kSecHiNs);
  const uint64_t base = now_ns();
  push_all(&h, d, base);
  measure_begin();
  const uint64_t t1 = now_ns();
  for (int i = 0; i < t; ++i) h.remove(static_cast<uint32_t>(i));
  const uint64_t t2 = now_ns();
  measure_end();
  per_op(&ph, t1, t2, static_cast<uint64_t>(t));
  return ph;
}

Phase bare_timer_restart(int t, uint64_t restarts) {
  Phase ph;
  Heap h;
  h.init(static_cast<size_t>(t));
  Rand r;
  const uint64_t base = now_ns();
  for (int i = 0; i < t; ++i) h.push(static_cast<uint32_t>(i), base + r.in(1000000000, 2000000000));
  const int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  set_timerfd(tfd, h.at[h.heap[0]]);
  // The restarts run inside a "callback" (a ready timerfd, as for the others).
  set_timerfd(tfd, 0);
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
  epoll_event out[4];
  epoll_wait(ep, out, 4, -1);
  uint64_t x;
  const ssize_t rd = read(tfd, &x, 8);
  (void)rd;
  measure_begin();
  const uint64_t t1 = now_ns();
  for (uint64_t i = 0; i < restarts; ++i) {
    const uint32_t id = static_cast<uint32_t>(r.next() % static_cast<uint64_t>(t));
    h.update(id, t1 + r.in(1000000000, 2000000000));
  }
  set_timerfd(tfd, h.at[h.heap[0]]);  // one re-arm for the batch, as a loop would
  const uint64_t t2 = now_ns();
  measure_end();
  per_op(&ph, t1, t2, restarts);
  close(ep);
  close(tfd);
  return ph;
}

Phase bare_timer_fire(int t) {
  Phase ph;
  Heap h;
  h.init(static_cast<size_t>(t));
  const std::vector<uint64_t> d = delays_ns(t, kFireLoNs, kFireHiNs);
  const uint64_t base = now_ns();
  push_all(&h, d, base);
  const int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
  set_timerfd(tfd, h.at[h.heap[0]]);
  while (now_ns() < base + kFireWaitNs) {
  }  // all due: measure the iterations that fire them
  struct Fired {
    uint64_t n = 0;
  } fired;
  void (*volatile fn)(void*) = [](void* c) { ++static_cast<Fired*>(c)->n; };
  epoll_event out[4];
  measure_begin();
  const uint64_t t1 = now_ns();
  while (!h.heap.empty()) {
    epoll_wait(ep, out, 4, -1);
    const uint64_t now = now_ns();
    while (!h.heap.empty() && h.at[h.heap[0]] <= now) {
      (void)h.pop();
      fn(&fired);
    }
    if (!h.heap.empty()) set_timerfd(tfd, h.at[h.heap[0]]);  // re-arming clears the expiry
  }
  const uint64_t t2 = now_ns();
  measure_end();
  per_op(&ph, t1, t2, fired.n);
  close(ep);
  close(tfd);
  return ph;
}

Lateness bare_accuracy(int period_us, int seconds) {
  Lateness late;
  const int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
  const uint64_t period = static_cast<uint64_t>(period_us) * 1000;
  const uint64_t start = now_ns() + period;
  itimerspec its{};
  its.it_value.tv_sec = static_cast<time_t>(start / 1000000000ULL);
  its.it_value.tv_nsec = static_cast<long>(start % 1000000000ULL);
  its.it_interval.tv_nsec = static_cast<long>(period);
  timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, nullptr);
  const uint64_t ticks =
      static_cast<uint64_t>(seconds) * 1000000 / static_cast<uint64_t>(period_us);
  uint64_t n = 0;
  while (n < ticks) {
    epoll_event out[4];
    epoll_wait(ep, out, 4, -1);
    uint64_t exp = 0;
    const ssize_t rd = read(tfd, &exp, 8);
    (void)rd;
    const uint64_t now = now_ns();
    n += exp;
    late.skipped += exp > 0 ? exp - 1 : 0;
    const uint64_t due = start + (n - 1) * period;
    late.us.push_back(static_cast<double>(now - due) / 1000.0);
  }
  late.ticks = n;
  close(ep);
  close(tfd);
  return late;
}

}  // namespace bench
