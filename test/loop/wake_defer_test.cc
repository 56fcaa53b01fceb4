// Wake-ups and deferred calls on the fake kernel.
#include <cerrno>
#include <vector>

#include "CppUTest/TestHarness.h"
#include "loop/static_loop.h"
#include "test/fake/kernel.h"

using evl::DeferHandle;
using evl::WakeHandle;
using fake::Call;

namespace {

struct Woken {
  int calls = 0;
  uint32_t count = 0;
  bool stop_self = false;
};

void on_wake(evl::Loop& loop, WakeHandle h, uint32_t count, void* ctx) {
  auto* w = static_cast<Woken*>(ctx);
  ++w->calls;
  w->count += count;
  if (w->stop_self) CHECK_EQUAL(0, loop.wake_stop(h));
}

struct Order {
  std::vector<int> ran;
  evl::Loop* loop = nullptr;
  DeferHandle cancel_me;
};

struct Call1 {
  Order* order;
  int id;
};

void on_defer(evl::Loop&, void* ctx) {
  auto* c = static_cast<Call1*>(ctx);
  c->order->ran.push_back(c->id);
}

}  // namespace

TEST_GROUP(Wake) {
  fake::Kernel* k = nullptr;
  evl::StaticLoop<4, 1, 1, 2, 4>* loop = nullptr;
  void setup() override {
    k = new fake::Kernel();
    loop = new evl::StaticLoop<4, 1, 1, 2, 4>();
    CHECK_EQUAL(0, loop->init());
  }
  void teardown() override {
    delete loop;
    delete k;
  }
};

TEST(Wake, wakes_that_pile_up_deliver_one_callback_with_count) {
  Woken w;
  WakeHandle h;
  CHECK_EQUAL(0, loop->wake_start(on_wake, &w, &h));
  for (int i = 0; i < 5; ++i) CHECK_EQUAL(0, loop->wake(h));
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(1, w.calls);
  CHECK_EQUAL(5u, w.count);
  CHECK_EQUAL(0, loop->run_once(0));
}

TEST(Wake, only_woken_watchers_run) {
  Woken a;
  Woken b;
  WakeHandle ha;
  WakeHandle hb;
  CHECK_EQUAL(0, loop->wake_start(on_wake, &a, &ha));
  CHECK_EQUAL(0, loop->wake_start(on_wake, &b, &hb));
  CHECK_EQUAL(0, loop->wake(hb));
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(0, a.calls);
  CHECK_EQUAL(1, b.calls);
  CHECK_EQUAL(-ENOSPC, loop->wake_start(on_wake, &a, &ha));
}

TEST(Wake, stopped_watcher_refuses_wake_and_gets_no_callback) {
  Woken w;
  WakeHandle h;
  CHECK_EQUAL(0, loop->wake_start(on_wake, &w, &h));
  CHECK_EQUAL(0, loop->wake(h));
  CHECK_EQUAL(0, loop->wake_stop(h));
  CHECK_EQUAL(-ESTALE, loop->wake(h));
  CHECK_EQUAL(-ESTALE, loop->wake_stop(h));
  WakeHandle again;
  CHECK_EQUAL(0, loop->wake_start(on_wake, &w, &again));  // reuses the slot
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(0, w.calls);  // the old wake's count did not leak into it
}

TEST(Wake, stop_inside_own_callback) {
  Woken w;
  w.stop_self = true;
  WakeHandle h;
  CHECK_EQUAL(0, loop->wake_start(on_wake, &w, &h));
  CHECK_EQUAL(0, loop->wake(h));
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(0u, loop->active());
}

TEST(Wake, write_failure_is_reported_but_full_counter_is_not) {
  Woken w;
  WakeHandle h;
  CHECK_EQUAL(0, loop->wake_start(on_wake, &w, &h));
  k->fail_next(Call::kWrite, EAGAIN);
  CHECK_EQUAL(0, loop->wake(h));
  k->fail_next(Call::kWrite, EBADF);
  CHECK_EQUAL(-EBADF, loop->wake(h));
}

TEST(Wake, bad_arguments_and_eventfd_failure) {
  Woken w;
  WakeHandle h;
  CHECK_EQUAL(-EINVAL, loop->wake_start(nullptr, &w, &h));
  CHECK_EQUAL(-EINVAL, loop->wake_start(on_wake, &w, nullptr));
  k->fail_next(Call::kEventfd, EMFILE);
  CHECK_EQUAL(-EMFILE, loop->wake_start(on_wake, &w, &h));
  CHECK_EQUAL(0u, loop->active());
  CHECK_EQUAL(-ESTALE, loop->wake(WakeHandle{}));
}

TEST_GROUP(Defer) {
  fake::Kernel* k = nullptr;
  evl::StaticLoop<4, 1, 1, 1, 4>* loop = nullptr;
  void setup() override {
    k = new fake::Kernel();
    loop = new evl::StaticLoop<4, 1, 1, 1, 4>();
    CHECK_EQUAL(0, loop->init());
  }
  void teardown() override {
    delete loop;
    delete k;
  }
};

TEST(Defer, runs_once_next_iteration_in_fifo_order) {
  Order o;
  Call1 c[3] = {{&o, 1}, {&o, 2}, {&o, 3}};
  for (auto& each : c) CHECK_EQUAL(0, loop->defer(on_defer, &each));
  CHECK_EQUAL(3u, loop->active());
  CHECK_EQUAL(0, loop->run_once(-1));  // pending calls make the wait non-blocking
  CHECK_EQUAL(3u, o.ran.size());
  CHECK_EQUAL(1, o.ran[0]);
  CHECK_EQUAL(2, o.ran[1]);
  CHECK_EQUAL(3, o.ran[2]);
  CHECK_EQUAL(0u, loop->active());
}

namespace {

struct Requeue {
  int runs = 0;
};

void requeue(evl::Loop& loop, void* ctx) {
  auto* r = static_cast<Requeue*>(ctx);
  if (++r->runs < 3) CHECK_EQUAL(0, loop.defer(requeue, ctx));
}

struct Canceller {
  DeferHandle victim;
  int result = 1;
};

void cancel_other(evl::Loop& loop, void* ctx) {
  auto* c = static_cast<Canceller*>(ctx);
  c->result = loop.defer_cancel(c->victim);
}

}  // namespace

TEST(Defer, call_queued_from_deferred_call_waits_an_iteration) {
  Requeue r;
  CHECK_EQUAL(0, loop->defer(requeue, &r));
  CHECK_EQUAL(0, loop->run_once(0));
  CHECK_EQUAL(1, r.runs);
  CHECK_EQUAL(0, loop->run_once(0));
  CHECK_EQUAL(2, r.runs);
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(3, r.runs);
}

TEST(Defer, cancel_removes_and_stale_cancel_is_refused) {
  Order o;
  Call1 a{&o, 1};
  Call1 b{&o, 2};
  DeferHandle ha;
  DeferHandle hb;
  CHECK_EQUAL(0, loop->defer(on_defer, &a, &ha));
  CHECK_EQUAL(0, loop->defer(on_defer, &b, &hb));
  CHECK_EQUAL(0, loop->defer_cancel(ha));
  CHECK_EQUAL(-ESTALE, loop->defer_cancel(ha));
  CHECK_EQUAL(0, loop->run_once(0));
  CHECK_EQUAL(1u, o.ran.size());
  CHECK_EQUAL(2, o.ran[0]);
  CHECK_EQUAL(-ESTALE, loop->defer_cancel(hb));  // already ran
}

TEST(Defer, deferred_call_may_cancel_a_later_one_in_same_batch) {
  Order o;
  Call1 b{&o, 2};
  Canceller c;
  CHECK_EQUAL(0, loop->defer(cancel_other, &c));
  CHECK_EQUAL(0, loop->defer(on_defer, &b, &c.victim));
  CHECK_EQUAL(0, loop->run_once(0));
  CHECK_EQUAL(0, c.result);
  CHECK_EQUAL(0u, o.ran.size());
}

TEST(Defer, full_pool_and_null_function_are_refused) {
  Order o;
  Call1 a{&o, 1};
  for (int i = 0; i < 4; ++i) CHECK_EQUAL(0, loop->defer(on_defer, &a));
  CHECK_EQUAL(-ENOSPC, loop->defer(on_defer, &a));
  CHECK_EQUAL(-EINVAL, loop->defer(nullptr, &a));
  CHECK_EQUAL(4u, loop->health().defers.high_water);
}

TEST(Wake, a_failing_eventfd_registration_closes_it_and_is_reported) {
  WakeHandle h;
  const int before = k->open_fd_count();
  k->fail_next(Call::kEpollCtl, ENOMEM);
  CHECK_EQUAL(-ENOMEM, loop->wake_start(on_wake, nullptr, &h));
  CHECK_EQUAL(before, k->open_fd_count());
  CHECK_EQUAL(0, loop->wake_start(on_wake, nullptr, &h));  // later it works
}
