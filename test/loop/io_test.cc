// io watchers on the fake kernel.
#include <cerrno>
#include <cstring>

#include "CppUTest/TestHarness.h"
#include "loop/static_loop.h"
#include "test/fake/files.h"
#include "test/fake/kernel.h"

using evl::IoHandle;
using fake::Call;

namespace {

struct Record {
  int calls = 0;
  uint32_t last_events = 0;
  IoHandle last;
  // What to do inside the callback.
  IoHandle stop_other;
  bool stop_self = false;
  bool stop_loop = false;
  bool drain = true;
  int stop_other_result = 1;
};

void on_io(evl::Loop& loop, IoHandle h, uint32_t events, void* ctx) {
  auto* r = static_cast<Record*>(ctx);
  ++r->calls;
  r->last_events = events;
  r->last = h;
  if (r->drain && (events & evl::kIn) != 0) {
    char buf[64];
    (void)hal::read(loop.io_fd(h), buf, sizeof buf);
  }
  if (r->stop_self) CHECK_EQUAL(0, loop.io_stop(h));
  if (r->stop_other) r->stop_other_result = loop.io_stop(r->stop_other);
  if (r->stop_loop) loop.stop();
}

}  // namespace

TEST_GROUP(Io) {
  fake::Kernel* k = nullptr;
  evl::StaticLoop<4>* loop = nullptr;
  int p[2] = {-1, -1};
  int q[2] = {-1, -1};

  void setup() override {
    k = new fake::Kernel();
    loop = new evl::StaticLoop<4>();
    CHECK_EQUAL(0, loop->init());
    CHECK_EQUAL(0, hal::pipe2(p, hal::kNonblock | hal::kCloexec));
    CHECK_EQUAL(0, hal::pipe2(q, hal::kNonblock | hal::kCloexec));
  }
  void teardown() override {
    delete loop;
    delete k;
  }
  void put(int fd, const char* s) {
    CHECK_EQUAL(static_cast<long>(std::strlen(s)), hal::write(fd, s, std::strlen(s)));
  }
};

TEST(Io, readable_pipe_calls_back_with_in) {
  Record r;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_io, &r, &h));
  put(p[1], "x");
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(1, r.calls);
  CHECK_EQUAL(evl::kIn, r.last_events);
  CHECK(r.last == h);
}

TEST(Io, nothing_ready_poll_returns_zero_without_callback) {
  Record r;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_io, &r, &h));
  CHECK_EQUAL(0, loop->run_once(0));
  CHECK_EQUAL(0, r.calls);
}

TEST(Io, level_triggered_repeats_until_drained) {
  Record r;
  r.drain = false;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_io, &r, &h));
  put(p[1], "x");
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(2, r.calls);
}

TEST(Io, edge_triggered_reports_once_per_arrival) {
  Record r;
  r.drain = false;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn | evl::kEdge, on_io, &r, &h));
  put(p[1], "x");
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(0, loop->run_once(0));
  put(p[1], "y");
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(2, r.calls);
}

TEST(Io, modify_changes_events_in_place) {
  Record r;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[1], evl::kIn, on_io, &r, &h));
  CHECK_EQUAL(0, loop->run_once(0));
  CHECK_EQUAL(0, loop->io_modify(h, evl::kOut));
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(evl::kOut, r.last_events);
  CHECK(r.last == h);
}

TEST(Io, hangup_is_reported_without_asking) {
  Record r;
  r.drain = false;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_io, &r, &h));
  CHECK_EQUAL(0, hal::close(p[1]));
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(evl::kHup, r.last_events & evl::kHup);
}

TEST(Io, error_on_write_end_when_reader_closed) {
  Record r;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[1], evl::kOut, on_io, &r, &h));
  CHECK_EQUAL(0, hal::close(p[0]));
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(evl::kErr, r.last_events & evl::kErr);
}

TEST(Io, bad_arguments_are_refused) {
  Record r;
  IoHandle h;
  CHECK_EQUAL(-EBADF, loop->io_start(-1, evl::kIn, on_io, &r, &h));
  CHECK_EQUAL(-EINVAL, loop->io_start(p[0], 0, on_io, &r, &h));
  CHECK_EQUAL(-EINVAL, loop->io_start(p[0], evl::kEdge, on_io, &r, &h));
  CHECK_EQUAL(-EINVAL, loop->io_start(p[0], evl::kIn | hal::kEpollOneshot, on_io, &r, &h));
  CHECK_EQUAL(-EINVAL, loop->io_start(p[0], evl::kIn | evl::kHup, on_io, &r, &h));
  CHECK_EQUAL(-EINVAL, loop->io_start(p[0], evl::kIn, nullptr, &r, &h));
  CHECK_EQUAL(-EINVAL, loop->io_start(p[0], evl::kIn, on_io, &r, nullptr));
  CHECK_EQUAL(0u, loop->active());
}

TEST(Io, closed_fd_number_is_ebadf_from_the_kernel) {
  Record r;
  IoHandle h;
  CHECK_EQUAL(-EBADF, loop->io_start(900, evl::kIn, on_io, &r, &h));
  CHECK_EQUAL(0u, loop->health().io.used);
}

TEST(Io, same_fd_twice_is_eexist) {
  Record r;
  IoHandle h1;
  IoHandle h2;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_io, &r, &h1));
  CHECK_EQUAL(-EEXIST, loop->io_start(p[0], evl::kOut, on_io, &r, &h2));
  CHECK_EQUAL(1u, loop->active());
}

TEST(Io, regular_file_is_eperm_and_leaves_nothing) {
  Record r;
  IoHandle h;
  const int fd = k->open_regular_file();
  CHECK_EQUAL(-EPERM, loop->io_start(fd, evl::kIn, on_io, &r, &h));
  CHECK_EQUAL(0u, loop->active());
  CHECK_FALSE(h);
}

TEST(Io, full_pool_is_enospc) {
  Record r;
  IoHandle h;
  int fds[8];
  for (int i = 0; i < 4; ++i) {
    CHECK_EQUAL(0, hal::pipe2(&fds[2 * i], hal::kNonblock));
    CHECK_EQUAL(0, loop->io_start(fds[2 * i], evl::kIn, on_io, &r, &h));
  }
  CHECK_EQUAL(-ENOSPC, loop->io_start(p[0], evl::kIn, on_io, &r, &h));
  CHECK_EQUAL(4u, loop->health().io.high_water);
}

TEST(Io, kernel_errors_pass_through_and_change_nothing) {
  Record r;
  IoHandle h;
  for (int err : {ENOMEM, ENOSPC, EINVAL}) {
    k->fail_next(Call::kEpollCtl, err);
    CHECK_EQUAL(-err, loop->io_start(p[0], evl::kIn, on_io, &r, &h));
    CHECK_EQUAL(0u, loop->active());
  }
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_io, &r, &h));
  k->fail_next(Call::kEpollCtl, ENOMEM);
  CHECK_EQUAL(-ENOMEM, loop->io_modify(h, evl::kOut));
  k->fail_next(Call::kEpollCtl, ENOMEM);
  CHECK_EQUAL(-ENOMEM, loop->io_stop(h));
  CHECK_EQUAL(1u, loop->active());
  CHECK_EQUAL(0, loop->io_stop(h));
}

TEST(Io, stale_handle_is_refused_everywhere) {
  Record r;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_io, &r, &h));
  CHECK_EQUAL(0, loop->io_stop(h));
  CHECK_EQUAL(-ESTALE, loop->io_stop(h));
  CHECK_EQUAL(-ESTALE, loop->io_modify(h, evl::kIn));
  CHECK_EQUAL(-ESTALE, loop->io_fd(h));
  CHECK_EQUAL(-ESTALE, loop->io_close(h));
  IoHandle h2;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_io, &r, &h2));
  CHECK_EQUAL(-ESTALE, loop->io_stop(h));  // same slot, new generation
  CHECK_EQUAL(p[0], loop->io_fd(h2));
  CHECK_EQUAL(-ESTALE, loop->io_stop(IoHandle{}));
}

TEST(Io, foreign_handle_is_refused) {
  Record r;
  IoHandle h;
  evl::StaticLoop<4> other;
  CHECK_EQUAL(0, other.init());
  CHECK_EQUAL(0, other.io_start(p[0], evl::kIn, on_io, &r, &h));
  CHECK_EQUAL(-ESTALE, loop->io_stop(h));
  CHECK_EQUAL(-ESTALE, loop->io_modify(h, evl::kOut));
  CHECK_EQUAL(0, other.io_stop(h));
}

TEST(Io, handle_of_other_kind_is_refused) {
  evl::WakeHandle w;
  CHECK_EQUAL(0,
              loop->wake_start([](evl::Loop&, evl::WakeHandle, uint32_t, void*) {}, nullptr, &w));
  CHECK_EQUAL(-ESTALE, loop->io_stop(IoHandle{w.raw}));
}

TEST(Io, stop_inside_own_callback_drops_nothing_else) {
  Record r;
  r.stop_self = true;
  r.drain = false;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_io, &r, &h));
  put(p[1], "x");
  CHECK_EQUAL(1, loop->run_once(0));
  CHECK_EQUAL(0, loop->run_once(0));
  CHECK_EQUAL(1, r.calls);
  CHECK_EQUAL(0u, loop->active());
}

TEST(Io, watcher_stopped_earlier_in_batch_gets_no_callback) {
  Record a;
  Record b;
  IoHandle ha;
  IoHandle hb;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_io, &a, &ha));
  CHECK_EQUAL(0, loop->io_start(q[0], evl::kIn, on_io, &b, &hb));
  a.stop_other = hb;
  b.stop_other = ha;
  put(p[1], "x");
  put(q[1], "y");
  CHECK_EQUAL(2, loop->run_once(0));
  CHECK_EQUAL(1, a.calls + b.calls);
  CHECK_EQUAL(1u, loop->health().stale_events);
}

namespace {

struct Reuser {
  IoHandle victim;
  int fd = -1;
  Record* fresh = nullptr;
  IoHandle fresh_handle;
};

void stop_and_reuse(evl::Loop& loop, IoHandle, uint32_t, void* ctx) {
  auto* u = static_cast<Reuser*>(ctx);
  CHECK_EQUAL(0, loop.io_stop(u->victim));
  CHECK_EQUAL(0, loop.io_start(u->fd, evl::kIn, on_io, u->fresh, &u->fresh_handle));
}

}  // namespace

TEST(Io, slot_reused_in_same_batch_does_not_get_old_event) {
  Record victim;
  Record fresh;
  Reuser u;
  IoHandle first;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, stop_and_reuse, &u, &first));
  CHECK_EQUAL(0, loop->io_start(q[0], evl::kIn, on_io, &victim, &u.victim));
  int other[2];
  CHECK_EQUAL(0, hal::pipe2(other, hal::kNonblock));
  u.fd = other[0];
  u.fresh = &fresh;
  put(p[1], "x");
  put(q[1], "y");
  CHECK_EQUAL(2, loop->run_once(0));
  CHECK_EQUAL(0, victim.calls);
  CHECK_EQUAL(0, fresh.calls);  // slot reused, but the event was the victim's
  CHECK_EQUAL(evl::handle::index(u.victim.raw), evl::handle::index(u.fresh_handle.raw));
  CHECK_EQUAL(1u, loop->health().stale_events);
}

TEST(Io, callback_may_stop_the_loop) {
  Record r;
  r.stop_loop = true;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_io, &r, &h));
  put(p[1], "x");
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(1, r.calls);
  CHECK_EQUAL(1u, loop->active());
}

TEST(Io, stop_after_fd_closed_is_tolerated_and_counted) {
  Record r;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_io, &r, &h));
  CHECK_EQUAL(0, hal::close(p[0]));
  CHECK_EQUAL(0, loop->io_stop(h));
  CHECK_EQUAL(1u, loop->health().stale_fd_stops);
  CHECK_EQUAL(0u, loop->active());
}

TEST(Io, closed_fd_does_not_spin_and_new_owner_gets_no_old_events) {
  Record old_owner;
  old_owner.drain = false;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_io, &old_owner, &h));
  put(p[1], "x");
  CHECK_EQUAL(0, hal::close(p[0]));   // closed while registered, data pending
  CHECK_EQUAL(0, loop->run_once(0));  // the kernel dropped the registration
  int again[2];
  CHECK_EQUAL(0, hal::pipe2(again, hal::kNonblock));
  CHECK_EQUAL(p[0], again[0]);  // the fd number is reused
  Record new_owner;
  IoHandle h2;
  CHECK_EQUAL(-EEXIST, loop->io_start(again[0], evl::kIn, on_io, &new_owner, &h2));
  CHECK_EQUAL(0, loop->io_stop(h));  // ENOENT from the kernel: tolerated
  CHECK_EQUAL(1u, loop->health().stale_fd_stops);
  CHECK_EQUAL(0, loop->io_start(again[0], evl::kIn, on_io, &new_owner, &h2));
  CHECK_EQUAL(0, loop->run_once(0));
  CHECK_EQUAL(0, old_owner.calls);
  CHECK_EQUAL(0, new_owner.calls);
}

TEST(Io, dup_outliving_close_delivers_only_to_old_owner_then_is_dropped) {
  Record r;
  r.drain = false;
  IoHandle h;
  const int dup_fd = k->dup(p[0]);
  CHECK(dup_fd >= 0);
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_io, &r, &h));
  CHECK_EQUAL(0, hal::close(p[0]));
  put(p[1], "x");
  CHECK_EQUAL(1, loop->run_once(0));  // the file lives on in the dup
  CHECK_EQUAL(1, r.calls);
  CHECK_EQUAL(0, loop->io_stop(h));   // EBADF: tolerated
  CHECK_EQUAL(1, loop->run_once(0));  // the zombie registration still fires
  CHECK_EQUAL(1, r.calls);
  CHECK_EQUAL(1u, loop->health().stale_events);
}

TEST(Io, io_close_stops_then_closes) {
  Record r;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_io, &r, &h));
  const int before = k->open_fd_count();
  CHECK_EQUAL(0, loop->io_close(h));
  CHECK_EQUAL(before - 1, k->open_fd_count());
  CHECK_EQUAL(0u, loop->health().stale_fd_stops);
}

TEST(Io, maxevents_limits_batch_and_everyone_gets_a_turn) {
  evl::StaticLoop<8, 1, 1, 1, 1, 2> small;
  CHECK_EQUAL(0, small.init());
  Record r[4];
  int fds[8];
  for (int i = 0; i < 4; ++i) {
    IoHandle h;
    r[i].drain = false;
    CHECK_EQUAL(0, hal::pipe2(&fds[2 * i], hal::kNonblock));
    CHECK_EQUAL(0, small.io_start(fds[2 * i], evl::kIn, on_io, &r[i], &h));
    put(fds[2 * i + 1], "x");
  }
  CHECK_EQUAL(2, small.run_once(0));
  CHECK_EQUAL(2, small.run_once(0));
  for (const Record& each : r) CHECK_EQUAL(1, each.calls);
}

TEST(Io, many_watchers_share_fd_index_and_stop_in_any_order) {
  evl::StaticLoop<64> big;
  CHECK_EQUAL(0, big.init());
  Record r;
  IoHandle hs[32];
  int fds[64];
  for (int i = 0; i < 32; ++i) {
    CHECK_EQUAL(0, hal::pipe2(&fds[2 * i], hal::kNonblock));
    CHECK_EQUAL(0, big.io_start(fds[2 * i], evl::kIn, on_io, &r, &hs[i]));
  }
  for (int i = 0; i < 32; i += 2) CHECK_EQUAL(0, big.io_stop(hs[i]));
  for (int i = 1; i < 32; i += 2) {
    IoHandle again;
    CHECK_EQUAL(-EEXIST, big.io_start(fds[2 * i], evl::kIn, on_io, &r, &again));
    CHECK_EQUAL(fds[2 * i], big.io_fd(hs[i]));
  }
  for (int i = 0; i < 32; i += 2)
    CHECK_EQUAL(0, big.io_start(fds[2 * i], evl::kIn, on_io, &r, &hs[i]));
  CHECK_EQUAL(32u, big.active());
}

TEST(Io, stale_watcher_whose_fd_number_became_the_loops_timerfd_leaves_it_alone) {
  Record r;
  IoHandle h;
  CHECK_EQUAL(0, loop->io_start(p[0], evl::kIn, on_io, &r, &h));
  const int number = p[0];
  CHECK_EQUAL(0, hal::close(p[0]));  // the caller's mistake: closed while watched
  struct Fired {
    int n = 0;
  } fired;
  evl::TimerHandle t;
  CHECK_EQUAL(0, loop->timer_after(
                     1000000,
                     [](evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
                       ++static_cast<Fired*>(ctx)->n;
                     },
                     &fired, &t));
  STRCMP_EQUAL("timerfd", k->file(number)->type());  // lowest free number: reused
  CHECK_EQUAL(0, loop->io_stop(h));                  // must not remove the timerfd's registration
  CHECK_EQUAL(1u, loop->health().stale_fd_stops);
  CHECK_EQUAL(1, loop->run_once(-1));
  CHECK_EQUAL(1, fired.n);
}
