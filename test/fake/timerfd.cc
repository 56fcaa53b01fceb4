// Timers of the fake kernel: not modelled yet (the timer issue adds them).
#include <cerrno>

#include "test/fake/kernel.h"

namespace fake {

int Kernel::sys_timerfd_create(int, int) {
  int err = 0;
  if (fault(Call::kTimerfdCreate, &err)) return -err;
  return -ENOSYS;
}

int Kernel::sys_timerfd_settime(int, int, const hal::Itimerspec*, hal::Itimerspec*) {
  int err = 0;
  if (fault(Call::kTimerfdSettime, &err)) return -err;
  return -ENOSYS;
}

int Kernel::sys_timerfd_gettime(int, hal::Itimerspec*) {
  int err = 0;
  if (fault(Call::kTimerfdGettime, &err)) return -err;
  return -ENOSYS;
}

int64_t Kernel::next_timer_deadline_mono() const { return -1; }

}  // namespace fake
