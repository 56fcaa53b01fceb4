// Reading the clocks through the seam, in int64 nanoseconds.
#pragma once

#include <cstdint>

#include "hal/sys.h"
#include "loop/time.h"

namespace evl {

// Nanoseconds on clock_id; 0 if the clock cannot be read.
inline int64_t now_ns(int clock_id) {
  hal::Timespec ts{0, 0};
  if (hal::clock_gettime(clock_id, &ts) < 0) return 0;
  return ts.sec * kSec + ts.nsec;
}

}  // namespace evl
