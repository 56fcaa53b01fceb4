// sensor_sim: a GPS + environment sensor on a pseudo-terminal, for dev hosts.
// Prints "sensor_sim: pty PATH" and writes a report (GGA, RMC, XDR) every
// --period-ms at the pace of --baud, with optional corruption.
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "apps/common/daemon.h"
#include "apps/common/options.h"
#include "apps/sensor_sim/sim.h"
#include "hal/serial.h"
#include "loop/static_loop.h"

namespace {

evl::StaticLoop<2, 4, 4, 1, 2> g_loop;

struct Sim {
  sim::SentenceSource* source;
  int master;
  int64_t baud;
  int64_t start_s;
  int64_t period_ms;
  uint64_t reports = 0;
  uint64_t bytes = 0;
  uint64_t dropped = 0;  // nobody reading: the pty buffer was full
  int64_t line_free_ns = 0;
};

void on_tick(evl::Loop& loop, evl::TimerHandle, uint32_t, void* ctx) {
  auto* s = static_cast<Sim*>(ctx);
  const int64_t now = loop.now(evl::Clock::kMonotonic);
  if (now < s->line_free_ns) return;  // the line is still busy: the baud rate is the limit
  char buf[1024];
  const size_t n = s->source->report(
      s->start_s + static_cast<int64_t>(s->reports) * s->period_ms / 1000, buf, sizeof buf);
  ++s->reports;
  const long w = hal::write(s->master, buf, n);
  if (w > 0) s->bytes += static_cast<uint64_t>(w);
  if (w < static_cast<long>(n)) s->dropped += n - static_cast<size_t>(w > 0 ? w : 0);
  // 8N1: ten bits per byte on the wire.
  s->line_free_ns = now + static_cast<int64_t>(n) * 10 * evl::kSec / s->baud;
}

struct Stopper {
  bool stopped = false;
};
void stop_nothing(void* ctx) { static_cast<Stopper*>(ctx)->stopped = true; }

}  // namespace

int main(int argc, char** argv) {
  sim::SimConfig sc;
  int64_t baud = 9600;
  int64_t period_ms = 1000;
  int64_t seed = 1;
  int64_t run_for_ms = 0;
  const app::Option opts[] = {
      app::int_option("baud", "N", "line speed to pace at (default 9600)", &baud, 300, 4000000),
      app::int_option("period-ms", "MS", "one report every (default 1000)", &period_ms, 10, 60000),
      app::int_option("corrupt-pct", "P", "sentences with a wrong checksum (default 0)",
                      &sc.corrupt_pct, 0, 100),
      app::int_option("noise-pct", "P", "reports followed by binary noise (default 0)",
                      &sc.noise_pct, 0, 100),
      app::int_option("truncate-pct", "P", "sentences cut short (default 0)", &sc.truncate_pct, 0,
                      100),
      app::int_option("seed", "N", "random seed (default 1)", &seed, 0, INT64_MAX),
      app::int_option("run-for-ms", "MS", "stop after this long (default 0: until SIGTERM)",
                      &run_for_ms, 0, INT64_MAX / evl::kMs),
  };
  const size_t n = sizeof opts / sizeof opts[0];
  const char* usage = "usage: sensor_sim [options]\nA GPS/XDR sensor on a pseudo-terminal.";
  if (const int rc = app::handle_options("sensor_sim", usage, opts, n, argc, argv); rc >= 0)
    return rc;
  sc.seed = static_cast<uint64_t>(seed);
  int master = -1, slave = -1;
  char path[64];
  if (const int r = hal::openpty(&master, &slave, path, sizeof path); r < 0) {
    std::fprintf(stderr, "sensor_sim: cannot create a pseudo-terminal: %s\n", std::strerror(-r));
    return 1;
  }
  hal::SerialConfig line;
  line.baud = static_cast<uint32_t>(baud);
  if (const int r = hal::serial_configure(slave, line); r < 0) {
    std::fprintf(stderr, "sensor_sim: cannot configure %s: %s\n", path, std::strerror(-r));
    return 1;
  }
  std::printf("sensor_sim: pty %s\n", path);
  std::fflush(stdout);
  if (const int r = g_loop.init(); r < 0) {
    std::fprintf(stderr, "sensor_sim: cannot create the event loop: %s\n", std::strerror(-r));
    return 1;
  }
  sim::SentenceSource source(sc);
  Sim s{&source, master, baud, int64_t{12} * 3600, period_ms};
  evl::TimerSpec tick;
  tick.period_ns = evl::ms_to_ns(period_ms);
  evl::TimerHandle h;
  if (const int r = g_loop.timer_start(tick, on_tick, &s, &h); r < 0) {
    std::fprintf(stderr, "sensor_sim: cannot start the timer: %s\n", std::strerror(-r));
    return 1;
  }
  app::Log log("sensor_sim");
  Stopper st;
  const int r = app::run_daemon(g_loop, log, run_for_ms, app::DaemonHooks{stop_nothing, &st});
  (void)g_loop.timer_stop(h);
  log.log(app::Level::kInfo, "reports=%llu bytes=%llu corrupted=%llu dropped_bytes=%llu",
          static_cast<unsigned long long>(s.reports), static_cast<unsigned long long>(s.bytes),
          static_cast<unsigned long long>(source.corrupted()),
          static_cast<unsigned long long>(s.dropped));
  (void)hal::close(slave);
  (void)hal::close(master);
  return r < 0 ? 1 : 0;
}
