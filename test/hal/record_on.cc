// Starts the flight recorder before any test runs (static initialisation),
// so that every real call of the tests linked with it is recorded.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "hal/flight.h"

namespace {

char g_prog[] = "sys_record_test";
char* g_argv[] = {g_prog, nullptr};

bool start_recording() {
  const char* dir = std::getenv("TEST_TMPDIR");
  static const std::string path =
      std::string(dir != nullptr ? dir : "/tmp") + "/evl-record-test.rec";
  if (flight::start(g_prog, 1, g_argv, path.c_str(), flight::kDefaultRingBytes) != 0) {
    std::fprintf(stderr, "record_on: cannot start the flight recorder\n");
    std::abort();
  }
  return true;
}

const bool g_started = start_recording();

}  // namespace
