// The telemetry daemon's core: serial NMEA in, InfluxDB line protocol out,
// with a store-and-forward buffer in between. main.cc only parses options
// and runs it; tests and simulations run it on the fake kernel.
//
// Delivery: records leave the store only once delivered: for UDP when the
// datagram was handed to the kernel (UDP cannot know more), for TCP when the
// collector's TCP has acknowledged every byte of the batch (SIOCOUTQ, see
// confirm()). A connection that drops with a batch in flight resends the
// batch after reconnecting (at-least-once: the collector may see a point
// twice when it got the bytes but their acknowledgement was lost; InfluxDB
// keeps one point per series and timestamp, and stamps are unique). When the store
// is full the oldest record not in flight is dropped and counted (Store), so
// every accepted record is counted once, as delivered or as dropped.
//
// MQTT (mqtt://): a batch of lines is one QoS 1 PUBLISH to
// <prefix>/<id>/telemetry, delivered when its PUBACK comes; health goes QoS
// 0 to <prefix>/<id>/health; status, will and the ping command as heartbeat.
//
// HTTP (http://HOST:PORT/write?db=NAME, InfluxDB's write API): a batch is
// one POST on a keep-alive connection, delivered when the answer is 204
// (stored). 400 (bad points) drops the batch, counted, with InfluxDB's error
// text logged; 401/403/404 and 429/5xx are logged and retried after a
// back-off; 413 halves the batch; timeouts and resets resend it. Nothing is
// lost but what the collector refuses by content.
//
// Serial: a device that hangs up (an unplugged USB adapter, a closed pty) is
// closed, logged once, counted in serial_hangups, and reopened every
// serial_retry_ms; nothing is watched while it is away.
#pragma once

#include <cstddef>
#include <cstdint>

#include "apps/common/link.h"
#include "apps/common/log.h"
#include "apps/common/tls.h"
#include "apps/common/watchdog.h"
#include "apps/http/client.h"
#include "apps/mqtt/client.h"
#include "apps/mqtt/presence.h"
#include "apps/mqtt/settings.h"
#include "apps/nmea/nmea.h"
#include "apps/telemetry/store.h"
#include "hal/serial.h"
#include "loop/loop.h"

namespace telemetry {

constexpr int64_t kDefaultStallMs = 30000;  // --stall-timeout-ms when not given

struct Config {
  char serial[256] = {};
  int64_t baud = 9600;
  char collector[128] = {};
  char id[64] = "dev0";
  int64_t batch_max = 20;
  int64_t batch_delay_ms = 1000;
  int64_t buffer_records = 1024;
  int64_t health_period_ms = 10000;
  int64_t serial_retry_ms = 2000;
  app::LinkConfig link;          // back-off and connect timeout; the jitter seed is set at start
  app::WatchdogConfig watchdog;  // systemd's, from the environment
  mqtt::Settings mqtt;           // for mqtt:// collectors
  // For http:// collectors (InfluxDB's /write): a token (Authorization:
  // Token ...) or a user and password (Basic), each secret from a file.
  char http_token_file[256] = {};
  char http_user[64] = {};
  char http_password_file[256] = {};
  int64_t http_timeout_ms = 10000;
  // --spool PATH: the store's records kept across a restart (spool.h),
  // and while the collector takes none, every spool_every_s (0: at stop
  // only): a power cut then loses at most that much.
  char spool[256] = {};
  int64_t spool_every_s = 60;
};

struct Counters {
  uint64_t bytes_in = 0;
  uint64_t sentences = 0;
  uint64_t bad[static_cast<int>(nmea::Bad::kCount)] = {};
  uint64_t batches = 0;
  uint64_t health_sent = 0;
  uint64_t serial_opens = 0;
  uint64_t serial_open_failures = 0;  // opens that failed (no device, not a tty, busy)
  uint64_t serial_errors = 0;
  uint64_t serial_hangups = 0;  // the device went away (read 0, EIO or HUP)
  // http:// collectors: responses by outcome.
  uint64_t http_stored = 0;      // 204: the batch is stored
  uint64_t http_bad_points = 0;  // 400: the batch's records were dropped
  uint64_t http_refused = 0;     // 401, 403, 404: retried after a back-off
  uint64_t http_too_large = 0;   // 413: the batch was split
  uint64_t http_retried = 0;     // 429, 5xx and others: retried after a back-off
  uint64_t http_failed = 0;      // no answer (timeout, reset, malformed)
  uint64_t steps = 0;
  uint64_t spool_in = 0;           // records loaded from --spool at start
  uint64_t spool_out = 0;          // records written to it at stop
  uint64_t spool_checkpoints = 0;  // writes while running (spool_every_s)
  uint64_t spool_failures = 0;     // of those, writes that failed
  uint64_t spool_busy = 0;         // ticks that found the last write still going (slow storage)
};

class App {
 public:
  App(const Config& cfg, app::Log* log)
      : cfg_(cfg), log_(log), store_(static_cast<size_t>(cfg.buffer_records)) {}
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // Checks the configuration (one-line error in err, -EINVAL) and starts.
  [[nodiscard]] int start(evl::Loop& loop, char* err, size_t err_len);
  // Flushes what can be flushed without waiting, and stops every watcher.
  void stop();
  // One line of counters.
  void summary(char* buf, size_t len) const;

  const Counters& counters() const { return c_; }
  const Store& store() const { return store_; }
  const app::Link& link() const;
  const mqtt::Client& mqtt() const { return mqtt_; }
  const app::tls::Client& tls() const { return tls_; }
  const http::Client& http() const { return http_; }
  const app::WatchdogStats& watchdog() const { return watchdog_.stats(); }
  uint64_t bad_total() const;

  // Snapshots for the flight recorder's replay (apps/common/snapshot.h):
  // the store, the serial port and the sentence being read, the transport's
  // connection and session, the counters and every timer.
  static constexpr bool kSnapshots = true;
  bool save(flight::SnapWriter& w) const;
  void drop();
  void restore(app::Restore& r);

 private:
  static void on_serial(evl::Loop& loop, evl::IoHandle h, uint32_t events, void* ctx);
  static void on_sentence(const char* s, size_t len, void* ctx);
  static void on_bad(nmea::Bad why, void* ctx);
  static void on_batch_timer(evl::Loop& loop, evl::TimerHandle h, uint32_t missed, void* ctx);
  static void on_health(evl::Loop& loop, evl::TimerHandle h, uint32_t missed, void* ctx);
  static void on_retry_serial(evl::Loop& loop, evl::TimerHandle h, uint32_t missed, void* ctx);
  static void on_step(evl::Loop& loop, int64_t step_ns, void* ctx);
  static void on_link_up(void* ctx);
  static void on_link_delivering(void* ctx);
  static void on_link_down(void* ctx, int err);
  static void on_link_closed(void* ctx, int err);
  static void on_drained(void* ctx);
  static void on_ack_poll(evl::Loop& loop, evl::TimerHandle h, uint32_t missed, void* ctx);
  void confirm(bool later);
  static void on_mqtt_up(void* ctx);
  static void on_refused(void* ctx, uint8_t code);
  static void on_acked(void* ctx, uint32_t tag);
  static void on_closed_on(void* ctx, uint32_t tag, size_t bytes);
  static void on_sessions_ended(void* ctx, uint32_t sessions);
  static void on_unanswered(void* ctx, uint32_t connections);
  static void on_command(void* ctx, const char* topic, size_t topic_len, const uint8_t* payload,
                         size_t len, bool retained);
  static void on_sub_refused(void* ctx, const char* filter);
  static void on_http_response(void* ctx, const http::Response& r);
  static void on_http_failed(void* ctx, int err);
  static void on_retry(evl::Loop& loop, evl::TimerHandle h, uint32_t missed, void* ctx);

  void open_serial();
  // spool.cc: --spool's check and load at start, its save at stop.
  int load_spool_at_start(char* err, size_t err_len);
  void save_spool_at_stop();
  [[nodiscard]] int claim_spool(char* err, size_t err_len);
  void release_spool();
  static void on_spool_tick(evl::Loop& loop, evl::TimerHandle h, uint32_t missed, void* ctx);
  void checkpoint_spool();
  // A checkpoint is written by a child process (hal::run_in_child), so a
  // stalling fsync does not stall the loop; the file is the child's once
  // it exits 0.
  bool start_spool_writer(uint64_t changes);
  static int write_spool_in_child(void* ctx);
  static void on_spool_written(evl::Loop& loop, evl::ChildHandle h, int pid, int status, void* ctx);
  // At stop: the stop's write, from a child too, waited for at most
  // kStopWriteMs and within the stop's budget (app::stop_deadline: a
  // daemon ends within a second of SIGTERM; the flight recorder's exit dump
  // has the rest).
  static constexpr int64_t kStopWriteMs = 700;
  static int write_spool_at_stop_in_child(void* ctx);
  void leave_spool_writer();
  void close_serial(int err, bool hangup);
  void maybe_send();
  void send_batch();
  void send_health();
  bool connected() const;
  const char* transport_summary() const;
  bool prepare_mqtt(mqtt::ClientConfig* mc, char* err, size_t err_len);
  int send_mqtt_batch(const char* buf, size_t used);
  bool prepare_http(const app::Url& url, http::ClientConfig* hc, char* err, size_t err_len);
  void retry_later(int64_t at_least_ms);
  void hold_back(int64_t ms);
  int64_t retry_after_ms(const http::Response& r, char* note, size_t cap) const;

  enum class Via : uint8_t { kLink, kMqtt, kHttp };
  static constexpr uint32_t kTagStatus = 0;  // batch tags start at 1
  static constexpr int kMqttStuckAfter = 3;  // connections that ended on one batch

  Config cfg_;
  app::Log* log_;
  evl::Loop* loop_ = nullptr;
  Store store_;
  app::tls::Client tls_;  // mqtts:// or https:// (before the links: they use it to the end)
  app::Link link_;
  mqtt::Client mqtt_;
  http::Client http_;
  Via via_ = Via::kLink;
  size_t http_batch_limit_ = 0;    // halved by 413, regrown by 204s
  bool health_in_flight_ = false;  // http: the open POST is a health line
  uint32_t retry_attempt_ = 0;
  evl::TimerHandle retry_timer_;  // http: a refused or failed batch waits for this
  evl::TimerHandle ack_timer_;    // tcp: until the collector's TCP acknowledged the batch
  int64_t ack_poll_ms_ = 0;
  uint32_t batch_tag_ = 0;
  // The last record's stamp: records get strictly increasing stamps (see
  // stamp()), so that InfluxDB, which keeps one point per series and time,
  // keeps every one.
  int64_t last_stamp_ns_ = INT64_MIN;
  // Serial bytes since the last sentence whose checksum held, and whether
  // that was said (a wrong --baud reads as bytes that never make one).
  uint64_t unchecked_bytes_ = 0;
  bool rate_said_ = false;
  bool spool_armed_ = false;     // loaded (or found absent or bad): a stop may write it
  bool spool_on_disk_ = false;   // the file holds records (loaded, or a checkpoint's)
  bool spool_stopping_ = false;  // save_spool_at_stop() runs: writers end quietly
  evl::TimerHandle spool_timer_;
  uint64_t spool_mark_ = 0;       // the store's changes at the last checkpoint
  uint64_t spool_delivered_ = 0;  // its delivered() at the last tick
  int spool_writer_pid_ = 0;      // the child writing a checkpoint, 0 if none
  int spool_claim_ = -1;          // the spool's claim (claim_spool), -1 if none
  int spool_stop_status_ = 0;     // the stop's writer's wait status (or -errno)
  evl::ChildHandle spool_writer_;
  uint64_t spool_writer_mark_ = 0;  // the changes its file holds
  int64_t stamp();
  char topic_data_[160] = {};
  char topic_health_[160] = {};
  mqtt::Presence presence_;
  app::Watchdog watchdog_;
  hal::SerialPort port_;
  nmea::NmeaReader reader_{on_sentence, on_bad, this};
  evl::IoHandle serial_io_;
  evl::TimerHandle batch_timer_;
  evl::TimerHandle health_timer_;
  evl::TimerHandle serial_retry_;
  Counters c_;
  int serial_error_ = 0;  // the last open error reported, to report changes once
};

}  // namespace telemetry
