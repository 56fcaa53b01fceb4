// Link: the daemons' connection to their server or collector.
//
// tcp://HOST:PORT: a non-blocking connect with a timeout; on any failure
// (refused, reset, timeout, write error, peer close) the socket is closed and
// a new connect starts after an exponential back-off with full jitter:
// a uniformly random delay in [0, min(max, initial * 2^attempt)]. Bytes given
// to send() go through a fixed out-ring; a full ring returns -ENOBUFS and the
// caller keeps its data (nothing is lost silently). Lines the peer sends are
// handed to Events::line.
// udp://HOST:PORT: a connected datagram socket; each send() is one datagram.
// A send error (ECONNREFUSED from an ICMP "port unreachable", ...) takes the
// link down; it then probes with empty datagrams (back-off as above) and comes
// up when a probe draws no error. While down, send() refuses data, so the
// caller keeps it; what an outage can lose unseen is what was sent before
// the first error came back (UDP cannot know more).
#pragma once

#include <cstddef>
#include <cstdint>

#include "hal/ring.h"
#include "hal/socket.h"
#include "loop/loop.h"

namespace app {

struct Url {
  bool tcp = true;
  hal::SockAddr addr;
};

// "tcp://192.0.2.1:9000", "udp://[::1]:9000": 0, or -EINVAL.
[[nodiscard]] int parse_url(const char* text, Url* out);

struct LinkConfig {
  int64_t backoff_initial_ms = 500;
  int64_t backoff_max_ms = 30000;
  int64_t connect_timeout_ms = 5000;
  uint64_t jitter_seed = 1;
};

struct LinkEvents {
  void (*up)(void* ctx) = nullptr;
  void (*down)(void* ctx, int err) = nullptr;  // err: -errno, or 0 for a clean close
  void (*line)(void* ctx, const char* line, size_t len) = nullptr;
  void (*drained)(void* ctx) = nullptr;  // the out-ring emptied after being non-empty
  void* ctx = nullptr;
};

struct LinkStats {
  uint64_t connects = 0;     // successful connects (tcp) / up transitions (udp)
  uint64_t failures = 0;     // failed connects and dropped connections
  uint64_t bytes_out = 0;
  uint64_t bytes_in = 0;
  uint64_t datagrams_out = 0;
};

class Link {
 public:
  Link() = default;
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;
  ~Link() { stop(); }

  [[nodiscard]] int start(evl::Loop& loop, const Url& url, const LinkConfig& cfg,
                          const LinkEvents& ev);
  void stop();
  bool up() const { return up_; }
  bool tcp() const { return url_.tcp; }
  // TCP: appends to the out-ring (-ENOBUFS if it does not fit, -ENOTCONN if
  // down). UDP: sends one datagram now (the send error if it fails).
  [[nodiscard]] int send(const void* data, size_t len);
  size_t out_space() const { return out_.space(); }
  size_t out_pending() const { return out_.size(); }
  const LinkStats& stats() const { return stats_; }
  // The delay before the next connect attempt (for tests).
  int64_t next_backoff_ms();

 private:
  static void on_io(evl::Loop& loop, evl::IoHandle h, uint32_t events, void* ctx);
  static void on_timer(evl::Loop& loop, evl::TimerHandle h, uint32_t missed, void* ctx);
  void connect_now();
  void fail(int err);
  void set_up();
  void flush();
  void read_lines();
  void watch(uint32_t events);
  void udp_down(int err);
  void udp_probe();

  evl::Loop* loop_ = nullptr;
  Url url_;
  LinkConfig cfg_;
  LinkEvents ev_;
  LinkStats stats_;
  evl::IoHandle io_;
  evl::TimerHandle timer_;  // back-off, or connect timeout
  int fd_ = -1;
  bool up_ = false;
  bool connecting_ = false;
  bool stopped_ = true;
  bool probe_sent_ = false;
  uint32_t attempt_ = 0;
  uint32_t watched_ = 0;
  uint64_t rng_ = 1;
  hal::Ring<16384> out_;
  hal::Ring<2048> in_;
};

}  // namespace app
