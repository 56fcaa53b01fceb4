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
  explicit Fixture(uint32_t n)
      : slots(new evl::TimerSlot[n]),
        mono(new evl::HeapEntry[n]),
        other(new evl::HeapEntry[2]),
        other2(new evl::HeapEntry[2]) {
    set.init(evl::TimerStorage{slots.get(), n, {mono.get(), other.get(), other2.get()}, {n, 2, 2}});
  }
  std::unique_ptr<evl::TimerSlot[]> slots;
  std::unique_ptr<evl::HeapEntry[]> mono;
  std::unique_ptr<evl::HeapEntry[]> other;
  std::unique_ptr<evl::HeapEntry[]> other2;
  TimerSet set;
};

}  // namespace

TEST_GROUP(TimerSet){};

TEST(TimerSet, matches_sorted_reference_over_a_million_random_operations) {
  constexpr uint32_t kTimers = 100000;
  constexpr int kOps = 1000000;
  Fixture fx(kTimers);
  TimerSet& set = fx.set;
  // The model: (deadline, order) -> slot, plus each live slot's key.
  std::set<std::tuple<int64_t, uint64_t, uint32_t>> model;
  std::vector<std::tuple<int64_t, uint64_t>> key(kTimers);
  std::vector<bool> live(kTimers, false);
  std::vector<uint32_t> live_list;
  uint64_t order = 0;
  int64_t now = 0;
  Rng rng{0x9e3779b97f4a7c15ULL};
  int fired = 0;
  for (int op = 0; op < kOps; ++op) {
    const uint64_t pick = rng.below(100);
    if (pick < 35 && live_list.size() < kTimers) {
      const int64_t d = now + static_cast<int64_t>(rng.below(1000000));
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
      const int64_t d = now + static_cast<int64_t>(rng.below(1000000));
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
      now += static_cast<int64_t>(rng.below(20000));
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
        set.finish(i);
        live[i] = false;
        ++fired;
      }
      // Rebuild the live list lazily after fires.
      size_t w = 0;
      for (uint32_t i : live_list) {
        if (live[i]) live_list[w++] = i;
      }
      live_list.resize(w);
    }
    if (op % 100000 == 0) CHECK(set.verify());
  }
  CHECK(set.verify());
  CHECK(fired > 10000);
  CHECK_EQUAL(model.size(), static_cast<size_t>(set.count(Clock::kMonotonic)));
  // The earliest wake-up agrees with the model too.
  if (!model.empty()) CHECK(set.arm_time(Clock::kMonotonic) <= std::get<0>(*model.begin()));
}

TEST(TimerSet, later_restart_does_not_move_the_heap_until_its_old_deadline) {
  Fixture fx(4);
  uint32_t a = 0;
  uint32_t b = 0;
  CHECK_EQUAL(0, fx.set.start(Clock::kMonotonic, 100, 0, Overrun::kSkip, 0, no_op, nullptr, &a));
  CHECK_EQUAL(0, fx.set.start(Clock::kMonotonic, 200, 0, Overrun::kSkip, 0, no_op, nullptr, &b));
  fx.set.restart(a, 300);
  CHECK_EQUAL(100, fx.mono[0].key_ns);                   // lazy: the old key is still on top
  CHECK_EQUAL(200, fx.set.arm_time(Clock::kMonotonic));  // fixed up on demand
  CHECK(fx.set.verify());
  uint32_t missed = 0;
  int64_t lag = 0;
  const uint32_t batch = fx.set.next_seq();
  CHECK_EQUAL(evl::kNoSlot, fx.set.pop_due(Clock::kMonotonic, 199, batch, &missed, &lag));
  CHECK_EQUAL(b, fx.set.pop_due(Clock::kMonotonic, 300, batch, &missed, &lag));
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
  CHECK_EQUAL(5000, fx.slots[skip].deadline_ns);
  CHECK_EQUAL(catchup, fx.set.pop_due(Clock::kMonotonic, 4500, batch, &missed, &lag));
  CHECK_EQUAL(0u, missed);
  CHECK_EQUAL(2000, fx.slots[catchup].deadline_ns);
  CHECK_EQUAL(evl::kNoSlot, fx.set.pop_due(Clock::kMonotonic, 4500, batch, &missed, &lag));
  batch = fx.set.next_seq();
  CHECK_EQUAL(catchup, fx.set.pop_due(Clock::kMonotonic, 4500, batch, &missed, &lag));
  CHECK_EQUAL(3000, fx.slots[catchup].deadline_ns);
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
