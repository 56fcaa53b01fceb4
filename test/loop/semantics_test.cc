// Loop semantics that users of libuv and libev rely on, on the fake kernel:
// stop() before and inside run, embedding through fd() and next_wakeup_ns(),
// weak watchers, prepare and check hooks, a timer's period changed live.
#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "CppUTest/TestHarness.h"
#include "loop/static_loop.h"
#include "test/fake/kernel.h"

using evl::kMs;
using evl::kSec;
using evl::TimerHandle;

namespace {

using TestLoop = evl::StaticLoop<4, 8, 2, 1, 4, 16, 2, 2, 4>;

std::vector<std::string>* g_log = nullptr;
void note(const char* what) { g_log->push_back(what); }

void on_timer(evl::Loop&, TimerHandle, uint32_t, void* ctx) { note(static_cast<const char*>(ctx)); }
void on_defer(evl::Loop&, void* ctx) { note(static_cast<const char*>(ctx)); }
void on_hook(evl::Loop&, void* ctx) { note(static_cast<const char*>(ctx)); }
void stop_loop(evl::Loop& loop, TimerHandle, uint32_t, void*) {
  note("stop");
  loop.stop();
}

}  // namespace

TEST_GROUP(Semantics) {
  fake::Kernel* k = nullptr;
  TestLoop* loop = nullptr;
  std::vector<std::string> log;
  void setup() override {
    k = new fake::Kernel();
    loop = new TestLoop();
    CHECK_EQUAL(0, loop->init());
    g_log = &log;
  }
  void teardown() override {
    delete loop;
    delete k;
  }
};

// The field fault: run() cleared the flag when it started.
TEST(Semantics, stop_before_run_returns_at_once_without_callbacks) {
  TimerHandle t;
  CHECK_EQUAL(0, loop->timer_after(0, on_timer, const_cast<char*>("timer"), &t));
  CHECK_EQUAL(0, loop->defer(on_defer, const_cast<char*>("defer")));
  loop->stop();
  CHECK_EQUAL(0, loop->run());
  CHECK(log.empty());
  CHECK(loop->run_once(0) >= 0);  // the request was used up: this one works
  CHECK_EQUAL(2u, log.size());
}

// The field fault: a stop() inside run_once stayed in effect, so a loop
// driven by run_once(-1) returned at once for ever (a busy spin).
TEST(Semantics, a_stop_inside_run_once_is_used_up_when_it_returns) {
  TimerHandle t1, t2;
  CHECK_EQUAL(0, loop->timer_after(10 * kMs, stop_loop, nullptr, &t1));
  CHECK_EQUAL(0, loop->timer_after(500 * kMs, on_timer, const_cast<char*>("later"), &t2));
  const int64_t t0 = k->monotonic_ns();
  CHECK_EQUAL(1, loop->run_once(-1));
  CHECK_EQUAL(1, loop->run_once(-1));  // blocks until the next timer, not a spin
  CHECK_EQUAL(t0 + 500 * kMs, k->monotonic_ns());
  CHECK((log == std::vector<std::string>{"stop", "later"}));
}

TEST(Semantics, stop_inside_run_ends_it_and_the_next_run_runs) {
  TimerHandle t1, t2;
  CHECK_EQUAL(0, loop->timer_after(10 * kMs, stop_loop, nullptr, &t1));
  CHECK_EQUAL(0, loop->timer_after(20 * kMs, on_timer, const_cast<char*>("after"), &t2));
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(1u, log.size());
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(2u, log.size());
}

TEST(Semantics, next_wakeup_is_minus_one_idle_zero_with_work_else_time_to_the_timer) {
  CHECK_EQUAL(-1, loop->next_wakeup_ns());
  TimerHandle t;
  CHECK_EQUAL(0, loop->timer_after(250 * kMs, on_timer, const_cast<char*>("t"), &t));
  CHECK_EQUAL(250 * kMs, loop->next_wakeup_ns());
  k->advance(100 * kMs);
  CHECK_EQUAL(150 * kMs, loop->next_wakeup_ns());
  evl::DeferHandle d;
  CHECK_EQUAL(0, loop->defer(on_defer, const_cast<char*>("d"), &d));
  CHECK_EQUAL(0, loop->next_wakeup_ns());
  CHECK_EQUAL(0, loop->defer_cancel(d));
  k->advance(kSec);
  CHECK_EQUAL(0, loop->next_wakeup_ns());  // overdue
}

// Deferred calls run before the wait on one word of flags (loop.h's
// BeforeWait): a call cancelled must clear its flag, one still queued
// behind it must not.
TEST(Semantics, a_cancelled_deferred_call_lets_the_wait_block_one_still_queued_runs_first) {
  evl::DeferHandle a, b;
  CHECK_EQUAL(0, loop->defer(on_defer, const_cast<char*>("a"), &a));
  CHECK_EQUAL(0, loop->defer(on_defer, const_cast<char*>("b"), &b));
  CHECK_EQUAL(0, loop->defer_cancel(a));
  TimerHandle t;
  CHECK_EQUAL(0, loop->timer_after(10 * kMs, on_timer, const_cast<char*>("t1"), &t));
  const int64_t t0 = k->monotonic_ns();
  CHECK_EQUAL(1, loop->run_once(-1));  // b before the wait, then the timer
  CHECK((log == std::vector<std::string>{"b", "t1"}));
  CHECK_EQUAL(t0 + 10 * kMs, k->monotonic_ns());
  CHECK_EQUAL(0, loop->defer(on_defer, const_cast<char*>("c"), &a));
  CHECK_EQUAL(0, loop->defer_cancel(a));
  CHECK_EQUAL(0, loop->timer_after(10 * kMs, on_timer, const_cast<char*>("t2"), &t));
  CHECK_EQUAL(1, loop->run_once(-1));  // nothing queued: it blocks until the timer
  CHECK((log == std::vector<std::string>{"b", "t1", "t2"}));
  CHECK_EQUAL(t0 + 20 * kMs, k->monotonic_ns());
}

namespace {

struct Parent {
  evl::Loop* child;
  int wakes = 0;
};

void on_child_ready(evl::Loop&, evl::IoHandle, uint32_t, void* ctx) {
  auto* p = static_cast<Parent*>(ctx);
  ++p->wakes;
  CHECK(p->child->run_once(0) >= 0);
}

void start_inner_timer(evl::Loop& loop, void*) {
  TimerHandle t;
  CHECK_EQUAL(0, loop.timer_after(30 * kMs, on_timer, const_cast<char*>("inner"), &t));
}

}  // namespace

// The field fault: a parent polling fd() waited its full 500 ms for a 20 ms
// timer, and never woke for a pending defer().
TEST(Semantics, an_embedded_loop_wakes_its_parent_for_timers_and_deferred_calls) {
  evl::StaticLoop<2, 4> parent;
  CHECK_EQUAL(0, parent.init());
  Parent p{loop};
  evl::IoHandle h;
  CHECK_EQUAL(0, parent.io_start(loop->fd(), evl::kIn, on_child_ready, &p, &h));
  const int64_t t0 = k->monotonic_ns();
  TimerHandle t;
  CHECK_EQUAL(0, loop->timer_after(20 * kMs, on_timer, const_cast<char*>("t20"), &t));
  CHECK_EQUAL(1, parent.run_once(500));
  CHECK_EQUAL(t0 + 20 * kMs, k->monotonic_ns());  // woken at the child's deadline
  CHECK((log == std::vector<std::string>{"t20"}));
  // A deferred call queued outside the child's iteration wakes the parent at once.
  CHECK_EQUAL(0, loop->defer(start_inner_timer, nullptr));
  const int64_t t1 = k->monotonic_ns();
  CHECK_EQUAL(1, parent.run_once(500));
  CHECK_EQUAL(t1, k->monotonic_ns());
  // ... and the timer that deferred call started inside the child's
  // run_once(0) is armed when that returns: the parent wakes at its deadline.
  CHECK_EQUAL(1, parent.run_once(500));
  CHECK_EQUAL(t1 + 30 * kMs, k->monotonic_ns());
  CHECK((log == std::vector<std::string>{"t20", "inner"}));
  CHECK_EQUAL(3, p.wakes);
  CHECK_EQUAL(0, parent.io_stop(h));
}

// Outside callbacks an embedded loop arms its timerfd at each timer change
// (restart, restart at, stop), so that the parent's poll sees it at once.
TEST(Semantics, an_embedded_loop_arms_at_once_for_restarts_and_stops) {
  evl::StaticLoop<2, 4> parent;
  CHECK_EQUAL(0, parent.init());
  Parent p{loop};
  evl::IoHandle h;
  CHECK_EQUAL(0, parent.io_start(loop->fd(), evl::kIn, on_child_ready, &p, &h));
  TimerHandle t;
  CHECK_EQUAL(0, loop->timer_after(20 * kMs, on_timer, const_cast<char*>("t"), &t));
  const int64_t t0 = k->monotonic_ns();
  k->reset_calls();
  CHECK_EQUAL(0, loop->timer_restart(t, 80 * kMs));
  CHECK_EQUAL(1u, k->calls(fake::Call::kTimerfdSettime));
  CHECK_EQUAL(0, loop->timer_restart_at(t, t0 + 60 * kMs));
  CHECK_EQUAL(2u, k->calls(fake::Call::kTimerfdSettime));
  CHECK_EQUAL(1, parent.run_once(500));
  CHECK_EQUAL(t0 + 60 * kMs, k->monotonic_ns());  // the new deadline, not 20 ms
  CHECK((log == std::vector<std::string>{"t"}));
  CHECK_EQUAL(0, loop->timer_after(20 * kMs, on_timer, const_cast<char*>("u"), &t));
  k->reset_calls();
  CHECK_EQUAL(0, loop->timer_stop(t));
  CHECK_EQUAL(1u, k->calls(fake::Call::kTimerfdSettime));  // disarmed
  CHECK_EQUAL(0, parent.run_once(100));                    // nothing to wake for
  CHECK_EQUAL(t0 + 160 * kMs, k->monotonic_ns());
  CHECK((log == std::vector<std::string>{"t"}));
  CHECK_EQUAL(0, parent.io_stop(h));
}

TEST(Semantics, a_not_embedded_loop_makes_no_extra_system_calls) {
  TimerHandle t;
  k->reset_calls();
  CHECK_EQUAL(0, loop->timer_after(20 * kMs, on_timer, const_cast<char*>("t"), &t));
  CHECK_EQUAL(0, loop->defer(on_defer, const_cast<char*>("d")));
  CHECK_EQUAL(0u, k->calls(fake::Call::kTimerfdSettime));
  CHECK_EQUAL(0u, k->calls(fake::Call::kWrite));
}

TEST(Semantics, weak_watchers_do_not_keep_run_going) {
  TimerHandle house, work;
  evl::TimerSpec every;
  every.period_ns = 100 * kMs;
  CHECK_EQUAL(0, loop->timer_start(every, on_timer, const_cast<char*>("house"), &house));
  CHECK_EQUAL(0, loop->set_weak(house, true));
  CHECK_EQUAL(0, loop->timer_after(350 * kMs, on_timer, const_cast<char*>("work"), &work));
  CHECK_EQUAL(2u, loop->active());
  CHECK_EQUAL(1u, loop->weak());
  const int64_t t0 = k->monotonic_ns();
  CHECK_EQUAL(0, loop->run());  // ends with the real work
  CHECK_EQUAL(t0 + 350 * kMs, k->monotonic_ns());
  CHECK_EQUAL(4u, log.size());  // house x3, then work
  CHECK_EQUAL(1u, loop->active());
  CHECK_EQUAL(0, loop->run_once(-1));  // only weak left: no blocking
  CHECK_EQUAL(t0 + 350 * kMs, k->monotonic_ns());
  CHECK_EQUAL(0, loop->set_weak(house, false));
  CHECK_EQUAL(0u, loop->weak());
  CHECK_EQUAL(0, loop->timer_stop(house));
  CHECK_EQUAL(-ESTALE, loop->set_weak(house, true));
  CHECK_EQUAL(0u, loop->weak());  // a released weak slot leaves the count
}

TEST(Semantics, prepare_runs_before_the_wait_and_check_after_it_in_start_order) {
  evl::PrepareHandle p1, p2;
  evl::CheckHandle c1;
  CHECK_EQUAL(0, loop->prepare_start(on_hook, const_cast<char*>("prepare1"), &p1));
  CHECK_EQUAL(0, loop->check_start(on_hook, const_cast<char*>("check1"), &c1));
  CHECK_EQUAL(0, loop->prepare_start(on_hook, const_cast<char*>("prepare2"), &p2));
  TimerHandle t;
  CHECK_EQUAL(0, loop->timer_after(10 * kMs, on_timer, const_cast<char*>("timer"), &t));
  CHECK_EQUAL(1, loop->run_once(-1));
  CHECK((log == std::vector<std::string>{"prepare1", "prepare2", "check1", "timer"}));
  CHECK_EQUAL(0, loop->prepare_stop(p1));
  CHECK_EQUAL(-ESTALE, loop->prepare_stop(p1));
  CHECK_EQUAL(-ESTALE, loop->check_stop(evl::CheckHandle{p2.raw}));  // a prepare is no check
  log.clear();
  CHECK_EQUAL(0, loop->run_once(0));
  CHECK((log == std::vector<std::string>{"prepare2", "check1"}));
  CHECK_EQUAL(0, loop->prepare_stop(p2));
  CHECK_EQUAL(0, loop->check_stop(c1));
  CHECK_EQUAL(0u, loop->active());
}

namespace {

struct Resolver {  // a library with its own timeouts, driven by hooks
  evl::Loop* loop;
  int prepared = 0;
  int checked = 0;
  evl::PrepareHandle p;
  TimerHandle timeout;  // its own retry timer
};

void resolver_prepare(evl::Loop& loop, void* ctx) {
  auto* r = static_cast<Resolver*>(ctx);
  if (++r->prepared < 3) return;
  CHECK_EQUAL(0, loop.prepare_stop(r->p));  // done: stops itself and its timer
  CHECK_EQUAL(0, loop.timer_stop(r->timeout));
}
void resolver_check(evl::Loop&, void* ctx) { ++static_cast<Resolver*>(ctx)->checked; }

}  // namespace

TEST(Semantics, a_hook_may_stop_itself_and_hooks_keep_run_alive_unless_weak) {
  Resolver r{loop, 0, 0, {}, {}};
  evl::CheckHandle c;
  evl::TimerSpec every;
  every.period_ns = 10 * kMs;
  CHECK_EQUAL(0, loop->timer_start(every, on_timer, const_cast<char*>("retry"), &r.timeout));
  CHECK_EQUAL(0, loop->prepare_start(resolver_prepare, &r, &r.p));
  CHECK_EQUAL(0, loop->check_start(resolver_check, &r, &c));
  CHECK_EQUAL(0, loop->set_weak(c, true));
  const int ran = loop->run();  // three iterations, then only a weak check is left
  CHECK_EQUAL(0, ran);
  CHECK_EQUAL(3, r.prepared);
  CHECK_EQUAL(3, r.checked);  // the third wait did not block (nothing alive), yet returned
  CHECK_EQUAL(2u, log.size());
  CHECK_EQUAL(0, loop->check_stop(c));
}

TEST(Semantics, a_timer_period_changes_from_its_next_expiry) {
  std::vector<int64_t> at;
  struct P {
    std::vector<int64_t>* at;
    fake::Kernel* k;
  } ctx{&at, k};
  auto fn = [](evl::Loop&, TimerHandle, uint32_t, void* c) {
    auto* p = static_cast<P*>(c);
    p->at->push_back(p->k->monotonic_ns());
  };
  evl::TimerSpec every;
  every.period_ns = 100 * kMs;
  TimerHandle t;
  const int64_t t0 = k->monotonic_ns();
  CHECK_EQUAL(0, loop->timer_start(every, fn, &ctx, &t));
  CHECK_EQUAL(1, loop->run_once(-1));                    // t0 + 100
  CHECK_EQUAL(0, loop->timer_set_period(t, 300 * kMs));  // next (t0 + 200) stays
  CHECK_EQUAL(1, loop->run_once(-1));
  CHECK_EQUAL(1, loop->run_once(-1));
  CHECK_EQUAL(0, loop->timer_set_period(t, 0));  // one more expiry, then done
  CHECK_EQUAL(1, loop->run_once(-1));
  CHECK(
      (at == std::vector<int64_t>{t0 + 100 * kMs, t0 + 200 * kMs, t0 + 500 * kMs, t0 + 800 * kMs}));
  CHECK_EQUAL(0u, loop->active());
  CHECK_EQUAL(-ESTALE, loop->timer_set_period(t, 10));
  TimerHandle u;
  CHECK_EQUAL(0, loop->timer_after(kSec, fn, &ctx, &u));
  CHECK_EQUAL(-EINVAL, loop->timer_set_period(u, -1));
}

TEST(Semantics, hook_misuse_and_limits) {
  evl::PrepareHandle p;
  CHECK_EQUAL(-EINVAL, loop->prepare_start(nullptr, nullptr, &p));
  evl::StaticLoop<1, 1, 1, 1, 1, 1, 1, 1, 1> idle;  // never initialised
  CHECK_EQUAL(-EINVAL, idle.prepare_start(on_hook, nullptr, &p));
  CHECK_EQUAL(-EINVAL, loop->check_start(on_hook, nullptr, nullptr));  // the handle is needed
  evl::CheckHandle c[4];
  for (auto& h : c) CHECK_EQUAL(0, loop->check_start(on_hook, nullptr, &h));
  CHECK_EQUAL(-ENOSPC, loop->prepare_start(on_hook, nullptr, &p));
  CHECK_EQUAL(4u, loop->active());
}
