// What one spool write (--spool, --spool-every-s) costs: save_spool() of a
// full store (the write, the fsync and the rename) timed on the storage
// given, which is how long a checkpoint's writer runs (and how long the
// loop is held at stop, and by a checkpoint when no child can be made);
// and what the loop pays for a checkpoint written by a child process
// (hal::run_in_child, as telemetry does): the fork, timed in the parent.
// So that a team can measure its board's flash before choosing
// --spool-every-s:
//
//   bazel build -c opt --config=armv7 //test/bench:spool_bench   # then on the board:
//   spool_bench /var/lib/evl/bench.spool [RECORDS] [TIMES]
//
// Prints the records, the file's bytes and the milliseconds per write and
// per fork (median, max) over TIMES each; removes its file. (This process
// is smaller than the daemon: the daemon's fork copies more page tables.)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "apps/telemetry/spool.h"
#include "apps/telemetry/store.h"
#include "hal/sys.h"
#include "loop/clock.h"

namespace {
struct Job {
  const telemetry::Store* store;
  const char* path;
};
int write_in_child(void* ctx) {
  const auto* j = static_cast<const Job*>(ctx);
  return telemetry::save_spool(*j->store, j->path, "bench");
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr, "usage: spool_bench PATH [RECORDS (default 4096)] [TIMES (default 20)]\n");
    return 2;
  }
  const long records = argc > 2 ? std::strtol(argv[2], nullptr, 10) : 4096;
  const long times = argc > 3 ? std::strtol(argv[3], nullptr, 10) : 20;
  if (records < 1 || records > 1000000 || times < 1 || times > 100000) {
    std::fprintf(stderr, "spool_bench: RECORDS 1..1000000, TIMES 1..100000\n");
    return 2;
  }
  std::unique_ptr<telemetry::Store> store(new telemetry::Store(static_cast<size_t>(records)));
  for (long i = 0; i < records; ++i) {
    nmea::Record r;
    r.kind = nmea::Kind::kEnv;
    r.has = nmea::kHasTemp;
    r.wall_ns = 1798761600LL * evl::kSec + i * evl::kSec;
    r.temp_c = 20.0 + static_cast<double>(i % 100) / 10.0;
    (void)store->push(r);
  }
  std::vector<double> ms;
  for (long t = 0; t < times; ++t) {
    const int64_t t1 = evl::now_ns(hal::kClockMonotonic);
    if (const int r = telemetry::save_spool(*store, argv[1], "bench"); r < 0) {
      std::fprintf(stderr, "spool_bench: cannot write %s: error %d\n", argv[1], -r);
      return 1;
    }
    ms.push_back(static_cast<double>(evl::now_ns(hal::kClockMonotonic) - t1) / 1e6);
  }
  std::vector<double> fork_ms;
  Job job{store.get(), argv[1]};
  for (long t = 0; t < times; ++t) {
    int pid = 0;
    const int64_t t1 = evl::now_ns(hal::kClockMonotonic);
    if (const int r = hal::run_in_child(write_in_child, &job, &pid); r < 0) {
      std::fprintf(stderr, "spool_bench: no child process: error %d\n", -r);
      return 1;
    }
    fork_ms.push_back(static_cast<double>(evl::now_ns(hal::kClockMonotonic) - t1) / 1e6);
    int status = 0;
    if (hal::waitpid(pid, &status, 0) != pid || !hal::exited_normally(status) ||
        hal::exit_status(status) != 0) {
      std::fprintf(stderr, "spool_bench: the child's write failed (status %d)\n", status);
      return 1;
    }
  }
  (void)hal::unlink(argv[1]);
  std::sort(ms.begin(), ms.end());
  std::sort(fork_ms.begin(), fork_ms.end());
  const long bytes = static_cast<long>(sizeof(telemetry::SpoolHeader)) +
                     records * static_cast<long>(sizeof(nmea::Record));
  std::printf(
      "spool_bench: %ld records, %ld bytes a write; ms per write over %ld: median %.2f, "
      "max %.2f; the loop's share of a child's write (run_in_child): median %.3f, max %.3f\n",
      records, bytes, times, ms[ms.size() / 2], ms.back(), fork_ms[fork_ms.size() / 2],
      fork_ms.back());
  return 0;
}
