// The parts of apps/common/snapshot.h on the fake kernel: timers saved and
// started again in their recorded order, weak ones weak, io watchers, and
// snapshots that cannot be used.
#include <cerrno>
#include <vector>

#include "CppUTest/TestHarness.h"
#include "apps/common/log.h"
#include "apps/common/snapshot.h"
#include "hal/sys.h"
#include "loop/static_loop.h"
#include "test/fake/kernel.h"

using evl::kMs;
using evl::kSec;

namespace {

using TestLoop = evl::StaticLoop<4, 24, 2, 1, 2, 16, 4>;

struct Fired {
  std::vector<int>* order;
  int id;
};

void on_timer(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  auto* f = static_cast<Fired*>(ctx);
  f->order->push_back(f->id);
}

void on_io(evl::Loop&, evl::IoHandle, uint32_t, void*) {}

}  // namespace

TEST_GROUP(Snapshot) {
  fake::Kernel* k = nullptr;
  TestLoop* loop = nullptr;
  uint8_t bytes[4096] = {};
  void setup() override {
    k = new fake::Kernel();
    loop = new TestLoop();
    CHECK_EQUAL(0, loop->init());
  }
  void teardown() override {
    delete loop;
    delete k;
  }
};

// Two timers with the same deadline, saved in the opposite order to their
// start: restored, they still fire in start order; a weak one stays weak
// (it does not keep run() going), and an unarmed handle is none.
TEST(Snapshot, timers_come_back_in_start_order_weak_ones_weak) {
  std::vector<int> order;
  Fired a{&order, 1}, b{&order, 2}, c{&order, 3};
  evl::TimerHandle ha, hb, hc, none;
  CHECK_EQUAL(0, loop->timer_after(kSec, on_timer, &a, &ha));
  CHECK_EQUAL(0, loop->timer_after(kSec, on_timer, &b, &hb));
  evl::TimerSpec periodic;
  periodic.period_ns = 300 * kMs;
  CHECK_EQUAL(0, loop->timer_start(periodic, on_timer, &c, &hc));
  CHECK_EQUAL(0, loop->set_weak(hc, true));
  flight::SnapWriter w(bytes, sizeof bytes);
  app::save_timer(w, *loop, hb);
  app::save_timer(w, *loop, ha);
  app::save_timer(w, *loop, hc);
  app::save_timer(w, *loop, none);
  for (evl::TimerHandle* h : {&ha, &hb, &hc}) loop->timer_clear(h);
  flight::SnapReader in(bytes, w.size());
  app::Restore r(*loop, in);
  r.timer(&hb, on_timer, &b);
  r.timer(&ha, on_timer, &a);
  r.timer(&hc, on_timer, &c);
  r.timer(&none, on_timer, &c);
  CHECK(!ha && !hb && !hc);  // started by finish()
  CHECK_EQUAL(0, r.finish());
  CHECK(ha && hb && hc && !none);
  CHECK_EQUAL(1u, loop->weak());
  CHECK_EQUAL(0, loop->run());  // until the two one-shots fired: the weak one does not keep it
  const std::vector<int> want = {3, 3, 3, 1, 2};
  CHECK(order == want);
}

TEST(Snapshot, an_io_watcher_comes_back_on_its_fd) {
  int p[2];
  CHECK_EQUAL(0, hal::pipe2(p, hal::kNonblock));
  flight::SnapReader in(bytes, 0);
  app::Restore r(*loop, in);
  evl::IoHandle h;
  r.io(p[0], evl::kIn, on_io, nullptr, &h);
  CHECK(h.raw != 0);
  evl::IoHandle again;
  r.io(p[0], evl::kIn, on_io, nullptr, &again);  // the fd is watched already
  CHECK(!again);
  CHECK_EQUAL(-EINVAL, r.finish());
  evl::IoHandle after;
  r.io(p[0], evl::kIn, on_io, nullptr, &after);  // nothing more once failed
  CHECK(!after);
  r.io(-1, evl::kIn, on_io, nullptr, &after);
  CHECK(!after);
  CHECK_EQUAL(0, loop->io_stop(h));
  CHECK_EQUAL(0, hal::close(p[0]));
  CHECK_EQUAL(0, hal::close(p[1]));
}

TEST(Snapshot, a_timer_out_of_range_or_one_too_many_fails_the_restore) {
  std::vector<int> order;
  Fired a{&order, 1};
  evl::TimerHandle h;
  CHECK_EQUAL(0, loop->timer_after(kSec, on_timer, &a, &h));
  flight::SnapWriter w(bytes, sizeof bytes);
  for (size_t i = 0; i <= app::Restore::kMaxTimers; ++i) app::save_timer(w, *loop, h);
  {
    flight::SnapReader in(bytes, w.size());
    app::Restore r(*loop, in);
    evl::TimerHandle out[app::Restore::kMaxTimers + 1];
    for (evl::TimerHandle& o : out) r.timer(&o, on_timer, &a);
    CHECK(r.failed());
    CHECK_EQUAL(-EINVAL, r.finish());
  }
  bytes[29] = 7;  // the first timer's clock (after deadline, period, slack, seq, armed)
  flight::SnapReader in(bytes, 32);
  app::Restore r(*loop, in);
  evl::TimerHandle o;
  r.timer(&o, on_timer, &a);
  CHECK_EQUAL(-EINVAL, r.finish());
  // A timer the loop refuses (a negative deadline) fails it too.
  bytes[29] = 0;
  const int64_t negative = -5;
  std::memcpy(bytes, &negative, sizeof negative);
  flight::SnapReader in2(bytes, 32);
  app::Restore r2(*loop, in2);
  r2.timer(&o, on_timer, &a);
  CHECK_EQUAL(-EINVAL, r2.finish());
}

// A ring's bytes, and what a snapshot writer does when it is full.
TEST(Snapshot, a_ring_comes_back_and_a_full_writer_fails) {
  hal::Ring<600> ring;
  char text[550];
  for (size_t i = 0; i < sizeof text; ++i) text[i] = static_cast<char>('a' + i % 26);
  CHECK_EQUAL(sizeof text, ring.push(text, sizeof text));
  char drop[100];
  CHECK_EQUAL(sizeof drop, ring.pop(drop, sizeof drop));
  CHECK_EQUAL(100u, ring.push(text, 100));  // wraps
  flight::SnapWriter w(bytes, sizeof bytes);
  app::save_ring(w, ring);
  hal::Ring<600> back;
  flight::SnapReader in(bytes, w.size());
  app::Restore r(*loop, in);
  CHECK(r.ring(&back));
  CHECK_EQUAL(ring.size(), back.size());
  for (size_t i = 0; i < ring.size(); ++i) CHECK_EQUAL(ring.at(i), back.at(i));
  hal::Ring<100> small;  // too small for them
  flight::SnapReader in2(bytes, w.size());
  app::Restore r2(*loop, in2);
  CHECK_FALSE(r2.ring(&small));
  flight::SnapReader cut(bytes, 300);
  app::Restore r3(*loop, cut);
  CHECK_FALSE(r3.ring(&back));
  uint8_t tiny[8];
  flight::SnapWriter full(tiny, sizeof tiny);
  app::save_ring(full, ring);
  CHECK_FALSE(full.ok());
  CHECK_EQUAL(4u, full.size());  // the size went in, the bytes did not
}
