// The SDK consumers' program: a loop with a pipe and a timer. The timer
// writes into the pipe; the pipe's watcher reads it and stops the loop.
// Exits 0 when that happened, 1 otherwise.
#include <cstdio>

#include "hal/sys.h"
#include "loop/static_loop.h"
#include "loop/version.h"

static_assert(EVL_VERSION >= EVL_VERSION_AT(0, 2, 0), "this program needs evl 0.2.0 or later");

namespace {

struct State {
  int fds[2] = {-1, -1};
  bool got = false;
};

void on_timer(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  auto* s = static_cast<State*>(ctx);
  (void)hal::write(s->fds[1], "x", 1);
}

void on_pipe(evl::Loop& loop, evl::IoHandle h, uint32_t, void* ctx) {
  auto* s = static_cast<State*>(ctx);
  char c = 0;
  s->got = hal::read(loop.io_fd(h), &c, 1) == 1 && c == 'x';
  (void)loop.io_stop(h);
  loop.stop();
}

}  // namespace

int main() {
  static evl::StaticLoop<2, 2> loop;
  State s;
  if (loop.init() < 0 || hal::pipe2(s.fds, hal::kCloexec | hal::kNonblock) < 0) return 1;
  evl::IoHandle io;
  evl::TimerHandle t;
  if (loop.io_start(s.fds[0], evl::kIn, on_pipe, &s, &io) < 0) return 1;
  if (loop.timer_after(10 * evl::kMs, on_timer, &s, &t) < 0) return 1;
  if (loop.run() < 0) return 1;
  std::printf("evl %s consumer: %s\n", EVL_VERSION_STRING,
              s.got ? "timer wrote, pipe read: ok" : "FAILED");
  return s.got ? 0 : 1;
}
