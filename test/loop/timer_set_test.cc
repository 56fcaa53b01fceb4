// TimerSet against a reference model (a sorted set), with a fixed seed:
// 100k timers under a million random start/stop/restart/fire operations.
#include <cerrno>
#include <cstdint>
#include <memory>
#include <set>
#include <tuple>
#include <vector>

#include "CppUTest/TestHarness.h"
#include "loop/timer_set.h"

using evl::Clock;
using evl::Overrun;
using evl::TimerSet;

namespace {

void no_op(evl::Loop&, evl::TimerHandle, uint32_t, void*) {}

// xorshift64*: small, fast, and the same sequence on every architecture.
struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ULL;
  }
  uint64_t below(uint64_t n) { return next() % n; }
};

struct Fixture {
  explicit Fixture(uint32_t n, uint32_t extras = 2)
      : slots(new evl::TimerSlot[n]),
        mono(new evl::HeapEntry[n]),
        other(new evl::HeapEntry[2]),
        other2(new evl::HeapEntry[2]),
        extra(new evl::TimerExtra[extras]) {
    set.init(evl::TimerStorage{
        slots.get(), n, {mono.get(), other.get(), other2.get()}, {n, 2, 2}, extra.get(), extras});
  }
  std::unique_ptr<evl::TimerSlot[]> slots;
  std::unique_ptr<evl::HeapEntry[]> mono;
  std::unique_ptr<evl::HeapEntry[]> other;
  std::unique_ptr<evl::HeapEntry[]> other2;
  std::unique_ptr<evl::TimerExtra[]> extra;
  TimerSet set;
};

uint32_t start_at(Fixture& fx, int64_t deadline, Clock clock = Clock::kMonotonic) {
  uint32_t i = 0;
  CHECK_EQUAL(0, fx.set.start(clock, deadline, 0, Overrun::kSkip, 0, no_op, nullptr, &i));
  return i;
}

// finish() after a callback that left the timer alone (same generation).
void finish(Fixture& fx, uint32_t i) { fx.set.finish(i, evl::meta::gen(fx.set.pool().at(i).meta)); }

}  // namespace

TEST_GROUP(TimerSet){};

// Random starts, restarts, stops and batches of expiries, checked against
// a sorted model: kTimers at most, deadlines up to `spread` ahead, time
// moving up to `step` before each batch, `fires` fired at least.
void check_against_model(uint32_t kTimers, int kOps, uint64_t spread, uint64_t step, uint64_t seed,
                         int fires) {
  Fixture fx(kTimers);
  TimerSet& set = fx.set;
  // The model: (deadline, order) -> slot, plus each live slot's key.
  std::set<std::tuple<int64_t, uint64_t, uint32_t>> model;
  std::vector<std::tuple<int64_t, uint64_t>> key(kTimers);
  std::vector<bool> live(kTimers, false);
  std::vector<uint32_t> live_list;
  uint64_t order = 0;
  int64_t now = 0;
  Rng rng{seed};
  int fired = 0;
  for (int op = 0; op < kOps; ++op) {
    const uint64_t pick = rng.below(100);
    if (pick < 35 && live_list.size() < kTimers) {
      const int64_t d = now + static_cast<int64_t>(rng.below(spread));
      uint32_t i = 0;
      CHECK_EQUAL(0, set.start(Clock::kMonotonic, d, 0, Overrun::kSkip, 0, no_op, nullptr, &i));
      CHECK_FALSE(live[i]);
      live[i] = true;
      live_list.push_back(i);
      key[i] = {d, order++};
      model.emplace(d, std::get<1>(key[i]), i);
    } else if (pick < 75 && !live_list.empty()) {
      const size_t at = rng.below(live_list.size());
      const uint32_t i = live_list[at];
      const int64_t d = now + static_cast<int64_t>(rng.below(spread));
      model.erase({std::get<0>(key[i]), std::get<1>(key[i]), i});
      set.restart(i, d);
      key[i] = {d, order++};
      model.emplace(d, std::get<1>(key[i]), i);
    } else if (pick < 90 && !live_list.empty()) {
      const size_t at = rng.below(live_list.size());
      const uint32_t i = live_list[at];
      model.erase({std::get<0>(key[i]), std::get<1>(key[i]), i});
      set.stop(i);
      live[i] = false;
      live_list[at] = live_list.back();
      live_list.pop_back();
    } else {
      now += static_cast<int64_t>(rng.below(step));
      const uint32_t batch = set.next_seq();
      uint32_t missed = 0;
      int64_t lag = 0;
      for (;;) {
        const uint32_t i = set.pop_due(Clock::kMonotonic, now, batch, &missed, &lag);
        const bool model_due = !model.empty() && std::get<0>(*model.begin()) <= now;
        CHECK_EQUAL(model_due, i != evl::kNoSlot);
        if (i == evl::kNoSlot) break;
        CHECK_EQUAL(std::get<2>(*model.begin()), i);
        CHECK_EQUAL(now - std::get<0>(*model.begin()), lag);
        model.erase(model.begin());
        set.finish(i, evl::meta::gen(set.pool().at(i).meta));
        live[i] = false;
        ++fired;
      }
      set.unpark(Clock::kMonotonic);
      // Rebuild the live list lazily after fires.
      size_t w = 0;
      for (uint32_t i : live_list) {
        if (live[i]) live_list[w++] = i;
      }
      live_list.resize(w);
    }
    if (op % 100000 == 0 || kTimers < 64) CHECK(set.verify());
  }
  CHECK(set.verify());
  CHECK(fired > fires);
  CHECK_EQUAL(model.size(), static_cast<size_t>(set.count(Clock::kMonotonic)));
  // The earliest wake-up agrees with the model too.
  if (!model.empty()) CHECK(set.arm_time(Clock::kMonotonic) <= std::get<0>(*model.begin()));
}

TEST(TimerSet, matches_sorted_reference_over_a_million_random_operations) {
  check_against_model(100000, 1000000, 1000000, 20000, 0x9e3779b97f4a7c15ULL, 10000);
}

// Few timers, few distinct deadlines: most comparisons are ties (start
// order decides), and the heap keeps passing through every small size,
// where families have fewer than four children.
TEST(TimerSet, small_heaps_with_ties_match_the_reference) {
  for (uint32_t timers : {1u, 2u, 5u, 6u, 21u, 22u, 40u}) {
    check_against_model(timers, 20000, 8, 4, 0x51ed270b27c1a5b3ULL + timers, 200);
  }
}

TEST(TimerSet, later_restart_moves_the_entry_at_once) {
  Fixture fx(4);
  const uint32_t a = start_at(fx, 100);
  const uint32_t b = start_at(fx, 200);
  fx.set.restart(a, 300);
  CHECK_EQUAL(200, fx.mono[0].key_ns);
  CHECK_EQUAL(200, fx.set.arm_time(Clock::kMonotonic));
  CHECK_EQUAL(300, fx.set.deadline(a));
  CHECK(fx.set.verify());
  uint32_t missed = 0;
  int64_t lag = 0;
  const uint32_t batch = fx.set.next_seq();
  CHECK_EQUAL(evl::kNoSlot, fx.set.pop_due(Clock::kMonotonic, 199, batch, &missed, &lag));
  CHECK_EQUAL(b, fx.set.pop_due(Clock::kMonotonic, 300, batch, &missed, &lag));
  CHECK_EQUAL(a, fx.set.pop_due(Clock::kMonotonic, 300, batch, &missed, &lag));
}

// Due entries (re)started during a batch wait for the next one, in the
// parked area at the array's end; a stop or restart there takes them out.
TEST(TimerSet, entries_started_during_a_batch_are_parked_until_unpark) {
  Fixture fx(6);
  const uint32_t a = start_at(fx, 100);
  const uint32_t b = start_at(fx, 150);
  uint32_t missed = 0;
  int64_t lag = 0;
  const uint32_t batch = fx.set.next_seq();
  CHECK_EQUAL(a, fx.set.pop_due(Clock::kMonotonic, 200, batch, &missed, &lag));
  CHECK_EQUAL(100, lag);
  finish(fx, a);
  // In a's callback: three timers due now, one later; b is older.
  const uint32_t c = start_at(fx, 50);
  const uint32_t d = start_at(fx, 60);
  const uint32_t e = start_at(fx, 70);
  const uint32_t late = start_at(fx, 500);
  CHECK_EQUAL(b, fx.set.pop_due(Clock::kMonotonic, 200, batch, &missed, &lag));
  finish(fx, b);
  CHECK_EQUAL(evl::kNoSlot, fx.set.pop_due(Clock::kMonotonic, 200, batch, &missed, &lag));
  CHECK_EQUAL(4u, fx.set.count(Clock::kMonotonic));
  CHECK_EQUAL(50, fx.set.arm_time(Clock::kMonotonic));  // parked ones are due
  CHECK(fx.set.verify());
  fx.set.stop(d);         // parked: taken out
  fx.set.restart(e, 40);  // parked: back into the heap with its new deadline
  CHECK(fx.set.verify());
  fx.set.unpark(Clock::kMonotonic);
  CHECK(fx.set.verify());
  const uint32_t next = fx.set.next_seq();
  CHECK_EQUAL(e, fx.set.pop_due(Clock::kMonotonic, 200, next, &missed, &lag));
  CHECK_EQUAL(160, lag);
  CHECK_EQUAL(c, fx.set.pop_due(Clock::kMonotonic, 200, next, &missed, &lag));
  CHECK_EQUAL(150, lag);  // from its own deadline
  CHECK_EQUAL(evl::kNoSlot, fx.set.pop_due(Clock::kMonotonic, 200, next, &missed, &lag));
  CHECK_EQUAL(500, fx.set.deadline(late));
}

// A one-shot in its callback holds its slot and its place on the clock:
// timers started there cannot take the room a restart of it needs.
TEST(TimerSet, a_fired_timer_keeps_its_room_on_the_clock_until_finished) {
  Fixture fx(8);
  const uint32_t a = start_at(fx, 5, Clock::kRealtime);
  uint32_t missed = 0;
  int64_t lag = 0;
  CHECK_EQUAL(a, fx.set.pop_due(Clock::kRealtime, 10, fx.set.next_seq(), &missed, &lag));
  (void)start_at(fx, 20, Clock::kRealtime);
  uint32_t i = 0;
  CHECK_EQUAL(-ENOSPC,
              fx.set.start(Clock::kRealtime, 30, 0, Overrun::kSkip, 0, no_op, nullptr, &i));
  fx.set.restart(a, 40);  // fits: the realtime heap holds 2
  CHECK(fx.set.verify());
  CHECK_EQUAL(2u, fx.set.count(Clock::kRealtime));
}

// A period or a slack takes a TimerExtra; none left is -ENOSPC, and a
// stopped or finished timer gives its back.
TEST(TimerSet, periods_and_slacks_take_extras_and_give_them_back) {
  Fixture fx(8, 2);
  int ctx = 0;
  uint32_t p = 0;
  uint32_t q = 0;
  uint32_t r = 0;
  CHECK_EQUAL(0, fx.set.start(Clock::kMonotonic, 100, 10, Overrun::kSkip, 0, no_op, &ctx, &p));
  CHECK_EQUAL(0, fx.set.start(Clock::kMonotonic, 100, 0, Overrun::kSkip, 5, no_op, &ctx, &q));
  POINTERS_EQUAL(&ctx, TimerSet::ctx_of(fx.slots[p]));
  POINTERS_EQUAL(&ctx, TimerSet::ctx_of(fx.slots[q]));
  CHECK_EQUAL(2u, fx.set.extras_used());
  CHECK_EQUAL(-ENOSPC,
              fx.set.start(Clock::kMonotonic, 100, 10, Overrun::kSkip, 0, no_op, &ctx, &r));
  CHECK_EQUAL(2u, fx.set.pool().stats().used);
  const uint32_t plain = start_at(fx, 100);
  CHECK_EQUAL(-ENOSPC, fx.set.set_period(plain, 10));
  CHECK_EQUAL(0, fx.set.set_period(plain, 0));
  fx.set.stop(q);
  CHECK_EQUAL(1u, fx.set.extras_used());
  CHECK_EQUAL(0, fx.set.set_period(plain, 10));
  CHECK_EQUAL(0, fx.set.set_period(plain, 20));  // has one: changed in place
  CHECK_EQUAL(2u, fx.set.extras_used());
  CHECK(fx.set.verify());
  // A one-shot with a slack gives its extra back when it has fired.
  fx.set.stop(p);
  fx.set.stop(plain);
  CHECK_EQUAL(0, fx.set.start(Clock::kMonotonic, 50, 0, Overrun::kSkip, 5, no_op, &ctx, &r));
  uint32_t missed = 0;
  int64_t lag = 0;
  CHECK_EQUAL(5050, fx.set.arm_time(Clock::kMonotonic));  // 5 us of slack
  const uint32_t other = start_at(fx, 100);
  CHECK_EQUAL(100, fx.set.arm_time(Clock::kMonotonic));  // not past another's deadline
  CHECK_EQUAL(r, fx.set.pop_due(Clock::kMonotonic, 60, fx.set.next_seq(), &missed, &lag));
  finish(fx, r);
  CHECK_EQUAL(0u, fx.set.extras_used());
  CHECK_EQUAL(100, fx.set.deadline(other));
  CHECK(fx.set.verify());
}

TEST(TimerSet, periodic_skip_and_catch_up_keep_the_phase) {
  Fixture fx(4);
  uint32_t skip = 0;
  uint32_t catchup = 0;
  CHECK_EQUAL(
      0, fx.set.start(Clock::kMonotonic, 1000, 1000, Overrun::kSkip, 0, no_op, nullptr, &skip));
  CHECK_EQUAL(0, fx.set.start(Clock::kMonotonic, 1000, 1000, Overrun::kCatchUp, 0, no_op, nullptr,
                              &catchup));
  uint32_t missed = 0;
  int64_t lag = 0;
  uint32_t batch = fx.set.next_seq();
  CHECK_EQUAL(skip, fx.set.pop_due(Clock::kMonotonic, 4500, batch, &missed, &lag));
  CHECK_EQUAL(3u, missed);
  CHECK_EQUAL(3500, lag);
  CHECK_EQUAL(5000, fx.set.deadline(skip));
  CHECK_EQUAL(catchup, fx.set.pop_due(Clock::kMonotonic, 4500, batch, &missed, &lag));
  CHECK_EQUAL(0u, missed);
  CHECK_EQUAL(2000, fx.set.deadline(catchup));
  CHECK_EQUAL(evl::kNoSlot, fx.set.pop_due(Clock::kMonotonic, 4500, batch, &missed, &lag));
  fx.set.unpark(Clock::kMonotonic);
  batch = fx.set.next_seq();
  CHECK_EQUAL(catchup, fx.set.pop_due(Clock::kMonotonic, 4500, batch, &missed, &lag));
  CHECK_EQUAL(3000, fx.set.deadline(catchup));
}

TEST(TimerSet, full_clock_heap_is_enospc_even_with_free_slots) {
  Fixture fx(8);
  uint32_t i = 0;
  for (int n = 0; n < 2; ++n) {
    CHECK_EQUAL(0, fx.set.start(Clock::kRealtime, 5, 0, Overrun::kSkip, 0, no_op, nullptr, &i));
  }
  CHECK_EQUAL(-ENOSPC, fx.set.start(Clock::kRealtime, 5, 0, Overrun::kSkip, 0, no_op, nullptr, &i));
  CHECK_EQUAL(2u, fx.set.pool().stats().used);
}

// A one-shot stopped in its callback, its slot taken at once by a new timer
// (the pool is LIFO): finish() with the fired timer's generation leaves the
// new one alone.
TEST(TimerSet, finish_leaves_a_new_timer_in_the_fired_ones_slot) {
  Fixture fx(4);
  const uint32_t a = start_at(fx, 100);
  const uint32_t gen = evl::meta::gen(fx.set.pool().at(a).meta);
  uint32_t missed = 0;
  int64_t lag = 0;
  CHECK_EQUAL(a, fx.set.pop_due(Clock::kMonotonic, 100, fx.set.next_seq(), &missed, &lag));
  fx.set.stop(a);
  const uint32_t b = start_at(fx, 500);
  CHECK_EQUAL(a, b);
  fx.set.finish(a, gen);
  CHECK(evl::meta::live(fx.set.pool().at(b).meta));
  CHECK_EQUAL(500, fx.set.deadline(b));
  CHECK_EQUAL(1u, fx.set.count(Clock::kMonotonic));
  CHECK(fx.set.verify());
}

// A timer with a TimerExtra stopped out of the heap: parked (rescheduled
// in its batch) or a one-shot with slack stopped in its own callback. Its
// extra comes back and the heap stays whole.
TEST(TimerSet, a_timer_with_extras_stops_when_parked_or_fired) {
  Fixture fx(8, 2);
  int ctx = 0;
  uint32_t periodic = 0;
  uint32_t slack = 0;
  CHECK_EQUAL(
      0, fx.set.start(Clock::kMonotonic, 100, 1000, Overrun::kSkip, 0, no_op, &ctx, &periodic));
  CHECK_EQUAL(0, fx.set.start(Clock::kMonotonic, 100, 0, Overrun::kSkip, 5, no_op, &ctx, &slack));
  const uint32_t later = start_at(fx, 900);
  const uint32_t batch = fx.set.next_seq();
  uint32_t missed = 0;
  int64_t lag = 0;
  // Same deadline: the periodic timer (started first) fires first and is
  // restarted into this batch; then the one-shot.
  CHECK_EQUAL(periodic, fx.set.pop_due(Clock::kMonotonic, 100, batch, &missed, &lag));
  fx.set.restart(periodic, 50);  // due again in this batch: parked
  CHECK(fx.set.verify());
  CHECK_EQUAL(slack, fx.set.pop_due(Clock::kMonotonic, 100, batch, &missed, &lag));
  CHECK(!TimerSet::scheduled(fx.slots[slack]));
  fx.set.stop(slack);     // fired, out of the heap
  fx.set.stop(periodic);  // parked
  CHECK_EQUAL(0u, fx.set.extras_used());
  CHECK_EQUAL(1u, fx.set.count(Clock::kMonotonic));
  CHECK(fx.set.verify());
  fx.set.unpark(Clock::kMonotonic);
  CHECK_EQUAL(evl::kNoSlot,
              fx.set.pop_due(Clock::kMonotonic, 800, fx.set.next_seq(), &missed, &lag));
  CHECK_EQUAL(900, fx.set.deadline(later));
  CHECK(fx.set.verify());
}
