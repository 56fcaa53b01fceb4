// One XDR temperature sentence as a sensor sends it, for the tests that feed
// telemetry: "$IIXDR,C,<whole>.<hundredths>,C,T*HH\r\n", the checksum from
// the parser's own nmea::nmea_checksum.
#pragma once

#include <cstddef>

namespace testxdr {

// Writes the line into out (NUL-terminated) and returns its length.
int line(int whole, int hundredths, char* out, size_t cap);

}  // namespace testxdr
