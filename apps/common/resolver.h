// Resolver: a host name to an address without blocking the loop, for the
// links of daemons whose server is named (mqtt://broker.lan:1883).
// getaddrinfo() blocks for as long as DNS takes and allocates; this asks
// the name servers itself, through the seam, with a fixed buffer.
//
// /etc/hosts first (answered at once; the name as given), then the name
// servers of /etc/resolv.conf, for each name of the search list in turn
// (dns::candidate); both files are read again at each start, so an edited
// file or a changed DHCP lease counts from the next connect. For each name
// an A question, and an AAAA question when the name has no A record, one
// server at a time, each try waiting `options timeout:N` seconds (default
// 5), `attempts:N` rounds (default 2). A reply whose id or question is not ours is ignored
// (spoofing, a late answer to an earlier try). Each start opens a new UDP
// socket per server tried, so the kernel picks a fresh random source port.
//
// It owns, while active, one socket with its io watcher and one timer.
#pragma once

#include <cstddef>
#include <cstdint>

#include "apps/common/dns.h"
#include "hal/sys.h"
#include "loop/loop.h"

namespace flight {
class SnapWriter;
}  // namespace flight

namespace app {

class Restore;

class Resolver {
 public:
  // err 0 and the address (with the port given to start), or a negative
  // error: dns::kErr* or -errno (a socket that could not be opened).
  using Done = void (*)(void* ctx, int err, const hal::SockAddr& addr);
  // Both files are read a piece at a time, whatever their size; a line
  // longer than this is skipped.
  static constexpr size_t kLineBytes = 1024;

  Resolver() = default;
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;
  ~Resolver() { cancel(); }

  // 1 with *out set when /etc/hosts has the name; 0 when a question went
  // out (done comes later, never from inside start); a negative error when
  // none could be sent. -EINVAL for a name dns::valid_name refuses.
  [[nodiscard]] int start(evl::Loop& loop, const char* name, int port, uint64_t seed, Done done,
                          void* ctx, hal::SockAddr* out);
  void cancel();
  bool active() const { return fd_ >= 0; }
  int fd() const { return fd_; }  // the socket to the server asked now, or -1
  // Questions sent, replies ignored (not ours) and tries that timed out.
  struct Stats {
    uint64_t questions = 0;
    uint64_t ignored = 0;
    uint64_t timeouts = 0;
  };
  const Stats& stats() const { return stats_; }

  // Snapshots (apps/common/snapshot.h): an active resolver's question,
  // socket, watcher and timer; restore() takes the done callback again.
  void save(flight::SnapWriter& w) const;
  void restore(Restore& r, evl::Loop& loop, Done done, void* ctx);

 private:
  int ask();
  int send_question();
  void next(int err);
  bool next_name();
  int server_miss() const;
  void finish(int err, const hal::SockAddr& addr);
  void read_replies();
  static void on_io(evl::Loop& loop, evl::IoHandle h, uint32_t events, void* ctx);
  static void on_timer(evl::Loop& loop, evl::TimerHandle h, uint32_t missed, void* ctx);

  evl::Loop* loop_ = nullptr;
  Done done_ = nullptr;
  void* ctx_ = nullptr;
  char name_[dns::kMaxName + 2] = {};
  int port_ = 0;
  dns::ResolvConf conf_;
  int try_ = 0;   // servers tried so far, over all rounds
  int err_ = 0;   // why the last try failed
  int cand_ = 0;  // the name asked: dns::candidate()'s index
  // What the servers said of the names asked so far: 0 (nothing yet: they
  // failed), kErrNotFound, or kErrNoAddress (one exists without an
  // address, which says more).
  int miss_ = 0;
  uint16_t type_ = dns::kTypeA;
  uint64_t rng_ = 1;
  int fd_ = -1;
  evl::IoHandle io_;
  evl::TimerHandle timer_;
  uint8_t query_[dns::kMaxQuery] = {};
  size_t qlen_ = 0;
  Stats stats_;
  uint32_t rounds_ = 0;  // resolutions that gave addresses: which one is used
};

}  // namespace app
