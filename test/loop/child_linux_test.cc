// Child-process watchers on the real kernel: a pidfd where the kernel (or
// qemu-user) has one, the SIGCHLD fallback where it has not. Bounded waits,
// no assertion on real-time values.
#include <cerrno>
#include <cstdio>

#include "CppUTest/TestHarness.h"
#include "loop/static_loop.h"

using evl::ChildHandle;

namespace {

struct Done {
  int pid = 0;
  int status = -1;
  int calls = 0;
};

void on_exit(evl::Loop& loop, ChildHandle, int pid, int status, void* ctx) {
  auto* d = static_cast<Done*>(ctx);
  d->pid = pid;
  d->status = status;
  ++d->calls;
  loop.stop();
}

void on_guard(evl::Loop& loop, evl::TimerHandle, uint32_t, void*) { loop.stop(); }

int run_sh(const char* script) {
  char sh[] = "/bin/sh";
  char c[] = "-c";
  char body[128];
  std::snprintf(body, sizeof body, "%s", script);
  char* argv[] = {sh, c, body, nullptr};
  int pid = -1;
  CHECK_EQUAL(0, hal::spawn(sh, argv, &pid));
  return pid;
}

}  // namespace

TEST_GROUP(ChildLinux) {
  evl::StaticLoop<2, 4, 2, 1, 2>* loop = nullptr;
  void setup() override {
    loop = new evl::StaticLoop<2, 4, 2, 1, 2>();
    CHECK_EQUAL(0, loop->init());
  }
  void teardown() override { delete loop; }
  // Runs until the child is seen or 60 s pass (a guard, not a measurement).
  void run_until_seen() {
    evl::TimerHandle guard;
    CHECK_EQUAL(0, loop->timer_after(60 * evl::kSec, on_guard, nullptr, &guard));
    CHECK_EQUAL(0, loop->run());
    loop->timer_clear(&guard);
  }
};

TEST(ChildLinux, an_exit_status_arrives_and_the_child_is_reaped) {
  const int pid = run_sh("exit 5");
  Done d;
  ChildHandle h;
  CHECK_EQUAL(0, loop->child_start(pid, on_exit, &d, &h));
  run_until_seen();
  CHECK_EQUAL(1, d.calls);
  CHECK_EQUAL(pid, d.pid);
  CHECK(hal::exited_normally(d.status));
  CHECK_EQUAL(5, hal::exit_status(d.status));
  CHECK_EQUAL(-ECHILD, hal::waitpid(pid, nullptr, hal::kWnohang));
}

TEST(ChildLinux, a_killed_child_reports_the_signal) {
  const int pid = run_sh("sleep 30");
  Done d;
  ChildHandle h;
  CHECK_EQUAL(0, loop->child_start(pid, on_exit, &d, &h));
  CHECK_EQUAL(0, hal::kill(pid, hal::kSigKill));
  run_until_seen();
  CHECK_EQUAL(1, d.calls);
  CHECK_FALSE(hal::exited_normally(d.status));
  CHECK_EQUAL(hal::kSigKill, hal::term_signal(d.status));
}

TEST(ChildLinux, a_child_that_exited_before_the_watch_is_seen) {
  const int pid = run_sh("exit 0");
  // Give it time to exit first: poll its state without reaping it.
  for (int i = 0; i < 200; ++i) {
    if (hal::kill(pid, 0) < 0) break;
    evl::StaticLoop<1, 1, 1, 1, 1> nap;
    if (nap.init() < 0) break;
    (void)nap.run_once(10);
  }
  Done d;
  ChildHandle h;
  CHECK_EQUAL(0, loop->child_start(pid, on_exit, &d, &h));
  run_until_seen();
  CHECK_EQUAL(1, d.calls);
  CHECK_EQUAL(0, hal::exit_status(d.status));
}
