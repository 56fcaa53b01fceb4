#include "apps/telemetry/store.h"

#include <cassert>
#include <cerrno>

#include "loop/time.h"

namespace telemetry {

// Removes the record just after the batch in flight: the batch's records
// move up one place, so the ring stays contiguous (at most batch_max moves).
void Store::drop_oldest_waiting() {
  for (size_t i = in_flight_; i > 0; --i) {
    ring_[(head_ + i) % kMaxRecords] = ring_[(head_ + i - 1) % kMaxRecords];
  }
  head_ = (head_ + 1) % kMaxRecords;
  --size_;
  ++dropped_;
  if (sent_ > in_flight_) {  // it went out before: it may have arrived
    ++dropped_after_send_;
    --sent_;
  }
}

bool Store::push(const nmea::Record& r) {
  ++accepted_;
  bool dropped = false;
  if (size_ == limit_) {
    dropped = true;
    if (in_flight_ == size_) {
      ++dropped_;  // everything buffered is on its way: the newcomer goes
      assert(consistent());
      return true;
    }
    drop_oldest_waiting();
  }
  ring_[(head_ + size_) % kMaxRecords] = r;
  ++size_;
  assert(consistent());
  return dropped;
}

int Store::begin_batch(size_t n) {
  if (in_flight_ > 0) return -EBUSY;
  if (n == 0 || n > size_) return -EINVAL;
  in_flight_ = n;
  return 0;
}

void Store::commit() {
  head_ = (head_ + in_flight_) % kMaxRecords;
  size_ -= in_flight_;
  delivered_ += in_flight_;
  sent_ = sent_ > in_flight_ ? sent_ - in_flight_ : 0;
  in_flight_ = 0;
  assert(consistent());
}

void Store::discard() {
  head_ = (head_ + in_flight_) % kMaxRecords;
  size_ -= in_flight_;
  dropped_ += in_flight_;  // (refused by the collector: not there)
  sent_ = sent_ > in_flight_ ? sent_ - in_flight_ : 0;
  in_flight_ = 0;
  assert(consistent());
}

size_t Store::apply_step(int64_t step_ns, int64_t before_ns) {
  size_t moved = 0;
  for (size_t i = 0; i < size_; ++i) {
    nmea::Record& r = ring_[(head_ + i) % kMaxRecords];
    if (r.wall_ns < before_ns) {
      r.wall_ns = evl::add_sat(r.wall_ns, step_ns);
      ++moved;
    }
  }
  return moved;
}

static_assert(sizeof(nmea::Record) == 72, "a record has one layout on every target");

void Store::save(flight::SnapWriter& w) const {
  w.put(static_cast<uint32_t>(size_));
  w.put(static_cast<uint32_t>(in_flight_));
  w.put(accepted_);
  w.put(delivered_);
  w.put(dropped_);
  w.put(static_cast<uint32_t>(sent_));
  w.put(dropped_after_send_);
  for (size_t i = 0; i < size_; ++i) w.put(at(i));
}

bool Store::restore(flight::SnapReader& r) {
  uint32_t size = 0;
  uint32_t in_flight = 0;
  uint32_t sent = 0;
  if (!r.get(&size) || !r.get(&in_flight) || size > limit_ || in_flight > size ||
      !r.get(&accepted_) || !r.get(&delivered_) || !r.get(&dropped_) || !r.get(&sent) ||
      sent > size || !r.get(&dropped_after_send_) || dropped_after_send_ > dropped_) {
    return false;
  }
  sent_ = sent;
  head_ = 0;
  for (size_ = 0; size_ < size; ++size_) {
    if (!r.get(&ring_[size_])) return false;
  }
  in_flight_ = in_flight;
  return consistent();
}

}  // namespace telemetry
