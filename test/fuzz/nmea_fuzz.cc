// Fuzz target: NMEA bytes from a serial line. What must hold: an accepted
// sentence's checksum matches its body, values lie in their ranges, and the
// reader never hands out more than it was fed.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "apps/nmea/nmea.h"

namespace {

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void check(bool ok) {
  if (!ok) std::abort();
}

void on_sentence(const char* s, size_t len, void*) {
  check(len >= 1 && len <= nmea::kMaxSentence && s[0] == '$');
  nmea::Record r;
  nmea::Bad why = nmea::Bad::kCount;
  if (nmea::parse_sentence(s, len, &r, &why) < 0) {
    check(why < nmea::Bad::kCount);
    return;
  }
  // Accepted: a checksum mismatch is never accepted.
  check(len >= 4 && s[len - 3] == '*');
  const int sum = hexval(s[len - 2]) << 4 | hexval(s[len - 1]);
  check(sum == nmea::nmea_checksum(s + 1, len - 4));
  check(r.fix <= 8);
  if ((r.has & nmea::kHasPosition) != 0) {
    check(std::isfinite(r.lat) && r.lat >= -90 && r.lat <= 90);
    check(std::isfinite(r.lon) && r.lon >= -180 && r.lon <= 180);
  }
  if ((r.has & nmea::kHasTemp) != 0) check(r.temp_c >= -60 && r.temp_c <= 100);
  if ((r.has & nmea::kHasHumidity) != 0) check(r.humidity_pct >= 0 && r.humidity_pct <= 100);
}

void on_bad(nmea::Bad why, void*) { check(why < nmea::Bad::kCount); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nmea::NmeaReader reader(on_sentence, on_bad, nullptr);
  reader.feed(data, size);
  return 0;
}
