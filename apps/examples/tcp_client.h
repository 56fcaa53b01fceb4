// The README's TCP client: connects, says hello, and reconnects with
// exponential backoff whenever the connection fails or drops.
#pragma once

#include <cstdint>

#include "hal/socket.h"
#include "loop/loop.h"

namespace examples {

struct Client {
  evl::Loop* loop;
  hal::SockAddr server;
  evl::IoHandle io;
  evl::TimerHandle retry;
  int64_t backoff_ns;
  bool connected;
  int connects;
  int failures;
};

void client_start(Client* c);

}  // namespace examples
