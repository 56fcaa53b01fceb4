#include "apps/heartbeat/heartbeat.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "apps/common/daemon.h"
#include "apps/common/snapshot.h"

namespace heartbeat {

namespace {

// Whether the alarm command can run, checked when the daemon starts (a
// path mistyped in a config file would show only at the first alarm): a
// regular file with an execute bit. -ENOEXEC if it is not; a file the
// daemon may not read is left to the kernel when it runs it.
int check_command(const char* path) {
  hal::FileStat st{};
  const int r = hal::stat_path(path, &st);
  if (r == -EACCES) return 0;  // a file it may not read: left to the kernel's exec
  if (r < 0) return r;
  if ((st.mode & hal::kSIfmt) != hal::kSIfreg || (st.mode & 0111) == 0) return -ENOEXEC;
  return 0;
}

}  // namespace

using evl::kMs;

int64_t default_stall_ms(int64_t period_ms) {
  const int64_t three = evl::mul_sat(period_ms, 3);
  return three < 5000 ? 5000 : three;
}

int App::start(evl::Loop& loop, char* err, size_t err_len) {
  if (!app::device_id_ok(cfg_.id, err, err_len)) return -EINVAL;
  app::Url url;
  if (const int r = app::parse_url(cfg_.server, &url); r < 0) {
    if (app::describe_url_error("--server", cfg_.server, r, err, err_len)) return -EINVAL;
    std::snprintf(err, err_len,
                  "--server '%s' is not tcp://HOST:PORT, udp://HOST:PORT, mqtt://HOST[:PORT] or "
                  "mqtts://HOST[:PORT] (HOST: an IP literal or a host name; PORT: 1 to 65535, "
                  "mqtt's 1883 and mqtts's 8883 if none)",
                  cfg_.server);
    return -EINVAL;
  }
  if (url.scheme == app::Scheme::kHttp) {
    std::snprintf(err, err_len, "--server: heartbeat speaks tcp, udp or mqtt, not http");
    return -EINVAL;
  }
  use_mqtt_ = url.scheme == app::Scheme::kMqtt;
  mqtt::ClientConfig mc;
  if (use_mqtt_ && !prepare_mqtt(&mc, err, err_len)) return -EINVAL;
  if (cfg_.alarm_command[0] != '\0' && cfg_.alarm_command[0] != '/') {
    std::snprintf(err, err_len, "--alarm-command must be an absolute path (no shell, no PATH)");
    return -EINVAL;
  }
  if (cfg_.alarm_command[0] != '\0') {
    if (const int r = check_command(cfg_.alarm_command); r < 0) {
      std::snprintf(err, err_len, "--alarm-command %s: %s", cfg_.alarm_command,
                    r == -ENOEXEC ? "not an executable file" : std::strerror(-r));
      return -EINVAL;
    }
  }
  char tls_said[320] = {};
  if (app::prepare_tls(url, &cfg_.link, &tls_, err, err_len, tls_said, sizeof tls_said) < 0) {
    return -EINVAL;
  }
  loop_ = &loop;
  loop.set_callback_timing(true);  // the health figures report the longest callback
  start_ns_ = loop.now(evl::Clock::kMonotonic);
  if (const int r = watchdog_.start(loop, cfg_.watchdog, log_, err, err_len); r < 0) return r;
  app::LinkConfig lc = cfg_.link;
  lc.jitter_seed = app::random_seed(loop);
  lc.stable_ms = cfg_.period_ms;  // proven: a full period with a beat written, still open
  if (lc.stall_timeout_ms == 0) lc.stall_timeout_ms = default_stall_ms(cfg_.period_ms);
  // Said before the link starts: a connect that fails at once logs its
  // "down" line from inside start(), and a log read from the top should
  // first say what the daemon does.
  log_->log(app::Level::kInfo, "heartbeat every %lld ms to %s as %s",
            static_cast<long long>(cfg_.period_ms), cfg_.server, cfg_.id);
  if (tls_said[0] != '\0') log_->log(app::Level::kInfo, "%s", tls_said);
  int started = 0;
  if (use_mqtt_) {
    mqtt::ClientEvents mev;
    mev.up = on_mqtt_up;
    mev.delivering = on_delivering;
    mev.down = on_down;
    mev.refused = on_refused;
    mev.sessions_ended = on_sessions_ended;
    mev.unanswered = on_unanswered;
    mev.message = on_command;
    mev.sub_refused = on_sub_refused;
    mev.ctx = this;
    started = mqtt_.start(loop, url, lc, mc, mev);
    if (started == 0) started = presence_.subscribe(mqtt_);
  } else {
    app::LinkEvents ev;
    ev.up = on_up;
    ev.delivering = on_delivering;
    ev.down = on_down;
    ev.received = on_received;
    ev.ctx = this;
    started = link_.start(loop, url, lc, ev);
  }
  if (started < 0) {
    std::snprintf(err, err_len, "cannot start the link: %s", std::strerror(-started));
    stop();
    return -EINVAL;
  }
  evl::TimerSpec beat;
  beat.period_ns = evl::ms_to_ns(cfg_.period_ms);
  beat.overrun = evl::Overrun::kSkip;
  const int r = loop.timer_start(beat, on_beat, this, &beat_);
  if (r < 0) {
    std::snprintf(err, err_len, "cannot start timers: %s", std::strerror(-r));
    stop();  // leave nothing half-started
    return r;
  }
  // Nothing delivered yet: if that lasts, the alarm follows.
  check_alarm();
  watchdog_.notify("READY=1");
  return 0;
}

void App::stop() {
  if (loop_ == nullptr) return;
  watchdog_.notify("STOPPING=1");
  // A clean stop sends DISCONNECT, so the broker keeps the will: say it.
  if (use_mqtt_) presence_.offline(mqtt_);
  mqtt_.stop();
  link_.stop();
  loop_->timer_clear(&beat_);
  loop_->timer_clear(&alarm_timer_);
  loop_->timer_clear(&command_timer_);
  if (command_) {
    // Left to finish on its own (under heartbeat.service, systemd's stop
    // sends it SIGTERM with the daemon's).
    (void)loop_->child_stop(command_);
    command_ = evl::ChildHandle{};
  }
  watchdog_.stop();
  loop_ = nullptr;
}

bool App::save(flight::SnapWriter& w) const {
  if (command_ || loop_ == nullptr || !link().snapshot_possible()) return false;
  w.put(c_);
  w.put(start_ns_);
  w.put(seq_);
  w.put(sent_ns_);
  w.put(static_cast<uint8_t>(alarm_ ? 1 : 0));
  w.put(alarm_raised_ns_);
  w.put(static_cast<uint8_t>(down_ ? 1 : 0));
  w.put(static_cast<uint8_t>(acking_ ? 1 : 0));
  w.put(acked_ns_);
  app::save_timer(w, *loop_, beat_);
  app::save_timer(w, *loop_, alarm_timer_);
  if (use_mqtt_) {
    mqtt_.save(w);
  } else {
    link_.save(w);
  }
  watchdog_.save(w);
  return true;
}

void App::drop() {
  loop_->timer_clear(&beat_);
  loop_->timer_clear(&alarm_timer_);
  if (use_mqtt_) {
    mqtt_.drop();
  } else {
    link_.drop();
  }
  watchdog_.drop();
}

void App::restore(app::Restore& r) {
  uint8_t alarm = 0;
  uint8_t down = 0;
  (void)r.get(&c_);
  (void)r.get(&start_ns_);
  (void)r.get(&seq_);
  (void)r.get(&sent_ns_);
  (void)r.get(&alarm);
  (void)r.get(&alarm_raised_ns_);
  (void)r.get(&down);
  uint8_t acking = 0;
  (void)r.get(&acking);
  (void)r.get(&acked_ns_);
  alarm_ = alarm != 0;
  down_ = down != 0;
  acking_ = acking != 0;
  r.timer(&beat_, on_beat, this);
  r.timer(&alarm_timer_, on_alarm, this);
  if (use_mqtt_) {
    mqtt_.restore(r);
  } else {
    link_.restore(r);
  }
  watchdog_.restore(r);
}

void App::summary(char* buf, size_t len) const {
  std::snprintf(
      buf, len,
      "heartbeats sent=%llu missed_down=%llu missed_full=%llu acks=%llu rtt_us last=%lld "
      "max=%lld; outages=%llu alarms raised=%llu cleared=%llu; alarm command failures=%llu "
      "timeouts=%llu not_run=%llu; pets=%llu skipped=%llu; connects=%llu failures=%llu "
      "stalls=%llu",
      static_cast<unsigned long long>(c_.sent), static_cast<unsigned long long>(c_.missed_down),
      static_cast<unsigned long long>(c_.missed_full), static_cast<unsigned long long>(c_.acks),
      static_cast<long long>(c_.rtt_us_last), static_cast<long long>(c_.rtt_us_max),
      static_cast<unsigned long long>(c_.outages),
      static_cast<unsigned long long>(c_.alarms_raised),
      static_cast<unsigned long long>(c_.alarms_cleared),
      static_cast<unsigned long long>(c_.alarm_command_failures),
      static_cast<unsigned long long>(c_.alarm_command_timeouts),
      static_cast<unsigned long long>(c_.spawn_errors),
      static_cast<unsigned long long>(watchdog_.stats().pets),
      static_cast<unsigned long long>(watchdog_.stats().skipped),
      static_cast<unsigned long long>(link().stats().connects),
      static_cast<unsigned long long>(link().stats().failures),
      static_cast<unsigned long long>(link().stats().stalls));
  app::tls::append_summary(tls_, buf, len);
}

bool App::prepare_mqtt(mqtt::ClientConfig* mc, char* err, size_t err_len) {
  if (mqtt::client_config(cfg_.mqtt, cfg_.id, mc, err, err_len) < 0) return false;
  if (!presence_.init(cfg_.mqtt, cfg_.id, err, err_len)) return false;
  if (!mqtt::topic(cfg_.mqtt, cfg_.id, "heartbeat", topic_beat_, sizeof topic_beat_) ||
      !mqtt::topic(cfg_.mqtt, cfg_.id, "alarm", topic_alarm_, sizeof topic_alarm_)) {
    std::snprintf(err, err_len, "--topic-prefix and --id make topics that are too long");
    return false;
  }
  return true;
}

bool App::connected() const { return use_mqtt_ ? mqtt_.up() : link_.up(); }

// A beat goes out now or not at all: over MQTT as a QoS 0 PUBLISH of the
// same text without its line end.
int App::send_beat(const char* line, size_t len) {
  if (use_mqtt_) return mqtt_.publish0(topic_beat_, line, len - 1, false);
  return link_.send(line, len);
}

void App::on_mqtt_up(void* ctx) {
  auto* a = static_cast<App*>(ctx);
  a->presence_.online(a->mqtt_, kTagStatus);
  a->log_->log(app::Level::kDebug, "MQTT session with %s", a->cfg_.server);
}

void App::on_refused(void* ctx, uint8_t code) {
  auto* a = static_cast<App*>(ctx);
  a->log_->log(app::Level::kError, "broker %s refused the connection: %s; retrying", a->cfg_.server,
               mqtt::refusal_name(code));
}

void App::on_unanswered(void* ctx, uint32_t connections) {
  auto* a = static_cast<App*>(ctx);
  char line[320];
  mqtt::describe_unanswered(a->cfg_.server, a->mqtt_.link().url().port, connections, line,
                            sizeof line);
  a->log_->log(app::Level::kError, "%s", line);
}

void App::on_sessions_ended(void* ctx, uint32_t sessions) {
  auto* a = static_cast<App*>(ctx);
  char line[320];
  mqtt::describe_sessions_ended(a->cfg_.server, a->cfg_.id, sessions, line, sizeof line);
  a->log_->log(app::Level::kError, "%s", line);
}

void App::on_sub_refused(void* ctx, const char* filter) {
  auto* a = static_cast<App*>(ctx);
  char line[320];
  mqtt::describe_sub_refused(a->cfg_.server, filter, line, sizeof line);
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

// The alarm's state, retained and QoS 1 on <prefix>/<id>/alarm: queued while
// the session is down, so it goes out once the link is back.
void App::publish_alarm(const char* state) {
  if (!use_mqtt_) return;
  const int r = mqtt_.publish1(topic_alarm_, state, std::strlen(state), true, kTagAlarm);
  if (r < 0) {
    log_->log(app::Level::kWarning, "cannot queue the alarm state '%s' for MQTT: %s", state,
              std::strerror(-r));
  }
}

void App::on_beat(evl::Loop& loop, evl::TimerHandle, uint32_t missed, void* ctx) {
  auto* a = static_cast<App*>(ctx);
  a->c_.missed_down += missed;  // ticks the loop could not even deliver
  const int64_t now = loop.now(evl::Clock::kMonotonic);
  const uint64_t seq = ++a->seq_;
  char line[192];
  const int n = std::snprintf(line, sizeof line, "HB id=%s seq=%llu uptime_ms=%lld mono_ns=%lld\n",
                              a->cfg_.id, static_cast<unsigned long long>(seq),
                              static_cast<long long>((now - a->start_ns_) / kMs),
                              static_cast<long long>(now));
  // Beats flow again on a connection that never dropped (a black hole
  // shorter than the stall timeout): that ends the alarm too.
  if (a->alarm_ && a->delivered_ns() > a->alarm_raised_ns_) a->clear_alarm();
  if (!a->connected()) {
    ++a->c_.missed_down;
    return;
  }
  const int r = a->send_beat(line, static_cast<size_t>(n));
  if (r == 0) {
    ++a->c_.sent;
    a->sent_ns_[seq % 64] = now;
  } else if (r == -ENOBUFS) {
    ++a->c_.missed_full;
  } else {
    ++a->c_.missed_down;
  }
}

size_t App::on_received(void* ctx, const char* data, size_t len) {
  auto* a = static_cast<App*>(ctx);
  if (a->link_.stream()) return app::take_lines(data, len, on_line, ctx);
  on_line(ctx, data, len > 0 && data[len - 1] == '\n' ? len - 1 : len);  // a datagram: one line
  return len;
}

bool parse_ack(const char* line, size_t len, uint64_t* seq) {
  static constexpr char kPrefix[] = "ACK seq=";
  constexpr size_t kPrefixLen = sizeof kPrefix - 1;
  if (len <= kPrefixLen || std::memcmp(line, kPrefix, kPrefixLen) != 0) return false;
  uint64_t v = 0;
  for (size_t i = kPrefixLen; i < len; ++i) {
    const char c = line[i];
    if (c < '0' || c > '9') return false;
    const auto d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (v == 0) return false;
  *seq = v;
  return true;
}

void App::on_line(void* ctx, const char* line, size_t len) {
  auto* a = static_cast<App*>(ctx);
  uint64_t seq = 0;
  if (!parse_ack(line, len, &seq) || seq > a->seq_ || a->seq_ - seq >= 64) {
    return;  // not an ack of a beat we still remember
  }
  const int64_t now = a->loop_->now(evl::Clock::kMonotonic);
  const int64_t rtt = (now - a->sent_ns_[seq % 64]) / 1000;
  a->acking_ = true;
  a->acked_ns_ = now;
  ++a->c_.acks;
  a->c_.rtt_us_last = rtt;
  if (rtt > a->c_.rtt_us_max) a->c_.rtt_us_max = rtt;
}

// A server's ACK lines, once it sent one, say more than its TCP: a hung
// server process's kernel goes on acknowledging beats, and accepting new
// connections. From then on only ACKs count, on every connection.
int64_t App::delivered_ns() const {
  if (use_mqtt_) return mqtt_.delivered_ns();
  return acking_ ? acked_ns_ : link_.delivered_ns();
}

void App::on_up(void* ctx) {
  auto* a = static_cast<App*>(ctx);
  a->log_->log(app::Level::kDebug, "connected to %s", a->cfg_.server);
}

// The outage ends only here: the link has stayed up for a full period with a
// beat written and acknowledged, not merely connected.
void App::on_delivering(void* ctx) {
  auto* a = static_cast<App*>(ctx);
  // (A server that answers beats clears it with an ACK: on_beat.)
  if (a->alarm_ && (a->use_mqtt_ || !a->acking_)) a->clear_alarm();
  if (!a->down_) return;
  a->down_ = false;
  char via[96];
  a->log_->log(app::Level::kInfo, "delivering to %s%s", a->cfg_.server,
               a->link().resolved_as(via, sizeof via));
}

void App::on_down(void* ctx, int err) {
  auto* a = static_cast<App*>(ctx);
  if (a->down_ && a->c_.outages > 0) return;
  a->down_ = true;
  ++a->c_.outages;
  a->log_->log(app::Level::kWarning, "link to %s down: %s; reconnecting", a->cfg_.server,
               err != 0 ? app::error_text(err) : "closed by the server");
}

// The alarm rises when no beat has been delivered for alarm_after_ms
// (delivered_ns(): the peer took bytes on a proven connection, over MQTT
// within a session, from a server that answers beats its last ACK line), or
// since the start. Not since the link went down: a black hole is seen as
// down only when the stall timeout ends the connection, and one shorter
// than that would raise nothing. One timer, always armed while the alarm is
// not raised, at the moment it would rise; it moves itself on when
// deliveries came meanwhile.
void App::check_alarm() {
  if (alarm_) return;
  const int64_t now = loop_->now(evl::Clock::kMonotonic);
  const int64_t last = std::max(start_ns_, delivered_ns());
  const int64_t due = evl::add_sat(last, evl::ms_to_ns(cfg_.alarm_after_ms));
  if (now < due) {
    loop_->timer_clear(&alarm_timer_);
    (void)loop_->timer_after(due - now, on_alarm, this, &alarm_timer_);
    return;
  }
  alarm_ = true;
  alarm_raised_ns_ = now;
  ++c_.alarms_raised;
  log_->log(app::Level::kError, "ALARM: no heartbeat delivered to %s for more than %lld ms%s",
            cfg_.server, static_cast<long long>(cfg_.alarm_after_ms),
            !use_mqtt_ && acking_ && link_.up()
                ? " (its TCP still takes them, but the server stopped answering them (ACK lines): "
                  "is it hung?)"
                : "");
  run_alarm_command("raise");
  publish_alarm("raise");
  app::flight_dump_async(*loop_, *log_, "alarm");
}

void App::clear_alarm() {
  alarm_ = false;
  ++c_.alarms_cleared;
  log_->log(app::Level::kError, "ALARM CLEARED: heartbeats reach %s again", cfg_.server);
  run_alarm_command("clear");
  publish_alarm("clear");
  check_alarm();  // armed for the next outage
}

void App::on_alarm(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  auto* a = static_cast<App*>(ctx);
  a->alarm_timer_ = evl::TimerHandle{};
  a->check_alarm();
}

void App::run_alarm_command(const char* arg) {
  if (cfg_.alarm_command[0] == '\0') return;
  if (command_pid_ > 0) {
    log_->log(app::Level::kError, "%s %s still running at the next alarm transition: killed",
              cfg_.alarm_command, command_arg_);
    (void)hal::kill(command_pid_, hal::kSigKill);  // its watcher still reaps it
    command_pid_ = 0;
    command_ = evl::ChildHandle{};
    loop_->timer_clear(&command_timer_);
  }
  std::snprintf(command_arg_, sizeof command_arg_, "%s", arg);
  char arg_copy[8];
  std::snprintf(arg_copy, sizeof arg_copy, "%s", arg);
  char* argv[] = {cfg_.alarm_command, arg_copy, nullptr};
  int pid = 0;
  int r = hal::spawn(cfg_.alarm_command, argv, &pid);
  if (r < 0) {
    ++c_.spawn_errors;
    log_->log(app::Level::kError, "cannot run %s %s: %s", cfg_.alarm_command, arg,
              std::strerror(-r));
    return;
  }
  r = loop_->child_start(pid, on_command_exit, this, &command_);
  if (r < 0) {
    // Unwatched, it could hang for ever: kill it, and reap it if it is gone
    // already (a zombie otherwise, until the daemon exits).
    ++c_.alarm_command_failures;
    log_->log(app::Level::kError, "cannot watch %s %s (pid %d): %s; killed", cfg_.alarm_command,
              arg, pid, std::strerror(-r));
    (void)hal::kill(pid, hal::kSigKill);
    (void)hal::waitpid(pid, nullptr, hal::kWnohang);
    return;
  }
  command_pid_ = pid;
  (void)loop_->timer_after(evl::ms_to_ns(cfg_.alarm_timeout_ms), on_command_timeout, this,
                           &command_timer_);
}

void App::on_command_exit(evl::Loop&, evl::ChildHandle h, int pid, int status, void* ctx) {
  auto* a = static_cast<App*>(ctx);
  const bool current = h == a->command_;
  if (current) {
    a->command_ = evl::ChildHandle{};
    a->command_pid_ = 0;
    a->loop_->timer_clear(&a->command_timer_);
  }
  if (status >= 0 && hal::exited_normally(status) && hal::exit_status(status) == 0) {
    a->log_->log(app::Level::kInfo, "%s (pid %d) done", a->cfg_.alarm_command, pid);
    return;
  }
  ++a->c_.alarm_command_failures;
  if (status < 0) {
    a->log_->log(app::Level::kError, "%s (pid %d): %s", a->cfg_.alarm_command, pid,
                 std::strerror(-status));
  } else if (hal::exited_normally(status)) {
    a->log_->log(app::Level::kError, "%s (pid %d) failed with exit status %d",
                 a->cfg_.alarm_command, pid, hal::exit_status(status));
  } else {
    a->log_->log(app::Level::kError, "%s (pid %d) ended by signal %d", a->cfg_.alarm_command, pid,
                 hal::term_signal(status));
  }
}

void App::on_command_timeout(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  auto* a = static_cast<App*>(ctx);
  a->command_timer_ = evl::TimerHandle{};
  if (a->command_pid_ <= 0) return;
  ++a->c_.alarm_command_timeouts;
  a->log_->log(app::Level::kError, "%s %s still running after %lld ms: killed",
               a->cfg_.alarm_command, a->command_arg_,
               static_cast<long long>(a->cfg_.alarm_timeout_ms));
  (void)hal::kill(a->command_pid_, hal::kSigKill);  // the watcher reaps it and logs the signal
}

}  // namespace heartbeat
