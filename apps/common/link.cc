#include "apps/common/link.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <initializer_list>

#include "apps/common/options.h"
#include "apps/common/snapshot.h"
#include "apps/common/tls.h"
#include "hal/address.h"

namespace app {
namespace {

constexpr int64_t kCheckMinMs = 10;

// The check tick of kUp and kDelivering: often enough to see a stall within
// a quarter of its timeout and to prove the link soon after stable_ms.
int64_t check_ms(const LinkConfig& c) {
  int64_t ms = c.stable_ms;
  if (c.stall_timeout_ms > 0 && c.stall_timeout_ms / 4 < ms) ms = c.stall_timeout_ms / 4;
  return ms < kCheckMinMs ? kCheckMinMs : ms;
}

}  // namespace

int Link::start(evl::Loop& loop, const Url& url, const LinkConfig& cfg, const LinkEvents& ev) {
  if (state_ != State::kIdle) return -EINVAL;
  if (cfg.backoff_initial_ms < 1 || cfg.backoff_max_ms < cfg.backoff_initial_ms ||
      cfg.connect_timeout_ms < 1 || cfg.stable_ms < 1 || cfg.stall_timeout_ms < 0) {
    return -EINVAL;
  }
  if (url.tls && (cfg.tls == nullptr || !cfg.tls->ready() || url.scheme == Scheme::kUdp)) {
    return -EINVAL;
  }
  loop_ = &loop;
  url_ = url;
  tls_name_[0] = '\0';
  if (url.tls) {
    const char* name = cfg.tls_server_name[0] != '\0' ? cfg.tls_server_name : url.host;
    if (name[0] != '\0') {
      std::snprintf(tls_name_, sizeof tls_name_, "%s", name);
    } else {  // an IP literal, without its port or brackets
      char a[80];
      if (hal::format_address(url.addr, a, sizeof a) <= 0) return -EINVAL;
      const char* b = a[0] == '[' ? a + 1 : a;
      const char* e = a[0] == '[' ? std::strchr(b, ']') : std::strrchr(b, ':');
      if (e == nullptr) return -EINVAL;
      std::snprintf(tls_name_, sizeof tls_name_, "%.*s", static_cast<int>(e - b), b);
    }
  }
  carrier_ = url.scheme == Scheme::kUdp ? &kDatagram : &kStream;
  cfg_ = cfg;
  ev_ = ev;
  rng_ = cfg.jitter_seed | 1;
  attempt_ = 0;
  addr_ = url.addr;
  have_good_ = false;  // (another start may name another server)
  kept_ = false;
  attempt();
  return 0;
}

void Link::stop() {
  if (state_ == State::kIdle) return;
  teardown();
  state_ = State::kIdle;
}

// The one teardown: every state's resources, whatever the state.
void Link::teardown() {
  resolver_.cancel();
  if (io_) (void)loop_->io_close(io_);
  io_ = evl::IoHandle{};
  if (url_.tls) cfg_.tls->end();
  handshaking_ = false;
  fd_ = -1;
  watched_ = 0;
  loop_->timer_clear(&timer_);
  out_.clear();  // a partial frame must not lead the next connection
  in_len_ = 0;
  probe_sent_ = false;
}

// Every transition goes through here: the old state's timer goes, the new
// state's (timer_ms >= 0) comes. Callers run app callbacks only after it, so
// a callback that stops or restarts the link finds a consistent state.
void Link::enter(State s, int64_t timer_ms) {
  loop_->timer_clear(&timer_);
  state_ = s;
  if (timer_ms < 0) return;
  // +1 ns: a zero back-off still lets the loop turn once before reconnecting.
  const int64_t ns = evl::add_sat(evl::ms_to_ns(timer_ms), 1);
  (void)loop_->timer_after(ns, on_timer, this, &timer_);
}

void Link::save(flight::SnapWriter& w) const {
  // mbedTLS's state of a connection is not in a snapshot: none is taken
  // while one is open (the recorder tries again at the next iteration).
  if (!snapshot_possible()) w.fail();
  w.put(static_cast<uint8_t>(state_));
  w.put(static_cast<int32_t>(fd_));
  w.put(static_cast<uint8_t>(io_ ? 1 : 0));
  w.put(watched_);
  w.put(attempt_);
  w.put(rng_);
  w.put(static_cast<uint8_t>(probe_sent_ ? 1 : 0));
  w.put(up_since_ns_);
  w.put(written_at_up_);
  w.put(read_at_up_);
  w.put(acked_);
  w.put(progress_ns_);
  w.put(delivered_ns_);
  w.put(stats_);
  save_ring(w, out_);
  w.put(static_cast<uint32_t>(in_len_));
  w.put(in_, in_len_);
  save_timer(w, *loop_, timer_);
  w.put(addr_);
  w.put(good_);
  w.put(static_cast<uint8_t>(have_good_ ? 1 : 0));
  w.put(static_cast<uint8_t>(kept_ ? 1 : 0));
  resolver_.save(w);
}

void Link::drop() {
  if (loop_ != nullptr) teardown();
}

void Link::restore(Restore& r) {
  uint8_t state = 0;
  int32_t fd = -1;
  uint8_t has_io = 0;
  uint8_t probe_sent = 0;
  uint32_t in_len = 0;
  (void)r.get(&state);
  (void)r.get(&fd);
  (void)r.get(&has_io);
  (void)r.get(&watched_);
  (void)r.get(&attempt_);
  (void)r.get(&rng_);
  (void)r.get(&probe_sent);
  (void)r.get(&up_since_ns_);
  (void)r.get(&written_at_up_);
  (void)r.get(&read_at_up_);
  (void)r.get(&acked_);
  (void)r.get(&progress_ns_);
  (void)r.get(&delivered_ns_);
  (void)r.get(&stats_);
  (void)r.ring(&out_);
  if (!r.get(&in_len) || in_len > sizeof in_ || state > static_cast<uint8_t>(State::kResolving) ||
      loop_ == nullptr) {
    (void)r.fail();
    return;
  }
  (void)r.get(in_, in_len);
  in_len_ = in_len;
  state_ = static_cast<State>(state);
  fd_ = fd;
  probe_sent_ = probe_sent != 0;
  if (has_io != 0) r.io(fd_, watched_, on_io, this, &io_);
  r.timer(&timer_, on_timer, this);
  (void)r.get(&addr_);
  uint8_t have_good = 0, kept = 0;
  (void)r.get(&good_);
  (void)r.get(&have_good);
  (void)r.get(&kept);
  have_good_ = have_good != 0;
  kept_ = kept != 0;
  resolver_.restore(r, *loop_, resolved, this);
}

int64_t Link::next_backoff_ms() {
  return static_cast<int64_t>(random_to(static_cast<uint64_t>(backoff_cap_ms(cfg_, attempt_))));
}

uint64_t Link::random_to(uint64_t n) {
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  return n == UINT64_MAX ? rng_ : rng_ % (n + 1);
}

void Link::watch(uint32_t events) {
  if (events == watched_ || !io_) return;
  if (loop_->io_modify(io_, events) == 0) watched_ = events;
}

// Where TCP and UDP differ, and nowhere else: how a socket opens, what is
// watched, how bytes come and go, and what "the peer took it" means.
struct Link::Carrier {
  int (*open)(const hal::SockAddr& to, int* fd);
  uint32_t connecting_events;  // watched until connected; 0: up at once
  uint32_t up_events;
  void (*opened)(Link& l);  // after a connect started
  void (*after_up)(Link& l);
  void (*readable)(Link& l, uint32_t events);
  int (*send)(Link& l, const void* data, size_t len);
  // In a check tick: 1 when the peer has everything written, 0 when some is
  // still on its way, -1 when the link failed (a stall).
  int (*progress)(Link& l, int64_t now);
};

const Link::Carrier Link::kStream = {
    hal::stream_connect,
    evl::kOut,
    evl::kIn | evl::kRdHup,
    [](Link& l) {
      // The kernel's own stall guard, beside progress(): it also covers a
      // peer that vanished without a reset while data was in flight.
      if (l.cfg_.stall_timeout_ms > 0) (void)hal::set_user_timeout(l.fd_, l.cfg_.stall_timeout_ms);
    },
    [](Link& l) { l.flush(); },
    [](Link& l, uint32_t events) {
      if ((events & (evl::kIn | evl::kRdHup | evl::kHup | evl::kErr)) != 0) l.read_stream();
      if (l.up() && (events & evl::kOut) != 0) l.flush();
    },
    [](Link& l, const void* data, size_t len) {
      if (len > l.out_.space()) return -ENOBUFS;
      (void)l.out_.push(data, len);
      l.flush();
      return l.up() ? 0 : -ENOTCONN;
    },
    [](Link& l, int64_t now) { return l.stream_progress(now); },
};

const Link::Carrier Link::kDatagram = {
    hal::dgram_connect,
    0,
    evl::kIn,
    [](Link&) {},
    [](Link&) {},
    [](Link& l, uint32_t) { l.read_datagrams(); },
    [](Link& l, const void* data, size_t len) { return l.send_datagram(data, len); },
    [](Link&, int64_t) { return 1; },  // no acknowledgements: what went out is all there is
};

// A connect attempt: a named host is resolved again first (an address
// that changed is followed at the next attempt).
void Link::attempt() {
  if (url_.host[0] == '\0') {
    open_socket();
    return;
  }
  const int r = resolver_.start(*loop_, url_.host, url_.port, rng_, resolved, this, &addr_);
  if (r == 1) {
    open_socket();
  } else if (r == 0) {
    enter(State::kResolving, -1);
  } else {
    fail(r);
  }
}

const char* Link::resolved_as(char* buf, size_t len) const {
  if (len == 0) return buf;
  buf[0] = '\0';
  char a[80];
  if (url_.host[0] != '\0' && hal::format_address(addr_, a, sizeof a) > 0) {
    std::snprintf(buf, len, kept_ ? " (%s, kept: the name servers failed)" : " (%s)", a);
  }
  return buf;
}

void Link::resolved(void* ctx, int err, const hal::SockAddr& addr) {
  auto* l = static_cast<Link*>(ctx);
  // The name servers failing (down, silent, SERVFAIL) says nothing about
  // the server: the address of the last connection that came up is tried
  // (a router rebooting takes the DNS away, not the broker). An answer
  // that the name has no address is believed.
  const bool servers_failed =
      err == dns::kErrTimeout || err == dns::kErrUnreachable || err == dns::kErrServer;
  if (err != 0 && !(servers_failed && l->have_good_)) {
    l->fail(err);
    return;
  }
  if (err != 0) ++l->stats_.last_good_used;
  l->kept_ = err != 0;
  l->addr_ = err != 0 ? l->good_ : addr;
  l->open_socket();
}

void Link::open_socket() {
  int fd = -1;
  int r = carrier_->open(addr_, &fd);
  if (r == 0 || r == -EINPROGRESS) {
    const uint32_t events =
        carrier_->connecting_events != 0 ? carrier_->connecting_events : carrier_->up_events;
    const int w = loop_->io_start(fd, events, on_io, this, &io_);
    if (w < 0) {
      (void)hal::close(fd);
      r = w;
    } else {
      fd_ = fd;
      watched_ = events;
    }
  }
  if (r != 0 && r != -EINPROGRESS) {
    fail(r);
    return;
  }
  if (carrier_->connecting_events == 0) {
    connected();
    return;
  }
  carrier_->opened(*this);
  enter(State::kConnecting, cfg_.connect_timeout_ms);
}

void Link::connected() {
  ++stats_.connects;
  if (url_.host[0] != '\0') {
    good_ = addr_;
    have_good_ = true;
  }
  up_since_ns_ = loop_->now(evl::Clock::kMonotonic);
  written_at_up_ = stats_.bytes_out;
  read_at_up_ = stats_.bytes_in;
  acked_ = stats_.bytes_out;
  progress_ns_ = up_since_ns_;
  enter(State::kUp, check_ms(cfg_));
  watch(carrier_->up_events);
  if (ev_.up != nullptr) ev_.up(ev_.ctx);
  if (up()) carrier_->after_up(*this);
}

// A connect that failed or a connection that ended: back-off, then again.
// The down event comes once per outage: on the first failure after the link
// last delivered (or since start).
void Link::fail(int err) {
  const bool first = attempt_ == 0;
  const bool was_up = up();
  teardown();
  ++stats_.failures;
  const int64_t delay = next_backoff_ms();
  ++attempt_;
  enter(State::kBackoff, delay);
  if (was_up && ev_.closed != nullptr) ev_.closed(ev_.ctx, err);
  if (state_ != State::kBackoff) return;  // the callback stopped or restarted the link
  if (first && ev_.down != nullptr) ev_.down(ev_.ctx, err);
}

// kUp and kDelivering: is the peer taking what was written (stall), and has
// the connection proven that it delivers?
// A stream's peer acknowledges what it received (SIOCOUTQ counts what it
// has not): no progress for stall_timeout_ms while bytes wait is a stall.
int Link::stream_progress(int64_t now) {
  const long unacked = hal::stream_unacked(fd_);
  const uint64_t in_kernel = unacked > 0 ? static_cast<uint64_t>(unacked) : 0;
  const uint64_t acked = stats_.bytes_out - in_kernel;
  const bool all_acked = in_kernel == 0 && out_.empty();
  if (acked != acked_ || all_acked) {
    acked_ = acked;
    progress_ns_ = now;
  } else if (cfg_.stall_timeout_ms > 0 &&
             now - progress_ns_ >= evl::ms_to_ns(cfg_.stall_timeout_ms)) {
    ++stats_.stalls;
    fail(-ETIMEDOUT);
    return -1;
  }
  return all_acked ? 1 : 0;
}

void Link::check() {
  const int64_t now = loop_->now(evl::Clock::kMonotonic);
  const uint64_t acked_before = acked_;
  const int progress = carrier_->progress(*this, now);
  if (progress < 0) return;
  const bool all_acked = progress > 0;
  const bool proven = state_ == State::kUp && all_acked && stats_.bytes_out > written_at_up_ &&
                      now - up_since_ns_ >= evl::ms_to_ns(cfg_.stable_ms);
  enter(proven ? State::kDelivering : state_, check_ms(cfg_));
  if (state_ == State::kDelivering && (all_acked || acked_ != acked_before)) delivered_ns_ = now;
  if (!proven) return;
  attempt_ = 0;
  if (ev_.delivering != nullptr) ev_.delivering(ev_.ctx);
}

void Link::on_timer(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  auto* l = static_cast<Link*>(ctx);
  l->timer_ = evl::TimerHandle{};
  switch (l->state_) {
    case State::kBackoff: l->attempt(); break;
    case State::kConnecting: l->fail(-ETIMEDOUT); break;
    case State::kUp:
    case State::kDelivering: l->check(); break;
    case State::kProbing: l->probe(); break;
    case State::kIdle:
    case State::kResolving: break;
  }
}

void Link::on_io(evl::Loop&, evl::IoHandle, uint32_t events, void* ctx) {
  auto* l = static_cast<Link*>(ctx);
  switch (l->state_) {
    case State::kConnecting: {
      if (l->handshaking_) {
        l->handshake();
        return;
      }
      const int err = hal::socket_error(l->fd_);
      if (err != 0 || (events & evl::kHup) != 0) {
        l->fail(err != 0 ? err : -ECONNRESET);
      } else if (l->url_.tls) {
        const int r = l->cfg_.tls->begin(l->fd_, l->tls_name_);
        if (r < 0) {
          ++l->stats_.tls_failures;
          l->fail(r);
          return;
        }
        l->tls_sent_ = 0;
        l->handshaking_ = true;
        l->handshake();
      } else {
        l->connected();
      }
      return;
    }
    case State::kUp:
    case State::kDelivering: l->carrier_->readable(*l, events); return;
    case State::kProbing: l->read_datagrams(); return;
    case State::kIdle:
    case State::kBackoff:
    case State::kResolving: return;
  }
}

// The TLS handshake, within the connect timeout: up when it ends.
void Link::handshake() {
  const int r = cfg_.tls->handshake();
  account_tls();
  if (r == -EAGAIN) {
    watch(cfg_.tls->want() | evl::kRdHup);
    return;
  }
  if (r < 0) {
    ++stats_.tls_failures;
    fail(r);
    return;
  }
  handshaking_ = false;
  connected();
}

// What TLS wrote to the socket (records, the handshake) counts as written:
// the stall and proof checks compare it with what the kernel holds.
void Link::account_tls() {
  const uint64_t sent = cfg_.tls->sent();
  stats_.bytes_out += sent - tls_sent_;
  tls_sent_ = sent;
}

long Link::recv_some(char* buf, size_t len) {
  if (!url_.tls) return hal::stream_recv(fd_, buf, len);
  const long r = cfg_.tls->read(buf, len);
  account_tls();  // (a read may answer the server)
  return r;
}

void Link::read_stream() {
  // TLS may hold decrypted bytes that no socket event will announce: they
  // are read before leaving.
  for (int n = 0; (n < 8 || (url_.tls && cfg_.tls->pending() > 0)) && up(); ++n) {
    if (in_len_ == kInBytes) {
      ++stats_.oversized;
      fail(-EMSGSIZE);
      return;
    }
    const long r = recv_some(in_ + in_len_, kInBytes - in_len_);
    if (r == -EAGAIN) return;
    if (r <= 0) {
      fail(static_cast<int>(r));
      return;
    }
    if (stats_.bytes_in == read_at_up_) {  // the connection's first bytes
      if (const int e = foreign_answer(in_ + in_len_, static_cast<size_t>(r)); e != 0) {
        fail(e);
        return;
      }
    }
    stats_.bytes_in += static_cast<uint64_t>(r);
    in_len_ += static_cast<size_t>(r);
    size_t used = ev_.received != nullptr ? ev_.received(ev_.ctx, in_, in_len_) : in_len_;
    if (!up()) return;  // the callback stopped the link
    if (used > in_len_) used = in_len_;
    std::memmove(in_, in_ + used, in_len_ - used);
    in_len_ -= used;
  }
}

// A connection's first bytes in another protocol than ours: a TLS
// server's alert or hello, or an HTTP server's answer to what was not
// HTTP. Its error (counted), or 0.
int Link::foreign_answer(const char* data, size_t len) {
  if (!url_.tls && looks_like_tls(data, len)) {
    ++stats_.tls;
    return kErrTlsServer;
  }
  if (url_.scheme != Scheme::kHttp && looks_like_http(data, len)) {
    ++stats_.http;
    return kErrHttpServer;
  }
  return 0;
}

void Link::read_datagrams() {
  char buf[512];
  bool truncated = false;
  for (int n = 0; n < 16 && fd_ >= 0; ++n) {
    const long r = hal::dgram_recv(fd_, buf, sizeof buf, nullptr, &truncated);
    if (r == -EAGAIN) return;
    if (r < 0) {
      lost_datagrams(static_cast<int>(r));
      return;
    }
    stats_.bytes_in += static_cast<uint64_t>(r);
    if (ev_.received != nullptr) (void)ev_.received(ev_.ctx, buf, static_cast<size_t>(r));
  }
}

// UDP has no connection to watch: after a send error the link is down and
// probes with empty datagrams; a probe that draws no ICMP error by the next
// tick brings it up. Only then is real data sent again, so an outage loses at
// most what was sent before its first error.
void Link::lost_datagrams(int err) {
  if (state_ == State::kProbing) {
    probe_sent_ = false;  // the error answers the last probe
    return;
  }
  const bool first = attempt_ == 0;
  ++stats_.failures;
  probe_sent_ = false;
  enter(State::kProbing, next_backoff_ms());
  if (ev_.closed != nullptr) ev_.closed(ev_.ctx, err);
  if (state_ != State::kProbing) return;
  if (first && ev_.down != nullptr) ev_.down(ev_.ctx, err);
}

void Link::probe() {
  const int err = hal::socket_error(fd_);
  if (err == 0 && probe_sent_) {
    connected();
    return;
  }
  probe_sent_ = hal::dgram_send(fd_, "", 0, nullptr) == 0;
  ++attempt_;
  enter(State::kProbing, next_backoff_ms());
}

void Link::drop(int err) {
  if (state_ == State::kIdle || state_ == State::kBackoff) return;
  fail(err);
}

long Link::unacknowledged() const {
  if (!up()) return -ENOTCONN;
  if (!stream()) return 0;
  // A kernel that cannot tell counts as nothing pending, as for the stall
  // check: what was written then counts as taken.
  const long in_kernel = hal::stream_unacked(fd_);
  const long in_tls = url_.tls ? static_cast<long>(cfg_.tls->unsent()) : 0;
  return (in_kernel > 0 ? in_kernel : 0) + in_tls + static_cast<long>(out_.size());
}

// The out-ring through TLS: its front bytes are offered again after a
// would-block, as mbedTLS asks.
long Link::drain_tls() {
  long total = 0;
  char chunk[4096];
  while (!out_.empty()) {
    const size_t n = out_.peek(chunk, sizeof chunk);
    const long w = cfg_.tls->write(chunk, n);
    account_tls();
    if (w < 0) return total > 0 && w == -EAGAIN ? total : w;
    out_.consume(static_cast<size_t>(w));
    total += w;
  }
  return total;
}

void Link::flush() {
  const bool had = !out_.empty();
  const long r = url_.tls ? drain_tls() : out_.drain_to(fd_, true);
  if (r > 0 && !url_.tls) stats_.bytes_out += static_cast<uint64_t>(r);
  if (r < 0 && r != -EAGAIN) {
    fail(static_cast<int>(r));
    return;
  }
  watch(evl::kIn | evl::kRdHup | (out_.empty() ? 0u : evl::kOut));
  if (had && out_.empty() && ev_.drained != nullptr) ev_.drained(ev_.ctx);
}

int Link::send_datagram(const void* data, size_t len) {
  const long r = hal::dgram_send(fd_, data, len, nullptr);
  if (r < 0) {
    lost_datagrams(static_cast<int>(r));
    return static_cast<int>(r);
  }
  stats_.bytes_out += static_cast<uint64_t>(r);
  ++stats_.datagrams_out;
  return 0;
}

int Link::send(const void* data, size_t len) {
  if (!up()) return -ENOTCONN;
  return carrier_->send(*this, data, len);
}

}  // namespace app
