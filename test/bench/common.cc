#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <valgrind/callgrind.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "test/bench/bench.h"

namespace bench {

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

void pairs(int n, std::vector<int>* fd, std::vector<int>* peer) {
  fd->assign(static_cast<size_t>(n), -1);
  peer->assign(static_cast<size_t>(n), -1);
  for (int k = 0; k + 1 < n; k += 2) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
      std::fprintf(stderr, "bench: socketpair: %s (raise the open-file limit)\n",
                   std::strerror(errno));
      std::exit(1);
    }
    (*fd)[static_cast<size_t>(k)] = sv[0];
    (*fd)[static_cast<size_t>(k) + 1] = sv[1];
    (*peer)[static_cast<size_t>(k)] = sv[1];
    (*peer)[static_cast<size_t>(k) + 1] = sv[0];
  }
}

std::vector<ChainLink> chain_links(const std::vector<int>& fd, const std::vector<int>& peer,
                                   uint64_t* events, uint64_t target) {
  const size_t n = fd.size();
  std::vector<ChainLink> links(n);
  for (size_t i = 0; i < n; ++i) links[i] = ChainLink{fd[i], peer[(i + 1) % n], events, target};
  return links;
}

std::vector<uint64_t> delays_ns(int t, uint64_t lo, uint64_t hi) {
  Rand r;
  std::vector<uint64_t> d(static_cast<size_t>(t));
  for (auto& v : d) v = r.in(lo, hi);
  return d;
}

void raise_fd_limit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &r);
  }
}

void measure_begin() { CALLGRIND_TOGGLE_COLLECT; }
void measure_end() { CALLGRIND_TOGGLE_COLLECT; }

}  // namespace bench
