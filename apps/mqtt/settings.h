// What both daemons take on their command line for MQTT, and the topics
// they derive from it: <prefix>/<id>/<name>.
#pragma once

#include <cstddef>
#include <cstdint>

#include "apps/common/options.h"
#include "apps/mqtt/client.h"

namespace mqtt {

struct Settings {
  char topic_prefix[64] = "evl";
  int64_t keepalive_s = 30;
  char user[64] = {};
  char password_file[256] = {};
};

// --topic-prefix, --mqtt-keepalive-s, --mqtt-user, --mqtt-password-file.
void add_options(app::OptionTable* t, Settings* s);

// "<prefix>/<id>/<name>" into out; false if it does not fit or the prefix
// or id hold a wildcard (+, #) or a NUL-free but empty level.
[[nodiscard]] bool topic(const Settings& s, const char* id, const char* name, char* out,
                         size_t cap);

// The client configuration for a daemon: id as client id, the will on
// <prefix>/<id>/status ("offline", retained), credentials (the password read
// from its file), sessions ended soon reported after three in a row.
// -EINVAL with one line in err.
[[nodiscard]] int client_config(const Settings& s, const char* id, ClientConfig* out, char* err,
                                size_t err_len);

// What a daemon says at ClientEvents::sessions_ended: one line, for url
// (the broker) and the client id, into out.
// The line for a retained message on the command topic (ignored).
void describe_retained_command(const char* topic, size_t topic_len, char* out, size_t cap);
// The line for a subscription the broker refused (SUBACK 0x80).
void describe_sub_refused(const char* url, const char* filter, char* out, size_t cap);
void describe_sessions_ended(const char* url, const char* client_id, uint32_t sessions, char* out,
                             size_t cap);
// The line for ClientEvents::unanswered: the broker ended `connections`
// connections in a row before any CONNACK; port is the URL's.
void describe_unanswered(const char* url, int port, uint32_t connections, char* out, size_t cap);

}  // namespace mqtt
