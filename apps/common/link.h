// Link: the daemons' one connection to their server or collector, as an
// explicit state machine that knows nothing of the payload.
//
//            start()                 connected                 proven
//   kIdle ----------> kConnecting -------------> kUp -------------------> kDelivering
//                       ^    |                    |                           |
//                       |    | refused, timeout   | reset, close, stall,      |
//          back-off end |    v                    v oversized frame           |
//                     kBackoff <------------------+---------------------------+
//   udp: a send error takes kUp/kDelivering to kProbing (the socket stays
//   open); a probe that draws no error brings it back to kUp.
//   A named host: each connect attempt (start, back-off end) first goes
//   through kResolving (the Resolver's question, its own timer) to
//   kConnecting; a failed resolution fails the attempt like a refused
//   connect (kBackoff), but for name servers that fail (down, silent,
//   SERVFAIL) when an address of the name has connected before: that
//   address is tried. /etc/hosts answers at once, without kResolving.
//   stop() from any state: kIdle, through the one teardown.
//
// Each state owns at most one timer, with one meaning: kConnecting the
// connect timeout, kBackoff the end of the back-off, kUp and kDelivering the
// check tick (stall and proof), kProbing the next probe; kResolving has
// none of the link's (the Resolver's own times each try).
//
// Streams (tcp://HOST:PORT): a non-blocking connect; bytes given to send()
// go through a fixed out-ring (-ENOBUFS when they do not fit: the caller
// keeps its data). Received bytes accumulate in a fixed in-buffer and are
// offered to Events::received, which consumes whole frames (lines, MQTT
// packets, HTTP responses) and leaves partial ones; a frame larger than the
// in-buffer is a protocol error (counted, the connection is dropped). A
// stream whose written bytes stay unacknowledged by the peer for
// stall_timeout_ms (SIOCOUTQ, plus TCP_USER_TIMEOUT in the kernel) is a
// stalled peer and is dropped like a reset.
// Datagrams (udp://HOST:PORT): a connected socket, one datagram per send();
// each received datagram is one frame. A send error (ECONNREFUSED from an
// ICMP "port unreachable") means down: the link probes with empty datagrams
// and comes back when a probe draws no error. What an outage can lose unseen
// is what was sent before the first error came back (UDP cannot know more).
//
// Delivering: a connection is "up" when it connects and "delivering" once
// it has proven the peer takes data: it has stayed up for stable_ms, written
// at least one byte, and (streams) the peer has acknowledged every byte
// written. Only then does the back-off start again from its initial value,
// so a server that accepts and closes at once meets a growing back-off, and
// the apps end an outage only then (Events::delivering).
//
// Back-off: full jitter, a uniformly random delay in
// [0, min(backoff_max_ms, backoff_initial_ms * 2^attempt)].
#pragma once

#include <cstddef>
#include <cstdint>

#include "apps/common/dns.h"
#include "apps/common/resolver.h"
#include "hal/ring.h"
#include "hal/socket.h"
#include "loop/loop.h"

namespace flight {
class SnapWriter;
}  // namespace flight

namespace app {
namespace tls {
class Client;
}  // namespace tls
}  // namespace app

namespace app {

class Restore;

// tcp: lines; udp: datagrams; mqtt and http: framed protocols over TCP.
enum class Scheme : uint8_t { kTcp, kUdp, kMqtt, kHttp };

struct Url {
  Scheme scheme = Scheme::kTcp;
  hal::SockAddr addr;                 // an IP literal's address; unset when host is a name
  char host[dns::kMaxName + 2] = {};  // a host name, resolved at each connect; else empty
  int port = 0;
  char path[128] = {};  // http: the path and query ("/write?db=x"); else empty
  bool tls = false;     // mqtts:// or https://: the stream is TLS (apps/common/tls.h)
};

// "tcp://192.0.2.1:9000", "udp://[::1]:9000", "mqtt://broker.lan:1883",
// "http://192.0.2.1:8086/write?db=x", "udp://[fe80::1%eth0]:9000": an IP
// literal (hal/address.h) or a host name (dns::valid_name) and a port from
// 1 to 65535 (mqtt:// without one is 1883, mqtts:// 8883, http:// 80,
// https:// 443); http and https need a path of printable ASCII without
// spaces. mqtts:// and https:// are mqtt and http over TLS (Url::tls). 0,
// -EINVAL, -EPERM for a user or password in it (user:password@: not read;
// do not print the text), or hal::parse_address's -EADDRNOTAVAIL (a
// link-local address without its interface) or -ENODEV (no such
// interface).
[[nodiscard]] int parse_url(const char* text, Url* out);
// The line for parse_url's -EPERM, -EADDRNOTAVAIL and -ENODEV, naming the
// option (and its text, but for -EPERM): true; other errors leave out
// alone: false.
bool describe_url_error(const char* option, const char* text, int err, char* out, size_t cap);

// The server answered in TLS (an https or mqtts port, or a TLS proxy) to
// a plain URL: the first bytes of a connection were a TLS record (Link),
// or an HTTP server said it wants HTTPS (http::Client).
constexpr int kErrTlsServer = -4010;
// The server answered in HTTP ("HTTP/1.x ..." as a tcp:// or mqtt://
// connection's first bytes): a web or InfluxDB port given for another
// protocol's.
constexpr int kErrHttpServer = -4011;
bool looks_like_http(const char* data, size_t len);
// Whether bytes begin with a TLS record header (alert or handshake).
bool looks_like_tls(const char* data, size_t len);

// What a link's error says: strerror's text, or name resolution's
// (dns::kErr*: "name not found", ...), kErrTlsServer's, or TLS's
// (tls::kErr*, with the last failure's detail).
const char* error_text(int err);

struct LinkConfig {
  int64_t backoff_initial_ms = 500;
  int64_t backoff_max_ms = 30000;
  int64_t connect_timeout_ms = 5000;
  int64_t stable_ms = 1000;      // up this long (and acknowledged) = delivering
  int64_t stall_timeout_ms = 0;  // unacknowledged this long = stalled peer; 0: off
  uint64_t jitter_seed = 1;      // the daemons give random_seed()'s
  // A TLS URL's client (init() done; the caller keeps it). The name its
  // certificate must have: tls_server_name if set, else the URL's host
  // name, else the IP literal's text.
  tls::Client* tls = nullptr;
  // The options (add_link_options; prepare_tls reads the files).
  char tls_ca_file[256] = "/etc/ssl/certs/ca-certificates.crt";
  char tls_server_name[dns::kMaxName + 1] = {};
  char tls_cert_file[256] = {};  // both or neither: the client's own certificate
  char tls_key_file[256] = {};
};

// A TLS URL (mqtts://, https://): sets up client from cfg's CA file and
// points cfg at it. 0 (also for a plain URL: nothing to do), or -EINVAL
// with err set. `said` (if given) gets a line for the log: the authorities
// read and the arena's use.
[[nodiscard]] int prepare_tls(const Url& url, LinkConfig* cfg, tls::Client* client, char* err,
                              size_t err_len, char* said = nullptr, size_t said_len = 0);

// A seed for the back-off's jitter and the DNS question ids: 8 bytes from
// the kernel's generator (getrandom), or, while it has none to give (its
// pool not ready early at boot, -ENOSYS on an old kernel), the clocks'
// nanoseconds, mixed: boards of a fleet that boot together still draw
// different delays, and an off-path host cannot guess the ids from the
// uptime.
uint64_t random_seed(const evl::Loop& loop);

// The back-off's cap before `attempt` (0 first): backoff_initial_ms doubled
// per attempt, at most backoff_max_ms. The link draws its delay in [0, cap].
int64_t backoff_cap_ms(const LinkConfig& cfg, uint32_t attempt);

struct LinkEvents {
  void (*up)(void* ctx) = nullptr;          // connected (kUp)
  void (*delivering)(void* ctx) = nullptr;  // proven (kDelivering), once per connection
  // Left kUp or kDelivering, or a connect failed (first of a row only).
  // err: -errno, or 0 for a clean close by the peer.
  void (*down)(void* ctx, int err) = nullptr;
  // Every end of a connection that was up (kUp, kDelivering), before down:
  // what a protocol above keeps per connection (a session, a batch being
  // written) ends here, however many times an outage reconnects.
  void (*closed)(void* ctx, int err) = nullptr;
  // Frames received: returns how many bytes of data it consumed (whole
  // frames); the rest stays for the next call. A datagram is always taken
  // whole, whatever the return value.
  size_t (*received)(void* ctx, const char* data, size_t len) = nullptr;
  void (*drained)(void* ctx) = nullptr;  // the out-ring emptied after being non-empty
  void* ctx = nullptr;
};

struct LinkStats {
  uint64_t connects = 0;   // successful connects (tcp) / up transitions (udp)
  uint64_t failures = 0;   // failed connects and dropped connections
  uint64_t stalls = 0;     // connections dropped as stalled
  uint64_t http = 0;       // connections whose first bytes were an HTTP answer (kErrHttpServer)
  uint64_t oversized = 0;  // frames larger than the in-buffer
  uint64_t bytes_out = 0;
  uint64_t bytes_in = 0;
  uint64_t datagrams_out = 0;
  uint64_t tls = 0;           // connections whose server answered in TLS to a plain URL
  uint64_t tls_failures = 0;  // TLS URL: handshakes that failed
  // Attempts that used the last address that connected because the name
  // servers failed (a named host only).
  uint64_t last_good_used = 0;
};

// Splits data into '\n'-terminated lines for fn (without the '\n'); returns
// the bytes consumed (up to and including the last '\n').
size_t take_lines(const char* data, size_t len, void (*fn)(void* ctx, const char* line, size_t n),
                  void* ctx);

class OptionTable;
// The link's rows of a daemon's option table: back-off, connect timeout,
// stall timeout (0 there: the daemon's own default), and TLS's CA file and
// server name.
void add_link_options(OptionTable* t, LinkConfig* cfg);

class Link {
 public:
  enum class State : uint8_t {
    kIdle,
    kBackoff,
    kConnecting,
    kUp,
    kDelivering,
    kProbing,
    kResolving
  };
  static constexpr size_t kOutBytes = 16384;
  static constexpr size_t kInBytes = 2048;

  Link() = default;
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;
  ~Link() { stop(); }

  // -EINVAL for a bad config or when already started.
  [[nodiscard]] int start(evl::Loop& loop, const Url& url, const LinkConfig& cfg,
                          const LinkEvents& ev);
  void stop();
  State state() const { return state_; }
  bool up() const { return state_ == State::kUp || state_ == State::kDelivering; }
  bool stream() const { return carrier_ == &kStream; }
  // A TLS URL's connection is in its handshake (kConnecting).
  bool handshaking() const { return handshaking_; }
  // Stream: appends to the out-ring (-ENOBUFS if it does not fit). Datagram:
  // sends one datagram now (its error if it fails). -ENOTCONN unless up().
  [[nodiscard]] int send(const void* data, size_t len);
  // A protocol above found the peer's bytes unacceptable (a malformed frame,
  // a refusal, a missed keepalive): the connection goes down with err and
  // is retried after the back-off, as any failure. No-op unless connected
  // or connecting.
  void drop(int err);
  // The last check that found a proven connection (kDelivering) taking
  // bytes: the peer acknowledged more, or holds nothing unacknowledged
  // (monotonic ns; 0: never). A peer that stops taking bytes (a black hole,
  // a hung server) freezes it long before a stall ends the connection.
  int64_t delivered_ns() const { return delivered_ns_; }
  // The socket (-1 when none).
  int fd() const { return fd_; }
  // The address of the current or last connect attempt (the URL's, or
  // what its host name resolved to; unset before the first).
  const hal::SockAddr& address() const { return addr_; }
  const Url& url() const { return url_; }
  // The resolver of a named host (its socket while kResolving).
  const Resolver& resolver() const { return resolver_; }
  // For log lines: " (192.0.2.5:1883)", what a named host resolved to
  // (" (192.0.2.5:1883, kept: the name servers failed)" for the last
  // address kept), or "" for an IP literal. Returns buf.
  const char* resolved_as(char* buf, size_t len) const;
  // Bytes given to send() that the peer has not acknowledged yet: the
  // out-ring plus what the kernel holds unacknowledged (SIOCOUTQ, asked
  // now; a kernel that cannot tell holds nothing). 0 for datagrams;
  // -ENOTCONN unless up().
  [[nodiscard]] long unacknowledged() const;
  size_t out_space() const { return out_.space(); }
  size_t out_pending() const { return out_.size(); }
  const LinkStats& stats() const { return stats_; }
  // The delay before the next connect attempt (for tests).
  int64_t next_backoff_ms();
  // A number in [0, n] from the back-off's generator (the protocol above
  // spreads its own retries with it; it is in the link's snapshots).
  uint64_t random_to(uint64_t n);
  // Snapshots (apps/common/snapshot.h): the state, its fd, watcher and
  // timer, the buffered bytes, the back-off and the counters. drop() ends
  // the current connection without a callback.
  void save(flight::SnapWriter& w) const;
  // False while a TLS connection is open (mbedTLS's state is not in
  // snapshots): an app's save() asks first, before writing the rest of its
  // state for nothing at every turn of the loop.
  bool snapshot_possible() const { return !(url_.tls && fd_ >= 0); }
  void drop();
  void restore(Restore& r);

 private:
  struct Carrier;
  static const Carrier kStream;
  static const Carrier kDatagram;
  int stream_progress(int64_t now);
  int foreign_answer(const char* data, size_t len);
  static void on_io(evl::Loop& loop, evl::IoHandle h, uint32_t events, void* ctx);
  static void on_timer(evl::Loop& loop, evl::TimerHandle h, uint32_t missed, void* ctx);
  void enter(State s, int64_t timer_ms);
  void attempt();
  static void resolved(void* ctx, int err, const hal::SockAddr& addr);
  void open_socket();
  void connected();
  void fail(int err);
  void teardown();
  void flush();
  long drain_tls();
  void handshake();
  void account_tls();
  void read_stream();
  long recv_some(char* buf, size_t len);
  void read_datagrams();
  int send_datagram(const void* data, size_t len);
  void lost_datagrams(int err);
  void probe();
  void check();
  void watch(uint32_t events);

  evl::Loop* loop_ = nullptr;
  Url url_;
  hal::SockAddr addr_;  // where attempts connect
  hal::SockAddr good_;  // a named host: the address of the last connection that came up
  bool have_good_ = false;
  bool kept_ = false;  // addr_ is good_, kept because the name servers failed
  Resolver resolver_;
  LinkConfig cfg_;
  LinkEvents ev_;
  LinkStats stats_;
  const Carrier* carrier_ = &kStream;  // TCP or UDP: the one place they differ
  State state_ = State::kIdle;
  evl::IoHandle io_;
  evl::TimerHandle timer_;  // the current state's one timer (see above)
  int fd_ = -1;
  uint32_t attempt_ = 0;
  uint32_t watched_ = 0;
  uint64_t rng_ = 1;
  bool probe_sent_ = false;
  bool handshaking_ = false;
  uint64_t tls_sent_ = 0;  // the TLS client's socket bytes already counted in bytes_out
  char tls_name_[dns::kMaxName + 2] = {};
  int64_t up_since_ns_ = 0;
  uint64_t written_at_up_ = 0;  // stats_.bytes_out when the connection came up
  uint64_t read_at_up_ = 0;     // stats_.bytes_in then
  uint64_t acked_ = 0;          // bytes the peer acknowledged, at the last check
  int64_t progress_ns_ = 0;     // the last check that saw the peer take bytes
  int64_t delivered_ns_ = 0;    // the same, once the connection was proven
  hal::Ring<kOutBytes> out_;
  char in_[kInBytes] = {};
  size_t in_len_ = 0;
};

}  // namespace app
