// The loop at the edges of its ranges: deadlines past int64, periods of
// INT64_MAX, a slot's generation running out. Run under UBSan in the
// asan_ubsan stage, so an overflow is a failure, not a silent wrap.
#include <cerrno>
#include <cstdint>

#include "CppUTest/TestHarness.h"
#include "loop/pool.h"
#include "loop/static_loop.h"
#include "loop/time.h"
#include "test/fake/kernel.h"

using evl::kSec;
using evl::TimerHandle;

namespace {

int g_fired = 0;
void count(evl::Loop&, TimerHandle, uint32_t, void*) { ++g_fired; }
void nothing(evl::Loop&, void*) {}

}  // namespace

TEST_GROUP(Edges) {
  fake::Kernel* k = nullptr;
  evl::StaticLoop<4, 8, 2, 1, 4>* loop = nullptr;
  void setup() override {
    k = new fake::Kernel();
    loop = new evl::StaticLoop<4, 8, 2, 1, 4>();
    CHECK_EQUAL(0, loop->init());
    g_fired = 0;
  }
  void teardown() override {
    delete loop;
    delete k;
  }
  // Runs a day of virtual time with one more timer so that waits end.
  void run_a_day() {
    TimerHandle end;
    CHECK_EQUAL(0, loop->timer_after(
                       86400 * kSec, [](evl::Loop& l, TimerHandle, uint32_t, void*) { l.stop(); },
                       nullptr, &end));
    CHECK_EQUAL(0, loop->run());
  }
};

TEST(Edges, saturating_helpers_clamp_instead_of_wrapping) {
  CHECK_EQUAL(INT64_MAX, evl::add_sat(INT64_MAX - 5, 10));
  CHECK_EQUAL(-INT64_MAX, evl::add_sat(-INT64_MAX + 5, -10));
  CHECK_EQUAL(-INT64_MAX, evl::add_sat(INT64_MIN, 0));
  CHECK_EQUAL(15, evl::add_sat(5, 10));
  CHECK_EQUAL(INT64_MAX, evl::ms_to_ns(INT64_MAX / 1000));
  CHECK_EQUAL(INT64_MAX, evl::ms_to_ns(INT64_MAX));
  CHECK_EQUAL(-INT64_MAX, evl::ms_to_ns(INT64_MIN));
  CHECK_EQUAL(9223372036854 * evl::kMs, evl::ms_to_ns(9223372036854));
  CHECK_EQUAL(INT64_MAX, evl::mul_sat(-2, INT64_MIN));
}

// The field faults: timer_after(INT64_MAX) was -EINVAL though documented
// valid; timer_restart(h, INT64_MAX) returned 0 and fired at once (UBSan:
// signed overflow in loop/timers.cc).
TEST(Edges, a_delay_past_the_range_means_never) {
  TimerHandle a, b;
  CHECK_EQUAL(0, loop->timer_after(INT64_MAX, count, nullptr, &a));
  CHECK_EQUAL(0, loop->timer_after(kSec, count, nullptr, &b));
  CHECK_EQUAL(0, loop->timer_restart(b, INT64_MAX));
  run_a_day();
  CHECK_EQUAL(0, g_fired);
  int64_t left = 0;
  CHECK_EQUAL(0, loop->timer_remaining(a, &left));
  CHECK(left > 86400 * kSec * 365 * 100);  // centuries away
  CHECK_EQUAL(0, loop->timer_stop(a));
  CHECK_EQUAL(0, loop->timer_stop(b));
}

TEST(Edges, a_period_of_int64_max_fires_once_then_never) {
  evl::TimerSpec spec;
  spec.deadline_ns = k->monotonic_ns() + kSec;
  spec.period_ns = INT64_MAX;
  TimerHandle h;
  CHECK_EQUAL(0, loop->timer_start(spec, count, nullptr, &h));
  run_a_day();
  CHECK_EQUAL(1, g_fired);
  evl::TimerSpec from_now;  // deadline 0: now + period, past the range
  from_now.period_ns = INT64_MAX;
  TimerHandle h2;
  CHECK_EQUAL(0, loop->timer_start(from_now, count, nullptr, &h2));
  run_a_day();
  CHECK_EQUAL(1, g_fired);
  CHECK_EQUAL(0, loop->timer_stop(h));
  CHECK_EQUAL(0, loop->timer_stop(h2));
}

TEST(Edges, huge_periods_on_the_catch_up_policy_and_restarts_inside_callbacks) {
  evl::TimerSpec spec;
  spec.deadline_ns = k->monotonic_ns() + kSec;
  spec.period_ns = INT64_MAX / 2;
  spec.overrun = evl::Overrun::kCatchUp;
  TimerHandle h;
  CHECK_EQUAL(0, loop->timer_start(spec, count, nullptr, &h));
  run_a_day();
  CHECK_EQUAL(1, g_fired);
  CHECK_EQUAL(0, loop->timer_restart_at(h, INT64_MAX));
  run_a_day();
  CHECK_EQUAL(1, g_fired);
}

namespace {
struct Slot {  // the least a pool's slot has
  uint32_t meta;
  uint32_t next;
  uint32_t& link() { return next; }
};
}  // namespace

// The field fault: after 16,777,215 start/stop cycles of one slot the 24-bit
// generation wrapped and timer_stop(stale) stopped the live timer.
TEST(Edges, a_slot_whose_generation_runs_out_is_retired_and_stale_handles_stay_stale) {
  static Slot slots[2];
  evl::Pool<Slot> pool;
  pool.init(slots, 2);
  uint32_t first_gen = 0;
  uint32_t i = 0;
  // Cycle slot 0 until its generation is exhausted (slot 1 stays free below
  // it in the LIFO list, so slot 0 is always the one handed out).
  for (uint32_t n = 0;; ++n) {
    if (pool.alloc(&i) == nullptr) FAIL("pool empty");
    if (i != 0) break;  // slot 0 retired: the pool moved on to slot 1
    if (n == 0) first_gen = pool.gen_of(0);
    pool.release(0);
  }
  CHECK_EQUAL(1u, i);
  CHECK_EQUAL(1u, pool.stats().retired);
  CHECK_EQUAL(1u, pool.stats().high_water);   // never two in use: the retired one does not count
  CHECK_EQUAL(0u, pool.gen_of(0));            // a generation no handle has
  CHECK(pool.find(0, first_gen) == nullptr);  // the first handle never revives
  CHECK(pool.find(0, evl::handle::kGenMask) == nullptr);
  // Nor does an epoll event registered by the slot's last watcher (the
  // dispatch's lookup has no live test).
  CHECK(pool.find_registered(evl::handle::pack(1, evl::Kind::kIo, evl::handle::kGenMask, 0)) ==
        nullptr);
  CHECK(pool.find_registered(evl::handle::pack(1, evl::Kind::kIo, first_gen, 0)) == nullptr);
  pool.release(1);
  CHECK(pool.alloc(&i) != nullptr);
  CHECK_EQUAL(1u, i);                // slot 0 is never handed out again
  CHECK(pool.alloc(&i) == nullptr);  // capacity 2, one retired, one in use
}

// alloc() keeps no high-water mark (#15: a test and a store per start);
// stats() works it out from the slots ever taken.
TEST(Edges, the_high_water_mark_is_the_most_slots_in_use_at_once) {
  static Slot slots[4];
  evl::Pool<Slot> pool;
  pool.init(slots, 4);
  CHECK_EQUAL(0u, pool.stats().high_water);
  uint32_t a = 0, b = 0, c = 0, d = 0, e = 0;
  CHECK(pool.alloc(&a) != nullptr);
  CHECK(pool.alloc(&b) != nullptr);
  CHECK(pool.alloc(&c) != nullptr);
  CHECK_EQUAL(3u, pool.stats().high_water);
  pool.release(b);
  pool.release(a);
  CHECK_EQUAL(3u, pool.stats().high_water);
  CHECK(pool.alloc(&a) != nullptr);  // from the released ones
  CHECK(pool.alloc(&b) != nullptr);
  CHECK_EQUAL(3u, pool.stats().high_water);
  CHECK(pool.alloc(&d) != nullptr);  // never taken before
  CHECK_EQUAL(4u, pool.stats().used);
  CHECK_EQUAL(4u, pool.stats().high_water);
  CHECK(pool.alloc(&e) == nullptr);  // full
  for (uint32_t i : {a, b, c, d}) pool.release(i);
  CHECK_EQUAL(0u, pool.stats().used);
  CHECK_EQUAL(4u, pool.stats().high_water);
  pool.raise_high_water(9);  // a snapshot's: capped at the capacity
  CHECK_EQUAL(4u, pool.stats().high_water);
  pool.init(slots, 4);
  CHECK_EQUAL(0u, pool.stats().high_water);
  pool.raise_high_water(2);
  CHECK(pool.alloc(&a) != nullptr);
  CHECK_EQUAL(2u, pool.stats().high_water);
  // Every slot handed out once is distinct, and a stale handle to a slot
  // never taken does not name it.
  CHECK(pool.alloc(&b) != nullptr && pool.alloc(&c) != nullptr && pool.alloc(&d) != nullptr);
  CHECK(a != b && a != c && a != d && b != c && b != d && c != d);
  pool.init(slots, 4);
  CHECK(pool.find(3, 1) == nullptr);
}

TEST(Edges, a_loop_slot_cycled_past_the_wrap_refuses_its_stale_handle) {
  evl::DeferHandle first;
  CHECK_EQUAL(0, loop->defer(nothing, nullptr, &first));
  CHECK_EQUAL(0, loop->defer_cancel(first));
  evl::DeferHandle h;
  for (uint32_t n = 0; n < evl::handle::kGenMask + 2; ++n) {
    // Plain ifs: 16.7 M CHECKs would dominate the run under qemu.
    if (loop->defer(nothing, nullptr, &h) != 0) FAIL("defer failed");
    if (h.raw == first.raw) FAIL("a handle was issued twice");
    if (loop->defer_cancel(h) != 0) FAIL("defer_cancel failed");
  }
  CHECK_EQUAL(-ESTALE, loop->defer_cancel(first));
  CHECK_EQUAL(1u, loop->health().defers.retired);
}
