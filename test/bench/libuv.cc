// libuv 1.44 (Debian's libuv1-dev): uv_poll for raw fds, uv_timer for timers.
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cstdint>
#include <cstdio>
#include <vector>

#include "test/bench/bench.h"

namespace bench {
namespace {

struct Link {
  uv_poll_t poll;
  ChainLink* link;
};

void on_poll(uv_poll_t* p, int, int) {
  if (chain_step(*reinterpret_cast<Link*>(p)->link)) uv_stop(p->loop);
}

struct Timers {
  std::vector<uv_timer_t> t;
  uint64_t fired = 0;
};

void on_timer(uv_timer_t* w) { ++static_cast<Timers*>(w->data)->fired; }

struct Restarter {
  Timers* timers;
  uint64_t restarts;
  Rand* r;
  uint64_t t1 = 0, t2 = 0;
};

void do_restarts(uv_timer_t* w) {
  auto* rs = static_cast<Restarter*>(w->data);
  const size_t n = rs->timers->t.size();
  measure_begin();
  rs->t1 = now_ns();
  for (uint64_t i = 0; i < rs->restarts; ++i) {
    uv_timer_t& t = rs->timers->t[rs->r->next() % n];
    uv_timer_start(&t, on_timer, rs->r->in(1000, 2000), 0);  // libuv's re-arm
  }
  rs->t2 = now_ns();
  measure_end();
  uv_stop(w->loop);
}

struct Acc {
  Lateness* late;
  uint64_t start, period, n, ticks;
};

void on_tick(uv_timer_t* w) {
  auto* a = static_cast<Acc*>(w->data);
  const uint64_t now = now_ns();
  ++a->n;
  const uint64_t due = a->start + a->n * a->period;
  a->late->us.push_back(now > due ? static_cast<double>(now - due) / 1000.0 : 0.0);
  if (a->n >= a->ticks) uv_stop(w->loop);
}

void close_all(uv_loop_t* loop) {
  uv_walk(
      loop,
      [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
}

// Starts timers.t[i] (initialised, sized by the caller) d[i] rounded to ms.
void start_all(Timers* timers, const std::vector<uint64_t>& d) {
  for (size_t i = 0; i < d.size(); ++i) uv_timer_start(&timers->t[i], on_timer, d[i] / 1000000, 0);
}

void init_all(uv_loop_t* loop, Timers* timers, int t) {
  timers->t.resize(static_cast<size_t>(t));
  for (auto& w : timers->t) {
    uv_timer_init(loop, &w);
    w.data = timers;
  }
}

}  // namespace

Phase libuv_chain(int n, int a, uint64_t events) {
  Phase ph;
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::vector<int> rd, wr;
  pairs(n, &rd, &wr);
  uint64_t count = 0;
  std::vector<ChainLink> chain = chain_links(rd, wr, &count, events);
  std::vector<Link> links(static_cast<size_t>(n));
  const uint64_t t0 = now_ns();
  for (int i = 0; i < n; ++i) {
    Link& l = links[static_cast<size_t>(i)];
    l.link = &chain[static_cast<size_t>(i)];
    uv_poll_init(&loop, &l.poll, rd[static_cast<size_t>(i)]);
    uv_poll_start(&l.poll, UV_READABLE, on_poll);
  }
  uv_run(&loop, UV_RUN_NOWAIT);  // libuv applies fd changes lazily: count them in setup
  ph.setup_ns_per_watcher = static_cast<double>(now_ns() - t0) / n;
  for (int k = 0; k < a; ++k) {
    const ssize_t w = write(wr[static_cast<size_t>(k * n / a)], "x", 1);
    (void)w;
  }
  measure_begin();
  const uint64_t t1 = now_ns();
  uv_run(&loop, UV_RUN_DEFAULT);
  const uint64_t t2 = now_ns();
  measure_end();
  per_op(&ph, t1, t2, count);
  close_all(&loop);
  for (int fd : rd) close(fd);
  return ph;
}

// libuv's timers take milliseconds: the same delays, rounded.
Phase libuv_timer_start(int t) {
  Phase ph;
  uv_loop_t loop;
  uv_loop_init(&loop);
  Timers timers;
  init_all(&loop, &timers, t);  // initialisation is not starting: not measured
  const std::vector<uint64_t> d = delays_ns(t, kSecLoNs, kSecHiNs);
  measure_begin();
  const uint64_t t1 = now_ns();
  start_all(&timers, d);
  const uint64_t t2 = now_ns();
  measure_end();
  per_op(&ph, t1, t2, static_cast<uint64_t>(t));
  close_all(&loop);
  return ph;
}

Phase libuv_timer_stop(int t) {
  Phase ph;
  uv_loop_t loop;
  uv_loop_init(&loop);
  Timers timers;
  init_all(&loop, &timers, t);
  start_all(&timers, delays_ns(t, kSecLoNs, kSecHiNs));
  measure_begin();
  const uint64_t t1 = now_ns();
  for (auto& w : timers.t) uv_timer_stop(&w);
  const uint64_t t2 = now_ns();
  measure_end();
  per_op(&ph, t1, t2, static_cast<uint64_t>(t));
  close_all(&loop);
  return ph;
}

Phase libuv_timer_restart(int t, uint64_t restarts) {
  Phase ph;
  uv_loop_t loop;
  uv_loop_init(&loop);
  Timers timers;
  timers.t.resize(static_cast<size_t>(t));
  Rand r;
  for (auto& w : timers.t) {
    uv_timer_init(&loop, &w);
    w.data = &timers;
    uv_timer_start(&w, on_timer, r.in(1000, 2000), 0);
  }
  Restarter rs{&timers, restarts, &r};
  uv_timer_t trigger;
  uv_timer_init(&loop, &trigger);
  trigger.data = &rs;
  uv_timer_start(&trigger, do_restarts, 0, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  per_op(&ph, rs.t1, rs.t2, restarts);
  close_all(&loop);
  return ph;
}

Phase libuv_timer_fire(int t) {
  Phase ph;
  uv_loop_t loop;
  uv_loop_init(&loop);
  Timers timers;
  init_all(&loop, &timers, t);
  uv_update_time(&loop);
  const uint64_t base = now_ns();
  start_all(&timers, delays_ns(t, kFireLoNs, kFireHiNs));
  while (now_ns() < base + kFireWaitNs) {
  }
  uv_update_time(&loop);
  measure_begin();
  const uint64_t t1 = now_ns();
  while (timers.fired < static_cast<uint64_t>(t)) uv_run(&loop, UV_RUN_ONCE);
  const uint64_t t2 = now_ns();
  measure_end();
  per_op(&ph, t1, t2, timers.fired);
  close_all(&loop);
  return ph;
}

Lateness libuv_accuracy(int period_us, int seconds) {
  Lateness late;
  uv_loop_t loop;
  uv_loop_init(&loop);
  const uint64_t period_ms = static_cast<uint64_t>(period_us) / 1000;
  Acc a{&late, 0, static_cast<uint64_t>(period_us) * 1000, 0,
        static_cast<uint64_t>(seconds) * 1000000 / static_cast<uint64_t>(period_us)};
  uv_timer_t w;
  uv_timer_init(&loop, &w);
  w.data = &a;
  uv_update_time(&loop);
  a.start = now_ns();
  uv_timer_start(&w, on_tick, period_ms, period_ms);
  uv_run(&loop, UV_RUN_DEFAULT);
  late.ticks = a.n;
  const uint64_t ideal = (now_ns() - a.start) / a.period;
  late.skipped = ideal > a.n ? ideal - a.n : 0;
  close_all(&loop);
  return late;
}

}  // namespace bench
