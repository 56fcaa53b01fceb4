// The README's example: echo everything that arrives on one fd to another,
// until end of file. Shared by the pipe_echo binary and its test.
#pragma once

#include <cstddef>

#include "loop/static_loop.h"

namespace examples {

struct Echo {
  int out_fd;
  size_t bytes = 0;
  int error = 0;
};

void on_readable(evl::Loop& loop, evl::IoHandle h, uint32_t events, void* ctx);

// Echoes in_fd to out_fd on a fresh loop; returns 0 or a negative errno.
[[nodiscard]] int pipe_echo(int in_fd, Echo* echo);

}  // namespace examples
