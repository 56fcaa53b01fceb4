#include "apps/telemetry/main.h"
#include "apps/common/daemon.h"

// (Not in telemetry_main(): the flight recorder's replay runs that, and the
// recording starts after this.)
int main(int argc, char** argv) {
  if (app::keep_standard_fds_open() < 0) return 2;  // no /dev/null: nowhere to say it
  return telemetry_main(argc, argv);
}
