// A small HTTP/1.1 client on the loop, over app::Link, in fixed buffers:
// one POST at a time on a keep-alive connection, Content-Length bodies, an
// optional Authorization header, a response timeout.
//
// post() writes the request into the link (-ENOTCONN while the connection
// is not up, -EBUSY while a request is open, -EMSGSIZE when it does not fit
// the link's out-ring). Exactly one of response() or failed() follows for
// each accepted post: response() with the status and body, failed() when
// the connection ends or the response is late, malformed (counted; the
// connection is dropped) or oversized. A response that says "Connection:
// close" ends the connection after it; the link reconnects.
//
// delivering() says the server takes what is posted: at the first 2xx
// answer after start, after an outage, a failed request, or an answer that
// refuses the server's service (any status but 2xx, 400 and 413: those two
// are about one request's body, not the server). A connection that carries
// bytes is not enough: a server that answers 404 or 500 to every request
// stores nothing. (The link's own "delivering", the peer's TCP
// acknowledgements, is not passed on.)
#pragma once

#include <cstddef>
#include <cstdint>

#include "apps/common/link.h"
#include "apps/http/response.h"
#include "loop/loop.h"

namespace http {

struct ClientConfig {
  char host[264] = {};           // the Host header: the server's name or address, and port
  char authorization[320] = {};  // the Authorization header's value, or empty
  int64_t response_timeout_ms = 10000;
};

struct ClientEvents {
  void (*up)(void* ctx) = nullptr;
  void (*delivering)(void* ctx) = nullptr;     // see above
  void (*down)(void* ctx, int err) = nullptr;  // once per outage
  void (*response)(void* ctx, const Response& r) = nullptr;
  void (*failed)(void* ctx, int err) = nullptr;  // the open request has no answer
  void* ctx = nullptr;
};

struct ClientStats {
  uint64_t requests = 0;
  uint64_t responses = 0;
  uint64_t malformed = 0;  // responses refused by the parser
  uint64_t oversized = 0;
  uint64_t timeouts = 0;
  uint64_t unexpected = 0;  // bytes from the server with no request open
  uint64_t tls = 0;         // answers saying the server wants HTTPS
};

class Client {
 public:
  Client() = default;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client() { stop(); }

  // url must be http://; its path (with the query) is the request target.
  [[nodiscard]] int start(evl::Loop& loop, const app::Url& url, const app::LinkConfig& link,
                          const ClientConfig& cfg, const ClientEvents& ev);
  void stop();
  bool up() const { return link_.up(); }
  bool busy() const { return open_; }
  // The last answer stored a request and nothing failed since (delivering()
  // was said).
  bool delivering() const { return delivering_; }
  [[nodiscard]] int post(const char* content_type, const void* body, size_t len);
  const ClientStats& stats() const { return stats_; }
  const app::Link& link() const { return link_; }
  app::Link& link() { return link_; }

  // Snapshots (apps/common/snapshot.h): the connection and its state.
  void save(flight::SnapWriter& w) const;
  void drop();
  void restore(app::Restore& r);

 private:
  static void on_up(void* ctx);
  static void on_down(void* ctx, int err);
  static void on_closed(void* ctx, int err);
  static size_t on_received(void* ctx, const char* data, size_t len);
  static void on_timeout(evl::Loop& loop, evl::TimerHandle h, uint32_t missed, void* ctx);
  void finish_failed(int err);

  evl::Loop* loop_ = nullptr;
  app::Link link_;
  app::Url url_;
  ClientConfig cfg_;
  ClientEvents ev_;
  ClientStats stats_;
  evl::TimerHandle timer_;  // the open request's response timeout
  bool open_ = false;
  bool delivering_ = false;
};

// "user:password" in base64 for Basic authorization, into out (NUL-ended);
// false if it does not fit.
[[nodiscard]] bool basic_credentials(const char* user, const char* password, char* out, size_t cap);

}  // namespace http
