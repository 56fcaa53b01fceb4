// Telemetry's MQTT and HTTP collectors: configuration, sending a batch,
// and what each answer means for the store (see telemetry.h).
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "apps/telemetry/telemetry.h"

namespace telemetry {

// The MQTT or HTTP client's counters for the summary, or "" over other links.
const char* App::transport_summary() const {
  static char text[256];
  if (via_ == Via::kHttp) {
    std::snprintf(text, sizeof text,
                  "; http stored=%llu bad_points=%llu refused=%llu too_large=%llu retried=%llu "
                  "failed=%llu malformed=%llu",
                  static_cast<unsigned long long>(c_.http_stored),
                  static_cast<unsigned long long>(c_.http_bad_points),
                  static_cast<unsigned long long>(c_.http_refused),
                  static_cast<unsigned long long>(c_.http_too_large),
                  static_cast<unsigned long long>(c_.http_retried),
                  static_cast<unsigned long long>(c_.http_failed),
                  static_cast<unsigned long long>(http_.stats().malformed));
    return text;
  }
  if (via_ != Via::kMqtt) return "";
  const mqtt::ClientStats& m = mqtt_.stats();
  std::snprintf(
      text, sizeof text,
      "; mqtt sessions=%llu refusals=%llu protocol_errors=%llu oversized=%llu "
      "ping_timeouts=%llu connack_timeouts=%llu acked=%llu resent=%llu unknown_acks=%llu",
      static_cast<unsigned long long>(m.sessions), static_cast<unsigned long long>(m.refusals),
      static_cast<unsigned long long>(m.protocol_errors),
      static_cast<unsigned long long>(m.oversized),
      static_cast<unsigned long long>(m.ping_timeouts),
      static_cast<unsigned long long>(m.connack_timeouts), static_cast<unsigned long long>(m.acked),
      static_cast<unsigned long long>(m.resent), static_cast<unsigned long long>(m.unknown_acks));
  return text;
}

bool App::prepare_mqtt(mqtt::ClientConfig* mc, char* err, size_t err_len) {
  if (mqtt::client_config(cfg_.mqtt, cfg_.id, mc, err, err_len) < 0) return false;
  mc->report_after_drops = kMqttStuckAfter;
  if (!presence_.init(cfg_.mqtt, cfg_.id, err, err_len)) return false;
  if (!mqtt::topic(cfg_.mqtt, cfg_.id, "telemetry", topic_data_, sizeof topic_data_) ||
      !mqtt::topic(cfg_.mqtt, cfg_.id, "health", topic_health_, sizeof topic_health_)) {
    std::snprintf(err, err_len, "--topic-prefix and --id make topics that are too long");
    return false;
  }
  return true;
}

// Over MQTT a batch is one QoS 1 PUBLISH of its lines; it leaves the store
// when its PUBACK comes (the client resends it after a reconnect until
// then), so "delivered" means the broker has it.
int App::send_mqtt_batch(const char* buf, size_t used) {
  return mqtt_.publish1(topic_data_, buf, used, false, ++batch_tag_);
}

void App::on_mqtt_up(void* ctx) {
  auto* a = static_cast<App*>(ctx);
  a->presence_.online(a->mqtt_, kTagStatus);
  a->send_batch();
}

void App::on_refused(void* ctx, uint8_t code) {
  auto* a = static_cast<App*>(ctx);
  a->log_->log(app::Level::kError, "broker %s refused the connection: %s; retrying",
               a->cfg_.collector, mqtt::refusal_name(code));
}

void App::on_unanswered(void* ctx, uint32_t connections) {
  auto* a = static_cast<App*>(ctx);
  char line[320];
  mqtt::describe_unanswered(a->cfg_.collector, a->mqtt_.link().url().port, connections, line,
                            sizeof line);
  a->log_->log(app::Level::kError, "%s", line);
}

void App::on_sessions_ended(void* ctx, uint32_t sessions) {
  auto* a = static_cast<App*>(ctx);
  char line[320];
  mqtt::describe_sessions_ended(a->cfg_.collector, a->cfg_.id, sessions, line, sizeof line);
  a->log_->log(app::Level::kError, "%s", line);
}

void App::on_acked(void* ctx, uint32_t tag) {
  auto* a = static_cast<App*>(ctx);
  if (tag != a->batch_tag_ || a->store_.in_flight() == 0) return;  // the status message
  a->store_.commit();
  a->maybe_send();
}

// Connections keep ending with the batch sent and unacknowledged. MQTT
// 3.1.1 has it sent again at each one; a broker that closes on it for its
// size (mosquitto says only "disconnected due to oversize packet") will do
// so for ever, so the log says what to change.
void App::on_closed_on(void* ctx, uint32_t tag, size_t bytes) {
  auto* a = static_cast<App*>(ctx);
  if (tag != a->batch_tag_ || a->store_.in_flight() == 0) return;
  a->log_->log(app::Level::kError,
               "broker %s closed the connection %d times in a row with a batch of %zu records "
               "(a %zu-byte message) unacknowledged: a broker limit on message size "
               "(mosquitto's max_packet_size)? It is sent again at each connection, as MQTT "
               "requires; a smaller --batch-max makes smaller messages",
               a->cfg_.collector, kMqttStuckAfter, a->store_.in_flight(), bytes);
}

void App::on_sub_refused(void* ctx, const char* filter) {
  auto* a = static_cast<App*>(ctx);
  char line[320];
  mqtt::describe_sub_refused(a->cfg_.collector, filter, line, sizeof line);
  a->log_->log(app::Level::kError, "%s", line);
}

void App::on_command(void* ctx, const char* topic, size_t topic_len, const uint8_t* payload,
                     size_t len, bool retained) {
  auto* a = static_cast<App*>(ctx);
  if (a->presence_.command(a->mqtt_, topic, topic_len, payload, len, retained) ==
      mqtt::Presence::Handled::kRetained) {
    char line[320];
    mqtt::describe_retained_command(topic, topic_len, line, sizeof line);
    a->log_->log(app::Level::kWarning, "%s", line);
  }
}

bool App::prepare_http(const app::Url& url, http::ClientConfig* hc, char* err, size_t err_len) {
  if (std::strncmp(url.path, "/write?", 7) != 0 || std::strstr(url.path, "db=") == nullptr) {
    std::snprintf(err, err_len, "--collector: an http collector is InfluxDB's /write?db=NAME");
    return false;
  }
  // InfluxDB 1.x reads u= and p= from the query too; a password there
  // would be in every log line that names the collector.
  if (std::strstr(url.path, "?p=") != nullptr || std::strstr(url.path, "&p=") != nullptr) {
    std::snprintf(err, err_len,
                  "--collector: a password in the URL's query (p=) is not read, and the URL is "
                  "not printed: use --http-user and --http-password-file");
    return false;
  }
  if (url.host[0] != '\0') {  // the name the server was given, as a browser sends it
    if (std::snprintf(hc->host, sizeof hc->host, "%s:%d", url.host, url.port) >=
        static_cast<int>(sizeof hc->host)) {
      std::snprintf(err, err_len, "--collector: its host name is too long for a Host header");
      return false;
    }
  } else if (hal::format_address(url.addr, hc->host, sizeof hc->host) < 0) {
    std::snprintf(err, err_len, "--collector: cannot format its address");
    return false;
  }
  hc->response_timeout_ms = cfg_.http_timeout_ms;
  char secret[256];
  if (cfg_.http_token_file[0] != '\0') {
    if (cfg_.http_user[0] != '\0') {
      std::snprintf(err, err_len, "--http-token-file and --http-user exclude each other");
      return false;
    }
    if (app::read_secret_file("token file", cfg_.http_token_file, secret, sizeof secret, err,
                              err_len) < 0) {
      return false;
    }
    std::snprintf(hc->authorization, sizeof hc->authorization, "Token %s", secret);
  } else if (cfg_.http_user[0] != '\0') {
    if (std::strchr(cfg_.http_user, ':') != nullptr) {  // RFC 7617: the first ':' ends the user
      std::snprintf(err, err_len, "--http-user '%s' holds a ':'", cfg_.http_user);
      return false;
    }
    secret[0] = '\0';
    if (cfg_.http_password_file[0] != '\0' &&
        app::read_secret_file("password file", cfg_.http_password_file, secret, sizeof secret, err,
                              err_len) < 0) {
      return false;
    }
    char b64[300];
    if (!http::basic_credentials(cfg_.http_user, secret, b64, sizeof b64)) {
      std::snprintf(err, err_len, "--http-user and its password are too long");
      return false;
    }
    std::snprintf(hc->authorization, sizeof hc->authorization, "Basic %s", b64);
  } else if (cfg_.http_password_file[0] != '\0') {
    std::snprintf(err, err_len, "--http-password-file needs --http-user");
    return false;
  }
  return true;
}

// A refused batch waits: exponential back-off from the link's initial
// value to its maximum, reset by the next 2xx, with equal jitter (a delay
// in [cap/2, cap]: a fleet refused at the same moment does not come back at
// the same moment), after the server's Retry-After if it gave one.
void App::retry_later(int64_t at_least_ms) {
  store_.abandon();
  const int64_t cap = app::backoff_cap_ms(cfg_.link, retry_attempt_++);
  const int64_t half = cap / 2;
  const auto spread =
      static_cast<int64_t>(http_.link().random_to(static_cast<uint64_t>(cap - half)));
  hold_back(at_least_ms + half + spread);
}

// Nothing is posted (batches, health lines) until ms from now.
void App::hold_back(int64_t ms) {
  loop_->timer_clear(&retry_timer_);
  (void)loop_->timer_after(evl::ms_to_ns(ms), on_retry, this, &retry_timer_);
}

// The wait an answer's Retry-After asks for (ms), or -1 without a usable
// one; note gets what the log line says of it ("" without the header).
int64_t App::retry_after_ms(const http::Response& r, char* note, size_t cap) const {
  note[0] = '\0';
  if (r.retry_after == nullptr) return -1;
  const int64_t now_s = loop_->now(evl::Clock::kRealtime) / evl::kSec;
  const int64_t s = http::retry_after_s(r.retry_after, r.retry_after_len, now_s);
  const int len = r.retry_after_len > 40 ? 40 : static_cast<int>(r.retry_after_len);
  if (s == -ERANGE) {
    std::snprintf(note, cap,
                  " (its Retry-After is a date and this board's clock is not set: "
                  "ignored)");
    return -1;
  }
  if (s < 0) {
    std::snprintf(note, cap, " (its Retry-After '%.*s' is not seconds or an IMF-fixdate: ignored)",
                  len, r.retry_after);
    return -1;
  }
  std::snprintf(note, cap, " after its Retry-After of %lld s%s", static_cast<long long>(s),
                s == http::kMaxRetryAfterS ? " (at most an hour is kept)" : "");
  return s * 1000;
}

void App::on_retry_serial(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  auto* a = static_cast<App*>(ctx);
  a->serial_retry_ = evl::TimerHandle{};
  a->open_serial();
}

void App::on_http_response(void* ctx, const http::Response& r) {
  auto* a = static_cast<App*>(ctx);
  const int s = r.status;
  char note[128];
  if (a->health_in_flight_) {  // the answer to a health line: nothing to account
    a->health_in_flight_ = false;
    if (s >= 300) {
      // A server asking for a pause is given it before the next batch.
      const int64_t wait = s == 400 || s == 413 ? -1 : a->retry_after_ms(r, note, sizeof note);
      a->log_->log(app::Level::kWarning, "collector refused a health line (%d)%s%s", s,
                   wait >= 0 ? "; the next post goes" : "", note);
      if (wait >= 0) {
        a->hold_back(wait);
        return;
      }
    }
    a->maybe_send();
    return;
  }
  if (s == 204 || (s >= 200 && s < 300)) {
    ++a->c_.http_stored;
    a->store_.commit();
    a->retry_attempt_ = 0;
    const size_t max = static_cast<size_t>(a->cfg_.batch_max);
    if (a->http_batch_limit_ < max) a->http_batch_limit_ = std::min(max, a->http_batch_limit_ * 2);
    a->maybe_send();
    return;
  }
  // The answer's text as logged: at most 200 bytes, without its line end.
  size_t body_len = r.body_len < 200 ? r.body_len : 200;
  while (body_len > 0 && (r.body[body_len - 1] == '\n' || r.body[body_len - 1] == '\r')) {
    --body_len;
  }
  const int text_len = static_cast<int>(body_len);
  if (s == 400) {
    ++a->c_.http_bad_points;
    const size_t n = a->store_.in_flight();
    a->store_.discard();
    a->log_->log(app::Level::kError, "collector %s refused %zu records (400): %.*s",
                 a->cfg_.collector, n, text_len, r.body);
    a->maybe_send();
    return;
  }
  if (s == 413) {
    ++a->c_.http_too_large;
    const size_t n = a->store_.in_flight();
    if (n <= 1) {  // one record too large: it can never go
      a->store_.discard();
      a->log_->log(app::Level::kError, "collector %s: a single record is too large (413); dropped",
                   a->cfg_.collector);
    } else {
      a->store_.abandon();
      a->http_batch_limit_ = n / 2;
    }
    a->maybe_send();
    return;
  }
  if (s == 401 || s == 403 || s == 404) {
    ++a->c_.http_refused;
  } else {
    ++a->c_.http_retried;
  }
  const int64_t wait = a->retry_after_ms(r, note, sizeof note);
  if (s >= 300 && s < 400 && r.location != nullptr) {
    // A proxy sending http:// to https://, a moved endpoint: the body is
    // HTML for browsers, the target is the Location header.
    const int loc_len = r.location_len > 200 ? 200 : static_cast<int>(r.location_len);
    a->log_->log(app::Level::kError,
                 "collector %s answered %d, a redirect to %.*s: redirects are not followed; give "
                 "that URL as --collector (an https one needs a plain-HTTP endpoint); retrying%s",
                 a->cfg_.collector, s, loc_len, r.location, note);
  } else {
    a->log_->log(app::Level::kWarning, "collector %s answered %d%s%.*s; retrying%s",
                 a->cfg_.collector, s, text_len > 0 ? ": " : "", text_len, r.body, note);
  }
  a->retry_later(wait > 0 ? wait : 0);
}

void App::on_http_failed(void* ctx, int) {
  auto* a = static_cast<App*>(ctx);
  ++a->c_.http_failed;
  if (a->health_in_flight_) {
    a->health_in_flight_ = false;
    return;
  }
  a->store_.abandon();  // the link's back-off paces the retry
}

}  // namespace telemetry
