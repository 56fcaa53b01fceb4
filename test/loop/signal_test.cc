// Signal watchers on the fake kernel.
#include <cerrno>
#include <vector>

#include "CppUTest/TestHarness.h"
#include "loop/static_loop.h"
#include "test/fake/kernel.h"

using evl::SignalHandle;
using fake::Call;

namespace {

struct Seen {
  int calls = 0;
  int signo = 0;
  uint32_t pid = 0;
  bool stop_self = false;
};

void on_signal(evl::Loop& loop, SignalHandle h, const evl::SignalInfo& info, void* ctx) {
  auto* s = static_cast<Seen*>(ctx);
  ++s->calls;
  s->signo = info.signo;
  s->pid = info.pid;
  if (s->stop_self) CHECK_EQUAL(0, loop.signal_stop(h));
}

}  // namespace

TEST_GROUP(Signal) {
  fake::Kernel* k = nullptr;
  evl::StaticLoop<4, 1, 3>* loop = nullptr;
  void setup() override {
    k = new fake::Kernel();
    loop = new evl::StaticLoop<4, 1, 3>();
    CHECK_EQUAL(0, loop->init());
  }
  void teardown() override {
    delete loop;
    delete k;
  }
};

TEST(Signal, watched_signal_is_blocked_and_delivered_through_loop) {
  Seen s;
  SignalHandle h;
  CHECK_EQUAL(0, loop->signal_start(hal::kSigTerm, on_signal, &s, &h));
  CHECK(k->blocked_mask() & hal::sig_bit(hal::kSigTerm));
  CHECK_EQUAL(0, hal::kill(hal::getpid(), hal::kSigTerm));
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(1, s.calls);
  CHECK_EQUAL(hal::kSigTerm, s.signo);
  CHECK_EQUAL(static_cast<uint32_t>(fake::Kernel::kPid), s.pid);
  CHECK_EQUAL(0u, k->delivered_unblocked(hal::kSigTerm));
}

TEST(Signal, two_signals_reach_their_own_watchers) {
  Seen a;
  Seen b;
  SignalHandle ha;
  SignalHandle hb;
  CHECK_EQUAL(0, loop->signal_start(hal::kSigInt, on_signal, &a, &ha));
  CHECK_EQUAL(0, loop->signal_start(hal::kSigHup, on_signal, &b, &hb));
  k->raise(hal::kSigHup);
  k->raise(hal::kSigInt);
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(1, a.calls);
  CHECK_EQUAL(1, b.calls);
  CHECK_EQUAL(hal::kSigInt, a.signo);
  CHECK_EQUAL(hal::kSigHup, b.signo);
}

TEST(Signal, stop_restores_previous_mask) {
  Seen s;
  SignalHandle h;
  const uint64_t usr1 = hal::sig_bit(hal::kSigUsr1);
  CHECK_EQUAL(0, hal::sigprocmask(hal::kSigBlock, &usr1, nullptr));
  CHECK_EQUAL(0, loop->signal_start(hal::kSigUsr1, on_signal, &s, &h));
  CHECK_EQUAL(0, loop->signal_start(hal::kSigTerm, on_signal, &s, &h));
  CHECK_EQUAL(0, loop->signal_stop(h));
  CHECK_EQUAL(0u, k->blocked_mask() & hal::sig_bit(hal::kSigTerm));  // was unblocked
  loop->close();
  CHECK(k->blocked_mask() & usr1);  // was blocked before the loop
}

// The field fault (libuv's tests, ported): with SIGPIPE pending,
// signal_stop() unblocked it and the default action killed the process.
TEST(Signal, a_signal_pending_when_its_last_watcher_stops_is_discarded_and_counted) {
  Seen s;
  SignalHandle h;
  CHECK_EQUAL(0, loop->signal_start(hal::kSigPipe, on_signal, &s, &h));
  k->raise(hal::kSigPipe);
  CHECK_EQUAL(0, loop->signal_stop(h));
  CHECK_EQUAL(0u, k->delivered_unblocked(hal::kSigPipe));  // the default action never ran
  CHECK_EQUAL(0u, k->pending_mask() & hal::sig_bit(hal::kSigPipe));
  CHECK_EQUAL(0u, k->blocked_mask() & hal::sig_bit(hal::kSigPipe));  // unblocked again
  CHECK_EQUAL(1u, loop->health().signals_discarded);
  CHECK_EQUAL(0, loop->run_once(0));
  CHECK_EQUAL(0, s.calls);
}

TEST(Signal, a_signal_blocked_before_the_loop_stays_pending_after_the_last_stop) {
  Seen s;
  SignalHandle h;
  const uint64_t bit = hal::sig_bit(hal::kSigUsr1);
  CHECK_EQUAL(0, hal::sigprocmask(hal::kSigBlock, &bit, nullptr));
  CHECK_EQUAL(0, loop->signal_start(hal::kSigUsr1, on_signal, &s, &h));
  k->raise(hal::kSigUsr1);
  CHECK_EQUAL(0, loop->signal_stop(h));
  CHECK(k->pending_mask() & bit);  // the caller blocked it: theirs to take
  CHECK_EQUAL(0u, loop->health().signals_discarded);
}

TEST(Signal, several_watchers_of_one_signal_are_each_called_once_in_start_order) {
  std::vector<int> order;
  struct W {
    std::vector<int>* order;
    int id;
    SignalHandle stop_other;
    evl::Loop* loop;
  };
  W a{&order, 1, {}, loop}, b{&order, 2, {}, loop}, c{&order, 3, {}, loop};
  auto fn = [](evl::Loop& l, SignalHandle, const evl::SignalInfo&, void* ctx) {
    auto* w = static_cast<W*>(ctx);
    w->order->push_back(w->id);
    if (w->stop_other) CHECK_EQUAL(0, l.signal_stop(w->stop_other));
  };
  SignalHandle ha, hb, hc;
  CHECK_EQUAL(0, loop->signal_start(hal::kSigHup, fn, &c, &hc));  // slots: c first
  CHECK_EQUAL(0, loop->signal_stop(hc));
  CHECK_EQUAL(0, loop->signal_start(hal::kSigHup, fn, &a, &ha));
  CHECK_EQUAL(0, loop->signal_start(hal::kSigHup, fn, &b, &hb));
  CHECK_EQUAL(0, loop->signal_start(hal::kSigHup, fn, &c, &hc));
  k->raise(hal::kSigHup);
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK((order == std::vector<int>{1, 2, 3}));
  order.clear();
  a.stop_other = hb;  // a stops b during the delivery: b is not called
  k->raise(hal::kSigHup);
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK((order == std::vector<int>{1, 3}));
  CHECK(k->blocked_mask() & hal::sig_bit(hal::kSigHup));  // still watched by a and c
  CHECK_EQUAL(0, loop->signal_stop(ha));
  CHECK(k->blocked_mask() & hal::sig_bit(hal::kSigHup));
  CHECK_EQUAL(0, loop->signal_stop(hc));
  CHECK_EQUAL(0u, k->blocked_mask() & hal::sig_bit(hal::kSigHup));
}

TEST(Signal, a_signal_belongs_to_one_loop_per_process) {
  Seen s;
  SignalHandle h, h2;
  evl::StaticLoop<1, 1, 2> other;
  CHECK_EQUAL(0, other.init());
  CHECK_EQUAL(0, loop->signal_start(hal::kSigUsr2, on_signal, &s, &h));
  CHECK_EQUAL(-EBUSY, other.signal_start(hal::kSigUsr2, on_signal, &s, &h2));
  CHECK_EQUAL(0u, other.active());
  CHECK_EQUAL(0, other.signal_start(hal::kSigHup, on_signal, &s, &h2));  // another signal: fine
  CHECK_EQUAL(-EBUSY, loop->signal_start(hal::kSigHup, on_signal, &s, &h));
  CHECK_EQUAL(0, loop->signal_stop(h));
  CHECK_EQUAL(0, other.signal_start(hal::kSigUsr2, on_signal, &s, &h));  // released
  other.close();
  CHECK_EQUAL(0u, k->claimed_signals());
}

TEST(Signal, stop_inside_own_callback) {
  Seen s;
  s.stop_self = true;
  SignalHandle h;
  CHECK_EQUAL(0, loop->signal_start(hal::kSigTerm, on_signal, &s, &h));
  k->raise(hal::kSigTerm);
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(0u, loop->active());
  CHECK_EQUAL(-ESTALE, loop->signal_stop(h));
}

TEST(Signal, bad_arguments_are_refused) {
  Seen s;
  SignalHandle h;
  for (int bad : {0, -1, 65, 9, 19}) {
    CHECK_EQUAL(-EINVAL, loop->signal_start(bad, on_signal, &s, &h));
  }
  CHECK_EQUAL(-EINVAL, loop->signal_start(hal::kSigTerm, nullptr, &s, &h));
  CHECK_EQUAL(-EINVAL, loop->signal_start(hal::kSigTerm, on_signal, &s, nullptr));
  CHECK_EQUAL(0, loop->signal_start(hal::kSigTerm, on_signal, &s, &h));
  CHECK_EQUAL(0, loop->signal_start(hal::kSigTerm, on_signal, &s, &h));  // a second watcher
  CHECK_EQUAL(0, loop->signal_start(hal::kSigHup, on_signal, &s, &h));
  CHECK_EQUAL(-ENOSPC, loop->signal_start(hal::kSigInt, on_signal, &s, &h));
  CHECK_EQUAL(3u, loop->health().signals.high_water);
}

TEST(Signal, kernel_failures_leave_mask_and_pool_unchanged) {
  Seen s;
  SignalHandle h;
  k->fail_next(Call::kSignalfd, EMFILE);
  CHECK_EQUAL(-EMFILE, loop->signal_start(hal::kSigTerm, on_signal, &s, &h));
  CHECK_EQUAL(0u, k->blocked_mask());
  k->fail_next(Call::kSigprocmask, EINVAL);
  CHECK_EQUAL(-EINVAL, loop->signal_start(hal::kSigTerm, on_signal, &s, &h));
  k->fail_next(Call::kEpollCtl, ENOMEM);
  CHECK_EQUAL(-ENOMEM, loop->signal_start(hal::kSigTerm, on_signal, &s, &h));
  CHECK_EQUAL(0u, k->blocked_mask());
  CHECK_EQUAL(0u, loop->active());
  CHECK_EQUAL(0, loop->signal_start(hal::kSigTerm, on_signal, &s, &h));
}

TEST(Signal, interrupted_read_retries_next_iteration) {
  Seen s;
  SignalHandle h;
  CHECK_EQUAL(0, loop->signal_start(hal::kSigTerm, on_signal, &s, &h));
  k->raise(hal::kSigTerm);
  k->fail_next(Call::kRead, EINTR);
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(0, s.calls);
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(1, s.calls);
}
