#include "apps/mqtt/client.h"

#include <cerrno>
#include <cstring>

#include "apps/common/snapshot.h"

namespace mqtt {
namespace {

constexpr int64_t kMinTickMs = 1000;

}  // namespace

int Client::start(evl::Loop& loop, const app::Url& url, const app::LinkConfig& link,
                  const ClientConfig& cfg, const ClientEvents& ev) {
  if (url.scheme != app::Scheme::kMqtt || cfg.client_id[0] == '\0') return -EINVAL;
  if (cfg.keepalive_s < 0 || cfg.keepalive_s > 65535) return -EINVAL;
  loop_ = &loop;
  cfg_ = cfg;
  ev_ = ev;
  connect_timeout_ms_ = link.connect_timeout_ms;
  const int64_t longer_ms = evl::mul_sat(cfg.keepalive_s, 1000) > link.backoff_max_ms
                                ? evl::mul_sat(cfg.keepalive_s, 1000)
                                : link.backoff_max_ms;
  brief_ns_ = evl::ms_to_ns(evl::mul_sat(longer_ms, 2));
  closes_ = Closes{};
  unanswered_ = 0;
  answered_ = false;
  app::LinkEvents le;
  le.up = on_up;
  le.delivering = on_delivering;
  le.down = on_down;
  le.closed = on_closed;
  le.received = on_received;
  le.drained = on_drained;
  le.ctx = this;
  return link_.start(loop, url, link, le);
}

void Client::stop() {
  if (loop_ == nullptr) return;
  if (session_) {
    uint8_t bye[2];
    (void)link_.send(bye, encode_disconnect(bye, sizeof bye));  // best effort
  }
  loop_->timer_clear(&timer_);
  link_.stop();
  session_ = false;
  loop_ = nullptr;
}

size_t Client::inflight() const {
  size_t n = 0;
  for (const Slot& s : inflight_) n += s.used ? 1 : 0;
  return n;
}

bool Client::send(const uint8_t* data, size_t len) {
  if (len == 0 || link_.send(data, len) < 0) return false;
  sent_since_tick_ = true;
  return true;
}

uint16_t Client::next_id() {
  for (;;) {
    last_id_ = static_cast<uint16_t>(last_id_ + 1);
    if (last_id_ == 0) continue;
    bool taken = false;
    for (const Slot& s : inflight_) taken = taken || (s.used && s.id == last_id_);
    if (!taken) return last_id_;
  }
}

int Client::publish0(const char* topic, const void* data, size_t len, bool retain) {
  if (!session_) return -ENOTCONN;
  uint8_t buf[kMaxPublish];
  const size_t n = encode_publish(topic, data, len, 0, retain, false, 0, buf, sizeof buf);
  if (n == 0) return -EMSGSIZE;
  if (n > link_.out_space()) return -ENOBUFS;
  if (!send(buf, n)) return -ENOTCONN;
  ++stats_.published0;
  return 0;
}

int Client::publish1(const char* topic, const void* data, size_t len, bool retain, uint32_t tag) {
  if (loop_ == nullptr) return -ENOTCONN;
  Slot* slot = nullptr;
  for (Slot& s : inflight_) {
    if (!s.used) {
      slot = &s;
      break;
    }
  }
  if (slot == nullptr) return -ENOSPC;
  const uint16_t id = next_id();
  const size_t n =
      encode_publish(topic, data, len, 1, retain, false, id, slot->packet, sizeof slot->packet);
  if (n == 0) return -EMSGSIZE;
  slot->used = true;
  slot->sent = false;
  slot->drops = 0;
  slot->id = id;
  slot->tag = tag;
  slot->order = order_++;
  slot->len = n;
  ++stats_.published1;
  if (session_) send_inflight();
  return 0;
}

int Client::subscribe(const char* filter) {
  for (size_t i = 0; i < kMaxSubscriptions; ++i) {
    char* sub = subs_[i];
    if (sub[0] != '\0') continue;
    const size_t len = std::strlen(filter);
    if (len >= sizeof subs_[i]) return -EINVAL;
    std::memcpy(sub, filter, len + 1);
    if (session_) send_subscribe(i);
    return 0;
  }
  return -ENOSPC;
}

void Client::send_subscribe(size_t i) {
  uint8_t buf[200];
  sub_ids_[i] = next_id();
  (void)send(buf, encode_subscribe(subs_[i], 1, sub_ids_[i], buf, sizeof buf));
}

void Client::on_suback(uint16_t id, uint8_t code) {
  for (size_t i = 0; i < kMaxSubscriptions; ++i) {
    if (subs_[i][0] == '\0' || sub_ids_[i] != id) continue;
    if (code != 0x80) {
      sub_refused_said_[i] = 0;
      return;
    }
    ++stats_.sub_refusals;
    if (sub_refused_said_[i] != 0) return;
    sub_refused_said_[i] = 1;
    if (ev_.sub_refused != nullptr) ev_.sub_refused(ev_.ctx, subs_[i]);
    return;
  }
}

// Unsent in-flight messages go out oldest first; a full out-ring stops the
// round, and the link's drained event resumes it.
void Client::send_inflight() {
  for (;;) {
    Slot* next = nullptr;
    for (Slot& s : inflight_) {
      if (s.used && !s.sent && (next == nullptr || s.order < next->order)) next = &s;
    }
    if (next == nullptr || next->len > link_.out_space()) return;
    // Marked first: send() may drain the ring at once and call us again.
    next->sent = true;
    if (!send(next->packet, next->len)) {
      next->sent = false;
      return;
    }
    next->packet[0] |= 0x08;  // from now on any send of it is a resend: DUP
  }
}

void Client::on_up(void* ctx) {
  auto* c = static_cast<Client*>(ctx);
  c->link_delivering_ = false;
  c->answered_ = false;
  ConnectOptions o;
  o.client_id = c->cfg_.client_id;
  o.keepalive_s = static_cast<uint16_t>(c->cfg_.keepalive_s);
  o.clean_session = false;
  if (c->cfg_.will_topic[0] != '\0') {
    o.will.topic = c->cfg_.will_topic;
    o.will.message = c->cfg_.will_message;
  }
  if (c->cfg_.user[0] != '\0') {
    o.user = c->cfg_.user;
    o.password = c->cfg_.password[0] != '\0' ? c->cfg_.password : nullptr;
  }
  uint8_t buf[512];
  if (!c->send(buf, encode_connect(o, buf, sizeof buf))) {
    c->link_.drop(-EMSGSIZE);
    return;
  }
  (void)c->loop_->timer_after(evl::ms_to_ns(c->connect_timeout_ms_), on_timer, c, &c->timer_);
}

void Client::session_up() {
  session_ = true;
  closes_.session_ns = loop_->now(evl::Clock::kMonotonic);
  refused_reported_ = false;
  ping_out_ = false;
  ++stats_.sessions;
  loop_->timer_clear(&timer_);
  if (cfg_.keepalive_s > 0) {
    evl::TimerSpec tick;
    int64_t ms = cfg_.keepalive_s * 1000 / 2;
    tick.period_ns = evl::ms_to_ns(ms < kMinTickMs ? kMinTickMs : ms);
    (void)loop_->timer_start(tick, on_timer, this, &timer_);
  }
  for (size_t i = 0; i < kMaxSubscriptions; ++i) {
    if (subs_[i][0] != '\0') send_subscribe(i);
  }
  for (Slot& s : inflight_) {
    if (s.used && (s.packet[0] & 0x08) != 0) ++stats_.resent;
  }
  send_inflight();
  if (ev_.up != nullptr) ev_.up(ev_.ctx);
  if (session_ && link_delivering_ && ev_.delivering != nullptr) ev_.delivering(ev_.ctx);
}

// In a session on a proven link, the CONNACK itself says that the broker
// reads what it is sent: the session's start counts until the link's next
// check.
int64_t Client::delivered_ns() const {
  if (!session_) return delivered_before_ns_;
  const int64_t d = link_.delivered_ns();
  if (d >= closes_.session_ns) return d;
  return link_delivering_ ? closes_.session_ns : delivered_before_ns_;
}

void Client::on_delivering(void* ctx) {
  auto* c = static_cast<Client*>(ctx);
  c->link_delivering_ = true;
  if (c->session_ && c->ev_.delivering != nullptr) c->ev_.delivering(c->ev_.ctx);
}

// Every connection's end: the session is gone, unacknowledged messages
// wait for the next one.
void Client::on_closed(void* ctx, int err) {
  auto* c = static_cast<Client*>(ctx);
  c->count_close(err);
  c->delivered_before_ns_ = c->delivered_ns();
  c->session_ = false;
  c->link_delivering_ = false;
  c->ping_out_ = false;
  c->loop_->timer_clear(&c->timer_);
  for (Slot& s : c->inflight_) {
    if (s.used && s.sent && s.drops < UINT8_MAX) {
      ++s.drops;
      if (s.drops == c->cfg_.report_after_drops) {
        ++c->stats_.closed_on;
        if (c->ev_.closed_on != nullptr) c->ev_.closed_on(c->ev_.ctx, s.tag, s.len);
      }
    }
    s.sent = false;
  }
}

// A session the broker ended soon after accepting it, with every connect
// since the last such one successful and nothing of ours unacknowledged
// (else the message may be why: closed_on): one more in a row. Anything
// else ends the row.
void Client::count_close(int err) {
  // Connections that ended before a CONNACK, but for a server that said
  // what it speaks (TLS, HTTP): those were told already.
  if (!answered_ && err != app::kErrTlsServer && err != app::kErrHttpServer) {
    ++unanswered_;
    if (cfg_.report_after_closes > 0 &&
        unanswered_ == static_cast<uint64_t>(cfg_.report_after_closes) &&
        ev_.unanswered != nullptr) {
      ev_.unanswered(ev_.ctx, static_cast<uint32_t>(unanswered_));
    }
  }
  const bool by_broker = session_ && (err == 0 || err == -ECONNRESET);
  if (by_broker) ++stats_.broker_closes;
  bool unacked = false;
  for (const Slot& s : inflight_) unacked = unacked || (s.used && s.sent);
  const uint64_t failures = link_.stats().failures;  // this close included
  if (!by_broker || unacked ||
      loop_->now(evl::Clock::kMonotonic) - closes_.session_ns >= brief_ns_) {
    closes_.row = 0;
    return;
  }
  closes_.row = closes_.row > 0 && failures == closes_.failures + 1 ? closes_.row + 1 : 1;
  closes_.failures = failures;
  if (cfg_.report_after_closes > 0 &&
      closes_.row == static_cast<uint64_t>(cfg_.report_after_closes) &&
      ev_.sessions_ended != nullptr) {
    ev_.sessions_ended(ev_.ctx, static_cast<uint32_t>(closes_.row));
  }
}

void Client::on_down(void* ctx, int err) {
  auto* c = static_cast<Client*>(ctx);
  if (c->ev_.down != nullptr) c->ev_.down(c->ev_.ctx, err);
}

void Client::on_drained(void* ctx) {
  auto* c = static_cast<Client*>(ctx);
  if (c->session_) c->send_inflight();
}

void Client::on_timer(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  auto* c = static_cast<Client*>(ctx);
  if (!c->session_) {  // CONNACK did not come
    c->timer_ = evl::TimerHandle{};
    ++c->stats_.connack_timeouts;
    c->link_.drop(-ETIMEDOUT);
    return;
  }
  if (c->ping_out_) {  // the last PINGREQ got no PINGRESP within a tick
    ++c->stats_.ping_timeouts;
    c->link_.drop(-ETIMEDOUT);
    return;
  }
  if (!c->sent_since_tick_ || !c->heard_since_tick_) {
    uint8_t ping[2];
    c->ping_out_ = c->send(ping, encode_pingreq(ping, sizeof ping));
  }
  c->sent_since_tick_ = false;
  c->heard_since_tick_ = false;
}

void Client::protocol_error(int err) {
  if (err == -EMSGSIZE) {
    ++stats_.oversized;
  } else {
    ++stats_.protocol_errors;
  }
  link_.drop(err);
}

size_t Client::on_received(void* ctx, const char* data, size_t len) {
  auto* c = static_cast<Client*>(ctx);
  const auto* p = reinterpret_cast<const uint8_t*>(data);
  size_t used = 0;
  while (used < len) {
    Packet k{};
    const long n = parse(p + used, len - used, app::Link::kInBytes, &k);
    if (n == 0) break;
    if (n < 0) {
      c->protocol_error(static_cast<int>(n));
      return len;
    }
    used += static_cast<size_t>(n);
    c->heard_since_tick_ = true;
    c->handle(k);
    if (!c->link_.up()) return len;  // handle() dropped the link
  }
  return used;
}

void Client::handle(const Packet& p) {
  switch (p.type) {
    case Type::kConnack:
      if (session_) return protocol_error(-EPROTO);  // a second CONNACK
      answered_ = true;
      unanswered_ = 0;
      if (p.code != 0) {
        ++stats_.refusals;
        if (!refused_reported_ && ev_.refused != nullptr) ev_.refused(ev_.ctx, p.code);
        refused_reported_ = true;
        link_.drop(-ECONNREFUSED);
        return;
      }
      session_up();
      return;
    case Type::kPuback:
      for (Slot& s : inflight_) {
        if (!s.used || s.id != p.id) continue;
        s.used = false;
        ++stats_.acked;
        if (ev_.acked != nullptr) ev_.acked(ev_.ctx, s.tag);
        return;
      }
      ++stats_.unknown_acks;
      return;
    case Type::kPingresp: ping_out_ = false; return;
    case Type::kSuback: return on_suback(p.id, p.code);
    case Type::kUnsuback: return;
    case Type::kPublish: {
      if (!session_) return protocol_error(-EPROTO);
      ++stats_.received;
      if (p.qos == 1) {
        uint8_t ack[4];
        (void)send(ack, encode_puback(p.id, ack, sizeof ack));
      }
      if (ev_.message != nullptr)
        ev_.message(ev_.ctx, p.topic, p.topic_len, p.payload, p.payload_len, p.retain);
      return;
    }
    default: return protocol_error(-EPROTO);
  }
}

void Client::save(flight::SnapWriter& w) const {
  link_.save(w);
  w.put(stats_);
  app::save_timer(w, *loop_, timer_);
  w.put(connect_timeout_ms_);
  w.put(closes_);
  w.put(unanswered_);
  w.put(delivered_before_ns_);
  w.put(static_cast<uint8_t>(answered_ ? 1 : 0));
  const uint8_t flags = static_cast<uint8_t>(
      (session_ ? 1 : 0) | (link_delivering_ ? 2 : 0) | (refused_reported_ ? 4 : 0) |
      (ping_out_ ? 8 : 0) | (sent_since_tick_ ? 16 : 0) | (heard_since_tick_ ? 32 : 0));
  w.put(flags);
  w.put(last_id_);
  w.put(order_);
  w.put(subs_);
  w.put(sub_ids_);
  w.put(sub_refused_said_);
  for (const Slot& s : inflight_) {
    w.put(static_cast<uint8_t>((s.used ? 1 : 0) | (s.sent ? 2 : 0)));
    if (!s.used) continue;
    w.put(s.id);
    w.put(s.tag);
    w.put(s.order);
    w.put(static_cast<uint32_t>(s.len));
    w.put(s.drops);
    w.put(s.packet, s.len);
  }
}

void Client::drop() {
  link_.drop();
  loop_->timer_clear(&timer_);
  delivered_before_ns_ = delivered_ns();
  session_ = false;
}

void Client::restore(app::Restore& r) {
  uint8_t flags = 0;
  link_.restore(r);
  (void)r.get(&stats_);
  r.timer(&timer_, on_timer, this);
  (void)r.get(&connect_timeout_ms_);
  (void)r.get(&closes_);
  uint8_t answered = 0;
  (void)r.get(&unanswered_);
  (void)r.get(&delivered_before_ns_);
  (void)r.get(&answered);
  answered_ = answered != 0;
  (void)r.get(&flags);
  (void)r.get(&last_id_);
  (void)r.get(&order_);
  (void)r.get(&subs_);
  (void)r.get(&sub_ids_);
  (void)r.get(&sub_refused_said_);
  session_ = (flags & 1) != 0;
  link_delivering_ = (flags & 2) != 0;
  refused_reported_ = (flags & 4) != 0;
  ping_out_ = (flags & 8) != 0;
  sent_since_tick_ = (flags & 16) != 0;
  heard_since_tick_ = (flags & 32) != 0;
  for (Slot& s : inflight_) {
    uint8_t f = 0;
    uint32_t len = 0;
    s = Slot{};
    if (!r.get(&f) || (f & 1) == 0) continue;
    if (!r.get(&s.id) || !r.get(&s.tag) || !r.get(&s.order) || !r.get(&len) || !r.get(&s.drops) ||
        len > sizeof s.packet || !r.get(s.packet, len)) {
      (void)r.fail();
      return;
    }
    s.used = true;
    s.sent = (f & 2) != 0;
    s.len = len;
  }
  for (auto& sub : subs_) sub[sizeof sub - 1] = '\0';
}

}  // namespace mqtt
