// Scenarios "heartbeat" and "telemetry" for //test/fake:simulate: each daemon
// on the seeded fake kernel (short I/O, EINTR, ENOMEM, shuffled events) with
// a server or collector that the seed takes down, or turns hostile: one that
// accepts and closes at once, one that accepts and stops reading. The seed
// may also name the heartbeat server, resolved through a name server it
// takes down, silences or turns unhelpful, hang the log sink (a stderr
// pipe nobody reads) and, for
// telemetry, unplug the serial adapter and plug it back. The daemons' own
// bookkeeping, the alarm's promise and "the loop never spins or blocks" are
// checked after every loop iteration.
#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "apps/heartbeat/heartbeat.h"
#include "apps/sensor_sim/sim.h"
#include "apps/telemetry/telemetry.h"
#include "hal/socket.h"
#include "loop/static_loop.h"
#include "test/fake/kernel.h"
#include "test/fake/serial.h"
#include "test/fake/simulate.h"

namespace {

using evl::kMs;
using evl::kSec;

using SimLoop = evl::StaticLoop<16, 32, 4, 1, 4>;

// A peer that accepts (TCP) or binds (UDP) at an address, reads whatever
// comes, and can be taken down or stalled.
struct Peer {
  evl::Loop* loop = nullptr;
  hal::SockAddr at;
  bool tcp = true;
  evl::IoHandle listener;
  evl::IoHandle io;
  bool up = false;
  uint64_t bytes = 0;
  std::string lines;  // the last partial line
  uint64_t hb_lines = 0;
  uint64_t last_seq = 0;
  bool seq_went_back = false;
  bool answer_acks = false;
  enum class Mode { kReads, kAcceptsAndCloses, kStopsReading };
  Mode mode = Mode::kReads;
  std::vector<int> held;       // kStopsReading: accepted, never read
  int64_t hostile_since = -1;  // down or hostile since (monotonic ns), or -1
};

void release_held(Peer* p) {
  for (int fd : p->held) (void)hal::close(fd);
  p->held.clear();
}

void peer_read(evl::Loop& loop, evl::IoHandle h, uint32_t, void* ctx) {
  auto* p = static_cast<Peer*>(ctx);
  char buf[4096];
  for (int i = 0; i < 4; ++i) {
    const long n = p->tcp ? hal::stream_recv(loop.io_fd(h), buf, sizeof buf)
                          : hal::dgram_recv(loop.io_fd(h), buf, sizeof buf, nullptr, nullptr);
    if (n > 0) {
      p->bytes += static_cast<uint64_t>(n);
      p->lines.append(buf, static_cast<size_t>(n));
      size_t nl;
      while ((nl = p->lines.find('\n')) != std::string::npos) {
        unsigned long long seq = 0;
        if (std::sscanf(p->lines.c_str(), "HB id=%*s seq=%llu", &seq) == 1) {
          ++p->hb_lines;
          if (seq <= p->last_seq) p->seq_went_back = true;
          p->last_seq = seq;
          if (p->answer_acks) {
            char ack[48];
            const int len = std::snprintf(ack, sizeof ack, "ACK seq=%llu\n", seq);
            (void)hal::stream_send(loop.io_fd(h), ack, static_cast<size_t>(len));
          }
        }
        p->lines.erase(0, nl + 1);
      }
      continue;
    }
    if (n == 0 && !p->tcp) continue;  // an empty datagram: a probe
    if (n == -EAGAIN || n == -EINTR) return;
    (void)loop.io_close(h);
    p->io = evl::IoHandle{};
    p->lines.clear();
    return;
  }
}

void peer_accept(evl::Loop& loop, evl::IoHandle h, uint32_t, void* ctx) {
  auto* p = static_cast<Peer*>(ctx);
  int fd = -1;
  if (hal::stream_accept(loop.io_fd(h), &fd, nullptr) != 0) return;
  if (p->mode == Peer::Mode::kAcceptsAndCloses) {
    (void)hal::close(fd);
    return;
  }
  if (p->mode == Peer::Mode::kStopsReading) {
    if (p->held.size() >= 4) {
      (void)hal::close(p->held.front());
      p->held.erase(p->held.begin());
    }
    p->held.push_back(fd);
    return;
  }
  if (p->io) (void)loop.io_close(p->io);
  p->lines.clear();
  if (loop.io_start(fd, evl::kIn, peer_read, p, &p->io) < 0) (void)hal::close(fd);
}

void peer_up(Peer* p) {
  int fd = -1;
  const int r = p->tcp ? hal::stream_listen(p->at, 4, &fd) : hal::dgram_bind(p->at, &fd);
  if (r < 0) return;  // an injected fault: try again at the next flip
  evl::IoHandle* h = p->tcp ? &p->listener : &p->io;
  if (p->loop->io_start(fd, evl::kIn, p->tcp ? peer_accept : peer_read, p, h) < 0) {
    (void)hal::close(fd);
    return;
  }
  p->up = true;
}

void peer_down(Peer* p) {
  if (p->io) (void)p->loop->io_close(p->io);
  if (p->listener) (void)p->loop->io_close(p->listener);
  p->io = evl::IoHandle{};
  p->listener = evl::IoHandle{};
  p->lines.clear();
  p->up = false;
  release_held(p);
}

// A name server for the seeds that name the server ("server.sim"): it
// answers with 127.0.0.1, or (the seed flips it) stays silent, fails
// (SERVFAIL) or says there is no such name.
struct NameServer {
  evl::Loop* loop = nullptr;
  enum class Mode { kAnswers, kSilent, kFails, kNoSuchName };
  Mode mode = Mode::kAnswers;
  evl::IoHandle io;
  uint64_t questions = 0;
};

void dns_question(evl::Loop& loop, evl::IoHandle h, uint32_t, void* ctx) {
  auto* ns = static_cast<NameServer*>(ctx);
  for (int i = 0; i < 4; ++i) {
    uint8_t q[512];
    hal::SockAddr from;
    const long n = hal::dgram_recv(loop.io_fd(h), q, sizeof q, &from, nullptr);
    if (n < 17) return;  // nothing (or an injected error): the client's try times out
    ++ns->questions;
    if (ns->mode == NameServer::Mode::kSilent) continue;
    std::string r(reinterpret_cast<const char*>(q), static_cast<size_t>(n));
    r[2] = '\x81';
    r[3] = ns->mode == NameServer::Mode::kFails        ? '\x82'
           : ns->mode == NameServer::Mode::kNoSuchName ? '\x83'
                                                       : '\x80';
    const bool a = q[n - 3] == 1;  // an A question: answered; AAAA: no record
    if (ns->mode == NameServer::Mode::kAnswers && a) {
      r[7] = 1;
      r.append("\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x01", 16);
    }
    (void)hal::dgram_send(loop.io_fd(h), r.data(), r.size(), &from);
  }
}

struct Chaos {
  Peer* peer;
  fake::Rng rng;
  NameServer* names = nullptr;  // when the seed named the server
  fake::Kernel* k = nullptr;
  const char* serial = nullptr;  // telemetry: a device the seed may unplug
  bool unplugged = false;
  uint64_t unplugs = 0;
};

// Every few seconds the seed flips the peer up or down, or (TCP) makes it
// hostile or well-behaved again; for telemetry it may pull the adapter.
void on_flip(evl::Loop& loop, evl::TimerHandle h, uint32_t, void* ctx) {
  auto* c = static_cast<Chaos*>(ctx);
  Peer* p = c->peer;
  const Peer::Mode before = p->mode;
  if (p->up) {
    const uint64_t what = c->rng.below(10);
    if (what < 3) {
      peer_down(p);
    } else if (p->tcp && what < 5) {
      p->mode = what == 3 ? Peer::Mode::kAcceptsAndCloses : Peer::Mode::kStopsReading;
      if (p->io) (void)loop.io_close(p->io);  // the server restarts in that mode
      p->io = evl::IoHandle{};
      p->lines.clear();
    } else if (p->mode != Peer::Mode::kReads) {
      p->mode = Peer::Mode::kReads;
      release_held(p);
    }
  } else {
    peer_up(p);
  }
  const bool hostile = !p->up || p->mode != Peer::Mode::kReads;
  if (!hostile) {
    p->hostile_since = -1;
  } else if (p->hostile_since < 0 || before != p->mode) {
    p->hostile_since = p->hostile_since < 0 ? c->k->monotonic_ns() : p->hostile_since;
  }
  if (c->serial != nullptr && c->rng.chance(0.15)) {
    if (c->unplugged) {
      (void)c->k->add_serial(c->serial);
    } else {
      c->k->unplug_serial(c->serial);
      ++c->unplugs;
    }
    c->unplugged = !c->unplugged;
  }
  if (c->names != nullptr && c->rng.chance(0.3)) {
    const uint64_t what = c->rng.below(6);
    c->names->mode = what < 3   ? NameServer::Mode::kAnswers
                     : what < 4 ? NameServer::Mode::kSilent
                     : what < 5 ? NameServer::Mode::kFails
                                : NameServer::Mode::kNoSuchName;
  }
  (void)loop.timer_restart(h, static_cast<int64_t>(1 + c->rng.below(20)) * kSec);
}

// A log sink the seed may hang: a pipe nobody reads, full from the start.
struct Sink {
  int fds[2] = {-1, -1};
  bool blocked = false;
  bool open(fake::Rng& rng) {
    if (!rng.chance(0.3)) return false;
    if (hal::pipe2(fds, hal::kCloexec) < 0) return false;
    char junk[4096] = {};
    (void)hal::set_status_flags(fds[1], hal::kNonblock);
    while (hal::write(fds[1], junk, sizeof junk) > 0) {
    }
    (void)hal::set_status_flags(fds[1], 0);  // blocking again, as stderr is
    blocked = true;
    return true;
  }
  ~Sink() {
    for (int fd : fds) {
      if (fd >= 0) (void)hal::close(fd);
    }
  }
};

// Catches a loop that spins: many iterations without virtual time moving.
struct SpinGuard {
  int64_t last_ns = -1;
  uint64_t same = 0;
  bool spinning(int64_t now) {
    same = now == last_ns ? same + 1 : 0;
    last_ns = now;
    return same > 100000;
  }
};

sim::Result run_heartbeat(uint64_t seed, int64_t virtual_seconds) {
  sim::Result result;
  sim::Checker check(&result);
  fake::Kernel k;
  k.seed(seed);
  std::unique_ptr<SimLoop> loop(new SimLoop());
  SIM_CHECK(check, loop->init() == 0, "init");
  fake::Rng rng{seed ^ 0x1234567ULL};
  Peer peer;
  peer.loop = loop.get();
  peer.tcp = rng.chance(0.7);
  peer.answer_acks = true;
  (void)hal::parse_address("127.0.0.1:9000", &peer.at);
  peer_up(&peer);
  heartbeat::Config cfg;
  // Some seeds name the server: resolved at every connect attempt by a
  // name server the seed also takes down or turns unhelpful.
  NameServer names;
  names.loop = loop.get();
  const bool named = rng.chance(0.4);
  if (named) {
    k.add_regular_path("/etc/resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:2\n");
    hal::SockAddr at;
    (void)hal::parse_address("127.0.0.1:53", &at);
    for (int tries = 0; tries < 20 && !names.io; ++tries) {  // past injected faults
      int fd = -1;
      if (hal::dgram_bind(at, &fd) < 0) continue;
      if (loop->io_start(fd, evl::kIn, dns_question, &names, &names.io) < 0) (void)hal::close(fd);
    }
    SIM_CHECK(check, static_cast<bool>(names.io), "the name server could not start");
  }
  std::snprintf(cfg.server, sizeof cfg.server, "%s://%s:9000", peer.tcp ? "tcp" : "udp",
                named ? "server.sim" : "127.0.0.1");
  cfg.period_ms = 100 + static_cast<int64_t>(rng.below(900));
  cfg.alarm_after_ms = 1000 + static_cast<int64_t>(rng.below(10000));
  cfg.link.backoff_initial_ms = 50;
  cfg.link.backoff_max_ms = 2000;
  std::snprintf(cfg.alarm_command, sizeof cfg.alarm_command, "/bin/alarm");
  k.add_special_path(cfg.alarm_command, fake::Kernel::Special::kExecutable);
  Sink sink;
  fake::Rng sink_rng{seed ^ 0x5151ULL};
  const bool hung_log = sink.open(sink_rng);
  app::Log log("heartbeat", hung_log ? sink.fds[1] : 2);
  log.set_level(hung_log ? app::Level::kDebug : app::Level::kError);
  if (hung_log) (void)log.attach(*loop);  // as serve() does, before the app starts
  std::unique_ptr<heartbeat::App> app;
  char err[256] = {};
  const int64_t start = k.monotonic_ns();
  int started = -ENOMEM;
  for (int tries = 0; tries < 20 && started == -ENOMEM; ++tries) {  // as systemd restarts it
    app.reset(new heartbeat::App(cfg, &log));
    started = app->start(*loop, err, sizeof err);
  }
  SIM_CHECK(check, started == 0, std::string("start: ") + err);
  heartbeat::App& hb = *app;
  Chaos chaos{&peer, fake::Rng{seed ^ 0xabcdefULL}};
  chaos.k = &k;
  if (named) chaos.names = &names;
  SpinGuard spin;
  // A resolution ends (an address or an error) within its tries: 2 rounds
  // of 1 s over the one server, and slack for the loop's own lateness.
  int64_t resolving_since = -1;
  const int64_t resolve_limit_ns = 2 * kSec + 500 * kMs;
  // The alarm's promise: a peer down or hostile for this long has raised it
  // (the stall timeout to notice a reader that stopped, a check tick, the
  // alarm delay, and a period of slack).
  const int64_t alarm_due_ns = evl::ms_to_ns(heartbeat::default_stall_ms(cfg.period_ms) +
                                             2 * cfg.period_ms + cfg.alarm_after_ms) +
                               kSec;
  evl::TimerHandle flip;
  (void)loop->timer_after(kSec, on_flip, &chaos, &flip);
  const int64_t end = start + virtual_seconds * kSec;
  while (!check.failed() && k.monotonic_ns() < end) {
    const int r = loop->run_once(-1);
    SIM_CHECK(check, r >= 0 || r == -EINTR || r == -ENOMEM, "run_once: " + std::to_string(r));
    ++result.iterations;
    const heartbeat::Counters& c = hb.counters();
    const uint64_t due = static_cast<uint64_t>((k.monotonic_ns() - start) / (cfg.period_ms * kMs));
    SIM_CHECK(check, c.sent + c.missed_down + c.missed_full <= due,
              "more beats than periods: " + std::to_string(c.sent + c.missed_down) + " > " +
                  std::to_string(due));
    SIM_CHECK(check, c.alarms_raised == c.alarms_cleared + (hb.alarm_raised() ? 1 : 0),
              "alarm raised and cleared out of step");
    // A link that delivers means beats get through, unless the server
    // answers beats: then its ACK lines say so (it may have stopped).
    SIM_CHECK(check,
              !hb.alarm_raised() || hb.link().state() != app::Link::State::kDelivering ||
                  hb.server_answers(),
              "alarm raised while the link delivers");
    SIM_CHECK(check,
              !hb.alarm_raised() || hb.delivered_ns() <= hb.alarm_raised_ns() ||
                  k.monotonic_ns() - hb.delivered_ns() <= cfg.period_ms * kMs,
              "a beat delivered after the alarm did not clear it within a period (now " +
                  std::to_string((k.monotonic_ns() - start) / kMs) + " ms, delivered " +
                  std::to_string((hb.delivered_ns() - start) / kMs) + " ms, raised " +
                  std::to_string((hb.alarm_raised_ns() - start) / kMs) + " ms)");
    SIM_CHECK(check, peer.hb_lines <= c.sent, "the server got more beats than were sent");
    SIM_CHECK(check, !peer.seq_went_back, "heartbeat sequence numbers went back");
    SIM_CHECK(check, loop->verify(), "loop.verify() failed");
    SIM_CHECK(check,
              peer.hostile_since < 0 || k.monotonic_ns() - peer.hostile_since < alarm_due_ns ||
                  hb.alarm_raised(),
              "peer down or hostile for " +
                  std::to_string((k.monotonic_ns() - peer.hostile_since) / kMs) +
                  " ms and no alarm");
    SIM_CHECK(check, !spin.spinning(k.monotonic_ns()), "the loop spins in place");
    if (hb.link().state() != app::Link::State::kResolving) {
      resolving_since = -1;
    } else if (resolving_since < 0) {
      resolving_since = k.monotonic_ns();
    }
    SIM_CHECK(
        check, resolving_since < 0 || k.monotonic_ns() - resolving_since < resolve_limit_ns,
        "resolving for " + std::to_string((k.monotonic_ns() - resolving_since) / kMs) + " ms");
    SIM_CHECK(check, k.would_block() == 0, "a read or write would have blocked the loop");
  }
  const heartbeat::Counters& c = hb.counters();
  // Over the whole run, every period produced a beat or a counted miss (a few
  // may still be due at the end, and skipped ticks are counted as misses).
  const uint64_t due = static_cast<uint64_t>(virtual_seconds * 1000 / cfg.period_ms);
  SIM_CHECK(check, c.sent + c.missed_down + c.missed_full + 2 >= due,
            "beats unaccounted for: " + std::to_string(c.sent + c.missed_down + c.missed_full) +
                " of " + std::to_string(due));
  SIM_CHECK(check, k.spawned().size() == c.alarms_raised + c.alarms_cleared - c.spawn_errors,
            "alarm command runs do not match the alarms");
  SIM_CHECK(check, !named || names.questions > 0, "a named server and no question asked");
  hb.stop();
  if (names.io) (void)loop->io_close(names.io);
  log.detach();
  release_held(&peer);
  result.trace_hash = k.trace_hash();
  return result;
}

struct Sensor {
  fake::SerialDevice* dev;
  sim::SentenceSource* source;
  int64_t t = 0;
  fake::Rng rng;
};

void on_sensor(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  auto* s = static_cast<Sensor*>(ctx);
  char buf[1024];
  const size_t n = s->source->report(s->t++, buf, sizeof buf);
  std::string bytes(buf, n);
  if (s->rng.chance(0.05)) bytes.insert(s->rng.below(bytes.size()), std::string(50, '\x80'));
  if (s->dev != nullptr) s->dev->emit(bytes);  // unplugged: the sentences go nowhere
}

sim::Result run_telemetry(uint64_t seed, int64_t virtual_seconds) {
  sim::Result result;
  sim::Checker check(&result);
  fake::Kernel k;
  k.seed(seed);
  fake::SerialDevice& dev = k.add_serial("/dev/ttyS1");
  std::unique_ptr<SimLoop> loop(new SimLoop());
  SIM_CHECK(check, loop->init() == 0, "init");
  fake::Rng rng{seed ^ 0x7654321ULL};
  Peer peer;
  peer.loop = loop.get();
  peer.tcp = rng.chance(0.5);
  (void)hal::parse_address("127.0.0.1:9100", &peer.at);
  peer_up(&peer);
  telemetry::Config cfg;
  std::snprintf(cfg.serial, sizeof cfg.serial, "/dev/ttyS1");
  std::snprintf(cfg.collector, sizeof cfg.collector, "%s://127.0.0.1:9100",
                peer.tcp ? "tcp" : "udp");
  cfg.baud = 9600;
  cfg.batch_max = 1 + static_cast<int64_t>(rng.below(30));
  cfg.batch_delay_ms = 100 + static_cast<int64_t>(rng.below(2000));
  cfg.buffer_records = cfg.batch_max + static_cast<int64_t>(rng.below(200));  // holds a batch
  cfg.health_period_ms = 5000;
  cfg.link.backoff_initial_ms = 50;
  cfg.link.backoff_max_ms = 2000;
  cfg.serial_retry_ms = 500;
  Sink sink;
  fake::Rng sink_rng{seed ^ 0x7171ULL};
  const bool hung_log = sink.open(sink_rng);
  app::Log log("telemetry", hung_log ? sink.fds[1] : 2);
  log.set_level(hung_log ? app::Level::kDebug : app::Level::kError);
  if (hung_log) (void)log.attach(*loop);  // as serve() does, before the app starts
  std::unique_ptr<telemetry::App> app;
  char err[256] = {};
  int started = -ENOMEM;
  for (int tries = 0; tries < 20 && started == -ENOMEM; ++tries) {  // as systemd restarts it
    app.reset(new telemetry::App(cfg, &log));
    started = app->start(*loop, err, sizeof err);
  }
  SIM_CHECK(check, started == 0, std::string("start: ") + err);
  sim::SimConfig sc;
  sc.seed = seed;
  sc.corrupt_pct = static_cast<int64_t>(rng.below(10));
  sc.truncate_pct = static_cast<int64_t>(rng.below(5));
  sim::SentenceSource source(sc);
  Sensor sensor{&dev, &source, 0, fake::Rng{seed ^ 0x55ULL}};
  evl::TimerSpec every;
  every.period_ns = kSec;
  evl::TimerHandle sensor_timer, flip;
  (void)loop->timer_start(every, on_sensor, &sensor, &sensor_timer);
  Chaos chaos{&peer, fake::Rng{seed ^ 0xfeedULL}};
  chaos.k = &k;
  chaos.serial = "/dev/ttyS1";
  SpinGuard spin;
  (void)loop->timer_after(kSec, on_flip, &chaos, &flip);
  const int64_t end = k.monotonic_ns() + virtual_seconds * kSec;
  while (!check.failed() && k.monotonic_ns() < end) {
    const int r = loop->run_once(-1);
    SIM_CHECK(check, r >= 0 || r == -EINTR || r == -ENOMEM, "run_once: " + std::to_string(r));
    ++result.iterations;
    const telemetry::Store& st = app->store();
    SIM_CHECK(check, st.accepted() == st.delivered() + st.dropped() + st.size(),
              "records unaccounted for: accepted " + std::to_string(st.accepted()) +
                  " != delivered " + std::to_string(st.delivered()) + " + dropped " +
                  std::to_string(st.dropped()) + " + buffered " + std::to_string(st.size()));
    SIM_CHECK(check, st.size() <= st.limit(), "the store outgrew its limit");
    SIM_CHECK(check, st.in_flight() <= st.size(), "more records in flight than buffered");
    SIM_CHECK(check, loop->verify(), "loop.verify() failed");
    SIM_CHECK(check, !spin.spinning(k.monotonic_ns()), "the loop spins in place");
    SIM_CHECK(check, k.would_block() == 0, "a read or write would have blocked the loop");
    SIM_CHECK(check, app->counters().serial_hangups <= chaos.unplugs,
              "more serial hang-ups than unplugs");
    sensor.dev = k.serial("/dev/ttyS1");  // whatever device is plugged in now
  }
  SIM_CHECK(check, app->counters().sentences > 0 || virtual_seconds < 5 || chaos.unplugs > 0,
            "no sentence parsed");
  app->stop();
  log.detach();
  release_held(&peer);
  result.trace_hash = k.trace_hash();
  return result;
}

}  // namespace

SIM_SCENARIO(heartbeat, "heartbeat",
             "heartbeat daemon against a server that the seed takes down, with faults",
             run_heartbeat);
SIM_SCENARIO(telemetry, "telemetry",
             "telemetry daemon, pty sensor with noise, collector up and down, with faults",
             run_telemetry);
