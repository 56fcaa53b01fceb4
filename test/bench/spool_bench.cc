// How long telemetry's loop is held by one spool write (--spool,
// --spool-every-s): save_spool() of a full store (the write, the fsync and
// the rename the daemon makes) timed on the storage given, so that a team
// can measure its board's flash before choosing --spool-every-s:
//
//   bazel build -c opt --config=armv7 //test/bench:spool_bench   # then on the board:
//   spool_bench /var/lib/evl/bench.spool [RECORDS] [TIMES]
//
// Prints the records, the file's bytes and the milliseconds per write
// (median, max) over TIMES writes; removes its file.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "apps/telemetry/spool.h"
#include "apps/telemetry/store.h"
#include "hal/sys.h"
#include "loop/clock.h"

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
  (void)hal::unlink(argv[1]);
  std::sort(ms.begin(), ms.end());
  const long bytes = static_cast<long>(sizeof(telemetry::SpoolHeader)) +
                     records * static_cast<long>(sizeof(nmea::Record));
  std::printf(
      "spool_bench: %ld records, %ld bytes a write; ms per write over %ld: median %.2f, "
      "max %.2f\n",
      records, bytes, times, ms[ms.size() / 2], ms.back());
  return 0;
}
