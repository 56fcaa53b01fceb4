#include "apps/common/resolver.h"

#include <cerrno>
#include <cstring>

#include "apps/common/link.h"
#include "apps/common/snapshot.h"
#include "hal/socket.h"

namespace app {
namespace {

constexpr const char* kHosts = "/etc/hosts";
constexpr const char* kResolvConf = "/etc/resolv.conf";

// Calls fn(line) for each line of the regular file at path (without
// its line end), until fn returns true; lines longer than
// Resolver::kLineBytes are skipped. A file that does not open (none, no
// permission) or is not a regular file (a FIFO would block) has no lines.
// True when fn returned true.
template <class Fn>
bool for_each_line(const char* path, Fn fn) {
  const int fd = hal::open(path, hal::kRdOnly | hal::kCloexec | hal::kNonblock, 0);
  if (fd < 0) return false;
  hal::FileStat st{};
  bool found = false;
  if (hal::fstat(fd, &st) == 0 && (st.mode & hal::kSIfmt) == hal::kSIfreg) {
    char buf[Resolver::kLineBytes + 1];
    size_t have = 0;
    bool skipping = false;  // inside a line too long to keep
    for (;;) {
      const long got = hal::read(fd, buf + have, Resolver::kLineBytes - have);
      if (got == -EINTR) continue;
      const bool end = got <= 0;
      if (!end) have += static_cast<size_t>(got);
      size_t used = 0;
      for (;;) {
        char* nl = static_cast<char*>(std::memchr(buf + used, '\n', have - used));
        if (nl == nullptr && !(end && used < have)) break;
        char* stop = nl != nullptr ? nl : buf + have;
        *stop = '\0';
        if (!skipping &&
            std::memchr(buf + used, '\0', static_cast<size_t>(stop - (buf + used))) == nullptr &&
            fn(buf + used)) {
          found = true;
          break;
        }
        skipping = false;
        used = static_cast<size_t>(stop - buf) + 1;
        if (nl == nullptr) used = have;
      }
      if (found || end) break;
      std::memmove(buf, buf + used, have - used);
      have -= used;
      if (have == Resolver::kLineBytes) {  // no line end in a whole buffer
        skipping = true;
        have = 0;
      }
    }
  }
  (void)hal::close(fd);
  return found;
}

uint64_t xorshift(uint64_t* s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

}  // namespace

int Resolver::start(evl::Loop& loop, const char* name, int port, uint64_t seed, Done done,
                    void* ctx, hal::SockAddr* out) {
  cancel();
  if (!dns::valid_name(name)) return -EINVAL;
  if (for_each_line(kHosts,
                    [&](const char* line) { return dns::hosts_lookup(line, name, port, out); })) {
    return 1;
  }
  conf_ = dns::ResolvConf{};  // none (or unreadable): the local server, as glibc
  (void)for_each_line(kResolvConf, [&](const char* line) {
    dns::resolv_conf_line(line, &conf_);
    return false;
  });
  dns::finish_resolv_conf(&conf_);
  loop_ = &loop;
  done_ = done;
  ctx_ = ctx;
  std::strncpy(name_, name, sizeof name_ - 1);
  port_ = port;
  rng_ = (seed ^ static_cast<uint64_t>(loop.now(evl::Clock::kMonotonic))) | 1;
  try_ = 0;
  err_ = dns::kErrTimeout;
  type_ = dns::kTypeA;
  cand_ = 0;
  miss_ = 0;
  return ask();
}

void Resolver::cancel() {
  if (loop_ == nullptr) return;
  if (io_) (void)loop_->io_close(io_);
  io_ = evl::IoHandle{};
  fd_ = -1;
  loop_->timer_clear(&timer_);
}

// A socket to the server of this try and the question to it; a server
// that cannot be reached at once (no route, no socket) is passed over.
// The last error when no try is left.
int Resolver::ask() {
  const int tries = conf_.count * conf_.attempts;
  for (; try_ < tries; ++try_) {
    int fd = -1;
    int r = hal::dgram_connect(conf_.servers[try_ % conf_.count], &fd);
    if (r == 0) {
      r = loop_->io_start(fd, evl::kIn, on_io, this, &io_);
      if (r < 0) (void)hal::close(fd);
    }
    if (r == 0) {
      fd_ = fd;
      r = send_question();
      if (r == 0) return 0;
      cancel();
    }
    err_ = r;
  }
  return err_;
}

// The question of type_ with a new id, and the try's timer.
int Resolver::send_question() {
  const auto id = static_cast<uint16_t>(xorshift(&rng_) >> 24);
  char name[dns::kMaxName + 2];
  if (!dns::candidate(conf_, name_, cand_, name)) return -EINVAL;  // (not reached)
  const int n = dns::build_query(name, id, type_, query_, sizeof query_);
  if (n < 0) return n;  // (start checked the name: not reached)
  qlen_ = static_cast<size_t>(n);
  const long s = hal::dgram_send(fd_, query_, qlen_, nullptr);
  if (s < 0) return static_cast<int>(s);
  ++stats_.questions;
  loop_->timer_clear(&timer_);
  return loop_->timer_after(evl::mul_sat(conf_.timeout_s, 1000000000), on_timer, this, &timer_);
}

// This try failed with err: the next server; when every server failed
// this name (SERVFAIL, REFUSED, garbage), the next name of the search list
// (as glibc goes on after a SERVFAIL); else the end.
void Resolver::next(int err) {
  cancel();
  err_ = err;
  ++try_;
  int r = ask();
  while (r == dns::kErrServer && next_name()) {
    try_ = 0;
    r = ask();
  }
  if (r < 0) finish(r == dns::kErrServer ? server_miss() : r, hal::SockAddr{});
}

// Moves to the next name of the search list: false when there is none.
bool Resolver::next_name() {
  char name[dns::kMaxName + 2];
  if (!dns::candidate(conf_, name_, cand_ + 1, name)) return false;
  ++cand_;
  type_ = dns::kTypeA;
  return true;
}

// The error when the last name's servers failed: what the servers said of
// a name asked before says more, if they said anything.
int Resolver::server_miss() const { return miss_ != 0 ? miss_ : dns::kErrServer; }

void Resolver::finish(int err, const hal::SockAddr& addr) {
  cancel();
  if (done_ != nullptr) done_(ctx_, err, addr);
}

void Resolver::read_replies() {
  uint8_t msg[dns::kMaxAnswer];
  for (int i = 0; i < 8 && fd_ >= 0; ++i) {
    bool truncated = false;
    const long r = hal::dgram_recv(fd_, msg, sizeof msg, nullptr, &truncated);
    if (r == -EAGAIN) return;
    if (r == -EINTR) continue;
    if (r < 0) {
      next(r == -ECONNREFUSED ? dns::kErrUnreachable : static_cast<int>(r));
      return;
    }
    dns::Answer a;
    const int n = dns::parse_reply(msg, static_cast<size_t>(r), query_, qlen_, &a);
    if (n == dns::kErrNotOurs) {
      ++stats_.ignored;
    } else if (n > 0) {
      hal::SockAddr addr;
      // Round robin over the answer, one address per resolution: after a
      // failed connect (the next attempt resolves again) the next address
      // is tried, so one dead address of several does not stop the link.
      const int pick = static_cast<int>(rounds_++ % static_cast<uint32_t>(n));
      dns::make_address(a.addr[pick], type_ == dns::kTypeA ? 4 : 16, port_, &addr);
      finish(0, addr);
      return;
    } else if (n == dns::kErrNoAddress && type_ == dns::kTypeA) {
      type_ = dns::kTypeAaaa;  // the same server, the other family
      const int s = send_question();
      if (s < 0) next(s);
      return;
    } else if (n == dns::kErrServer) {
      next(n);
      return;
    } else {
      // No such name, or no address of either family: the next name of the
      // search list, or the end (saying "no address" if a name had none).
      if (n == dns::kErrNoAddress || miss_ == 0) miss_ = n;
      if (!next_name()) {
        finish(miss_, hal::SockAddr{});
        return;
      }
      const int s = send_question();
      if (s < 0) next(s);
      return;
    }
  }
}

void Resolver::on_io(evl::Loop&, evl::IoHandle, uint32_t, void* ctx) {
  static_cast<Resolver*>(ctx)->read_replies();
}

void Resolver::on_timer(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  auto* r = static_cast<Resolver*>(ctx);
  r->timer_ = evl::TimerHandle{};
  ++r->stats_.timeouts;
  r->next(dns::kErrTimeout);
}

// The round-robin count, then an active resolver's question (one byte
// otherwise).
void Resolver::save(flight::SnapWriter& w) const {
  w.put(rounds_);
  w.put(static_cast<uint8_t>(active() ? 1 : 0));
  if (!active()) return;
  w.put(static_cast<int32_t>(fd_));
  w.put(static_cast<uint8_t>(io_ ? 1 : 0));
  w.put(name_, sizeof name_);
  w.put(static_cast<int32_t>(port_));
  w.put(conf_);
  w.put(static_cast<int32_t>(try_));
  w.put(static_cast<int32_t>(err_));
  w.put(static_cast<int32_t>(cand_));
  w.put(static_cast<int32_t>(miss_));
  w.put(type_);
  w.put(rng_);
  w.put(static_cast<uint32_t>(qlen_));
  w.put(query_, sizeof query_);
  w.put(stats_);
  save_timer(w, *loop_, timer_);
}

void Resolver::restore(Restore& r, evl::Loop& loop, Done done, void* ctx) {
  uint8_t active = 0;
  (void)r.get(&rounds_);
  if (!r.get(&active) || active == 0) return;
  int32_t fd = -1, port = 0, tried = 0, err = 0, cand = 0, miss = 0;
  uint8_t has_io = 0;
  uint32_t qlen = 0;
  (void)r.get(&fd);
  (void)r.get(&has_io);
  (void)r.get(name_, sizeof name_);
  (void)r.get(&port);
  (void)r.get(&conf_);
  (void)r.get(&tried);
  (void)r.get(&err);
  (void)r.get(&cand);
  (void)r.get(&miss);
  (void)r.get(&type_);
  (void)r.get(&rng_);
  (void)r.get(&qlen);
  (void)r.get(query_, sizeof query_);
  (void)r.get(&stats_);
  if (qlen > sizeof query_ || name_[sizeof name_ - 1] != '\0' || conf_.count < 1 ||
      conf_.count > dns::kMaxServers) {
    (void)r.fail();
    return;
  }
  loop_ = &loop;
  done_ = done;
  ctx_ = ctx;
  fd_ = fd;
  port_ = port;
  try_ = tried;
  err_ = err;
  cand_ = cand;
  miss_ = miss;
  qlen_ = qlen;
  if (has_io != 0) r.io(fd_, evl::kIn, on_io, this, &io_);
  r.timer(&timer_, on_timer, this);
}

// (Declared in link.h, beside LinkConfig::jitter_seed.)
uint64_t random_seed(const evl::Loop& loop) {
  uint64_t seed = 0;
  if (hal::getrandom(&seed, sizeof seed, hal::kGrndNonblock) == static_cast<long>(sizeof seed) &&
      seed != 0) {
    return seed;
  }
  const auto mono = static_cast<uint64_t>(loop.now(evl::Clock::kMonotonic));
  const auto wall = static_cast<uint64_t>(loop.now(evl::Clock::kRealtime));
  return ((mono * 0x9e3779b97f4a7c15ULL) ^ (wall * 0xbf58476d1ce4e5b9ULL) ^ (wall >> 29)) | 1;
}

}  // namespace app
