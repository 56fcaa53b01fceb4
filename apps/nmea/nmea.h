// NMEA 0183 input: a line assembler that resynchronises after garbage, and a
// parser for GGA, RMC and XDR with checksum and range checks.
//
// The assembler takes raw serial bytes. A sentence starts at '$' and ends at
// CR or LF. Bytes outside a sentence that are not line ends are noise; a
// sentence longer than kMaxSentence (NMEA's 82 characters, with margin), or
// one holding a byte outside printable ASCII (a framing error arrives as NUL),
// is counted and dropped, and reading resumes at the next '$'.
#pragma once

#include <cstddef>
#include <cstdint>

#include "apps/nmea/record.h"
#include "hal/snapshot.h"

namespace nmea {

enum class Bad : uint8_t {
  kChecksum = 0,  // *HH does not match the sentence
  kSyntax,        // cut short (no *HH, or a new '$' before the line end), fields not numbers
  kRange,         // a value outside what the sensor can report
  kTooLong,       // no line end within kMaxSentence bytes
  kNoise,         // bytes outside any sentence, or binary bytes inside one
  kUnknown,       // a valid sentence of a type we do not use
  kCount,
};
const char* bad_name(Bad b);

constexpr size_t kMaxSentence = 120;

// Parses one sentence ("$GPGGA,...*hh", without the line end). 0 and *out
// filled, or the reason it is bad.
[[nodiscard]] int parse_sentence(const char* s, size_t len, Record* out, Bad* why);

// The checksum of the bytes between '$' and '*'.
uint8_t nmea_checksum(const char* body, size_t len);

class NmeaReader {
 public:
  using SentenceFn = void (*)(const char* s, size_t len, void* ctx);
  using BadFn = void (*)(Bad why, void* ctx);
  NmeaReader(SentenceFn on_sentence, BadFn on_bad, void* ctx)
      : on_sentence_(on_sentence), on_bad_(on_bad), ctx_(ctx) {}
  void feed(const uint8_t* data, size_t len);
  // Snapshots (hal/flight.h): the sentence being read. restore() is false
  // for bytes it cannot use.
  void save(flight::SnapWriter& w) const;
  [[nodiscard]] bool restore(flight::SnapReader& r);

 private:
  void byte(uint8_t b);
  SentenceFn on_sentence_;
  BadFn on_bad_;
  void* ctx_;
  char buf_[kMaxSentence] = {};
  size_t len_ = 0;
  bool in_sentence_ = false;
  bool dropping_ = false;   // inside an overlong or binary sentence
  bool noise_run_ = false;  // already counted the current run of noise
};

}  // namespace nmea
