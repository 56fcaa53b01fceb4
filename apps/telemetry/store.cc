#include "apps/telemetry/store.h"

namespace telemetry {

bool Store::push(const Record& r) {
  bool dropped = false;
  if (size_ == limit_) {
    head_ = (head_ + 1) % kMaxRecords;
    --size_;
    ++dropped_;
    if (in_flight > 0) --in_flight;  // the dropped one was being sent: it no longer counts
    dropped = true;
  }
  ring_[(head_ + size_) % kMaxRecords] = r;
  ++size_;
  ++accepted_;
  return dropped;
}

void Store::commit(size_t n) {
  if (n > size_) n = size_;
  head_ = (head_ + n) % kMaxRecords;
  size_ -= n;
  delivered_ += n;
  in_flight = in_flight > n ? in_flight - n : 0;
}

size_t Store::apply_step(int64_t step_ns, int64_t before_ns) {
  size_t moved = 0;
  for (size_t i = 0; i < size_; ++i) {
    Record& r = ring_[(head_ + i) % kMaxRecords];
    if (r.wall_ns < before_ns) {
      r.wall_ns += step_ns;
      ++moved;
    }
  }
  return moved;
}

}  // namespace telemetry
