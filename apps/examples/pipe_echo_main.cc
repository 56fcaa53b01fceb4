// The smallest runnable example of the loop: a pipe echoed to stdout.
#include <cstdio>
#include <cstring>

#include "apps/examples/pipe_echo.h"

int main() {
  int p[2];
  if (int r = hal::pipe2(p, hal::kNonblock | hal::kCloexec); r < 0) {
    std::fprintf(stderr, "pipe_echo: pipe2: %s\n", std::strerror(-r));
    return 1;
  }
  const char text[] = "hello from the event loop\n";
  if (hal::write(p[1], text, sizeof text - 1) != static_cast<long>(sizeof text - 1) ||
      hal::close(p[1]) < 0) {
    std::fprintf(stderr, "pipe_echo: cannot fill the pipe\n");
    return 1;
  }
  examples::Echo echo{1};
  const int r = examples::pipe_echo(p[0], &echo);
  if (r < 0) {
    std::fprintf(stderr, "pipe_echo: %s\n", std::strerror(-r));
    return 1;
  }
  std::printf("pipe_echo: echoed %zu bytes\n", echo.bytes);
  return 0;
}
