#include "apps/examples/pipe_echo.h"

#include <cerrno>

namespace examples {

// [readme-begin]
void on_readable(evl::Loop& loop, evl::IoHandle h, uint32_t, void* ctx) {
  auto* echo = static_cast<Echo*>(ctx);
  char buf[256];
  const long n = hal::read(loop.io_fd(h), buf, sizeof buf);
  if (n == -EAGAIN || n == -EINTR) return;  // spurious: wait for the next event
  if (n > 0 && hal::write(echo->out_fd, buf, static_cast<size_t>(n)) == n) {
    echo->bytes += static_cast<size_t>(n);
    return;
  }
  if (n < 0) echo->error = static_cast<int>(n);
  (void)loop.io_close(h);  // end of file or error: stop watching, close
}

int pipe_echo(int in_fd, Echo* echo) {
  static evl::StaticLoop<4> loop;  // capacities fixed at compile time
  if (int r = loop.init(); r < 0) return r;
  evl::IoHandle h;
  if (int r = loop.io_start(in_fd, evl::kIn, on_readable, echo, &h); r < 0) return r;
  const int r = loop.run();  // returns when no watcher is left
  loop.close();
  return r < 0 ? r : echo->error;
}
// [readme-end]

}  // namespace examples
