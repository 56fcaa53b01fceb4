// The benchmark workloads, one implementation per backend (bare epoll,
// libev, libuv, ours). Each function measures its own phase: wall time with
// CLOCK_MONOTONIC, and, when run under callgrind, user-space instructions
// (collection is switched on only around the measured part).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <vector>

namespace bench {

struct Phase {
  double ns_per_op = 0;
  double setup_ns_per_watcher = 0;
  uint64_t ops = 0;
  double syscalls_per_op = -1;  // ours only (the counting seam)
  double epoll_waits_per_op = -1;
  double timerfd_arms_per_op = -1;
  double epoll_ctls_per_watcher = -1;
};

// Lateness of each delivered tick of a periodic timer, in microseconds, and
// the ticks that were never delivered (skipped or merged).
struct Lateness {
  std::vector<double> us;
  uint64_t ticks = 0;
  uint64_t skipped = 0;
};

#define BENCH_BACKEND(name)                             \
  Phase name##_chain(int n, int a, uint64_t events);    \
  Phase name##_timer_start(int t);                      \
  Phase name##_timer_stop(int t);                       \
  Phase name##_timer_restart(int t, uint64_t restarts); \
  Phase name##_timer_fire(int t);                       \
  Lateness name##_accuracy(int period_us, int seconds);

BENCH_BACKEND(bare)
BENCH_BACKEND(libev)
BENCH_BACKEND(libuv)
BENCH_BACKEND(ours)

#undef BENCH_BACKEND

// One chain watcher's context and work, the same for every backend: its
// callback gets this from its own context (never from the loop), reads the
// byte from its end and passes it to the next pair. True when the chain has
// carried `target` events.
struct ChainLink {
  int fd = -1;
  int next_wr = -1;
  uint64_t* events = nullptr;
  uint64_t target = 0;
};
inline bool chain_step(const ChainLink& l) {
  char b;
  if (read(l.fd, &b, 1) != 1) return false;
  const ssize_t w = write(l.next_wr, &b, 1);
  (void)w;
  return ++*l.events >= l.target;
}
// n links over the pairs: link i reads fd[i] and writes the peer of i + 1.
std::vector<ChainLink> chain_links(const std::vector<int>& fd, const std::vector<int>& peer,
                                   uint64_t* events, uint64_t target);

// Timer deadlines, the same for every backend: start, stop and restart use
// random delays in [1 s, 2 s); fire uses random, distinct delays in
// [2 ms, 102 ms) (libuv rounds them to its millisecond), then waits
// kFireWaitNs so that all are due, and measures the loop iterations that
// fire them. Nanoseconds, from the same seed.
std::vector<uint64_t> delays_ns(int t, uint64_t lo, uint64_t hi);
constexpr uint64_t kFireLoNs = 2000000, kFireHiNs = 102000000, kFireWaitNs = 105000000;
constexpr uint64_t kSecLoNs = 1000000000, kSecHiNs = 2000000000;

// ops and ns_per_op of a measured part that ran from t1 to t2.
inline void per_op(Phase* ph, uint64_t t1, uint64_t t2, uint64_t ops) {
  ph->ops = ops;
  ph->ns_per_op = static_cast<double>(t2 - t1) / static_cast<double>(ops);
}

// Around the measured part of a phase.
void measure_begin();
void measure_end();
uint64_t now_ns();
// n watched socketpair ends (n/2 pairs, both ends watched): fd[k] is end k,
// peer[k] the other end of its pair. Writing to peer[k] makes fd[k]
// readable. Exits with a message if the fds cannot be had.
void pairs(int n, std::vector<int>* fd, std::vector<int>* peer);
// Raises the open-file limit to its hard maximum (10000 pairs = 20000 fds).
void raise_fd_limit();

// A fixed random sequence (the same for every backend).
struct Rand {
  uint64_t s = 0x9e3779b97f4a7c15ULL;
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  // Uniform in [lo, hi).
  uint64_t in(uint64_t lo, uint64_t hi) { return lo + next() % (hi - lo); }
};

}  // namespace bench
