// A program that uses only io watchers and timers, for the size report: what
// of the loop it links on each architecture (-Os, sections collected).
#include "hal/sys.h"
#include "loop/static_loop.h"

namespace {

void on_io(evl::Loop& loop, evl::IoHandle h, uint32_t, void*) {
  char b[8];
  if (hal::read(loop.io_fd(h), b, sizeof b) <= 0) loop.stop();
}

void on_timer(evl::Loop& loop, evl::TimerHandle, uint32_t, void*) { loop.stop(); }

evl::StaticLoop<4, 4> g_loop;

}  // namespace

int main() {
  if (g_loop.init() < 0) return 1;
  int fds[2];
  if (hal::pipe2(fds, hal::kCloexec | hal::kNonblock) < 0) return 1;
  evl::IoHandle io;
  evl::TimerHandle t;
  if (g_loop.io_start(fds[0], evl::kIn, on_io, nullptr, &io) < 0) return 1;
  if (g_loop.timer_after(evl::kMs, on_timer, nullptr, &t) < 0) return 1;
  const int r = g_loop.run();
  (void)g_loop.io_stop(io);
  g_loop.close();
  return r < 0 ? 1 : 0;
}
