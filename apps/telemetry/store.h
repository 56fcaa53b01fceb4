// The store-and-forward buffer: a fixed ring of records, and the one owner
// of the delivery accounting.
//
// Records leave only as delivered (the transport acknowledged their batch)
// or dropped (the store was full); one invariant holds after every call and
// is checked by each: accepted = delivered + dropped + buffered, each record
// counted once.
//
// Batches: begin_batch(n) marks the n oldest records as in flight; commit()
// delivers them, abandon() puts them back at the head to be sent again. A
// record in flight is never dropped: when the store is full the oldest record
// not in flight goes, or, if every record is in flight, the new one. An
// abandoned batch may still have arrived (the connection broke between the
// collector taking it and its acknowledgement coming back): such a record,
// dropped later, is counted dropped and also dropped_after_send() (it may be
// at the collector). So the collector holds at least the delivered records
// and at most those plus the dropped after send.
//
// A wall-clock step moves the stamps of the records taken before it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "apps/nmea/record.h"
#include "hal/snapshot.h"

namespace telemetry {

constexpr size_t kMaxRecords = 4096;  // compile-time ceiling of --buffer-records

class Store {
 public:
  // limit: 1..kMaxRecords (clamped).
  explicit Store(size_t limit)
      : limit_(limit < 1 ? 1 : (limit > kMaxRecords ? kMaxRecords : limit)) {}
  // Accepts a record; returns true if a record (old or this one) was dropped.
  bool push(const nmea::Record& r);
  size_t size() const { return size_; }  // buffered, in flight included
  size_t in_flight() const { return in_flight_; }
  size_t waiting() const { return size_ - in_flight_; }
  size_t limit() const { return limit_; }
  // The i-th oldest buffered record (0 <= i < size()).
  const nmea::Record& at(size_t i) const { return ring_[(head_ + i) % kMaxRecords]; }

  // The n oldest records are being sent. -EBUSY while a batch is in flight,
  // -EINVAL for n of 0 or more than size().
  [[nodiscard]] int begin_batch(size_t n);
  // The batch in flight was delivered: its records leave.
  void commit();
  // The batch in flight was not acknowledged: its records wait again (and
  // may have arrived).
  void abandon() {
    if (in_flight_ > sent_) sent_ = in_flight_;
    in_flight_ = 0;
  }
  // The batch in flight will never be delivered (the collector refused its
  // content): its records leave as dropped.
  void discard();

  // Adds step_ns to every record stamped before wall time `before_ns`.
  size_t apply_step(int64_t step_ns, int64_t before_ns);
  uint64_t accepted() const { return accepted_; }
  uint64_t delivered() const { return delivered_; }
  uint64_t dropped() const { return dropped_; }
  // Of dropped(): records dropped after a send that was never acknowledged.
  uint64_t dropped_after_send() const { return dropped_after_send_; }
  // accepted = delivered + dropped + buffered.
  bool consistent() const { return accepted_ == delivered_ + dropped_ + size_; }
  // Snapshots (hal/flight.h): the buffered records and the counters.
  // restore() is false for bytes it cannot use (more records than limit()).
  void save(flight::SnapWriter& w) const;
  [[nodiscard]] bool restore(flight::SnapReader& r);

 private:
  void drop_oldest_waiting();

  size_t limit_;
  nmea::Record ring_[kMaxRecords];
  size_t head_ = 0;
  size_t size_ = 0;
  size_t in_flight_ = 0;
  size_t sent_ = 0;  // the oldest records that went out unacknowledged before
  uint64_t accepted_ = 0;
  uint64_t delivered_ = 0;
  uint64_t dropped_ = 0;
  uint64_t dropped_after_send_ = 0;
};

}  // namespace telemetry
