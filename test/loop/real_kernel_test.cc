// Tests that only make sense on the real kernel: heap use, threads, and
// signal handlers. Bounded: no test waits longer than its own short timeout.
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>

#include "CppUTest/TestHarness.h"
#include "loop/static_loop.h"
#include "test/support/alloc_counter.h"

using evl::IoHandle;

namespace {

void on_io(evl::Loop& loop, IoHandle h, uint32_t, void*) {
  char buf[8];
  (void)hal::read(loop.io_fd(h), buf, sizeof buf);
}
void on_wake(evl::Loop&, evl::WakeHandle, uint32_t n, void* ctx) {
  *static_cast<uint32_t*>(ctx) += n;
}
void on_signal(evl::Loop&, evl::SignalHandle, const evl::SignalInfo&, void* ctx) {
  ++*static_cast<int*>(ctx);
}
void on_defer(evl::Loop&, void* ctx) { ++*static_cast<int*>(ctx); }
void on_hook(evl::Loop&, void* ctx) { ++*static_cast<int*>(ctx); }
void on_timer(evl::Loop&, evl::TimerHandle, uint32_t, void*) {}
void on_child(evl::Loop&, evl::ChildHandle, int, int, void*) {}

using BigLoop = evl::StaticLoop<64, 64, 4, 4, 16>;

}  // namespace

TEST_GROUP(RealKernel){};

TEST(RealKernel, no_heap_allocation_after_init_under_churn) {
  static BigLoop loop;  // static storage: the loop is too big for some stacks
  CHECK_EQUAL(0, loop.init());
  int pipes[32][2];
  for (auto& p : pipes) CHECK_EQUAL(0, hal::pipe2(p, hal::kNonblock | hal::kCloexec));
  uint32_t woken = 0;
  int signals = 0;
  int defers = 0;
  int hooks = 0;
  // A child that lives through the churn: its watcher is started and
  // stopped every round (spawning itself is libc's business, outside).
  char sh[] = "/bin/sh";
  char c[] = "-c";
  char body[] = "exec sleep 600";  // until we kill it
  char* argv[] = {sh, c, body, nullptr};
  int child = -1;
  CHECK_EQUAL(0, hal::spawn(sh, argv, &child));
  testsupport::AllocCounter counter;
  for (int round = 0; round < 2000; ++round) {
    IoHandle h[32];
    for (int i = 0; i < 32; ++i) {
      CHECK_EQUAL(0, loop.io_start(pipes[i][0], evl::kIn, on_io, nullptr, &h[i]));
    }
    CHECK_EQUAL(1, hal::write(pipes[round % 32][1], "x", 1));
    evl::WakeHandle w;
    CHECK_EQUAL(0, loop.wake_start(on_wake, &woken, &w));
    CHECK_EQUAL(0, loop.wake(w));
    evl::SignalHandle s;
    CHECK_EQUAL(0, loop.signal_start(SIGUSR2, on_signal, &signals, &s));
    if (round % 100 == 0) CHECK_EQUAL(0, hal::kill(hal::getpid(), SIGUSR2));
    evl::DeferHandle d;
    CHECK_EQUAL(0, loop.defer(on_defer, &defers, &d));
    if (round % 3 == 0) CHECK_EQUAL(0, loop.defer_cancel(d));
    evl::PrepareHandle ph;
    evl::CheckHandle ch;
    CHECK_EQUAL(0, loop.prepare_start(on_hook, &hooks, &ph));
    CHECK_EQUAL(0, loop.check_start(on_hook, &hooks, &ch));
    CHECK_EQUAL(0, loop.set_weak(ch, true));
    evl::TimerSpec every;
    every.period_ns = evl::kSec;
    evl::TimerHandle t;
    CHECK_EQUAL(0, loop.timer_start(every, on_timer, nullptr, &t));
    CHECK_EQUAL(0, loop.timer_set_period(t, 2 * evl::kSec));
    CHECK_EQUAL(0, loop.set_weak(t, true));
    evl::ChildHandle kid;
    CHECK_EQUAL(0, loop.child_start(child, on_child, nullptr, &kid));
    CHECK(loop.run_once(0) >= 0);
    CHECK(loop.run_once(0) >= 0);
    CHECK_EQUAL(0, loop.child_stop(kid));
    CHECK_EQUAL(0, loop.timer_stop(t));
    CHECK_EQUAL(0, loop.prepare_stop(ph));
    CHECK_EQUAL(0, loop.check_stop(ch));
    for (int i = 0; i < 32; ++i) CHECK_EQUAL(0, loop.io_stop(h[i]));
    CHECK_EQUAL(0, loop.wake_stop(w));
    CHECK_EQUAL(0, loop.signal_stop(s));
    (void)loop.health();
  }
  const uint64_t allocations = counter.count();
  CHECK_EQUAL(0u, allocations);
  CHECK(counter.working());  // the counter itself sees allocations
  CHECK_EQUAL(2000u, woken);
  CHECK_EQUAL(20, signals);
  CHECK(defers >= 1333);
  CHECK_EQUAL(2 * 2000 * 2, hooks);  // two hooks, two iterations a round
  CHECK_EQUAL(0, hal::kill(child, SIGKILL));
  CHECK_EQUAL(child, hal::waitpid(child, nullptr, 0));
  for (auto& p : pipes) {
    CHECK_EQUAL(0, hal::close(p[0]));
    CHECK_EQUAL(0, hal::close(p[1]));
  }
  loop.close();
}

namespace {

struct ThreadArgs {
  evl::Loop* loop;
  evl::WakeHandle h;
  int n;
  std::atomic<int> failures{0};
};

void* waker(void* arg) {
  auto* a = static_cast<ThreadArgs*>(arg);
  for (int i = 0; i < a->n; ++i) {
    if (a->loop->wake(a->h) != 0) a->failures.fetch_add(1);
  }
  return nullptr;
}

}  // namespace

TEST(RealKernel, wakes_from_other_threads_are_all_counted) {
  static evl::StaticLoop<2, 1, 1, 2> loop;
  CHECK_EQUAL(0, loop.init());
  uint32_t woken = 0;
  ThreadArgs args{&loop, {}, 5000};
  CHECK_EQUAL(0, loop.wake_start(on_wake, &woken, &args.h));
  pthread_t t[2];
  for (auto& each : t) CHECK_EQUAL(0, pthread_create(&each, nullptr, waker, &args));
  for (int i = 0; i < 100000 && woken < 10000u; ++i) CHECK(loop.run_once(100) >= 0);
  for (auto& each : t) CHECK_EQUAL(0, pthread_join(each, nullptr));
  while (loop.run_once(0) > 0) {
  }
  CHECK_EQUAL(0, args.failures.load());
  CHECK_EQUAL(10000u, woken);
  loop.close();
}

namespace {

evl::Loop* g_handler_loop = nullptr;
evl::WakeHandle g_handler_wake;

void handler(int) { (void)g_handler_loop->wake(g_handler_wake); }

}  // namespace

TEST(RealKernel, wake_from_a_signal_handler) {
  static evl::StaticLoop<2, 1, 1, 1> loop;
  CHECK_EQUAL(0, loop.init());
  uint32_t woken = 0;
  CHECK_EQUAL(0, loop.wake_start(on_wake, &woken, &g_handler_wake));
  g_handler_loop = &loop;
  struct sigaction sa = {};
  struct sigaction old = {};
  sa.sa_handler = handler;
  CHECK_EQUAL(0, sigaction(SIGALRM, &sa, &old));
  CHECK_EQUAL(0, raise(SIGALRM));
  CHECK_EQUAL(1, loop.run_once(1000));
  CHECK_EQUAL(1u, woken);
  CHECK_EQUAL(0, sigaction(SIGALRM, &old, nullptr));
  loop.close();
}
