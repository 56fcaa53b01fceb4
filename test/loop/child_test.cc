// Child-process watchers on the fake kernel: pidfd events, the SIGCHLD
// fallback, kills, stops and misuse.
#include <cerrno>
#include <vector>

#include "CppUTest/TestHarness.h"
#include "loop/static_loop.h"
#include "test/fake/kernel.h"

using evl::ChildHandle;
using evl::kSec;
using fake::Call;

namespace {

struct Exit {
  int pid;
  int status;
  int64_t at;
};

struct Seen {
  fake::Kernel* k = nullptr;
  std::vector<Exit> exits;
};

void on_exit(evl::Loop&, ChildHandle, int pid, int status, void* ctx) {
  auto* s = static_cast<Seen*>(ctx);
  s->exits.push_back(Exit{pid, status, s->k->monotonic_ns()});
}

int spawn() {
  char prog[] = "/bin/child";
  char* argv[] = {prog, nullptr};
  int pid = -1;
  CHECK_EQUAL(0, hal::spawn(prog, argv, &pid));
  return pid;
}

void kill_it(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  CHECK_EQUAL(0, hal::kill(*static_cast<int*>(ctx), hal::kSigKill));
}

}  // namespace

TEST_GROUP(Child) {
  fake::Kernel* k = nullptr;
  evl::StaticLoop<2, 4, 2, 1, 2, 16, 1, 2>* loop = nullptr;
  Seen seen;
  void setup() override {
    k = new fake::Kernel();
    loop = new evl::StaticLoop<2, 4, 2, 1, 2, 16, 1, 2>();
    CHECK_EQUAL(0, loop->init());
    seen.k = k;
  }
  void teardown() override {
    delete loop;
    delete k;
  }
};

TEST(Child, an_exit_is_an_event_with_its_status_and_the_child_is_reaped) {
  k->spawn_behaviour(2 * kSec, 3 << 8);  // exit(3) after 2 s
  const int pid = spawn();
  const int64_t t0 = k->monotonic_ns();
  ChildHandle h;
  CHECK_EQUAL(0, loop->child_start(pid, on_exit, &seen, &h));
  CHECK_EQUAL(1u, loop->active());
  CHECK_EQUAL(0, loop->run());  // returns when the watcher is done
  CHECK_EQUAL(1u, seen.exits.size());
  CHECK_EQUAL(pid, seen.exits[0].pid);
  CHECK(hal::exited_normally(seen.exits[0].status));
  CHECK_EQUAL(3, hal::exit_status(seen.exits[0].status));
  CHECK_EQUAL(t0 + 2 * kSec, seen.exits[0].at);
  CHECK_EQUAL(0u, loop->active());
  CHECK_EQUAL(-ECHILD, hal::waitpid(pid, nullptr, hal::kWnohang));  // reaped
  CHECK_EQUAL(-ESTALE, loop->child_stop(h));                        // one-shot: the handle is spent
}

TEST(Child, a_killed_child_reports_its_signal) {
  k->spawn_behaviour(-1, 0);  // hangs
  int pid = spawn();
  ChildHandle h;
  evl::TimerHandle t;
  CHECK_EQUAL(0, loop->child_start(pid, on_exit, &seen, &h));
  CHECK_EQUAL(0, loop->timer_after(kSec, kill_it, &pid, &t));
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(1u, seen.exits.size());
  CHECK_FALSE(hal::exited_normally(seen.exits[0].status));
  CHECK_EQUAL(hal::kSigKill, hal::term_signal(seen.exits[0].status));
  CHECK_EQUAL(0, k->running_processes());
}

TEST(Child, without_pidfd_the_loop_reaps_on_sigchld) {
  k->spawn_behaviour(-1, 0);
  const int pid = spawn();
  k->fail_next(Call::kPidfdOpen, ENOSYS);  // a kernel older than 5.3
  ChildHandle h;
  CHECK_EQUAL(0, loop->child_start(pid, on_exit, &seen, &h));
  CHECK(k->blocked_mask() & hal::sig_bit(hal::kSigChld));
  CHECK_EQUAL(0, loop->run_once(0));
  CHECK(seen.exits.empty());
  k->exit_process(pid, 7 << 8);
  CHECK(loop->run_once(0) >= 1);
  CHECK_EQUAL(1u, seen.exits.size());
  CHECK_EQUAL(7, hal::exit_status(seen.exits[0].status));
  CHECK_EQUAL(0u, loop->health().stale_events);                      // the loop's own SIGCHLD
  CHECK_EQUAL(0u, k->blocked_mask() & hal::sig_bit(hal::kSigChld));  // given back
}

TEST(Child, without_pidfd_a_child_that_exited_before_the_watch_is_still_seen) {
  const int pid = spawn();  // exits at once
  k->fail_next(Call::kPidfdOpen, ENOSYS);
  ChildHandle h;
  CHECK_EQUAL(0, loop->child_start(pid, on_exit, &seen, &h));
  CHECK(seen.exits.empty());  // never from inside child_start
  CHECK_EQUAL(0, loop->run_once(0));
  CHECK_EQUAL(1u, seen.exits.size());
  CHECK_EQUAL(pid, seen.exits[0].pid);
}

TEST(Child, stop_forgets_the_child_without_reaping_it) {
  k->spawn_behaviour(kSec, 0);
  const int pid = spawn();
  ChildHandle h;
  CHECK_EQUAL(0, loop->child_start(pid, on_exit, &seen, &h));
  CHECK_EQUAL(0, loop->child_stop(h));
  CHECK_EQUAL(0u, loop->active());
  k->advance(2 * kSec);
  CHECK_EQUAL(0, loop->run_once(0));
  CHECK(seen.exits.empty());
  int status = -1;
  CHECK_EQUAL(pid, hal::waitpid(pid, &status, hal::kWnohang));  // still the caller's
}

TEST(Child, misuse_and_limits) {
  ChildHandle h;
  CHECK_EQUAL(-EINVAL, loop->child_start(0, on_exit, &seen, &h));
  CHECK_EQUAL(-EINVAL, loop->child_start(1234, nullptr, &seen, &h));
  CHECK_EQUAL(-EINVAL, loop->child_start(1234, on_exit, &seen, nullptr));
  CHECK_EQUAL(-ESRCH, loop->child_start(1234, on_exit, &seen, &h));
  CHECK_EQUAL(0u, loop->active());
  k->spawn_behaviour(-1, 0);
  ChildHandle a, b, c;
  CHECK_EQUAL(0, loop->child_start(spawn(), on_exit, &seen, &a));
  CHECK_EQUAL(0, loop->child_start(spawn(), on_exit, &seen, &b));
  CHECK_EQUAL(-ENOSPC, loop->child_start(spawn(), on_exit, &seen, &c));
  k->fail_next(Call::kEpollCtl, ENOMEM);
  CHECK_EQUAL(0, loop->child_stop(b));
  const int open_before = k->open_fd_count();
  CHECK_EQUAL(-ENOMEM, loop->child_start(spawn(), on_exit, &seen, &c));
  CHECK_EQUAL(open_before, k->open_fd_count());  // the pidfd was closed again
  CHECK_EQUAL(1u, loop->health().children.used);
  CHECK_EQUAL(2u, loop->health().children.high_water);
}

// Without pidfd the loop claims, blocks and watches SIGCHLD itself; when
// that fails, the start fails and leaves the signal as it found it.
TEST(Child, a_failing_sigchld_setup_is_undone) {
  k->spawn_behaviour(-1, 0);
  ChildHandle h;
  const uint64_t blocked_before = k->blocked_mask();
  k->fail_next(Call::kPidfdOpen, ENOSYS, 2);
  k->fail_next(Call::kSignalfd, ENOMEM);
  CHECK_EQUAL(-ENOMEM, loop->child_start(spawn(), on_exit, &seen, &h));
  CHECK_EQUAL(blocked_before, k->blocked_mask());
  CHECK_EQUAL(0u, k->claimed_signals());
  CHECK_EQUAL(0, loop->child_start(spawn(), on_exit, &seen, &h));  // and it works again
  CHECK(k->claimed_signals() != 0);
}

TEST(Child, a_loop_that_was_never_initialised_refuses) {
  evl::StaticLoop<1, 1, 1, 1, 1, 1, 1, 1> idle;
  ChildHandle h;
  CHECK_EQUAL(-EINVAL, idle.child_start(1234, on_exit, &seen, &h));
}

// Two children exit at the same moment; the first one's callback stops the
// other watcher: its pidfd event, already in the batch, is stale and dropped.
TEST(Child, an_exit_whose_watcher_was_stopped_in_the_same_batch_is_dropped) {
  k->spawn_behaviour(kSec, 0);
  struct Pair {
    Seen* seen;
    evl::Loop* loop;
    ChildHandle h[2];
  } p{&seen, loop, {}};
  auto stop_other = [](evl::Loop& l, ChildHandle self, int pid, int status, void* ctx) {
    auto* q = static_cast<Pair*>(ctx);
    on_exit(l, self, pid, status, q->seen);
    for (ChildHandle& h : q->h) {
      if (h.raw != self.raw) CHECK_EQUAL(0, q->loop->child_stop(h));
    }
  };
  CHECK_EQUAL(0, loop->child_start(spawn(), stop_other, &p, &p.h[0]));
  CHECK_EQUAL(0, loop->child_start(spawn(), stop_other, &p, &p.h[1]));
  CHECK_EQUAL(0, loop->run());
  CHECK_EQUAL(1u, seen.exits.size());
  CHECK_EQUAL(1u, loop->health().stale_events);
}
