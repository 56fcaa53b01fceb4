#include "apps/telemetry/telemetry.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <initializer_list>

#include "apps/common/snapshot.h"
#include "apps/telemetry/lineproto.h"

namespace telemetry {
namespace {

using evl::kMs;
constexpr size_t kDatagramMax = 1400;  // one datagram, well under a 1500-byte MTU
// Serial bytes without one sentence whose checksum holds: a dozen NMEA
// sentences' worth. A line at the wrong rate never makes one.
constexpr uint64_t kUncheckedBytes = 1024;

// A wall clock before this (2025-01-01T00:00:00Z) has not been set: a board
// without a battery-backed clock starts at 1970 (or at a time saved at the
// last shutdown) until NTP sets it.
constexpr int64_t kWallClockSetNs = 1735689600LL * evl::kSec;

// Records are stamped with the wall clock; those delivered before it is set
// arrive stamped 1970 (InfluxDB files them there), those still buffered are
// restamped when it steps (on_step). Said once, and again if a step leaves
// the clock unset.
void warn_if_unset(app::Log* log, int64_t wall_ns) {
  if (wall_ns >= kWallClockSetNs) return;
  log->log(app::Level::kWarning,
           "the wall clock reads %lld s after 1970, before 2025: it has not been set (NTP, an "
           "RTC); records are stamped with it until it is, and those still buffered then are "
           "restamped",
           static_cast<long long>(wall_ns / evl::kSec));
}

}  // namespace

uint64_t App::bad_total() const {
  uint64_t n = 0;
  for (uint64_t b : c_.bad) n += b;
  return n;
}

int App::start(evl::Loop& loop, char* err, size_t err_len) {
  if (!app::device_id_ok(cfg_.id, err, err_len)) return -EINVAL;
  app::Url url;
  if (cfg_.serial[0] == '\0') {
    std::snprintf(err, err_len, "--serial PATH is required");
    return -EINVAL;
  }
  if (cfg_.batch_max > cfg_.buffer_records) {  // a batch could never fill
    std::snprintf(err, err_len, "--batch-max %lld is more than --buffer-records %lld holds",
                  static_cast<long long>(cfg_.batch_max),
                  static_cast<long long>(cfg_.buffer_records));
    return -EINVAL;
  }
  if (const int r = app::parse_url(cfg_.collector, &url); r < 0) {
    if (app::describe_url_error("--collector", cfg_.collector, r, err, err_len)) return -EINVAL;
    std::snprintf(err, err_len,
                  "--collector '%s' is not udp://HOST:PORT, tcp://HOST:PORT, mqtt[s]://HOST[:PORT] "
                  "or http[s]://HOST[:PORT]/write?db=NAME (HOST: an IP literal or a host name; "
                  "PORT: 1 to 65535, mqtt's 1883, mqtts's 8883, http's 80 and https's 443 if "
                  "none)",
                  cfg_.collector);
    return -EINVAL;
  }
  via_ = url.scheme == app::Scheme::kMqtt   ? Via::kMqtt
         : url.scheme == app::Scheme::kHttp ? Via::kHttp
                                            : Via::kLink;
  mqtt::ClientConfig mc;
  if (via_ == Via::kMqtt && !prepare_mqtt(&mc, err, err_len)) return -EINVAL;
  http::ClientConfig hc;
  if (via_ == Via::kHttp && !prepare_http(url, &hc, err, err_len)) return -EINVAL;
  http_batch_limit_ = static_cast<size_t>(cfg_.batch_max);
  hal::SerialConfig sc;
  sc.baud = static_cast<uint32_t>(cfg_.baud);
  hal::Termios2 probe{};
  if (hal::serial_encode(sc, probe, &probe) < 0) {
    std::snprintf(err, err_len, "--baud %lld is not a usable rate",
                  static_cast<long long>(cfg_.baud));
    return -EINVAL;
  }
  char tls_said[320] = {};
  if (app::prepare_tls(url, &cfg_.link, &tls_, err, err_len, tls_said, sizeof tls_said) < 0) {
    return -EINVAL;
  }
  if (const int r = load_spool_at_start(err, err_len); r < 0) return r;
  loop_ = &loop;
  loop.set_callback_timing(true);  // the health figures report the longest callback
  app::LinkConfig lc = cfg_.link;
  lc.jitter_seed = app::random_seed(loop);
  lc.stable_ms = cfg_.batch_delay_ms;
  if (lc.stall_timeout_ms == 0) lc.stall_timeout_ms = kDefaultStallMs;
  // Said before the link starts and the serial port opens: their failures
  // at once are logged from inside, and a log read from the top should
  // first say what the daemon does.
  log_->log(app::Level::kInfo, "reading %s at %lld baud, forwarding to %s", cfg_.serial,
            static_cast<long long>(cfg_.baud), cfg_.collector);
  if (tls_said[0] != '\0') log_->log(app::Level::kInfo, "%s", tls_said);
  int started = 0;
  if (via_ == Via::kMqtt) {
    mqtt::ClientEvents mev;
    mev.up = on_mqtt_up;
    mev.delivering = on_link_delivering;
    mev.down = on_link_down;
    mev.refused = on_refused;
    mev.acked = on_acked;
    mev.closed_on = on_closed_on;
    mev.sessions_ended = on_sessions_ended;
    mev.unanswered = on_unanswered;
    mev.message = on_command;
    mev.sub_refused = on_sub_refused;
    mev.ctx = this;
    started = mqtt_.start(loop, url, lc, mc, mev);
    if (started == 0) started = presence_.subscribe(mqtt_);
  } else if (via_ == Via::kHttp) {
    http::ClientEvents hev;
    hev.up = on_link_up;
    hev.delivering = on_link_delivering;
    hev.down = on_link_down;
    hev.response = on_http_response;
    hev.failed = on_http_failed;
    hev.ctx = this;
    started = http_.start(loop, url, lc, hc, hev);
  } else {
    app::LinkEvents ev;
    ev.up = on_link_up;
    ev.delivering = on_link_delivering;
    ev.down = on_link_down;
    ev.closed = on_link_closed;
    ev.drained = on_drained;
    ev.ctx = this;
    started = link_.start(loop, url, lc, ev);
  }
  if (started < 0) {
    std::snprintf(err, err_len, "cannot start the collector link: %s", std::strerror(-started));
    stop();
    return -EINVAL;
  }
  evl::TimerSpec health;
  health.period_ns = evl::ms_to_ns(cfg_.health_period_ms);
  if (const int r = loop.timer_start(health, on_health, this, &health_timer_); r < 0) {
    std::snprintf(err, err_len, "cannot start the health timer: %s", std::strerror(-r));
    stop();  // leave nothing half-started
    return r;
  }
  if (cfg_.spool[0] != '\0' && cfg_.spool_every_s > 0) {
    evl::TimerSpec every;
    every.period_ns = evl::ms_to_ns(cfg_.spool_every_s * 1000);
    if (const int r = loop.timer_start(every, on_spool_tick, this, &spool_timer_); r < 0) {
      std::snprintf(err, err_len, "cannot start the spool timer: %s", std::strerror(-r));
      stop();
      return r;
    }
  }
  (void)loop.clock_step_watch(on_step, this);
  if (const int r = watchdog_.start(loop, cfg_.watchdog, log_, err, err_len); r < 0) {
    stop();
    return r;
  }
  open_serial();
  watchdog_.notify("READY=1");
  warn_if_unset(log_, loop.now(evl::Clock::kRealtime));
  return 0;
}

// Everything of the app's stops before the spool is written, so that the
// store no longer changes while its writer runs (save_spool_at_stop runs
// the loop for it).
void App::stop() {
  if (loop_ == nullptr) return;
  if (connected() && store_.waiting() > 0 && store_.in_flight() == 0) send_batch();  // one last try
  if (serial_io_) (void)loop_->io_stop(serial_io_);
  serial_io_ = evl::IoHandle{};
  (void)port_.close();
  if (via_ == Via::kMqtt) presence_.offline(mqtt_);
  mqtt_.stop();
  http_.stop();
  watchdog_.notify("STOPPING=1");
  watchdog_.stop();
  link_.stop();
  for (evl::TimerHandle* t :
       {&batch_timer_, &health_timer_, &serial_retry_, &retry_timer_, &ack_timer_, &spool_timer_}) {
    loop_->timer_clear(t);
  }
  (void)loop_->clock_step_watch(nullptr, nullptr);
  save_spool_at_stop();
  release_spool();
  loop_ = nullptr;
}

bool App::save(flight::SnapWriter& w) const {
  // Not while a child writes a checkpoint: its watcher is not state a
  // replay can rebuild.
  if (loop_ == nullptr || !link().snapshot_possible() || spool_writer_pid_ != 0) return false;
  w.put(c_);
  store_.save(w);
  reader_.save(w);
  port_.save(w);
  w.put(static_cast<uint8_t>(serial_io_ ? 1 : 0));
  w.put(static_cast<int32_t>(serial_error_));
  switch (via_) {
    case Via::kMqtt: mqtt_.save(w); break;
    case Via::kHttp: http_.save(w); break;
    case Via::kLink: link_.save(w); break;
  }
  w.put(static_cast<uint64_t>(http_batch_limit_));
  w.put(static_cast<uint8_t>(health_in_flight_ ? 1 : 0));
  w.put(retry_attempt_);
  w.put(ack_poll_ms_);
  w.put(batch_tag_);
  w.put(last_stamp_ns_);
  w.put(unchecked_bytes_);
  w.put(static_cast<uint8_t>(rate_said_ ? 1 : 0));
  w.put(static_cast<uint8_t>((spool_armed_ ? 1 : 0) | (spool_on_disk_ ? 2 : 0)));
  w.put(spool_mark_);
  w.put(spool_delivered_);
  for (const evl::TimerHandle* t :
       {&batch_timer_, &health_timer_, &serial_retry_, &retry_timer_, &ack_timer_, &spool_timer_}) {
    app::save_timer(w, *loop_, *t);
  }
  watchdog_.save(w);
  return true;
}

void App::drop() {
  if (serial_io_) (void)loop_->io_stop(serial_io_);
  serial_io_ = evl::IoHandle{};
  for (evl::TimerHandle* t :
       {&batch_timer_, &health_timer_, &serial_retry_, &retry_timer_, &ack_timer_, &spool_timer_}) {
    loop_->timer_clear(t);
  }
  switch (via_) {
    case Via::kMqtt: mqtt_.drop(); break;
    case Via::kHttp: http_.drop(); break;
    case Via::kLink: link_.drop(); break;
  }
  watchdog_.drop();
}

void App::restore(app::Restore& r) {
  uint8_t watching = 0;
  int32_t serial_error = 0;
  uint64_t limit = 0;
  uint8_t health_in_flight = 0;
  (void)r.get(&c_);
  if (!store_.restore(r.in()) || !reader_.restore(r.in()) || !port_.restore(r.in())) {
    (void)r.fail();
    return;
  }
  (void)r.get(&watching);
  (void)r.get(&serial_error);
  serial_error_ = serial_error;
  if (watching != 0) r.io(port_.fd(), evl::kIn, on_serial, this, &serial_io_);
  switch (via_) {
    case Via::kMqtt: mqtt_.restore(r); break;
    case Via::kHttp: http_.restore(r); break;
    case Via::kLink: link_.restore(r); break;
  }
  (void)r.get(&limit);
  (void)r.get(&health_in_flight);
  (void)r.get(&retry_attempt_);
  (void)r.get(&ack_poll_ms_);
  (void)r.get(&batch_tag_);
  (void)r.get(&last_stamp_ns_);
  uint8_t rate_said = 0;
  (void)r.get(&unchecked_bytes_);
  (void)r.get(&rate_said);
  rate_said_ = rate_said != 0;
  uint8_t spool = 0;
  (void)r.get(&spool);
  spool_armed_ = (spool & 1) != 0;
  spool_on_disk_ = (spool & 2) != 0;
  (void)r.get(&spool_mark_);
  (void)r.get(&spool_delivered_);
  http_batch_limit_ = static_cast<size_t>(limit);
  health_in_flight_ = health_in_flight != 0;
  r.timer(&batch_timer_, on_batch_timer, this);
  r.timer(&health_timer_, on_health, this);
  r.timer(&serial_retry_, on_retry_serial, this);
  r.timer(&retry_timer_, on_retry, this);
  r.timer(&ack_timer_, on_ack_poll, this);
  r.timer(&spool_timer_, on_spool_tick, this);
  watchdog_.restore(r);
}

void App::summary(char* buf, size_t len) const {
  std::snprintf(
      buf, len,
      "records accepted=%llu delivered=%llu dropped=%llu (after_send=%llu) buffered=%zu; "
      "sentences=%llu "
      "bad=%llu (checksum=%llu syntax=%llu range=%llu too_long=%llu noise=%llu "
      "unknown=%llu); serial opens=%llu open_failures=%llu hangups=%llu errors=%llu; bytes "
      "in=%llu out=%llu; "
      "collector connects=%llu failures=%llu stalls=%llu%s; spool in=%llu out=%llu "
      "checkpoints=%llu failures=%llu busy=%llu",
      static_cast<unsigned long long>(store_.accepted()),
      static_cast<unsigned long long>(store_.delivered()),
      static_cast<unsigned long long>(store_.dropped()),
      static_cast<unsigned long long>(store_.dropped_after_send()), store_.size(),
      static_cast<unsigned long long>(c_.sentences), static_cast<unsigned long long>(bad_total()),
      static_cast<unsigned long long>(c_.bad[0]), static_cast<unsigned long long>(c_.bad[1]),
      static_cast<unsigned long long>(c_.bad[2]), static_cast<unsigned long long>(c_.bad[3]),
      static_cast<unsigned long long>(c_.bad[4]), static_cast<unsigned long long>(c_.bad[5]),
      static_cast<unsigned long long>(c_.serial_opens),
      static_cast<unsigned long long>(c_.serial_open_failures),
      static_cast<unsigned long long>(c_.serial_hangups),
      static_cast<unsigned long long>(c_.serial_errors),
      static_cast<unsigned long long>(c_.bytes_in),
      static_cast<unsigned long long>(link().stats().bytes_out),
      static_cast<unsigned long long>(link().stats().connects),
      static_cast<unsigned long long>(link().stats().failures),
      static_cast<unsigned long long>(link().stats().stalls), transport_summary(),
      static_cast<unsigned long long>(c_.spool_in), static_cast<unsigned long long>(c_.spool_out),
      static_cast<unsigned long long>(c_.spool_checkpoints),
      static_cast<unsigned long long>(c_.spool_failures),
      static_cast<unsigned long long>(c_.spool_busy));
  app::tls::append_summary(tls_, buf, len);
}

void App::open_serial() {
  hal::SerialConfig sc;
  sc.baud = static_cast<uint32_t>(cfg_.baud);
  int r = port_.open(cfg_.serial, sc);
  if (r == 0) {
    r = loop_->io_start(port_.fd(), evl::kIn, on_serial, this, &serial_io_);
    if (r < 0) (void)port_.close();
  }
  if (r == 0) {
    ++c_.serial_opens;
    if (serial_error_ != 0) log_->log(app::Level::kInfo, "serial %s is back", cfg_.serial);
    serial_error_ = 0;
    return;
  }
  ++c_.serial_open_failures;
  if (r != serial_error_) {
    // The two a wrong --serial gives, in words (strerror says "Inappropriate
    // ioctl for device" and "Device or resource busy").
    const char* why = r == -ENOTTY  ? "not a terminal (a serial device or a pty is needed)"
                      : r == -EBUSY ? "in use: another program holds it exclusively"
                      : r == -EACCES
                          ? "permission denied: the daemon's user needs read and write access (on "
                            "Debian serial ports belong to the group dialout: usermod -aG dialout "
                            "USER, or SupplementaryGroups=dialout in its unit)"
                          : std::strerror(-r);
    // A USB adapter plugged back (or after a reboot) may come back under
    // another number: ttyUSB0 becomes ttyUSB1, and this path never returns.
    const bool numbered = std::strncmp(cfg_.serial, "/dev/ttyUSB", 11) == 0 ||
                          std::strncmp(cfg_.serial, "/dev/ttyACM", 11) == 0;
    log_->log(app::Level::kError, "cannot open serial %s: %s (retrying every %lld ms)%s",
              cfg_.serial, why, static_cast<long long>(cfg_.serial_retry_ms),
              r == -ENOENT && numbered ? "; a USB adapter can come back under another number: "
                                         "/dev/serial/by-id/ names stay the same"
                                       : "");
  }
  serial_error_ = r;
  (void)loop_->timer_after(evl::ms_to_ns(cfg_.serial_retry_ms), on_retry_serial, this,
                           &serial_retry_);
}

// The device is gone (unplugged adapter, closed pty) or failed: close it, say
// so once, and reopen on the retry timer. Nothing is watched meanwhile, so
// the loop sleeps while the device is away.
void App::close_serial(int err, bool hangup) {
  if (hangup) {
    ++c_.serial_hangups;
    log_->log(app::Level::kError, "serial %s hung up (device gone); reopening every %lld ms",
              cfg_.serial, static_cast<long long>(cfg_.serial_retry_ms));
  } else {
    ++c_.serial_errors;
    log_->log(app::Level::kError, "serial %s failed: %s", cfg_.serial, std::strerror(-err));
  }
  if (serial_io_) (void)loop_->io_stop(serial_io_);
  serial_io_ = evl::IoHandle{};
  (void)port_.close();
  serial_error_ = err;
  (void)loop_->timer_after(evl::ms_to_ns(cfg_.serial_retry_ms), on_retry_serial, this,
                           &serial_retry_);
}

// A raw tty with VMIN = VTIME = 0 reads 0 when nothing is waiting, so 0 is
// "drained" after a read that got bytes. But 0 on the first read of a
// wake-up (epoll said readable, nothing there), 0 with EPOLLHUP/EPOLLERR, or
// EIO is a hung-up line: Linux gives a hung-up tty exactly that (reads of 0,
// poll IN|ERR|HUP forever), which would otherwise spin the loop.
void App::on_serial(evl::Loop&, evl::IoHandle, uint32_t events, void* ctx) {
  auto* a = static_cast<App*>(ctx);
  const bool hup = (events & (evl::kHup | evl::kErr)) != 0;
  uint8_t buf[512];
  for (int i = 0; i < 8; ++i) {
    const long n = hal::read(a->port_.fd(), buf, sizeof buf);
    if (n > 0) {
      a->c_.bytes_in += static_cast<uint64_t>(n);
      a->unchecked_bytes_ += static_cast<uint64_t>(n);  // (a good sentence in them resets it)
      a->reader_.feed(buf, static_cast<size_t>(n));
      if (a->unchecked_bytes_ >= kUncheckedBytes && !a->rate_said_) {
        a->rate_said_ = true;
        a->log_->log(app::Level::kWarning,
                     "serial %s: %llu bytes and not one sentence with a good checksum: is "
                     "--baud %lld the sensor's rate (or the line noisy)?",
                     a->cfg_.serial, static_cast<unsigned long long>(a->unchecked_bytes_),
                     static_cast<long long>(a->cfg_.baud));
      }
      continue;
    }
    if (n == -EAGAIN || n == -EINTR) return;
    if (n == 0 && i > 0 && !hup) return;
    a->close_serial(n == 0 ? -ENODEV : static_cast<int>(n), n == 0 || n == -EIO);
    return;
  }
}

void App::on_sentence(const char* s, size_t len, void* ctx) {
  auto* a = static_cast<App*>(ctx);
  nmea::Record r;
  nmea::Bad why = nmea::Bad::kSyntax;
  const bool bad = nmea::parse_sentence(s, len, &r, &why) < 0;
  if (!bad || why == nmea::Bad::kRange || why == nmea::Bad::kUnknown) {  // its checksum held
    a->unchecked_bytes_ = 0;
    a->rate_said_ = false;
  }
  if (bad) {
    on_bad(why, ctx);
    return;
  }
  ++a->c_.sentences;
  r.wall_ns = a->stamp();
  (void)a->store_.push(r);
  a->maybe_send();
}

// The loop's wall time, cached per iteration, is the same for every
// sentence of one read: each record gets 1 ns more than the last instead,
// unless the clock has stepped back by more than a second (then it follows
// the clock: the store re-stamps what it buffered, see Store::apply_step).
int64_t App::stamp() {
  const int64_t now = loop_->now(evl::Clock::kRealtime);
  const bool behind = now <= last_stamp_ns_ && last_stamp_ns_ - now < evl::kSec;
  last_stamp_ns_ = behind ? last_stamp_ns_ + 1 : now;
  return last_stamp_ns_;
}

void App::on_bad(nmea::Bad why, void* ctx) {
  auto* a = static_cast<App*>(ctx);
  const uint64_t n = ++a->c_.bad[static_cast<int>(why)];
  if ((n & (n - 1)) == 0) {  // 1st, 2nd, 4th, 8th...: visible, never a flood
    a->log_->log(app::Level::kWarning, "bad frame on %s: %s (%llu so far)", a->cfg_.serial,
                 nmea::bad_name(why), static_cast<unsigned long long>(n));
  }
}

void App::maybe_send() {
  const size_t waiting = store_.waiting();
  if (waiting >= static_cast<size_t>(cfg_.batch_max)) {
    send_batch();
  } else if (waiting > 0 && !batch_timer_) {
    (void)loop_->timer_after(evl::ms_to_ns(cfg_.batch_delay_ms), on_batch_timer, this,
                             &batch_timer_);
  }
}

void App::on_batch_timer(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  auto* a = static_cast<App*>(ctx);
  a->batch_timer_ = evl::TimerHandle{};
  a->send_batch();
  if (a->store_.waiting() > 0) a->maybe_send();
}

bool App::connected() const {
  switch (via_) {
    case Via::kMqtt: return mqtt_.up();
    case Via::kHttp: return http_.up() && !http_.busy() && !retry_timer_;
    case Via::kLink: break;
  }
  return link_.up();
}

const app::Link& App::link() const {
  switch (via_) {
    case Via::kMqtt: return mqtt_.link();
    case Via::kHttp: return http_.link();
    case Via::kLink: break;
  }
  return link_;
}

void App::on_retry(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  auto* a = static_cast<App*>(ctx);
  a->retry_timer_ = evl::TimerHandle{};
  a->send_batch();
}

void App::send_batch() {
  if (!connected() || store_.in_flight() > 0 || store_.size() == 0) return;
  char buf[8192];
  size_t cap = kDatagramMax;
  if (via_ == Via::kMqtt) {
    cap = sizeof buf;
  } else if (link_.stream()) {
    cap = link_.out_space() < sizeof buf ? link_.out_space() : sizeof buf;
  }
  size_t used = 0;
  size_t n = 0;
  const size_t limit = via_ == Via::kHttp ? http_batch_limit_ : static_cast<size_t>(cfg_.batch_max);
  while (n < store_.size() && n < limit) {
    const size_t w = format_record(store_.at(n), cfg_.id, buf + used, cap - used);
    if (w == 0) break;
    used += w;
    ++n;
  }
  if (n == 0) return;  // the link's buffer is full: wait until it drains
  if (via_ == Via::kHttp) {
    if (http_.post("text/plain; charset=utf-8", buf, used) < 0) return;
    ++c_.batches;
    (void)store_.begin_batch(n);
    return;
  }
  if (via_ == Via::kMqtt) {
    if (send_mqtt_batch(buf, used) < 0) return;  // the window is full: retried later
    ++c_.batches;
    (void)store_.begin_batch(n);
    return;
  }
  const int r = link_.send(buf, used);
  if (r < 0) return;  // kept in the store; retried on the next batch
  ++c_.batches;
  (void)store_.begin_batch(n);
  ack_poll_ms_ = 0;
  confirm(false);
}

// UDP: a batch is delivered once sent (UDP cannot know more). TCP: once the
// collector's TCP has acknowledged every byte of it (Link::unacknowledged
// is 0), polled from 5 ms, doubling to 500 ms. Bytes merely written into
// the socket are not delivered: a connection that then breaks loses them
// (the netfaults stage saw 204 of 2182 records counted delivered that never
// arrived), and they are sent again.
// After a send the next batch waits for its timer or more records, as
// before; a confirmation that comes later sends the next one at once.
void App::confirm(bool later) {
  if (store_.in_flight() == 0) return;
  const long unacked = link_.stream() ? link_.unacknowledged() : 0;
  if (unacked == 0) {
    loop_->timer_clear(&ack_timer_);
    store_.commit();
    if (later) maybe_send();
    return;
  }
  if (unacked < 0 || ack_timer_) return;  // -ENOTCONN: closed() abandons the batch
  ack_poll_ms_ = ack_poll_ms_ == 0 ? 5 : std::min<int64_t>(ack_poll_ms_ * 2, 500);
  (void)loop_->timer_after(evl::ms_to_ns(ack_poll_ms_), on_ack_poll, this, &ack_timer_);
}

void App::on_ack_poll(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  auto* a = static_cast<App*>(ctx);
  a->ack_timer_ = evl::TimerHandle{};
  a->confirm(true);
}

void App::on_drained(void* ctx) { static_cast<App*>(ctx)->confirm(true); }

void App::on_link_up(void* ctx) {
  auto* a = static_cast<App*>(ctx);
  a->log_->log(app::Level::kDebug, "collector %s connected", a->cfg_.collector);
  a->send_batch();
}

void App::on_link_delivering(void* ctx) {
  auto* a = static_cast<App*>(ctx);
  // (Over HTTP: at the first answer that stored a post, http/client.h.)
  char via[96];
  const app::Link& l = a->via_ == Via::kMqtt   ? a->mqtt_.link()
                       : a->via_ == Via::kHttp ? a->http_.link()
                                               : a->link_;
  a->log_->log(app::Level::kInfo, "collector %s%s delivering; %zu records buffered",
               a->cfg_.collector, l.resolved_as(via, sizeof via), a->store_.size());
}

// Every connection's end (not only the first of an outage): what was being
// written goes again. (Over MQTT the client keeps the batch and resends it,
// so it stays in flight: this is not registered there.)
void App::on_link_closed(void* ctx, int) { static_cast<App*>(ctx)->store_.abandon(); }

void App::on_link_down(void* ctx, int err) {
  auto* a = static_cast<App*>(ctx);
  a->log_->log(app::Level::kWarning, "collector %s unreachable: %s; buffering (%zu records)",
               a->cfg_.collector, err != 0 ? app::error_text(err) : "closed by peer",
               a->store_.size());
}

void App::on_health(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  static_cast<App*>(ctx)->send_health();
}

void App::send_health() {
  const evl::LoopHealth& h = loop_->health();
  char line[768];
  const int n = std::snprintf(
      line, sizeof line,
      "telemetry_health,device=%s loop_lag_ms=%.3f,callbacks=%lluu,callback_ms_max=%.3f,"
      "io_hwm=%uu,timer_hwm=%uu,bytes_in=%lluu,bytes_out=%lluu,records=%lluu,delivered=%lluu,"
      "dropped=%lluu,buffered=%zuu,bad_checksum=%lluu,bad_syntax=%lluu,bad_range=%lluu,"
      "bad_too_long=%lluu,bad_noise=%lluu,bad_unknown=%lluu,serial_hangups=%lluu %lld\n",
      cfg_.id, static_cast<double>(h.timer_lag_ns_max) / 1e6,
      static_cast<unsigned long long>(h.callbacks), static_cast<double>(h.callback_ns_max) / 1e6,
      h.io.high_water, h.timers.high_water, static_cast<unsigned long long>(c_.bytes_in),
      static_cast<unsigned long long>(link().stats().bytes_out),
      static_cast<unsigned long long>(store_.accepted()),
      static_cast<unsigned long long>(store_.delivered()),
      static_cast<unsigned long long>(store_.dropped()), store_.size(),
      static_cast<unsigned long long>(c_.bad[0]), static_cast<unsigned long long>(c_.bad[1]),
      static_cast<unsigned long long>(c_.bad[2]), static_cast<unsigned long long>(c_.bad[3]),
      static_cast<unsigned long long>(c_.bad[4]), static_cast<unsigned long long>(c_.bad[5]),
      static_cast<unsigned long long>(c_.serial_hangups),
      static_cast<long long>(loop_->now(evl::Clock::kRealtime)));
  if (n <= 0 || static_cast<size_t>(n) >= sizeof line) return;
  int r = -ENOTCONN;
  switch (via_) {
    case Via::kMqtt:
      r = mqtt_.publish0(topic_health_, line, static_cast<size_t>(n) - 1, false);
      break;
    case Via::kHttp:
      // One more POST when the connection is free and no pause is asked
      // for (a refused batch's back-off, a Retry-After); a lost health line
      // is not a record: it is not retried.
      if (connected() && store_.in_flight() == 0) {
        r = http_.post("text/plain; charset=utf-8", line, static_cast<size_t>(n));
        if (r == 0) health_in_flight_ = true;
      }
      break;
    case Via::kLink: r = link_.send(line, static_cast<size_t>(n)); break;
  }
  if (r == 0) {
    ++c_.health_sent;
  }
}

void App::on_step(evl::Loop& loop, int64_t step_ns, void* ctx) {
  auto* a = static_cast<App*>(ctx);
  ++a->c_.steps;
  const size_t moved = a->store_.apply_step(step_ns, loop.now(evl::Clock::kRealtime) - step_ns + 1);
  a->log_->log(app::Level::kInfo, "wall clock stepped by %lld ms; %zu buffered records restamped",
               static_cast<long long>(step_ns / kMs), moved);
  warn_if_unset(a->log_, loop.now(evl::Clock::kRealtime));
}

}  // namespace telemetry
