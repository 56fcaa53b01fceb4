#include "apps/mqtt/settings.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace mqtt {
namespace {

bool clean_level(const char* s) { return s[0] != '\0' && std::strpbrk(s, "+#") == nullptr; }

}  // namespace

void add_options(app::OptionTable* t, Settings* s) {
  t->add(app::string_option("topic-prefix", "P", "MQTT topics are P/ID/... (default evl)",
                            s->topic_prefix, sizeof s->topic_prefix));
  t->add(app::int_option("mqtt-keepalive-s", "S", "MQTT keepalive (default 30; 0: none)",
                         &s->keepalive_s, 0, 65535));
  t->add(app::string_option("mqtt-user", "NAME", "MQTT user name", s->user, sizeof s->user));
  t->add(app::string_option("mqtt-password-file", "PATH", "MQTT password, read from this file",
                            s->password_file, sizeof s->password_file));
}

bool topic(const Settings& s, const char* id, const char* name, char* out, size_t cap) {
  if (!clean_level(s.topic_prefix) || !clean_level(id)) return false;
  const int n = std::snprintf(out, cap, "%s/%s/%s", s.topic_prefix, id, name);
  return n > 0 && static_cast<size_t>(n) < cap;
}

int client_config(const Settings& s, const char* id, ClientConfig* out, char* err, size_t err_len) {
  ClientConfig c;
  if (!app::device_id_ok(id) || std::strlen(id) >= sizeof c.client_id) {
    std::snprintf(err, err_len, "--id '%s' cannot be an MQTT client id and topic level", id);
    return -EINVAL;
  }
  std::snprintf(c.client_id, sizeof c.client_id, "%s", id);
  c.keepalive_s = s.keepalive_s;
  if (!topic(s, id, "status", c.will_topic, sizeof c.will_topic)) {
    std::snprintf(err, err_len, "--topic-prefix '%s' is empty, too long or holds + or #",
                  s.topic_prefix);
    return -EINVAL;
  }
  std::snprintf(c.will_message, sizeof c.will_message, "offline");
  c.report_after_closes = 3;
  std::snprintf(c.user, sizeof c.user, "%s", s.user);
  if (s.password_file[0] != '\0') {
    if (s.user[0] == '\0') {
      std::snprintf(err, err_len, "--mqtt-password-file needs --mqtt-user");
      return -EINVAL;
    }
    if (app::read_secret_file("password file", s.password_file, c.password, sizeof c.password, err,
                              err_len) < 0) {
      return -EINVAL;
    }
  }
  *out = c;
  return 0;
}

void describe_retained_command(const char* topic, size_t topic_len, char* out, size_t cap) {
  const int n = topic_len < 160 ? static_cast<int>(topic_len) : 160;
  std::snprintf(out, cap,
                "a retained message on %.*s ignored: a command is not kept for later (publish it "
                "without retain; an empty retained message clears it)",
                n, topic);
}

void describe_sub_refused(const char* url, const char* filter, char* out, size_t cap) {
  std::snprintf(out, cap,
                "broker %s refused the subscription to %s (its access rules?): commands sent "
                "there (ping) will not reach this board",
                url, filter);
}

void describe_sessions_ended(const char* url, const char* client_id, uint32_t sessions, char* out,
                             size_t cap) {
  std::snprintf(out, cap,
                "broker %s ended %u sessions in a row soon after accepting them: is another "
                "client connecting with the client id '%s'? MQTT keeps one session per id, so "
                "each connect ends the other's; every board needs its own --id",
                url, sessions, client_id);
}

void describe_unanswered(const char* url, int port, uint32_t connections, char* out, size_t cap) {
  std::snprintf(out, cap,
                "broker %s: %u connections in a row ended without an answer to CONNECT: is "
                "port %d a TLS port (mqtts, usually 8883) or another protocol's (HTTP; "
                "InfluxDB's 8086)? A TLS port is given as mqtts://HOST:PORT",
                url, connections, port);
}

}  // namespace mqtt
