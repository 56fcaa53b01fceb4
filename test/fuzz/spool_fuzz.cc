// Fuzz target: telemetry's spool file (--spool PATH), as load_spool reads
// it from disk on the fake kernel. The first byte chooses the store's
// limit and whether the header's checksum is made to hold (so that the
// fuzzer reaches the records' own checks: it cannot find an FNV-1a by
// itself). What must hold: 0, -EINVAL with a one-line reason, or an errno;
// a refused file leaves the store empty; a loaded one leaves it
// consistent, within its limit, with every record one telemetry makes.
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>

#include "apps/telemetry/spool.h"
#include "apps/telemetry/store.h"
#include "test/fake/kernel.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t limit = 1 + data[0] % 16;
  const bool fix_checksum = (data[0] & 0x80) != 0;
  std::string file(reinterpret_cast<const char*>(data) + 1, size - 1);
  constexpr size_t kHead = sizeof(telemetry::SpoolHeader);
  if (fix_checksum && file.size() >= kHead) {
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = kHead; i < file.size(); ++i) {
      h = (h ^ static_cast<uint8_t>(file[i])) * 1099511628211ULL;
    }
    std::memcpy(&file[offsetof(telemetry::SpoolHeader, checksum)], &h, sizeof h);
  }
  fake::Kernel k;
  k.add_regular_path("/var/lib/evl/telemetry.spool", file);
  static telemetry::Store store(1);  // 4096 records: static, not on the stack
  store = telemetry::Store(limit);
  telemetry::SpoolLoaded got;
  char err[160] = {};
  const int r = telemetry::load_spool(&store, "/var/lib/evl/telemetry.spool", "board-7", &got, err,
                                      sizeof err);
  if (r == -EINVAL) {
    if (err[0] == '\0' || std::strchr(err, '\n') != nullptr) std::abort();
    if (got.records != 0 || store.size() != 0) std::abort();
    return 0;
  }
  if (r != 0) std::abort();  // the fake kernel has no read error to give
  if (!store.consistent() || store.size() > limit || got.dropped > got.records) std::abort();
  if (store.size() != got.records - got.dropped) std::abort();
  for (size_t i = 0; i < store.size(); ++i) {
    const nmea::Record& rec = store.at(i);
    for (double v : {rec.lat, rec.lon, rec.alt_m, rec.speed_kn, rec.temp_c, rec.humidity_pct,
                     rec.pressure_bar}) {
      if (!std::isfinite(v)) std::abort();
    }
  }
  return 0;
}
