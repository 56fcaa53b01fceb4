// A board's presence on its broker, the same for every daemon: the retained
// <prefix>/<id>/status ("online" once a session is up, "offline" on a clean
// stop; the last will says "offline" when the board goes silent), and the
// command topic <prefix>/<id>/cmd, whose "ping" is answered with "pong" on
// <prefix>/<id>/pong.
#pragma once

#include <cstddef>
#include <cstdint>

#include "apps/mqtt/client.h"
#include "apps/mqtt/settings.h"

namespace mqtt {

class Presence {
 public:
  // The topics; false with one line in err when they do not fit.
  [[nodiscard]] bool init(const Settings& s, const char* id, char* err, size_t err_len);
  // Subscribes to the command topic (kept by the client for every session).
  [[nodiscard]] int subscribe(Client& c) const;
  // A session came up: "online", retained, QoS 1 (tag for acked()).
  void online(Client& c, uint32_t tag) const;
  // A clean stop: "offline", retained, while a session is still up.
  void offline(Client& c) const;
  // Handles a message if it is the board's command. A retained one is not
  // a command (it comes again with every subscription: a "ping" published
  // with -r once would be answered at every reconnect, for ever): ignored,
  // and the caller says so (describe_retained_command()).
  enum class Handled { kNotOurs, kAnswered, kRetained };
  Handled command(Client& c, const char* topic, size_t topic_len, const uint8_t* payload,
                  size_t len, bool retained) const;

 private:
  char status_[160] = {};
  char cmd_[160] = {};
  char pong_[160] = {};
};

}  // namespace mqtt
