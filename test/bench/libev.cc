// libev 4.33 (Debian's libev-dev), used as its documentation recommends.
#include <ev.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

#include "test/bench/bench.h"

namespace bench {
namespace {

struct Link {
  ev_io io;
  ChainLink* link;
};

void on_io(struct ev_loop* loop, ev_io* w, int) {
  if (chain_step(*reinterpret_cast<Link*>(w)->link)) ev_break(loop, EVBREAK_ALL);
}

struct Timers {
  std::vector<ev_timer> t;
  uint64_t fired = 0;
};

void on_timer(struct ev_loop*, ev_timer* w, int) { ++static_cast<Timers*>(w->data)->fired; }

struct Restarter {
  Timers* timers;
  uint64_t restarts;
  Rand* r;
  uint64_t t1 = 0, t2 = 0;
};

void do_restarts(struct ev_loop* loop, ev_timer* w, int) {
  auto* rs = static_cast<Restarter*>(w->data);
  const size_t n = rs->timers->t.size();
  measure_begin();
  rs->t1 = now_ns();
  for (uint64_t i = 0; i < rs->restarts; ++i) {
    ev_timer& t = rs->timers->t[rs->r->next() % n];
    t.repeat = static_cast<double>(rs->r->in(1000000, 2000000)) / 1e6;
    ev_timer_again(loop, &t);  // libev's cheapest re-arm
  }
  rs->t2 = now_ns();
  measure_end();
  ev_break(loop, EVBREAK_ALL);
}

struct Acc {
  Lateness* late;
  uint64_t start, period, n, ticks;
};

void on_tick(struct ev_loop* loop, ev_timer* w, int) {
  auto* a = static_cast<Acc*>(w->data);
  const uint64_t now = now_ns();
  ++a->n;
  // libev re-arms relative to its cached "now": ticks drift rather than skip;
  // lateness is measured against the ideal schedule start + n * period.
  const uint64_t due = a->start + a->n * a->period;
  a->late->us.push_back(now > due ? static_cast<double>(now - due) / 1000.0 : 0.0);
  if (a->n >= a->ticks) ev_break(loop, EVBREAK_ALL);
}

// Starts timers.t[i] (sized by the caller) d[i] after libev's now.
void start_all(struct ev_loop* loop, Timers* timers, const std::vector<uint64_t>& d) {
  for (size_t i = 0; i < d.size(); ++i) {
    ev_timer& w = timers->t[i];
    ev_timer_init(&w, on_timer, static_cast<double>(d[i]) / 1e9, 0.);
    w.data = timers;
    ev_timer_start(loop, &w);
  }
}

}  // namespace

Phase libev_chain(int n, int a, uint64_t events) {
  Phase ph;
  struct ev_loop* loop = ev_loop_new(EVBACKEND_EPOLL);
  std::vector<int> rd, wr;
  pairs(n, &rd, &wr);
  uint64_t count = 0;
  std::vector<ChainLink> chain = chain_links(rd, wr, &count, events);
  std::vector<Link> links(static_cast<size_t>(n));
  const uint64_t t0 = now_ns();
  for (int i = 0; i < n; ++i) {
    Link& l = links[static_cast<size_t>(i)];
    ev_io_init(&l.io, on_io, rd[static_cast<size_t>(i)], EV_READ);
    l.link = &chain[static_cast<size_t>(i)];
    ev_io_start(loop, &l.io);
  }
  ev_run(loop, EVRUN_NOWAIT);  // libev applies fd changes lazily: count them in setup
  ph.setup_ns_per_watcher = static_cast<double>(now_ns() - t0) / n;
  for (int k = 0; k < a; ++k) {
    const ssize_t w = write(wr[static_cast<size_t>(k * n / a)], "x", 1);
    (void)w;
  }
  measure_begin();
  const uint64_t t1 = now_ns();
  ev_run(loop, 0);
  const uint64_t t2 = now_ns();
  measure_end();
  per_op(&ph, t1, t2, count);
  for (auto& l : links) ev_io_stop(loop, &l.io);
  for (int fd : rd) close(fd);
  ev_loop_destroy(loop);
  return ph;
}

Phase libev_timer_start(int t) {
  Phase ph;
  struct ev_loop* loop = ev_loop_new(EVBACKEND_EPOLL);
  Timers timers;
  const std::vector<uint64_t> d = delays_ns(t, kSecLoNs, kSecHiNs);
  timers.t.resize(d.size());
  measure_begin();
  const uint64_t t1 = now_ns();
  start_all(loop, &timers, d);
  const uint64_t t2 = now_ns();
  measure_end();
  per_op(&ph, t1, t2, static_cast<uint64_t>(t));
  for (auto& w : timers.t) ev_timer_stop(loop, &w);
  ev_loop_destroy(loop);
  return ph;
}

Phase libev_timer_stop(int t) {
  Phase ph;
  struct ev_loop* loop = ev_loop_new(EVBACKEND_EPOLL);
  Timers timers;
  timers.t.resize(static_cast<size_t>(t));
  start_all(loop, &timers, delays_ns(t, kSecLoNs, kSecHiNs));
  measure_begin();
  const uint64_t t1 = now_ns();
  for (auto& w : timers.t) ev_timer_stop(loop, &w);
  const uint64_t t2 = now_ns();
  measure_end();
  per_op(&ph, t1, t2, static_cast<uint64_t>(t));
  ev_loop_destroy(loop);
  return ph;
}

Phase libev_timer_restart(int t, uint64_t restarts) {
  Phase ph;
  struct ev_loop* loop = ev_loop_new(EVBACKEND_EPOLL);
  Timers timers;
  timers.t.resize(static_cast<size_t>(t));
  Rand r;
  for (auto& w : timers.t) {
    ev_timer_init(&w, on_timer, 0., static_cast<double>(r.in(1000000, 2000000)) / 1e6);
    w.data = &timers;
    ev_timer_again(loop, &w);
  }
  Restarter rs{&timers, restarts, &r};
  ev_timer trigger;
  ev_timer_init(&trigger, do_restarts, 0., 0.);
  trigger.data = &rs;
  ev_timer_start(loop, &trigger);
  ev_run(loop, 0);
  per_op(&ph, rs.t1, rs.t2, restarts);
  for (auto& w : timers.t) ev_timer_stop(loop, &w);
  ev_loop_destroy(loop);
  return ph;
}

Phase libev_timer_fire(int t) {
  Phase ph;
  struct ev_loop* loop = ev_loop_new(EVBACKEND_EPOLL);
  Timers timers;
  timers.t.resize(static_cast<size_t>(t));
  ev_now_update(loop);
  const uint64_t base = now_ns();
  start_all(loop, &timers, delays_ns(t, kFireLoNs, kFireHiNs));
  // Wait until they are all due, then measure the iterations that fire them.
  while (now_ns() < base + kFireWaitNs) {
  }
  ev_now_update(loop);
  measure_begin();
  const uint64_t t1 = now_ns();
  while (timers.fired < static_cast<uint64_t>(t)) ev_run(loop, EVRUN_ONCE);
  const uint64_t t2 = now_ns();
  measure_end();
  per_op(&ph, t1, t2, timers.fired);
  ev_loop_destroy(loop);
  return ph;
}

Lateness libev_accuracy(int period_us, int seconds) {
  Lateness late;
  struct ev_loop* loop = ev_loop_new(EVBACKEND_EPOLL);
  const double p = period_us / 1e6;
  Acc a{&late, now_ns(), static_cast<uint64_t>(period_us) * 1000, 0,
        static_cast<uint64_t>(seconds) * 1000000 / static_cast<uint64_t>(period_us)};
  ev_timer w;
  ev_timer_init(&w, on_tick, p, p);
  w.data = &a;
  ev_now_update(loop);
  a.start = now_ns();
  ev_timer_start(loop, &w);
  ev_run(loop, 0);
  late.ticks = a.n;
  // Ticks that fell behind the ideal schedule by a whole period are lost.
  const uint64_t elapsed = now_ns() - a.start;
  const uint64_t ideal = elapsed / a.period;
  late.skipped = ideal > a.n ? ideal - a.n : 0;
  ev_timer_stop(loop, &w);
  ev_loop_destroy(loop);
  return late;
}

}  // namespace bench
