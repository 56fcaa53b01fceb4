// bazel run -c opt //test/bench -- [--json PATH] [--reps N] [--quick] [--no-instr]
//
// Runs every workload on four backends interleaved (bare, libev, libuv, ours,
// bare, libev, ...) for --reps repetitions, prints medians and min-max with
// the ratios of ours to the floor (bare) and to libev as a Markdown table, and
// writes one JSON object per (workload, parameters, backend). Unless
// --no-instr, each chain/timer phase is also run once more under
// `valgrind --tool=callgrind` (collection switched on only around the
// measured part) to count user-space instructions per operation. The
// system calls per operation come from bench_syscalls, the same code built
// with the counting seam (counting costs ours instructions the other
// backends do not pay, so the measured binary does not count).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "test/bench/bench.h"

namespace {

using bench::Lateness;
using bench::Phase;

const char* const kBackends[] = {"bare", "libev", "libuv", "ours"};

struct Key {
  std::string workload;
  int n = 0, a = 0, t = 0;
  bool operator<(const Key& o) const {
    return std::tie(workload, n, a, t) < std::tie(o.workload, o.n, o.a, o.t);
  }
};

struct Samples {
  std::vector<double> ns;
  std::vector<double> setup_ns;
  double instr = -1;
  Phase last;
  Lateness late;
};

double median(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

Phase run_phase(const std::string& backend, const Key& k, uint64_t ops) {
  if (k.workload == "chain") {
    if (backend == "bare") return bench::bare_chain(k.n, k.a, ops);
    if (backend == "libev") return bench::libev_chain(k.n, k.a, ops);
    if (backend == "libuv") return bench::libuv_chain(k.n, k.a, ops);
    return bench::ours_chain(k.n, k.a, ops);
  }
  if (k.workload == "timer_start") {
    if (backend == "bare") return bench::bare_timer_start(k.t);
    if (backend == "libev") return bench::libev_timer_start(k.t);
    if (backend == "libuv") return bench::libuv_timer_start(k.t);
    return bench::ours_timer_start(k.t);
  }
  if (k.workload == "timer_stop") {
    if (backend == "bare") return bench::bare_timer_stop(k.t);
    if (backend == "libev") return bench::libev_timer_stop(k.t);
    if (backend == "libuv") return bench::libuv_timer_stop(k.t);
    return bench::ours_timer_stop(k.t);
  }
  if (k.workload == "timer_restart") {
    if (backend == "bare") return bench::bare_timer_restart(k.t, ops);
    if (backend == "libev") return bench::libev_timer_restart(k.t, ops);
    if (backend == "libuv") return bench::libuv_timer_restart(k.t, ops);
    return bench::ours_timer_restart(k.t, ops);
  }
  if (backend == "bare") return bench::bare_timer_fire(k.t);
  if (backend == "libev") return bench::libev_timer_fire(k.t);
  if (backend == "libuv") return bench::libuv_timer_fire(k.t);
  return bench::ours_timer_fire(k.t);
}

Lateness run_accuracy(const std::string& backend, int seconds) {
  if (backend == "bare") return bench::bare_accuracy(1000, seconds);
  if (backend == "libev") return bench::libev_accuracy(1000, seconds);
  if (backend == "libuv") return bench::libuv_accuracy(1000, seconds);
  return bench::ours_accuracy(1000, seconds);
}

// Runs this binary under callgrind for one phase; instructions per op.
double count_instructions(const char* self, const std::string& backend, const Key& k, uint64_t ops,
                          const char* env = "") {
  char out[] = "/tmp/evl-bench-cg.XXXXXX";
  const int fd = mkstemp(out);
  if (fd < 0) return -1;
  close(fd);
  char cmd[1024];
  std::snprintf(cmd, sizeof cmd,
                "%svalgrind --tool=callgrind --collect-atstart=no --callgrind-out-file=%s "
                "%s --phase %s %s %d %d %d %llu 2>/dev/null",
                env, out, self, backend.c_str(), k.workload.c_str(), k.n, k.a, k.t,
                static_cast<unsigned long long>(ops));
  FILE* p = popen(cmd, "r");
  if (p == nullptr) return -1;
  unsigned long long done = 0;
  if (std::fscanf(p, "%llu", &done) != 1) done = 0;
  const int status = pclose(p);
  double instr = -1;
  if (status == 0 && done > 0) {
    if (FILE* f = std::fopen(out, "r")) {
      char line[512];
      while (std::fgets(line, sizeof line, f) != nullptr) {
        unsigned long long total = 0;
        if (std::sscanf(line, "totals: %llu", &total) == 1 ||
            std::sscanf(line, "summary: %llu", &total) == 1) {
          instr = static_cast<double>(total) / static_cast<double>(done);
        }
      }
      std::fclose(f);
    }
  }
  std::remove(out);
  return instr;
}

// One phase of ours in another binary (bench_recorder); its ns per op.
double run_in(const std::string& bin, const Key& k, uint64_t ops, const char* env) {
  char cmd[1024];
  std::snprintf(cmd, sizeof cmd, "%s%s --phase ours %s %d %d %d %llu 2>/dev/null", env, bin.c_str(),
                k.workload.c_str(), k.n, k.a, k.t, static_cast<unsigned long long>(ops));
  FILE* p = popen(cmd, "r");
  if (p == nullptr) return -1;
  unsigned long long done = 0;
  double ns = -1;
  if (std::fscanf(p, "%llu %lf", &done, &ns) != 2) ns = -1;
  return pclose(p) == 0 ? ns : -1;
}

// The flight recorder's rows: the chain at n 1000 and 10000, a 1 and 100.
bool recorder_row(const Key& k) { return k.workload == "chain" && k.n >= 1000; }
constexpr const char* kRecorder = "ours+recorder";
constexpr const char* kRecorderOff = "ours+recorder-off";  // linked, not started
constexpr const char* kOff = "EVL_BENCH_RECORDER=off ";

// The system-call figures of ours from bench_syscalls (--syscalls): the
// chain's per event and per watcher start, the restarts' timerfd_settime.
struct SyscallFigures {
  Phase chain, restart;
};

bool run_syscalls(const std::string& bin, SyscallFigures* f) {
  FILE* p = popen((bin + " --syscalls 2>/dev/null").c_str(), "r");
  if (p == nullptr) return false;
  const int got = std::fscanf(p, "%lf %lf %lf %lf %lf", &f->chain.syscalls_per_op,
                              &f->chain.epoll_waits_per_op, &f->chain.timerfd_arms_per_op,
                              &f->chain.epoll_ctls_per_watcher, &f->restart.timerfd_arms_per_op);
  return pclose(p) == 0 && got == 5;
}

std::string num(double v, int digits = 1) {
  if (v < 0) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  bench::raise_fd_limit();
  if (argc == 8 && std::strcmp(argv[1], "--phase") == 0) {
    Key k{argv[3], std::atoi(argv[4]), std::atoi(argv[5]), std::atoi(argv[6])};
    const Phase ph = run_phase(argv[2], k, std::strtoull(argv[7], nullptr, 10));
    std::printf("%llu %.3f\n", static_cast<unsigned long long>(ph.ops), ph.ns_per_op);
    return 0;
  }
  if (argc == 2 && std::strcmp(argv[1], "--syscalls") == 0) {
#ifdef EVL_SYSCALL_COUNTERS
    const Phase c = run_phase("ours", Key{"chain", 1000, 1, 0}, 20000);
    const Phase r = run_phase("ours", Key{"timer_restart", 0, 0, 100000}, 1000000);
    std::printf("%.4f %.4f %.4f %.4f %.6f\n", c.syscalls_per_op, c.epoll_waits_per_op,
                c.timerfd_arms_per_op, c.epoll_ctls_per_watcher, r.timerfd_arms_per_op);
    return 0;
#else
    std::fprintf(stderr, "bench: --syscalls needs the counting seam (bench_syscalls)\n");
    return 2;
#endif
  }
  const char* json = nullptr;
  int reps = 3;
  bool quick = false;
  bool instr = true;
  int acc_seconds = 2;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
      json = argv[++i];
    } else if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
      acc_seconds = 1;
    } else if (std::strcmp(argv[i], "--no-instr") == 0) {
      instr = false;
    } else {
      std::fprintf(stderr, "bench: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  const uint64_t chain_events = quick ? 20000 : 200000;
  const uint64_t restarts = quick ? 100000 : 1000000;
  std::vector<Key> keys;
  for (int n : {100, 1000, 10000}) {
    for (int a : {1, 100}) keys.push_back(Key{"chain", n, a, 0});
  }
  for (const char* w : {"timer_start", "timer_stop", "timer_restart"}) {
    for (int t : {1000, 10000, 100000}) keys.push_back(Key{w, 0, 0, t});
  }
  for (int t : {1000, 10000, 100000}) keys.push_back(Key{"timer_fire", 0, 0, t});
  char self[4096] = {};
  if (readlink("/proc/self/exe", self, sizeof self - 1) <= 0) instr = false;
  // bench_recorder sits beside this binary (a data dependency).
  std::string recorder = self;
  recorder = recorder.substr(0, recorder.rfind('/') + 1) + "bench_recorder";
  const bool with_recorder = self[0] != '\0' && access(recorder.c_str(), X_OK) == 0;
  const std::string counted = recorder.substr(0, recorder.rfind('/') + 1) + "bench_syscalls";
  std::map<std::pair<Key, std::string>, Samples> res;
  for (int r = 0; r < reps; ++r) {
    for (const Key& k : keys) {
      for (const char* b : kBackends) {
        const uint64_t ops = k.workload == "chain" ? chain_events : restarts;
        const Phase ph = run_phase(b, k, ops);
        Samples& s = res[{k, b}];
        s.ns.push_back(ph.ns_per_op);
        s.setup_ns.push_back(ph.setup_ns_per_watcher);
        s.last = ph;
      }
      if (with_recorder && recorder_row(k)) {
        res[{k, kRecorder}].ns.push_back(run_in(recorder, k, chain_events, ""));
        res[{k, kRecorderOff}].ns.push_back(run_in(recorder, k, chain_events, kOff));
      }
    }
    std::fprintf(stderr, "bench: repetition %d of %d done\n", r + 1, reps);
  }
  const Key acc{"accuracy", 0, 0, 0};
  for (int r = 0; r < reps; ++r) {
    for (const char* b : kBackends) {
      Lateness l = run_accuracy(b, acc_seconds);
      Samples& s = res[{acc, b}];
      s.late.us.insert(s.late.us.end(), l.us.begin(), l.us.end());
      s.late.ticks += l.ticks;
      s.late.skipped += l.skipped;
    }
  }
  if (instr) {
    std::fprintf(stderr, "bench: counting instructions under callgrind...\n");
    for (const Key& k : keys) {
      for (const char* b : kBackends) {
        const uint64_t ops = k.workload == "chain" ? 20000 : 100000;
        res[{k, b}].instr = count_instructions(self, b, k, ops);
      }
      if (with_recorder && recorder_row(k)) {
        res[{k, kRecorder}].instr = count_instructions(recorder.c_str(), "ours", k, 20000);
        res[{k, kRecorderOff}].instr = count_instructions(recorder.c_str(), "ours", k, 20000, kOff);
      }
    }
  }
  // The Markdown table.
  std::printf(
      "| workload | n | a | t | backend | ns/op median | min-max | instr/op | setup ns/watcher | "
      "ours/bare | ours/libev |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Key& k : keys) {
    const double bare = median(res[{k, "bare"}].ns);
    const double ev = median(res[{k, "libev"}].ns);
    const double ibare = res[{k, "bare"}].instr;
    const double iev = res[{k, "libev"}].instr;
    for (const char* b : kBackends) {
      Samples& s = res[{k, b}];
      const double m = median(s.ns);
      const auto mm = std::minmax_element(s.ns.begin(), s.ns.end());
      std::string ratio_bare = "", ratio_ev = "";
      if (std::strcmp(b, "ours") == 0) {
        ratio_bare = num(m / bare, 2) + " ns";
        ratio_ev = num(m / ev, 2) + " ns";
        if (s.instr > 0 && ibare > 0) ratio_bare += ", " + num(s.instr / ibare, 2) + " instr";
        if (s.instr > 0 && iev > 0) ratio_ev += ", " + num(s.instr / iev, 2) + " instr";
      }
      std::printf("| %s | %s | %s | %s | %s | %s | %s-%s | %s | %s | %s | %s |\n",
                  k.workload.c_str(), k.n ? std::to_string(k.n).c_str() : "",
                  k.a ? std::to_string(k.a).c_str() : "", k.t ? std::to_string(k.t).c_str() : "", b,
                  num(m).c_str(), num(*mm.first).c_str(), num(*mm.second).c_str(),
                  num(s.instr).c_str(),
                  k.workload == "chain" ? num(median(s.setup_ns)).c_str() : "", ratio_bare.c_str(),
                  ratio_ev.c_str());
    }
  }
  std::printf(
      "\n| accuracy (1 ms periodic, %d x %d s) | p50 us | p99 us | max us | ticks | skipped |\n",
      reps, acc_seconds);
  std::printf("|---|---|---|---|---|---|\n");
  for (const char* b : kBackends) {
    const Samples& s = res[{acc, b}];
    std::printf("| %s | %s | %s | %s | %llu | %llu |\n", b, num(percentile(s.late.us, 0.5)).c_str(),
                num(percentile(s.late.us, 0.99)).c_str(), num(percentile(s.late.us, 1.0)).c_str(),
                static_cast<unsigned long long>(s.late.ticks),
                static_cast<unsigned long long>(s.late.skipped));
  }
  if (with_recorder) {
    std::printf(
        "\n| flight recorder: ours' chain with //hal:sys_record, off (linked, not started) and "
        "on (every seam call recorded into a 1 MiB ring) | n | a | ours instr/event | off | on | "
        "on: more | ours ns/event | off | on |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (const Key& k : keys) {
      if (!recorder_row(k)) continue;
      const Samples& o = res[{k, "ours"}];
      const Samples& f = res[{k, kRecorderOff}];
      const Samples& c = res[{k, kRecorder}];
      const std::string more =
          o.instr > 0 && c.instr > 0 ? num(100 * (c.instr / o.instr - 1), 1) + "%" : "-";
      std::printf("| chain | %d | %d | %s | %s | %s | %s | %s | %s | %s |\n", k.n, k.a,
                  num(o.instr).c_str(), num(f.instr).c_str(), num(c.instr).c_str(), more.c_str(),
                  num(median(o.ns)).c_str(), num(median(f.ns)).c_str(), num(median(c.ns)).c_str());
    }
  }
  SyscallFigures sf;
  if (!run_syscalls(counted, &sf)) {
    std::fprintf(stderr, "bench: no system-call figures from %s\n", counted.c_str());
    return 1;
  }
  res[{Key{"chain", 1000, 1, 0}, "ours"}].last.syscalls_per_op = sf.chain.syscalls_per_op;
  const Phase& oc = sf.chain;
  std::printf(
      "\nours, chain n=1000 a=1: %.3f loop system calls/event (the callbacks' read and write "
      "not counted), %.4f epoll_wait/event, "
      "%.4f timerfd_settime/event, %.2f epoll_ctl per io watcher start\n",
      oc.syscalls_per_op, oc.epoll_waits_per_op, oc.timerfd_arms_per_op, oc.epoll_ctls_per_watcher);
  const Phase& orr = sf.restart;
  std::printf("ours, timer_restart t=100000: %.6f timerfd_settime per restart\n",
              orr.timerfd_arms_per_op);
  if (json != nullptr) {
    FILE* f = std::fopen(json, "w");
    if (f == nullptr) {
      std::fprintf(stderr, "bench: cannot write %s\n", json);
      return 1;
    }
    std::fprintf(f, "[\n");
    bool first = true;
    for (const auto& e : res) {
      const Key& k = e.first.first;
      const Samples& s = e.second;
      std::fprintf(
          f, "%s  {\"workload\": \"%s\", \"backend\": \"%s\", \"n\": %d, \"a\": %d, \"t\": %d",
          first ? "" : ",\n", k.workload.c_str(), e.first.second.c_str(), k.n, k.a, k.t);
      if (k.workload == "accuracy") {
        std::fprintf(f,
                     ", \"p50_us\": %.2f, \"p99_us\": %.2f, \"max_us\": %.2f, \"ticks\": %llu, "
                     "\"skipped\": %llu}",
                     percentile(s.late.us, 0.5), percentile(s.late.us, 0.99),
                     percentile(s.late.us, 1.0), static_cast<unsigned long long>(s.late.ticks),
                     static_cast<unsigned long long>(s.late.skipped));
      } else {
        const auto mm = std::minmax_element(s.ns.begin(), s.ns.end());
        std::fprintf(f, ", \"ns_per_op\": %.2f, \"ns_min\": %.2f, \"ns_max\": %.2f", median(s.ns),
                     *mm.first, *mm.second);
        if (s.instr > 0) std::fprintf(f, ", \"instr_per_op\": %.1f", s.instr);
        if (k.workload == "chain")
          std::fprintf(f, ", \"setup_ns_per_watcher\": %.1f", median(s.setup_ns));
        if (s.last.syscalls_per_op >= 0)
          std::fprintf(f, ", \"syscalls_per_op\": %.4f", s.last.syscalls_per_op);
        std::fprintf(f, "}");
      }
      first = false;
    }
    std::fprintf(f, "\n]\n");
    std::fclose(f);
  }
  return 0;
}
