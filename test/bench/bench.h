// The benchmark workloads, one implementation per backend (bare epoll,
// libev, libuv, ours). Each function measures its own phase: wall time with
// CLOCK_MONOTONIC, and, when run under callgrind, user-space instructions
// (collection is switched on only around the measured part).
#pragma once

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
  Phase name##_timer_restart(int t, uint64_t restarts); \
  Phase name##_timer_fire(int t);                       \
  Lateness name##_accuracy(int period_us, int seconds);

BENCH_BACKEND(bare)
BENCH_BACKEND(libev)
BENCH_BACKEND(libuv)
BENCH_BACKEND(ours)

#undef BENCH_BACKEND

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
