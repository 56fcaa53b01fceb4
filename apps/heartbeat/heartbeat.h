// The heartbeat daemon's core.
//
// Every period it sends one line, never waiting for the server:
//   HB id=<id> seq=<n> uptime_ms=<ms since start> mono_ns=<CLOCK_MONOTONIC ns>\n
// A server may answer "ACK seq=<n>" lines; they only measure round-trip time.
//
// Over MQTT (mqtt://): each beat is a QoS 0 PUBLISH of that text (without
// the line end) to <prefix>/<id>/heartbeat. <prefix>/<id>/status is
// retained: "online" (QoS 1) once a session is up, the last will "offline"
// when the board goes silent, and "offline" on a clean stop. The alarm's
// state goes retained, QoS 1, to <prefix>/<id>/alarm ("raise", "clear"),
// sent once the link is back. "ping" on <prefix>/<id>/cmd is answered with
// "pong" on <prefix>/<id>/pong.
// The heartbeat timer is periodic and keeps its phase through outages; beats
// due while the link is down are counted as missed, not queued.
//
// Outage and alarm: an outage starts when the link goes down (or at start)
// and ends only when the link delivers again: connected for a full period
// with a beat written and acknowledged by the peer's TCP (see app::Link). A
// server that accepts and closes at once, or one that stops reading (a stall,
// see --stall-timeout-ms), is an outage. After alarm_after_ms of outage the
// alarm is raised once (an error line, and alarm_command run as
// `PROG raise`, no shell); when the link delivers again it is cleared once
// (`PROG clear`). Each outage counts once. The command runs under a child
// watcher: its exit status is logged, and one still running after
// alarm_timeout_ms (or at the next transition) is killed and logged. At most
// one command runs at a time.
//
// Watchdog: with systemd's NOTIFY_SOCKET and WATCHDOG_USEC it sends READY=1,
// then WATCHDOG=1 every WATCHDOG_USEC/2; with a watchdog device it pets it
// (WDIOC_KEEPALIVE) every watchdog_interval_ms. Both only while the loop is
// healthy: the petting timer itself must run less than max_lag_ms late. A
// stuck loop pets nothing and the board is reset. A clean stop disarms the
// device with the magic close ('V').
#pragma once

#include <cstddef>
#include <cstdint>

#include "apps/common/link.h"
#include "apps/common/log.h"
#include "apps/common/tls.h"
#include "apps/common/watchdog.h"
#include "apps/mqtt/client.h"
#include "apps/mqtt/presence.h"
#include "apps/mqtt/settings.h"
#include "loop/loop.h"

namespace heartbeat {

// Parses one line from the server (its line end already removed): exactly
// "ACK seq=<n>", n in 1..2^64-1 in decimal without sign, nothing after it.
// False for anything else (it is then ignored).
[[nodiscard]] bool parse_ack(const char* line, size_t len, uint64_t* seq);

// The stall timeout when none is given: three periods, at least 5 s.
int64_t default_stall_ms(int64_t period_ms);

struct Config {
  char server[128] = {};
  char id[64] = "dev0";
  int64_t period_ms = 1000;
  app::LinkConfig link;  // back-off and connect timeout; the jitter seed is set at start
  int64_t alarm_after_ms = 30000;
  char alarm_command[256] = {};
  int64_t alarm_timeout_ms = 10000;  // the command is killed if it runs longer
  app::WatchdogConfig watchdog;      // device, interval, max lag; systemd's from the environment
  mqtt::Settings mqtt;               // for mqtt:// servers
};

struct Counters {
  uint64_t sent = 0;
  uint64_t missed_down = 0;  // due while the link was down
  uint64_t missed_full = 0;  // the link's buffer was full (a stalled server)
  uint64_t acks = 0;
  int64_t rtt_us_last = -1;
  int64_t rtt_us_max = -1;
  uint64_t outages = 0;
  uint64_t alarms_raised = 0;
  uint64_t alarms_cleared = 0;
  uint64_t spawn_errors = 0;
  uint64_t alarm_command_failures = 0;  // exited non-zero or by a signal
  uint64_t alarm_command_timeouts = 0;  // killed after alarm_timeout_ms
};

class App {
 public:
  App(const Config& cfg, app::Log* log) : cfg_(cfg), log_(log) {}
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  [[nodiscard]] int start(evl::Loop& loop, char* err, size_t err_len);
  void stop();
  void summary(char* buf, size_t len) const;
  const Counters& counters() const { return c_; }
  bool alarm_raised() const { return alarm_; }
  int64_t alarm_raised_ns() const { return alarm_raised_ns_; }
  // The server has answered a beat with an ACK line (since start).
  bool server_answers() const { return acking_; }
  const app::Link& link() const { return use_mqtt_ ? mqtt_.link() : link_; }
  // When the server last took a beat: over MQTT within a session; from a
  // server that has answered beats with ACK lines, its last ACK; else when
  // its TCP acknowledged the bytes.
  int64_t delivered_ns() const;
  const mqtt::Client& mqtt() const { return mqtt_; }
  const app::tls::Client& tls() const { return tls_; }
  const app::WatchdogStats& watchdog() const { return watchdog_.stats(); }

  // Snapshots for the flight recorder's replay (apps/common/snapshot.h):
  // when no alarm command runs (its process watcher cannot be rebuilt
  // without a system call: save() declines, and the recorder tries again at
  // the next iteration).
  static constexpr bool kSnapshots = true;
  bool save(flight::SnapWriter& w) const;
  void drop();
  void restore(app::Restore& r);

 private:
  static void on_beat(evl::Loop& loop, evl::TimerHandle h, uint32_t missed, void* ctx);
  static void on_alarm(evl::Loop& loop, evl::TimerHandle h, uint32_t missed, void* ctx);
  static void on_command_exit(evl::Loop& loop, evl::ChildHandle h, int pid, int status, void* ctx);
  static void on_command_timeout(evl::Loop& loop, evl::TimerHandle h, uint32_t missed, void* ctx);
  static void on_up(void* ctx);
  static void on_mqtt_up(void* ctx);
  static void on_refused(void* ctx, uint8_t code);
  static void on_sessions_ended(void* ctx, uint32_t sessions);
  static void on_unanswered(void* ctx, uint32_t connections);
  static void on_command(void* ctx, const char* topic, size_t topic_len, const uint8_t* payload,
                         size_t len, bool retained);
  static void on_sub_refused(void* ctx, const char* filter);
  static void on_delivering(void* ctx);
  static void on_down(void* ctx, int err);
  static size_t on_received(void* ctx, const char* data, size_t len);
  static void on_line(void* ctx, const char* line, size_t len);

  void check_alarm();
  void clear_alarm();
  void run_alarm_command(const char* arg);
  bool prepare_mqtt(mqtt::ClientConfig* mc, char* err, size_t err_len);
  bool connected() const;
  int send_beat(const char* line, size_t len);
  void publish_alarm(const char* state);

  static constexpr uint32_t kTagStatus = 1;
  static constexpr uint32_t kTagAlarm = 2;

  Config cfg_;
  app::Log* log_;
  evl::Loop* loop_ = nullptr;
  app::tls::Client tls_;  // mqtts:// or https:// (before the links: they use it to the end)
  app::Link link_;
  mqtt::Client mqtt_;
  bool use_mqtt_ = false;
  char topic_beat_[160] = {};
  char topic_alarm_[160] = {};
  mqtt::Presence presence_;
  evl::TimerHandle beat_;
  evl::TimerHandle alarm_timer_;
  evl::ChildHandle command_;        // the alarm command running, if any
  evl::TimerHandle command_timer_;  // its timeout
  int command_pid_ = 0;
  char command_arg_[8] = {};
  Counters c_;
  int64_t start_ns_ = 0;
  uint64_t seq_ = 0;
  int64_t sent_ns_[64] = {};  // send time by seq % 64, for round trips
  bool alarm_ = false;
  int64_t alarm_raised_ns_ = 0;
  bool down_ = true;
  bool acking_ = false;   // the server answered a beat (ACK seq=N): only ACKs count since
  int64_t acked_ns_ = 0;  // its last ACK
  app::Watchdog watchdog_;
};

}  // namespace heartbeat
