// Running the loop: run(), run_once(), stop(), errors, health, embedding.
#include <cerrno>

#include "CppUTest/TestHarness.h"
#include "loop/static_loop.h"
#include "test/fake/kernel.h"

using evl::IoHandle;
using fake::Call;

namespace {

struct Reader {
  int calls = 0;
  int stop_after = 1;
  int64_t busy_ns = 0;  // virtual time the callback "takes"
  fake::Kernel* k = nullptr;
};

void on_read(evl::Loop& loop, IoHandle h, uint32_t, void* ctx) {
  auto* r = static_cast<Reader*>(ctx);
  char buf[16];
  (void)hal::read(loop.io_fd(h), buf, sizeof buf);
  if (r->k != nullptr) r->k->advance(r->busy_ns);
  if (++r->calls >= r->stop_after) loop.stop();
}

}  // namespace

TEST_GROUP(Run) {
  fake::Kernel* k = nullptr;
  evl::StaticLoop<4>* loop = nullptr;
  int p[2] = {-1, -1};
  void setup() override {
    k = new fake::Kernel();
    loop = new evl::StaticLoop<4>();
    CHECK_EQUAL(0, loop->init());
    CHECK_EQUAL(0, hal::pipe2(p, hal::kNonblock));
  }
  void teardown() override {
    delete loop;
    delete k;
  }
};

TEST(Run, run_with_nothing_active_returns_at_once) {
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(0u, loop->health().iterations);
}

TEST(Run, calls_before_init_are_refused) {
  evl::StaticLoop<1> fresh;
  IoHandle h;
  Reader r;
  CHECK_EQUAL(-1, fresh.fd());
  CHECK_EQUAL(-EINVAL, fresh.run_once(0));
  CHECK_EQUAL(-EINVAL, fresh.run());
  CHECK_EQUAL(-EINVAL, fresh.io_start(p[0], evl::kIn, on_read, &r, &h));
  CHECK_EQUAL(0, fresh.init());
  CHECK_EQUAL(-EINVAL, fresh.init());
}

TEST(Run, init_failure_is_returned) {
  evl::StaticLoop<1> fresh;
  k->fail_next(Call::kEpollCreate1, EMFILE);
  CHECK_EQUAL(-EMFILE, fresh.init());
  CHECK_EQUAL(-1, fresh.fd());
  CHECK_EQUAL(0, fresh.init());
}

TEST(Run, eintr_is_retried_by_run_and_returned_by_run_once) {
  Reader r;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_read, &r, &h));
  CHECK_EQUAL(1, hal::write(p[1], "x", 1));
  k->fail_next(Call::kEpollWait, EINTR);
  CHECK_EQUAL(-EINTR, loop->run_once(0));
  k->fail_next(Call::kEpollWait, EINTR, 3);
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(1, r.calls);
}

TEST(Run, other_wait_errors_end_run_with_that_error) {
  Reader r;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_read, &r, &h));
  for (int err : {EBADF, EINVAL, EFAULT, ENOMEM}) {
    k->fail_next(Call::kEpollWait, err);
    CHECK_EQUAL(-err, loop->run());
  }
}

TEST(Run, blocking_wait_with_nothing_to_wake_is_reported_by_the_fake) {
  Reader r;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_read, &r, &h));
  CHECK_EQUAL(-EDEADLK, loop->run());
}

TEST(Run, timeout_advances_virtual_time_exactly) {
  Reader r;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_read, &r, &h));
  const int64_t t0 = k->monotonic_ns();
  CHECK_EQUAL(0, loop->run_once(250));
  CHECK_EQUAL(250000000LL, k->monotonic_ns() - t0);
}

TEST(Run, health_counts_iterations_events_callbacks_and_longest_callback) {
  Reader r;
  r.stop_after = 3;
  r.k = k;
  r.busy_ns = 1500;
  IoHandle h;
  loop->set_callback_timing(true);
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_read, &r, &h));
  for (int i = 0; i < 3; ++i) {
    CHECK_EQUAL(1, hal::write(p[1], "x", 1));
    CHECK_EQUAL(1, loop->run_once(0));
  }
  const evl::LoopHealth& hl = loop->health();
  CHECK_EQUAL(3u, hl.iterations);
  CHECK_EQUAL(3u, hl.events);
  CHECK_EQUAL(3u, hl.callbacks);
  CHECK_EQUAL(1500, hl.callback_ns_max);
  CHECK_EQUAL(1u, hl.io.used);
  CHECK_EQUAL(4u, hl.io.capacity);
}

TEST(Run, callback_timing_is_off_by_default_and_costs_one_read_per_callback_when_on) {
  Reader r;
  r.k = k;
  r.busy_ns = 1500;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_read, &r, &h));
  CHECK_EQUAL(1, hal::write(p[1], "x", 1));
  k->reset_calls();
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(0u, k->calls(Call::kClockGettime));  // no timer used the cached time
  CHECK_EQUAL(0, loop->health().callback_ns_max);
  CHECK_EQUAL(1u, loop->health().callbacks);
  loop->set_callback_timing(true);
  CHECK_EQUAL(1, hal::write(p[1], "y", 1));
  k->reset_calls();
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(2u, k->calls(Call::kClockGettime));  // the batch start, then one per callback
  CHECK_EQUAL(1500, loop->health().callback_ns_max);
  // Off again: io is dispatched untimed, and still counted.
  loop->set_callback_timing(false);
  CHECK_EQUAL(1, hal::write(p[1], "z", 1));
  k->reset_calls();
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(0u, k->calls(Call::kClockGettime));
  CHECK_EQUAL(3u, loop->health().callbacks);
}

TEST(Run, one_epoll_wait_per_iteration_and_one_ctl_per_start) {
  Reader r;
  IoHandle h;
  k->reset_calls();
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_read, &r, &h));
  CHECK_EQUAL(1u, k->calls(Call::kEpollCtl));
  CHECK_EQUAL(1, hal::write(p[1], "x", 1));
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(1u, k->calls(Call::kEpollWait));
}

TEST(Run, loop_fd_can_be_watched_by_a_parent_loop) {
  evl::StaticLoop<2> parent;
  CHECK_EQUAL(0, parent.init());
  Reader child_reader;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_read, &child_reader, &h));
  struct Embed {
    evl::Loop* child;
    int ran = 0;
  } e{loop};
  IoHandle ph;
  CHECK_EQUAL(0, parent.io_start(
                     loop->fd(), evl::kIn,
                     [](evl::Loop&, IoHandle, uint32_t, void* ctx) {
                       auto* em = static_cast<Embed*>(ctx);
                       em->ran += em->child->run_once(0);
                     },
                     &e, &ph));
  CHECK_EQUAL(0, parent.run_once(0));
  CHECK_EQUAL(1, hal::write(p[1], "x", 1));
  CHECK_EQUAL(1, parent.run_once(0));
  CHECK_EQUAL(1, e.ran);
  CHECK_EQUAL(1, child_reader.calls);
}

TEST(Run, close_releases_every_fd_and_is_idempotent) {
  Reader r;
  IoHandle h;
  evl::WakeHandle w;
  evl::SignalHandle s;
  const int before = k->open_fd_count();
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_read, &r, &h));
  CHECK_EQUAL(0,
              loop->wake_start([](evl::Loop&, evl::WakeHandle, uint32_t, void*) {}, nullptr, &w));
  CHECK_EQUAL(
      0, loop->signal_start(
             15, [](evl::Loop&, evl::SignalHandle, const evl::SignalInfo&, void*) {}, nullptr, &s));
  CHECK_EQUAL(0, loop->defer([](evl::Loop&, void*) {}, nullptr));
  loop->close();
  loop->close();
  CHECK_EQUAL(before - 1, k->open_fd_count());  // the epoll fd is gone too
  CHECK_EQUAL(0u, loop->active());
  CHECK_EQUAL(0u, k->blocked_mask());
}
