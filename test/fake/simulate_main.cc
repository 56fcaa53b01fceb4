// bazel run //test/fake:simulate -- --first-seed S --seeds N [--scenario NAME]
//     [--virtual-seconds T] [--check-determinism] [--threads K] [--list]
//
// Runs a scenario once per seed (S, S+1, ... S+N-1), prints one line per
// failing seed with the command that replays it, and ends with
// "N passed, F failed"; exits 1 if any failed, 2 on bad arguments.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "test/fake/simulate.h"

namespace {

struct Options {
  uint64_t first_seed = 1;
  uint64_t seeds = 100;
  std::string scenario = "loop";
  int64_t virtual_seconds = 30;
  bool determinism = false;
  int threads = 2;
};

bool parse_u64(const char* s, uint64_t* out) {
  if (s == nullptr || *s == '\0') return false;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s, &end, 0);
  if (*end != '\0') return false;
  *out = v;
  return true;
}

int usage(const char* why) {
  std::fprintf(stderr, "simulate: %s\n", why);
  std::fprintf(stderr,
               "usage: simulate [--first-seed S] [--seeds N] [--scenario NAME] "
               "[--virtual-seconds T] [--check-determinism] [--threads K] [--list]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    uint64_t n = 0;
    if (a == "--list") {
      for (sim::Scenario* s = sim::first_scenario(); s != nullptr; s = s->next) {
        std::printf("%-12s %s\n", s->name, s->about);
      }
      return 0;
    } else if (a == "--check-determinism") {
      o.determinism = true;
    } else if (a == "--first-seed" && parse_u64(v, &n)) {
      o.first_seed = n;
      ++i;
    } else if (a == "--seeds" && parse_u64(v, &n) && n > 0) {
      o.seeds = n;
      ++i;
    } else if (a == "--virtual-seconds" && parse_u64(v, &n) && n > 0 && n < 10000000) {
      o.virtual_seconds = static_cast<int64_t>(n);
      ++i;
    } else if (a == "--threads" && parse_u64(v, &n) && n > 0 && n <= 64) {
      o.threads = static_cast<int>(n);
      ++i;
    } else if (a == "--scenario" && v != nullptr) {
      o.scenario = v;
      ++i;
    } else {
      return usage(("bad argument: " + a).c_str());
    }
  }
  const sim::Scenario* sc = sim::find_scenario(o.scenario.c_str());
  if (sc == nullptr) return usage(("no scenario named " + o.scenario + " (see --list)").c_str());

  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> iterations{0};
  std::mutex print;
  const auto start = std::chrono::steady_clock::now();
  auto worker = [&]() {
    for (;;) {
      const uint64_t i = next.fetch_add(1);
      if (i >= o.seeds) return;
      const uint64_t seed = o.first_seed + i;
      sim::Result r = sc->run(seed, o.virtual_seconds);
      if (r.ok && o.determinism) {
        const sim::Result again = sc->run(seed, o.virtual_seconds);
        if (again.trace_hash != r.trace_hash || again.iterations != r.iterations) {
          r.ok = false;
          r.failure = "not deterministic: two runs of the seed made different system calls";
        }
      }
      iterations += r.iterations;
      if (!r.ok) {
        ++failed;
        std::lock_guard<std::mutex> lock(print);
        std::printf(
            "seed %llu FAILED: %s\n  replay: bazel run //test/fake:simulate -- "
            "--first-seed %llu --seeds 1 --scenario %s --virtual-seconds %lld\n",
            static_cast<unsigned long long>(seed), r.failure.c_str(),
            static_cast<unsigned long long>(seed), sc->name,
            static_cast<long long>(o.virtual_seconds));
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < o.threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "scenario %s: %llu seeds x %lld virtual s, %llu loop iterations in %.2f s "
      "(%.0f iterations/s, %d threads)\n",
      sc->name, static_cast<unsigned long long>(o.seeds), static_cast<long long>(o.virtual_seconds),
      static_cast<unsigned long long>(iterations.load()), secs,
      secs > 0 ? static_cast<double>(iterations.load()) / secs : 0.0, o.threads);
  std::printf("%llu passed, %llu failed\n",
              static_cast<unsigned long long>(o.seeds - failed.load()),
              static_cast<unsigned long long>(failed.load()));
  return failed.load() == 0 ? 0 : 1;
}
