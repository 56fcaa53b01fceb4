#include "apps/common/link.h"

#include <cerrno>
#include <cstring>

namespace app {

int parse_url(const char* text, Url* out) {
  if (text == nullptr || out == nullptr) return -EINVAL;
  Url u;
  if (std::strncmp(text, "tcp://", 6) == 0) {
    u.tcp = true;
  } else if (std::strncmp(text, "udp://", 6) == 0) {
    u.tcp = false;
  } else {
    return -EINVAL;
  }
  if (hal::parse_address(text + 6, &u.addr) < 0) return -EINVAL;
  const int f = hal::address_family(u.addr);
  if ((f != hal::kAfInet && f != hal::kAfInet6) || hal::address_port(u.addr) == 0) return -EINVAL;
  *out = u;
  return 0;
}

int Link::start(evl::Loop& loop, const Url& url, const LinkConfig& cfg, const LinkEvents& ev) {
  if (!stopped_) return -EINVAL;
  if (cfg.backoff_initial_ms < 1 || cfg.backoff_max_ms < cfg.backoff_initial_ms ||
      cfg.connect_timeout_ms < 1) {
    return -EINVAL;
  }
  loop_ = &loop;
  url_ = url;
  cfg_ = cfg;
  ev_ = ev;
  rng_ = cfg.jitter_seed | 1;
  stopped_ = false;
  attempt_ = 0;
  connect_now();
  return 0;
}

void Link::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (io_) (void)loop_->io_close(io_);
  io_ = evl::IoHandle{};
  if (timer_) (void)loop_->timer_stop(timer_);
  timer_ = evl::TimerHandle{};
  fd_ = -1;
  up_ = false;
  connecting_ = false;
}

int64_t Link::next_backoff_ms() {
  int64_t cap = cfg_.backoff_initial_ms;
  for (uint32_t i = 0; i < attempt_ && cap < cfg_.backoff_max_ms; ++i) cap *= 2;
  if (cap > cfg_.backoff_max_ms) cap = cfg_.backoff_max_ms;
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  return static_cast<int64_t>(rng_ % static_cast<uint64_t>(cap + 1));
}

void Link::watch(uint32_t events) {
  if (events == watched_ || !io_) return;
  if (loop_->io_modify(io_, events) == 0) watched_ = events;
}

void Link::connect_now() {
  if (stopped_) return;
  int fd = -1;
  int r = url_.tcp ? hal::stream_connect(url_.addr, &fd) : hal::dgram_connect(url_.addr, &fd);
  if (r == 0 || r == -EINPROGRESS) {
    const uint32_t events = url_.tcp ? evl::kOut : evl::kIn;
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
  if (!url_.tcp) {
    set_up();
    return;
  }
  connecting_ = true;
  (void)loop_->timer_after(cfg_.connect_timeout_ms * 1000000, on_timer, this, &timer_);
}

void Link::set_up() {
  up_ = true;
  connecting_ = false;
  attempt_ = 0;
  ++stats_.connects;
  if (ev_.up != nullptr) ev_.up(ev_.ctx);
}

void Link::fail(int err) {
  const bool was_up = up_;
  if (io_) (void)loop_->io_close(io_);
  io_ = evl::IoHandle{};
  fd_ = -1;
  if (timer_) (void)loop_->timer_stop(timer_);
  timer_ = evl::TimerHandle{};
  up_ = false;
  connecting_ = false;
  in_.clear();
  out_.clear();  // a partial line must not lead the next connection
  ++stats_.failures;
  if (stopped_) return;
  const int64_t delay = next_backoff_ms();
  ++attempt_;
  (void)loop_->timer_after(delay * 1000000, on_timer, this, &timer_);
  if (ev_.down != nullptr && (was_up || attempt_ == 1)) ev_.down(ev_.ctx, err);
}

// UDP has no connection to watch: after a send error the link is down and
// probes with empty datagrams; a probe that draws no ICMP error by the next
// tick brings it up. Only then is real data sent again, so an outage loses at
// most what was sent before its first error.
void Link::udp_down(int err) {
  if (!up_) {
    probe_sent_ = false;  // the error (seen by a read) answers the last probe
    return;
  }
  up_ = false;
  ++stats_.failures;
  probe_sent_ = false;
  attempt_ = 0;
  (void)loop_->timer_after(next_backoff_ms() * 1000000 + 1, on_timer, this, &timer_);
  if (ev_.down != nullptr) ev_.down(ev_.ctx, err);
}

void Link::udp_probe() {
  const int err = hal::socket_error(fd_);
  if (err == 0 && probe_sent_) {
    set_up();
    return;
  }
  probe_sent_ = hal::dgram_send(fd_, "", 0, nullptr) == 0;
  ++attempt_;
  (void)loop_->timer_after(next_backoff_ms() * 1000000 + 1, on_timer, this, &timer_);
}

void Link::on_timer(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  auto* l = static_cast<Link*>(ctx);
  l->timer_ = evl::TimerHandle{};
  if (!l->url_.tcp && l->fd_ >= 0) {
    l->udp_probe();
    return;
  }
  if (l->connecting_) {
    l->fail(-ETIMEDOUT);
  } else {
    l->connect_now();
  }
}

void Link::on_io(evl::Loop&, evl::IoHandle, uint32_t events, void* ctx) {
  auto* l = static_cast<Link*>(ctx);
  if (l->connecting_) {
    const int err = hal::socket_error(l->fd_);
    if (err != 0 || (events & evl::kHup) != 0) {
      l->fail(err != 0 ? err : -ECONNRESET);
      return;
    }
    if (l->timer_) (void)l->loop_->timer_stop(l->timer_);
    l->timer_ = evl::TimerHandle{};
    l->watch(evl::kIn | evl::kRdHup);
    l->set_up();
    l->flush();
    return;
  }
  if ((events & (evl::kIn | evl::kRdHup | evl::kHup | evl::kErr)) != 0) l->read_lines();
  if (l->fd_ >= 0 && (events & evl::kOut) != 0) l->flush();
}

void Link::read_lines() {
  if (!url_.tcp) {
    char buf[512];
    bool truncated = false;
    for (int n = 0; n < 16; ++n) {
      const long r = hal::dgram_recv(fd_, buf, sizeof buf, nullptr, &truncated);
      if (r == -EAGAIN) return;
      if (r < 0) {
        udp_down(static_cast<int>(r));
        return;
      }
      stats_.bytes_in += static_cast<uint64_t>(r);
      if (ev_.line != nullptr) ev_.line(ev_.ctx, buf, static_cast<size_t>(r));
    }
    return;
  }
  const long r = in_.fill_from(fd_);
  if (r > 0) stats_.bytes_in += static_cast<uint64_t>(r);
  for (;;) {
    size_t nl = 0;
    while (nl < in_.size() && in_.at(nl) != '\n') ++nl;
    if (nl == in_.size()) break;
    char line[2048];
    in_.pop(line, nl + 1);
    if (ev_.line != nullptr) ev_.line(ev_.ctx, line, nl);
  }
  if (in_.space() == 0) in_.clear();  // a line longer than the ring: drop it
  if (r == 0 || in_.eof()) {
    fail(0);
  } else if (r < 0 && r != -EAGAIN && r != -ENOBUFS) {
    fail(static_cast<int>(r));
  }
}

void Link::flush() {
  if (!up_ || fd_ < 0) return;
  const bool had = !out_.empty();
  const long r = out_.drain_to(fd_, true);
  if (r > 0) stats_.bytes_out += static_cast<uint64_t>(r);
  if (r < 0 && r != -EAGAIN) {
    fail(static_cast<int>(r));
    return;
  }
  watch(evl::kIn | evl::kRdHup | (out_.empty() ? 0u : evl::kOut));
  if (had && out_.empty() && ev_.drained != nullptr) ev_.drained(ev_.ctx);
}

int Link::send(const void* data, size_t len) {
  if (stopped_) return -ENOTCONN;
  if (!url_.tcp) {
    if (fd_ < 0 || !up_) return -ENOTCONN;
    const long r = hal::dgram_send(fd_, data, len, nullptr);
    if (r < 0) {
      udp_down(static_cast<int>(r));
      return static_cast<int>(r);
    }
    stats_.bytes_out += static_cast<uint64_t>(r);
    ++stats_.datagrams_out;
    return 0;
  }
  if (!up_) return -ENOTCONN;
  if (len > out_.space()) return -ENOBUFS;
  (void)out_.push(data, len);
  flush();
  return up_ ? 0 : -ENOTCONN;
}

}  // namespace app
