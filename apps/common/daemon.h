// What both daemons do around their core: SIGTERM and SIGINT end the loop
// cleanly, SIGHUP reopens the log, an optional --run-for-ms ends it after a
// while (demos and tests), and the loop runs until one of those.
#pragma once

#include <cstdint>

#include "apps/common/log.h"
#include "loop/loop.h"

namespace app {

struct DaemonHooks {
  void (*stop)(void* ctx);  // flush and stop the app's watchers
  void* ctx;
};

// Runs loop until a stop signal or run_for_ms (0: forever). Returns 0, or the
// loop's error. The app's stop hook runs before it returns.
[[nodiscard]] int run_daemon(evl::Loop& loop, Log& log, int64_t run_for_ms,
                             const DaemonHooks& hooks);

}  // namespace app
