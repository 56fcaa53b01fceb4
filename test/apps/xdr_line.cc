#include "test/apps/xdr_line.h"

#include <cstdio>
#include <cstring>

#include "apps/nmea/nmea.h"

namespace testxdr {

int line(int whole, int hundredths, char* out, size_t cap) {
  char body[64];
  const int n = std::snprintf(body, sizeof body, "IIXDR,C,%d.%02d,C,T", whole, hundredths);
  const unsigned sum = nmea::nmea_checksum(body, static_cast<size_t>(n));
  return std::snprintf(out, cap, "$%s*%02X\r\n", body, sum);
}

}  // namespace testxdr
