// The loop semantics whose truth is the kernel's: embedding under a plain
// poll() parent, a pending signal at the last stop, several watchers of one
// signal, and signals with several loops in several threads. Bounded waits;
// no assertion on real-time values.
#include <poll.h>
#include <pthread.h>

#include <atomic>
#include <cerrno>

#include "CppUTest/TestHarness.h"
#include "loop/static_loop.h"

using evl::kMs;
using evl::kSec;

namespace {

int g_fired = 0;
void count_timer(evl::Loop&, evl::TimerHandle, uint32_t, void*) { ++g_fired; }
void count_defer(evl::Loop&, void*) { ++g_fired; }
void count_signal(evl::Loop&, evl::SignalHandle, const evl::SignalInfo&, void* ctx) {
  ++*static_cast<int*>(ctx);
}

// Polls the child's fd as a plain C parent would: sleeps at most
// next_wakeup_ns() (or 10 s with nothing scheduled) and runs run_once(0)
// when woken. Returns the number of polls that found the fd readable.
int poll_parent(evl::Loop& child, int rounds, int want_fired) {
  int readable = 0;
  for (int i = 0; i < rounds && g_fired < want_fired; ++i) {
    const int64_t ns = child.next_wakeup_ns();
    const int timeout_ms = ns < 0 ? 10000 : static_cast<int>((ns + kMs - 1) / kMs);
    pollfd p{child.fd(), POLLIN, 0};
    const int r = ::poll(&p, 1, timeout_ms + 1000);  // + slack: the fd must come first
    if (r == 1) ++readable;
    CHECK(child.run_once(0) >= 0);
  }
  return readable;
}

}  // namespace

TEST_GROUP(SemanticsLinux) {
  evl::StaticLoop<2, 4, 4, 1, 4>* loop = nullptr;
  void setup() override {
    loop = new evl::StaticLoop<2, 4, 4, 1, 4>();
    CHECK_EQUAL(0, loop->init());
    g_fired = 0;
  }
  void teardown() override { delete loop; }
};

TEST(SemanticsLinux, a_poll_parent_wakes_for_an_embedded_timer_and_deferred_call) {
  (void)loop->fd();  // embedded from here on
  evl::TimerHandle t;
  CHECK_EQUAL(0, loop->timer_after(20 * kMs, count_timer, nullptr, &t));
  CHECK_EQUAL(1, poll_parent(*loop, 5, 1));  // one readable poll, not a timeout
  CHECK_EQUAL(1, g_fired);
  CHECK_EQUAL(0, loop->defer(count_defer, nullptr));
  pollfd p{loop->fd(), POLLIN, 0};
  CHECK_EQUAL(1, ::poll(&p, 1, 10000));  // readable at once
  CHECK(loop->run_once(0) >= 0);
  CHECK_EQUAL(2, g_fired);
}

TEST(SemanticsLinux, a_pending_sigpipe_at_the_last_stop_does_not_kill_the_process) {
  int calls = 0;
  evl::SignalHandle h;
  CHECK_EQUAL(0, loop->signal_start(hal::kSigPipe, count_signal, &calls, &h));
  CHECK_EQUAL(0, hal::kill(hal::getpid(), hal::kSigPipe));
  CHECK_EQUAL(0, loop->signal_stop(h));  // the default action would end the test here
  CHECK_EQUAL(1u, loop->health().signals_discarded);
  CHECK_EQUAL(0, calls);
}

TEST(SemanticsLinux, every_watcher_of_a_signal_is_called_once_per_delivery) {
  int a = 0, b = 0;
  evl::SignalHandle ha, hb;
  CHECK_EQUAL(0, loop->signal_start(hal::kSigUsr1, count_signal, &a, &ha));
  CHECK_EQUAL(0, loop->signal_start(hal::kSigUsr1, count_signal, &b, &hb));
  CHECK_EQUAL(0, hal::kill(hal::getpid(), hal::kSigUsr1));
  for (int i = 0; i < 100 && a == 0; ++i) CHECK(loop->run_once(100) >= 0);
  CHECK_EQUAL(1, a);
  CHECK_EQUAL(1, b);
  CHECK_EQUAL(0, loop->signal_stop(ha));
  CHECK_EQUAL(0, loop->signal_stop(hb));
}

namespace {

struct Thread {
  evl::StaticLoop<1, 2, 2, 1, 1>* loop = nullptr;
  int start_result = 1;
  int calls = 0;
  std::atomic<bool>* go = nullptr;
};

// Each thread blocks SIGUSR2 first (as the header asks of other threads),
// then tries to watch it in its own loop.
void* thread_main(void* arg) {
  auto* t = static_cast<Thread*>(arg);
  const uint64_t bit = hal::sig_bit(hal::kSigUsr2);
  (void)hal::sigprocmask(hal::kSigBlock, &bit, nullptr);
  evl::SignalHandle h;
  t->start_result = t->loop->signal_start(hal::kSigUsr2, count_signal, &t->calls, &h);
  while (!t->go->load()) {
    (void)t->loop->run_once(10);
  }
  for (int i = 0; i < 200 && t->calls == 0 && t->start_result == 0; ++i) {
    (void)t->loop->run_once(50);
  }
  return nullptr;
}

}  // namespace

// The field fault: three loops in three threads watched SIGUSR1 and one
// kill() reached one of them. evl's promise: one loop per signal per
// process; the others are refused with -EBUSY.
TEST(SemanticsLinux, a_signal_belongs_to_one_loop_of_the_process) {
  const uint64_t bit = hal::sig_bit(hal::kSigUsr2);
  CHECK_EQUAL(0, hal::sigprocmask(hal::kSigBlock, &bit, nullptr));
  std::atomic<bool> go{false};
  Thread t[3];
  pthread_t id[3];
  for (Thread& x : t) {
    x.loop = new evl::StaticLoop<1, 2, 2, 1, 1>();
    CHECK_EQUAL(0, x.loop->init());
    x.go = &go;
  }
  for (int i = 0; i < 3; ++i) CHECK_EQUAL(0, pthread_create(&id[i], nullptr, thread_main, &t[i]));
  for (int i = 0; i < 300; ++i) {
    int decided = 0;
    for (Thread& x : t) decided += x.start_result != 1 ? 1 : 0;
    if (decided == 3) break;
    (void)::poll(nullptr, 0, 10);  // wait a little for the threads (bounded: 3 s)
  }
  int owners = 0, busy = 0;
  for (Thread& x : t) {
    owners += x.start_result == 0 ? 1 : 0;
    busy += x.start_result == -EBUSY ? 1 : 0;
  }
  CHECK_EQUAL(1, owners);
  CHECK_EQUAL(2, busy);
  CHECK_EQUAL(0, hal::kill(hal::getpid(), hal::kSigUsr2));
  go.store(true);
  for (int i = 0; i < 3; ++i) CHECK_EQUAL(0, pthread_join(id[i], nullptr));
  for (Thread& x : t) {
    if (x.start_result == 0) CHECK_EQUAL(1, x.calls);
    x.loop->close();
    delete x.loop;
  }
  CHECK_EQUAL(0, hal::sigprocmask(hal::kSigUnblock, &bit, nullptr));
}
