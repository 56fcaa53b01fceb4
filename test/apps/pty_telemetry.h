// telemetry in the test's own process on the real kernel, reading a pty
// the test writes sensor lines into: the rig of the no-heap tests
// (no_heap_test, mosquitto_test). Test code.
#pragma once

#include <cstdio>

#include "CppUTest/TestHarness.h"
#include "apps/telemetry/telemetry.h"
#include "hal/serial.h"
#include "hal/sys.h"

namespace testpty {

struct PtyTelemetry {
  int master = -1, slave = -1;
  char path[64] = {};
  app::Log log{"telemetry"};
  telemetry::Config cfg;

  // Small, quick batches and back-offs towards `collector`.
  explicit PtyTelemetry(const char* collector) {
    CHECK_EQUAL(0, hal::openpty(&master, &slave, path, sizeof path));
    log.set_level(app::Level::kError);
    std::snprintf(cfg.serial, sizeof cfg.serial, "%s", path);
    cfg.baud = 115200;
    std::snprintf(cfg.collector, sizeof cfg.collector, "%s", collector);
    cfg.batch_max = 4;
    cfg.batch_delay_ms = 10;
    cfg.link.backoff_initial_ms = 10;
    cfg.link.backoff_max_ms = 40;
  }
  ~PtyTelemetry() {
    (void)hal::close(master);
    (void)hal::close(slave);
  }
  PtyTelemetry(const PtyTelemetry&) = delete;
  PtyTelemetry& operator=(const PtyTelemetry&) = delete;
  // One sensor report (an XDR temperature).
  void line() const {
    static const char kLine[] = "$IIXDR,C,17.75,C,TEMP*68\r\n";
    (void)hal::write(master, kLine, sizeof kLine - 1);
  }
};

}  // namespace testpty
