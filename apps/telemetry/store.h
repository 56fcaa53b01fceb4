// The store-and-forward buffer: a fixed ring of records. When it is full the
// oldest record is dropped and counted; records leave only when the caller
// says they were delivered (commit). A wall-clock step moves the stamps of
// the records taken before it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "apps/telemetry/record.h"

namespace telemetry {

constexpr size_t kMaxRecords = 4096;  // compile-time ceiling of --buffer-records

class Store {
 public:
  // limit: 1..kMaxRecords.
  explicit Store(size_t limit) : limit_(limit < 1 ? 1 : (limit > kMaxRecords ? kMaxRecords : limit)) {}
  // Accepts a record; returns true if an old one was dropped to make room.
  bool push(const Record& r);
  size_t size() const { return size_; }
  size_t limit() const { return limit_; }
  const Record& at(size_t i) const { return ring_[(head_ + i) % kMaxRecords]; }
  // The first n records were delivered.
  void commit(size_t n);
  // Adds step_ns to every record stamped before wall time `before_ns`.
  size_t apply_step(int64_t step_ns, int64_t before_ns);
  uint64_t accepted() const { return accepted_; }
  uint64_t delivered() const { return delivered_; }
  uint64_t dropped() const { return dropped_; }
  // Records handed out (in flight) that a drop has since removed: the caller
  // must shrink its in-flight count by this much (see take_dropped_in_flight).
  size_t in_flight = 0;

 private:
  size_t limit_;
  Record ring_[kMaxRecords];
  size_t head_ = 0;
  size_t size_ = 0;
  uint64_t accepted_ = 0;
  uint64_t delivered_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace telemetry
