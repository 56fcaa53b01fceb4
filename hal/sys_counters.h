// System-call counts, kept only by //hal:sys_linux_counted (the benchmark's
// build of sys_linux.cc); production binaries link //hal:sys_linux, which
// counts nothing. Counted: the hot-path calls (epoll_wait, epoll_ctl,
// timerfd_settime, read, write); clock_gettime is a vDSO call, not a system
// call, and is not counted.
#pragma once

#include <cstdint>

namespace hal {

struct SyscallCounts {
  uint64_t total = 0;
  uint64_t epoll_wait = 0;
  uint64_t epoll_ctl = 0;
  uint64_t timerfd_settime = 0;
  uint64_t read = 0;
  uint64_t write = 0;
};

const SyscallCounts& syscall_counts();

}  // namespace hal
