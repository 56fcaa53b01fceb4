// Scenario "iotimer": the simple io + timer loop whose simulated iterations
// per second the fake kernel is measured by. A 1 ms periodic timer writes a
// byte into a pipe; an io watcher reads it back. Both must keep pace.
#include <cerrno>
#include <memory>
#include <string>

#include "loop/static_loop.h"
#include "test/fake/kernel.h"
#include "test/fake/simulate.h"

namespace {

struct Pair {
  int p[2] = {-1, -1};
  uint64_t written = 0;
  uint64_t read = 0;
};

void on_tick(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  auto* pr = static_cast<Pair*>(ctx);
  if (hal::write(pr->p[1], "t", 1) == 1) ++pr->written;
}

void on_read(evl::Loop& loop, evl::IoHandle h, uint32_t, void* ctx) {
  auto* pr = static_cast<Pair*>(ctx);
  char buf[16];
  const long n = hal::read(loop.io_fd(h), buf, sizeof buf);
  if (n > 0) pr->read += static_cast<uint64_t>(n);
}

sim::Result run_iotimer(uint64_t seed, int64_t virtual_seconds) {
  sim::Result result;
  sim::Checker check(&result);
  fake::Kernel k;
  (void)seed;  // no faults: this scenario measures speed
  std::unique_ptr<evl::StaticLoop<2, 2>> loop(new evl::StaticLoop<2, 2>());
  Pair pr;
  SIM_CHECK(check, loop->init() == 0, "init");
  SIM_CHECK(check, hal::pipe2(pr.p, hal::kNonblock | hal::kCloexec) == 0, "pipe2");
  loop->set_callback_timing(false);
  evl::IoHandle io;
  evl::TimerHandle t;
  evl::TimerSpec spec;
  spec.period_ns = 1000000;
  SIM_CHECK(check, loop->io_start(pr.p[0], evl::kIn, on_read, &pr, &io) == 0, "io_start");
  SIM_CHECK(check, loop->timer_start(spec, on_tick, &pr, &t) == 0, "timer_start");
  const int64_t end = k.monotonic_ns() + virtual_seconds * 1000000000LL;
  while (!check.failed() && k.monotonic_ns() < end) {
    const int r = loop->run_once(-1);
    SIM_CHECK(check, r > 0, "run_once: " + std::to_string(r));
    ++result.iterations;
  }
  SIM_CHECK(check, pr.written == static_cast<uint64_t>(virtual_seconds) * 1000,
            "ticks: " + std::to_string(pr.written));
  SIM_CHECK(check, pr.read + 1 >= pr.written, "bytes read behind");
  loop->close();
  result.trace_hash = k.trace_hash();
  return result;
}

}  // namespace

SIM_SCENARIO(iotimer, "iotimer", "1 ms timer writes a pipe, io watcher reads it (speed)",
             run_iotimer);
