#include "apps/mqtt/presence.h"

#include <cstdio>
#include <cstring>

namespace mqtt {

bool Presence::init(const Settings& s, const char* id, char* err, size_t err_len) {
  if (topic(s, id, "status", status_, sizeof status_) && topic(s, id, "cmd", cmd_, sizeof cmd_) &&
      topic(s, id, "pong", pong_, sizeof pong_)) {
    return true;
  }
  std::snprintf(err, err_len, "--topic-prefix and --id make topics that are too long");
  return false;
}

int Presence::subscribe(Client& c) const { return c.subscribe(cmd_); }

void Presence::online(Client& c, uint32_t tag) const {
  (void)c.publish1(status_, "online", 6, true, tag);
}

void Presence::offline(Client& c) const {
  if (c.up()) (void)c.publish0(status_, "offline", 7, true);
}

Presence::Handled Presence::command(Client& c, const char* topic, size_t topic_len,
                                    const uint8_t* payload, size_t len, bool retained) const {
  if (topic_len != std::strlen(cmd_) || std::memcmp(topic, cmd_, topic_len) != 0) {
    return Handled::kNotOurs;
  }
  if (retained) return Handled::kRetained;
  if (len == 4 && std::memcmp(payload, "ping", 4) == 0) (void)c.publish0(pong_, "pong", 4, false);
  return Handled::kAnswered;
}

}  // namespace mqtt
