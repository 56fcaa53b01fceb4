// Time units and saturating arithmetic on int64 nanoseconds.
//
// Every time in evl is int64 nanoseconds. Values that come from outside
// (options, environment, a peer) are converted with the saturating helpers
// below: a result past the representable range becomes kForever, which the
// timers read as "never", instead of wrapping into the past.
#pragma once

#include <cstdint>

namespace evl {

constexpr int64_t kUs = 1000;         // ns in a microsecond
constexpr int64_t kMs = 1000 * kUs;   // ns in a millisecond
constexpr int64_t kSec = 1000 * kMs;  // ns in a second
constexpr int64_t kForever = INT64_MAX;
constexpr int64_t kForeverNeg = -INT64_MAX;

// a + b, clamped to [-INT64_MAX, INT64_MAX].
constexpr int64_t add_sat(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? kForever : kForeverNeg;
  return r < kForeverNeg ? kForeverNeg : r;
}

// v * unit, clamped to [-INT64_MAX, INT64_MAX].
constexpr int64_t mul_sat(int64_t v, int64_t unit) {
  int64_t r = 0;
  if (__builtin_mul_overflow(v, unit, &r)) return (v < 0) != (unit < 0) ? kForeverNeg : kForever;
  return r < kForeverNeg ? kForeverNeg : r;
}

constexpr int64_t ms_to_ns(int64_t ms) { return mul_sat(ms, kMs); }
constexpr int64_t us_to_ns(int64_t us) { return mul_sat(us, kUs); }

}  // namespace evl
