#include "apps/http/client.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "apps/common/snapshot.h"

namespace http {
namespace {

// Whether text appears in data (not NUL-terminated).
bool mentions(const char* data, size_t len, const char* text) {
  const size_t n = std::strlen(text);
  for (size_t i = 0; i + n <= len; ++i) {
    if (std::memcmp(data + i, text, n) == 0) return true;
  }
  return false;
}

}  // namespace

bool basic_credentials(const char* user, const char* password, char* out, size_t cap) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char plain[256];
  const int n = std::snprintf(plain, sizeof plain, "%s:%s", user, password);
  if (n < 0 || static_cast<size_t>(n) >= sizeof plain) return false;
  const size_t len = static_cast<size_t>(n);
  if ((len + 2) / 3 * 4 + 1 > cap) return false;
  size_t o = 0;
  for (size_t i = 0; i < len; i += 3) {
    const uint32_t b0 = static_cast<unsigned char>(plain[i]);
    const uint32_t b1 = i + 1 < len ? static_cast<unsigned char>(plain[i + 1]) : 0;
    const uint32_t b2 = i + 2 < len ? static_cast<unsigned char>(plain[i + 2]) : 0;
    const uint32_t v = b0 << 16 | b1 << 8 | b2;
    out[o++] = kAlphabet[(v >> 18) & 63];
    out[o++] = kAlphabet[(v >> 12) & 63];
    out[o++] = i + 1 < len ? kAlphabet[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < len ? kAlphabet[v & 63] : '=';
  }
  out[o] = '\0';
  return true;
}

int Client::start(evl::Loop& loop, const app::Url& url, const app::LinkConfig& link,
                  const ClientConfig& cfg, const ClientEvents& ev) {
  if (url.scheme != app::Scheme::kHttp || cfg.response_timeout_ms < 1) return -EINVAL;
  loop_ = &loop;
  url_ = url;
  cfg_ = cfg;
  ev_ = ev;
  app::LinkEvents le;
  le.up = on_up;
  le.down = on_down;
  le.closed = on_closed;
  le.received = on_received;
  le.ctx = this;
  return link_.start(loop, url, link, le);
}

void Client::stop() {
  if (loop_ == nullptr) return;
  loop_->timer_clear(&timer_);
  open_ = false;
  delivering_ = false;
  link_.stop();
  loop_ = nullptr;
}

int Client::post(const char* content_type, const void* body, size_t len) {
  if (!link_.up()) return -ENOTCONN;
  if (open_) return -EBUSY;
  char head[512];
  const int n = std::snprintf(head, sizeof head,
                              "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n"
                              "Content-Length: %zu\r\n%s%s%s\r\n",
                              url_.path, cfg_.host, content_type, len,
                              cfg_.authorization[0] != '\0' ? "Authorization: " : "",
                              cfg_.authorization, cfg_.authorization[0] != '\0' ? "\r\n" : "");
  if (n < 0 || static_cast<size_t>(n) >= sizeof head) return -EMSGSIZE;
  if (static_cast<size_t>(n) + len > link_.out_space()) return -EMSGSIZE;
  if (link_.send(head, static_cast<size_t>(n)) < 0 || link_.send(body, len) < 0) {
    return -ENOTCONN;  // a write failure: the link is down already
  }
  open_ = true;
  ++stats_.requests;
  (void)loop_->timer_after(evl::ms_to_ns(cfg_.response_timeout_ms), on_timeout, this, &timer_);
  return 0;
}

void Client::finish_failed(int err) {
  if (!open_) return;
  open_ = false;
  delivering_ = false;
  loop_->timer_clear(&timer_);
  if (ev_.failed != nullptr) ev_.failed(ev_.ctx, err);
}

void Client::on_up(void* ctx) {
  auto* c = static_cast<Client*>(ctx);
  if (c->ev_.up != nullptr) c->ev_.up(c->ev_.ctx);
}

void Client::on_down(void* ctx, int err) {
  auto* c = static_cast<Client*>(ctx);
  c->delivering_ = false;
  if (c->ev_.down != nullptr) c->ev_.down(c->ev_.ctx, err);
}

void Client::on_closed(void* ctx, int err) {
  static_cast<Client*>(ctx)->finish_failed(err != 0 ? err : -ECONNRESET);
}

void Client::on_timeout(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  auto* c = static_cast<Client*>(ctx);
  c->timer_ = evl::TimerHandle{};
  ++c->stats_.timeouts;
  c->link_.drop(-ETIMEDOUT);  // closed() reports the request failed
}

size_t Client::on_received(void* ctx, const char* data, size_t len) {
  auto* c = static_cast<Client*>(ctx);
  if (!c->open_) {
    ++c->stats_.unexpected;  // nothing was asked: a broken or hostile server
    c->link_.drop(-EPROTO);
    return len;
  }
  // An HTTPS server's answer to plain HTTP: Go's net/http (influxd) says
  // "Client sent an HTTP request to an HTTPS server.", nginx "The plain
  // HTTP request was sent to HTTPS port", both with a 400 that is about
  // the port, not the batch.
  if (mentions(data, len, "request to an HTTPS server") ||
      mentions(data, len, "plain HTTP request was sent to HTTPS port")) {
    ++c->stats_.tls;
    c->link_.drop(app::kErrTlsServer);
    return len;
  }
  Response r;
  const long n = parse_response(data, len, app::Link::kInBytes, &r);
  if (n == 0) return 0;
  if (n < 0) {
    if (n == -EMSGSIZE) {
      ++c->stats_.oversized;
    } else {
      ++c->stats_.malformed;
    }
    c->link_.drop(static_cast<int>(n));
    return len;
  }
  c->open_ = false;
  c->loop_->timer_clear(&c->timer_);
  ++c->stats_.responses;
  // Bytes after the answer came before the next request went (there is
  // one request at a time): nothing asked for them. Kept, they would be
  // read as the next request's answer, and every answer after it as the
  // one before's.
  const bool stray = static_cast<size_t>(n) < len;
  const bool keep = r.keep_alive;
  const bool stored = r.status >= 200 && r.status < 300;
  const bool said = stored && !c->delivering_;
  if (stored) {
    c->delivering_ = true;
  } else if (r.status != 400 && r.status != 413) {
    c->delivering_ = false;
  }
  if (c->ev_.response != nullptr) c->ev_.response(c->ev_.ctx, r);
  // (After the answer's own event: what it stored is accounted for.)
  if (said && c->loop_ != nullptr && c->ev_.delivering != nullptr) c->ev_.delivering(c->ev_.ctx);
  if (stray && c->link_.up()) {
    ++c->stats_.unexpected;
    c->link_.drop(-EPROTO);  // a request sent meanwhile fails: sent again
    return len;
  }
  if (!keep && c->link_.up()) c->link_.drop(0);  // the server closes: so do we, now
  return static_cast<size_t>(n);
}

void Client::save(flight::SnapWriter& w) const {
  link_.save(w);
  w.put(stats_);
  w.put(static_cast<uint8_t>(open_ ? 1 : 0));
  w.put(static_cast<uint8_t>(delivering_ ? 1 : 0));
  app::save_timer(w, *loop_, timer_);
}

void Client::drop() {
  link_.drop();
  loop_->timer_clear(&timer_);
  open_ = false;
  delivering_ = false;
}

void Client::restore(app::Restore& r) {
  uint8_t open = 0, delivering = 0;
  link_.restore(r);
  (void)r.get(&stats_);
  (void)r.get(&open);
  (void)r.get(&delivering);
  open_ = open != 0;
  delivering_ = delivering != 0;
  r.timer(&timer_, on_timeout, this);
}

}  // namespace http
