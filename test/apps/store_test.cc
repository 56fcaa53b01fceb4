// The store-and-forward buffer: batches, drops, and the one invariant
// accepted = delivered + dropped + buffered, against a model.
#include <cerrno>
#include <cstring>
#include <deque>

#include "CppUTest/TestHarness.h"
#include "apps/telemetry/store.h"
#include "test/fake/kernel.h"

using telemetry::Store;

namespace {

nmea::Record stamped(int64_t t) {
  nmea::Record r;
  r.wall_ns = t;
  return r;
}

Store& fresh(size_t limit) {
  static Store store(1);  // 4096 records: static, not on the test's stack
  store = Store(limit);
  return store;
}

void check_invariant(const Store& s) {
  CHECK(s.consistent());
  CHECK_EQUAL(s.accepted(), s.delivered() + s.dropped() + s.size());
  CHECK(s.in_flight() <= s.size());
  CHECK(s.size() <= s.limit());
}

}  // namespace

TEST_GROUP(Store){};

TEST(Store, drops_oldest_when_full_and_counts_it) {
  Store& s = fresh(3);
  for (int i = 0; i < 5; ++i) s.push(stamped(i));
  CHECK_EQUAL(3u, s.size());
  CHECK_EQUAL(2u, s.dropped());
  CHECK_EQUAL(2, s.at(0).wall_ns);
  CHECK_EQUAL(0, s.begin_batch(2));
  s.commit();
  CHECK_EQUAL(2u, s.delivered());
  CHECK_EQUAL(4, s.at(0).wall_ns);
  check_invariant(s);
}

TEST(Store, a_batch_is_delivered_only_by_commit_and_waits_again_after_abandon) {
  Store& s = fresh(8);
  for (int i = 0; i < 5; ++i) s.push(stamped(i));
  CHECK_EQUAL(0, s.begin_batch(3));
  CHECK_EQUAL(3u, s.in_flight());
  CHECK_EQUAL(2u, s.waiting());
  CHECK_EQUAL(-EBUSY, s.begin_batch(1));
  s.abandon();
  CHECK_EQUAL(0u, s.in_flight());
  CHECK_EQUAL(0u, s.delivered());
  CHECK_EQUAL(0, s.at(0).wall_ns);  // the same records lead again
  CHECK_EQUAL(0, s.begin_batch(5));
  s.commit();
  CHECK_EQUAL(5u, s.delivered());
  CHECK_EQUAL(0u, s.size());
  check_invariant(s);
}

// The netfaults stage once saw the TCP collector hold 5 records more than
// telemetry counted delivered: a batch reached the collector, the link went
// down before its ACK came back, the batch was abandoned, and the full
// store later dropped those records as the oldest. They are still dropped,
// and now also counted dropped after send: they may be at the collector.
TEST(Store, records_dropped_after_an_unacknowledged_send_are_counted_apart) {
  Store& s = fresh(4);
  for (int i = 0; i < 4; ++i) s.push(stamped(i));
  CHECK_EQUAL(0, s.begin_batch(2));
  s.abandon();         // records 0 and 1 went out; no acknowledgement
  s.push(stamped(4));  // full: 0 goes
  CHECK_EQUAL(1u, s.dropped());
  CHECK_EQUAL(1u, s.dropped_after_send());
  CHECK_EQUAL(0, s.begin_batch(1));  // 1 out again, and this time: delivered
  s.commit();
  s.push(stamped(5));
  s.push(stamped(6));  // full: 2 goes, never sent
  CHECK_EQUAL(2u, s.dropped());
  CHECK_EQUAL(1u, s.dropped_after_send());
  // In flight while full: the oldest waiting one goes; sent before or not.
  CHECK_EQUAL(0, s.begin_batch(1));  // 3
  s.abandon();
  CHECK_EQUAL(0, s.begin_batch(2));  // 3 again, and 4
  s.push(stamped(7));                // full: 5 goes (waiting, never sent)
  CHECK_EQUAL(1u, s.dropped_after_send());
  s.abandon();          // 3 and 4 were sent
  s.push(stamped(8));   // 3 goes: sent
  s.push(stamped(9));   // 4 goes: sent
  s.push(stamped(10));  // 6 goes: never sent
  CHECK_EQUAL(6u, s.dropped());
  CHECK_EQUAL(3u, s.dropped_after_send());
  check_invariant(s);
}

TEST(Store, begin_batch_refuses_zero_and_more_than_buffered) {
  Store& s = fresh(4);
  CHECK_EQUAL(-EINVAL, s.begin_batch(1));
  s.push(stamped(1));
  CHECK_EQUAL(-EINVAL, s.begin_batch(0));
  CHECK_EQUAL(-EINVAL, s.begin_batch(2));
  CHECK_EQUAL(0, s.begin_batch(1));
}

// The field fault: a drop that hit a batch in flight counted its records as
// dropped although the collector received them (delivered=18350
// dropped=1750 for 18,400 records received).
TEST(Store, a_record_in_flight_is_never_dropped_the_oldest_waiting_one_goes) {
  Store& s = fresh(4);
  for (int i = 0; i < 4; ++i) s.push(stamped(i));
  CHECK_EQUAL(0, s.begin_batch(2));  // records 0 and 1 are on their way
  CHECK_TRUE(s.push(stamped(4)));    // full: record 2 (oldest waiting) goes
  CHECK_EQUAL(4u, s.size());
  CHECK_EQUAL(0, s.at(0).wall_ns);
  CHECK_EQUAL(1, s.at(1).wall_ns);
  CHECK_EQUAL(3, s.at(2).wall_ns);
  CHECK_EQUAL(4, s.at(3).wall_ns);
  s.commit();
  CHECK_EQUAL(2u, s.delivered());
  CHECK_EQUAL(1u, s.dropped());
  CHECK_EQUAL(3, s.at(0).wall_ns);
  check_invariant(s);
}

TEST(Store, when_everything_is_in_flight_the_new_record_is_dropped) {
  Store& s = fresh(2);
  s.push(stamped(0));
  s.push(stamped(1));
  CHECK_EQUAL(0, s.begin_batch(2));
  CHECK_TRUE(s.push(stamped(2)));
  CHECK_EQUAL(1u, s.dropped());
  CHECK_EQUAL(2u, s.size());
  s.commit();
  CHECK_EQUAL(2u, s.delivered());
  CHECK_EQUAL(0u, s.size());
  check_invariant(s);
}

TEST(Store, restamps_records_taken_before_a_clock_step) {
  Store& s = fresh(8);
  s.push(stamped(100));
  s.push(stamped(200));
  CHECK_EQUAL(2u, s.apply_step(1000, 150 + 1000 + 1));  // both taken before the step
  CHECK_EQUAL(1100, s.at(0).wall_ns);
  CHECK_EQUAL(1200, s.at(1).wall_ns);
}

// Random pushes, batches, commits and abandons against a plain deque: the
// same records in the same order, each counted once, whatever the sequence.
TEST(Store, matches_a_model_over_random_operations) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    fake::Rng rng{seed * 0x9e3779b97f4a7c15ULL};
    const size_t limit = 1 + rng.below(40);
    Store& s = fresh(limit);
    std::deque<int64_t> model;
    size_t model_flight = 0;
    uint64_t delivered = 0, dropped = 0, next = 0;
    for (int op = 0; op < 2000; ++op) {
      const uint64_t what = rng.below(10);
      if (what < 6) {
        const int64_t t = static_cast<int64_t>(next++);
        if (model.size() == limit) {
          ++dropped;
          if (model_flight == model.size()) {
            CHECK_TRUE(s.push(stamped(t)));
            continue;
          }
          model.erase(model.begin() + static_cast<long>(model_flight));
        }
        model.push_back(t);
        (void)s.push(stamped(t));
      } else if (what < 8) {
        const size_t n = 1 + rng.below(8);
        const int r = s.begin_batch(n);
        if (model_flight == 0 && n <= model.size()) {
          CHECK_EQUAL(0, r);
          model_flight = n;
        } else {
          CHECK(r < 0);
        }
      } else if (what < 9) {
        s.commit();
        delivered += model_flight;
        model.erase(model.begin(), model.begin() + static_cast<long>(model_flight));
        model_flight = 0;
      } else {
        s.abandon();
        model_flight = 0;
      }
      check_invariant(s);
      CHECK_EQUAL(model.size(), s.size());
      CHECK_EQUAL(model_flight, s.in_flight());
      CHECK_EQUAL(delivered, s.delivered());
      CHECK_EQUAL(dropped, s.dropped());
      for (size_t i = 0; i < model.size(); ++i) CHECK_EQUAL(model[i], s.at(i).wall_ns);
    }
  }
}

// Snapshots: the buffered records (the batch in flight marked) and the
// counters come back in a store of the same limit; bytes that cannot be a
// store's are refused.
TEST(Store, a_saved_store_comes_back_whole_and_bad_bytes_are_refused) {
  Store& s = fresh(4);
  for (int64_t t = 1; t <= 6; ++t) (void)s.push(stamped(t));  // 2 dropped
  CHECK_EQUAL(0, s.begin_batch(2));
  static uint8_t bytes[4096];
  flight::SnapWriter w(bytes, sizeof bytes);
  s.save(w);
  static Store back(4);
  flight::SnapReader in(bytes, w.size());
  CHECK(back.restore(in));
  CHECK_EQUAL(0u, in.left());
  check_invariant(back);
  CHECK_EQUAL(4u, back.size());
  CHECK_EQUAL(2u, back.in_flight());
  CHECK_EQUAL(2u, back.dropped());
  CHECK_EQUAL(3, back.at(0).wall_ns);
  CHECK_EQUAL(6, back.at(3).wall_ns);
  back.commit();
  CHECK_EQUAL(2u, back.delivered());
  check_invariant(back);
  static Store small(3);  // a smaller limit than the records saved
  flight::SnapReader too_many(bytes, w.size());
  CHECK_FALSE(small.restore(too_many));
  flight::SnapReader cut(bytes, w.size() - 8);
  CHECK_FALSE(back.restore(cut));
  uint32_t more_in_flight = 5;  // more in flight than buffered
  std::memcpy(bytes + 4, &more_in_flight, 4);
  flight::SnapReader bad(bytes, w.size());
  CHECK_FALSE(back.restore(bad));
  uint32_t two = 2;
  std::memcpy(bytes + 4, &two, 4);
  uint64_t accepted = 99;  // the counters do not add up
  std::memcpy(bytes + 8, &accepted, 8);
  flight::SnapReader inconsistent(bytes, w.size());
  CHECK_FALSE(back.restore(inconsistent));
}
