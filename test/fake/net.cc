#include "test/fake/net.h"

#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include "hal/address.h"

namespace fake {
namespace {

constexpr uint32_t kSunPath = offsetof(sockaddr_un, sun_path);  // its first byte 0: abstract

std::string key(const hal::SockAddr& a) {
  char buf[200];
  return hal::format_address(a, buf, sizeof buf) > 0 ? std::string(buf) : std::string();
}

bool is_stream(const Socket& s) { return s.sock_type == hal::kSockStream; }

// The IPv4 broadcast addresses this fake knows: the limited one and the
// loopback net's (it has no other interfaces).
bool is_broadcast(const hal::SockAddr& a) {
  const std::string k = key(a);
  return k.rfind("255.255.255.255:", 0) == 0 || k.rfind("127.255.255.255:", 0) == 0;
}

constexpr int kBroadcastOption = hal::kSolSocket << 16 | hal::kSoBroadcast;

bool option_on(const Socket& s, int option) {
  for (const auto& o : s.options) {
    if (o.first == option) return o.second != 0;
  }
  return false;
}

}  // namespace

const char* Socket::type_name() const {
  if (family == hal::kAfUnix) return is_stream(*this) ? "unix-stream" : "unix-dgram";
  return is_stream(*this) ? "tcp" : "udp";
}

uint64_t Socket::changes() const {
  uint64_t s = seq + backlog.size();
  if (conn) s += conn->seq + conn->q[0].seq + conn->q[1].seq;
  return s;
}

uint32_t Socket::poll() const {
  uint32_t r = 0;
  if (pending_error != 0) r |= hal::kEpollErr;
  if (!is_stream(*this)) {
    if (!inbox.empty()) r |= hal::kEpollIn;
    return r | hal::kEpollOut;
  }
  switch (state) {
    case State::kListening: return r | (backlog.empty() ? 0u : hal::kEpollIn);
    case State::kRefused: return r | hal::kEpollIn | hal::kEpollOut | hal::kEpollHup;
    case State::kConnected: {
      const ByteQueue& in = conn->q[1 - side];
      const ByteQueue& out = conn->q[side];
      if (conn->reset) {
        return r | hal::kEpollIn | hal::kEpollOut | hal::kEpollHup | hal::kEpollRdHup;
      }
      if (!in.data.empty() || in.closed || shut_rd) r |= hal::kEpollIn;
      if (in.closed) r |= hal::kEpollRdHup;
      if (!out.closed && out.data.size() < out.capacity) r |= hal::kEpollOut;
      if (in.closed && out.closed) r |= hal::kEpollHup;
      return r;
    }
    case State::kNew:
    case State::kBound: return r | hal::kEpollOut | hal::kEpollHup;
    default: return r;
  }
}

int Socket::unacked(int* out) const {
  if (out == nullptr) return -EFAULT;
  if (!is_stream(*this) || conn == nullptr) return -ENOTCONN;
  *out = static_cast<int>(conn->q[side].data.size());
  return 0;
}

int Socket::take_error() {
  const int e = pending_error;
  pending_error = 0;
  ++seq;
  return e;
}

long Socket::send(const void* buf, size_t len, int flags, const hal::SockAddr* to) {
  if (pending_error != 0) return -take_error();
  if (!is_stream(*this)) {
    hal::SockAddr dest = to != nullptr ? *to : peer;
    if (to == nullptr && !connected_dgram) return -EDESTADDRREQ;
    if (kernel->take_datagram_drop()) return static_cast<long>(len);
    for (Socket* s : kernel->sockets()) {
      if (s == this || is_stream(*s) || !s->has_local || s->family != family) continue;
      if (!hal::address_matches(s->local, dest)) continue;
      if (s->inbox_bytes + len > static_cast<size_t>(s->rcvbuf)) {
        if (family == hal::kAfUnix)
          return nonblock || (flags & hal::kMsgDontwait) ? -EAGAIN : -EDEADLK;
        kernel->note_overflow();
        return static_cast<long>(len);  // UDP drops on a full receiver
      }
      if (!has_local) {
        local = dest;  // an autobound source address
        hal::address_set_port(&local, kernel->next_ephemeral_port());
        has_local = family != hal::kAfUnix;
      }
      const auto* b = static_cast<const uint8_t*>(buf);
      s->inbox.push_back(Datagram{std::vector<uint8_t>(b, b + len), local});
      s->inbox_bytes += len;
      ++s->seq;
      return static_cast<long>(len);
    }
    if (family == hal::kAfUnix) return -ECONNREFUSED;
    if (connected_dgram) pending_error = ECONNREFUSED;  // the ICMP comes back
    return static_cast<long>(len);
  }
  if (state == State::kConnecting) return nonblock ? -EAGAIN : -EDEADLK;
  if (state != State::kConnected) return -ENOTCONN;
  ByteQueue& out = conn->q[side];
  // A Unix stream's peer gone: EPIPE at once (TCP takes the data, and the
  // peer's RST comes back).
  if (conn->reset || out.closed || (family == hal::kAfUnix && !conn->side_open[1 - side])) {
    if ((flags & hal::kMsgNosignal) == 0) kernel->raise(hal::kSigPipe);
    return -EPIPE;
  }
  const size_t space = out.capacity - out.data.size();
  if (space == 0) return nonblock || (flags & hal::kMsgDontwait) ? -EAGAIN : -EDEADLK;
  const size_t n = std::min(len, space);
  const auto* b = static_cast<const uint8_t*>(buf);
  out.data.insert(out.data.end(), b, b + n);
  ++out.seq;
  if (!conn->side_open[1 - side]) {
    // Data to a closed peer: its kernel answers with RST.
    conn->reset = true;
    pending_error = ECONNRESET;
  }
  return static_cast<long>(n);
}

long Socket::recv(void* buf, size_t len, int flags, hal::SockAddr* from) {
  if (pending_error != 0) return -take_error();
  const bool dontwait = nonblock || (flags & hal::kMsgDontwait) != 0;
  if (!is_stream(*this)) {
    if (inbox.empty()) return dontwait ? -EAGAIN : -EDEADLK;
    const Datagram& d = inbox.front();
    const size_t n = std::min(len, d.bytes.size());
    if (n > 0) std::memcpy(buf, d.bytes.data(), n);
    if (from != nullptr) *from = d.from;
    const long full = static_cast<long>(d.bytes.size());
    if ((flags & hal::kMsgPeek) == 0) {
      inbox_bytes -= d.bytes.size();
      inbox.pop_front();
      ++seq;
    }
    return (flags & hal::kMsgTrunc) != 0 ? full : static_cast<long>(n);
  }
  if (state == State::kRefused) return 0;
  if (state != State::kConnected) return -ENOTCONN;
  if (conn->reset || shut_rd) return 0;
  ByteQueue& in = conn->q[1 - side];
  if (in.data.empty()) return in.closed ? 0 : (dontwait ? -EAGAIN : -EDEADLK);
  size_t n = std::min(len, in.data.size());
  size_t& budget = conn->reset_after[side];
  if (budget != SIZE_MAX) n = std::min(n, budget);
  auto* out = static_cast<uint8_t*>(buf);
  std::copy(in.data.begin(), in.data.begin() + static_cast<long>(n), out);
  if ((flags & hal::kMsgPeek) == 0) {
    in.data.erase(in.data.begin(), in.data.begin() + static_cast<long>(n));
    ++in.seq;
    if (budget != SIZE_MAX) {
      budget -= n;
      if (budget == 0) {
        // This side resets now: the other side sees ECONNRESET.
        conn->reset = true;
        ++conn->seq;
        for (Socket* s : kernel->sockets()) {
          if (s->conn == conn && s != this) s->pending_error = ECONNRESET;
        }
      }
    }
  }
  if (from != nullptr) *from = peer;
  return static_cast<long>(n);
}

void Socket::last_close() {
  auto& v = kernel->sockets();
  v.erase(std::remove(v.begin(), v.end(), this), v.end());
  if (!conn || state != State::kConnected) return;
  conn->side_open[side] = false;
  Socket* other = nullptr;
  for (Socket* s : kernel->sockets()) {
    if (s->conn == conn) other = s;
  }
  if (!conn->q[1 - side].data.empty() && !conn->reset) {
    conn->reset = true;  // unread input: Linux sends RST, not FIN
    if (other != nullptr) other->pending_error = ECONNRESET;
  } else {
    conn->q[side].closed = true;
  }
  ++conn->seq;
  ++conn->q[side].seq;
}

void Kernel::blackhole(const char* address) { blackholes_.emplace_back(address); }

int Kernel::reset(int fd) {
  auto* s = dynamic_cast<Socket*>(file(fd));
  if (s == nullptr || !s->conn) return -EBADF;
  s->conn->reset = true;
  ++s->conn->seq;
  for (Socket* o : sockets_) {
    if (o->conn == s->conn && o != s) o->pending_error = ECONNRESET;
  }
  return 0;
}

int Kernel::reset_after(int fd, size_t bytes) {
  auto* s = dynamic_cast<Socket*>(file(fd));
  if (s == nullptr || !s->conn) return -EBADF;
  s->conn->reset_after[1 - s->side] = bytes;
  return 0;
}

int Kernel::sockopt(int fd, int level, int name) const {
  const auto* s = dynamic_cast<const Socket*>(file(fd));
  if (s == nullptr) return -1;
  for (const auto& o : s->options) {
    if (o.first == (level << 16 | name)) return o.second;
  }
  return -1;
}

int Kernel::sys_socket(int domain, int type, int protocol) {
  int err = 0;
  if (fault(Call::kSocket, &err)) return -err;
  const int base = type & ~(hal::kNonblock | hal::kCloexec);
  if (domain != hal::kAfInet && domain != hal::kAfInet6 && domain != hal::kAfUnix) {
    return -EAFNOSUPPORT;
  }
  if ((base != hal::kSockStream && base != hal::kSockDgram) || protocol != 0) return -EINVAL;
  auto s = std::make_shared<Socket>(domain, base);
  s->nonblock = (type & hal::kNonblock) != 0;
  const int fd = install(s);
  if (fd >= 0) sockets_.push_back(s.get());
  return fd;
}

int Kernel::sys_socketpair(int domain, int type, int protocol, int fds[2]) {
  if (domain != hal::kAfUnix) return -EOPNOTSUPP;
  const int a = sys_socket(domain, type, protocol);
  if (a < 0) return a;
  const int b = sys_socket(domain, type, protocol);
  if (b < 0) {
    (void)sys_close(a);
    return b;
  }
  auto* sa = dynamic_cast<Socket*>(file(a));
  auto* sb = dynamic_cast<Socket*>(file(b));
  if (sa->sock_type == hal::kSockStream) {
    auto c = std::make_shared<StreamConn>();
    sa->conn = sb->conn = c;
    sa->side = 0;
    sb->side = 1;
    sa->state = sb->state = Socket::State::kConnected;
  } else {
    // Unnamed datagram pair: give each a private name so they can find each other.
    char name[64];
    for (Socket* s : {sa, sb}) {
      std::snprintf(name, sizeof name, "@fake-pair-%d", next_ephemeral_port());
      (void)hal::parse_address(name, &s->local);
      s->has_local = true;
    }
    sa->peer = sb->local;
    sb->peer = sa->local;
    sa->connected_dgram = sb->connected_dgram = true;
  }
  fds[0] = a;
  fds[1] = b;
  return 0;
}

int Kernel::sys_bind(int fd, const hal::SockAddr* addr) {
  int err = 0;
  if (fault(Call::kBind, &err)) return -err;
  auto* s = dynamic_cast<Socket*>(file(fd));
  if (s == nullptr) return file(fd) == nullptr ? -EBADF : -ENOTSOCK;
  if (addr == nullptr || hal::address_family(*addr) != s->family) return -EINVAL;
  if (s->has_local) return -EINVAL;
  hal::SockAddr a = *addr;
  if (s->family != hal::kAfUnix && hal::address_port(a) == 0) {
    hal::address_set_port(&a, next_ephemeral_port());
  }
  for (Socket* o : sockets_) {
    if (o != s && o->has_local && o->sock_type == s->sock_type && key(o->local) == key(a)) {
      return -EADDRINUSE;
    }
  }
  s->local = a;
  s->has_local = true;
  s->state = Socket::State::kBound;
  return 0;
}

int Kernel::sys_listen(int fd, int backlog) {
  int err = 0;
  if (fault(Call::kListen, &err)) return -err;
  auto* s = dynamic_cast<Socket*>(file(fd));
  if (s == nullptr) return file(fd) == nullptr ? -EBADF : -ENOTSOCK;
  if (s->sock_type != hal::kSockStream) return -EOPNOTSUPP;
  if (!s->has_local) {
    if (s->family == hal::kAfUnix) return -EINVAL;
    (void)hal::parse_address(s->family == hal::kAfInet ? "0.0.0.0:1" : "[::]:1", &s->local);
    hal::address_set_port(&s->local, next_ephemeral_port());
    s->has_local = true;
  }
  s->state = Socket::State::kListening;
  s->backlog_max = backlog < 1 ? 1 : backlog;
  return 0;
}

bool Kernel::unix_dgram_bound(const hal::SockAddr& at) {
  for (Socket* o : sockets()) {
    if (o->family == hal::kAfUnix && o->sock_type == hal::kSockDgram && o->has_local &&
        hal::address_matches(o->local, at)) {
      return true;
    }
  }
  return false;
}

int Kernel::sys_connect(int fd, const hal::SockAddr* addr) {
  int err = 0;
  if (fault(Call::kConnect, &err)) return -err;
  auto* s = dynamic_cast<Socket*>(file(fd));
  if (s == nullptr) return file(fd) == nullptr ? -EBADF : -ENOTSOCK;
  if (addr == nullptr || hal::address_family(*addr) != s->family) return -EINVAL;
  if (s->sock_type == hal::kSockDgram) {
    // A Unix datagram socket connects only to a bound one, as on Linux: a
    // path nobody bound does not exist (ENOENT), an abstract name refuses.
    if (s->family == hal::kAfUnix && !unix_dgram_bound(*addr)) {
      return addr->len > kSunPath && addr->data[kSunPath] == 0 ? -ECONNREFUSED : -ENOENT;
    }
    // Linux refuses a broadcast destination (the limited one, or
    // loopback's 127.255.255.255) to an IPv4 socket without SO_BROADCAST.
    if (s->family == hal::kAfInet && is_broadcast(*addr) && !option_on(*s, kBroadcastOption)) {
      return -EACCES;
    }
    s->peer = *addr;
    s->connected_dgram = true;
    return 0;
  }
  if (s->state == Socket::State::kConnected) return -EISCONN;
  if (s->state == Socket::State::kConnecting) return -EALREADY;
  s->peer = *addr;
  if (!s->has_local && s->family != hal::kAfUnix) {
    s->local = *addr;
    hal::address_set_port(&s->local, next_ephemeral_port());
    s->has_local = true;
  }
  const std::string k = key(*addr);
  if (std::find(blackholes_.begin(), blackholes_.end(), k) != blackholes_.end()) {
    s->state = Socket::State::kConnecting;
    return -EINPROGRESS;
  }
  Socket* listener = nullptr;
  for (Socket* o : sockets_) {
    if (o->state == Socket::State::kListening && o->family == s->family &&
        hal::address_matches(o->local, *addr)) {
      listener = o;
    }
  }
  if (listener == nullptr ||
      listener->backlog.size() >= static_cast<size_t>(listener->backlog_max)) {
    if (s->family == hal::kAfUnix) {
      if (listener != nullptr) return -EAGAIN;
      bool bound = false;
      for (Socket* o : sockets_) bound = bound || (o->has_local && key(o->local) == k);
      // A path nobody bound does not exist; an abstract name just refuses.
      return (!bound && k.compare(0, 6, "unix:/") == 0) ? -ENOENT : -ECONNREFUSED;
    }
    s->state = Socket::State::kRefused;
    s->pending_error = ECONNREFUSED;
    return -EINPROGRESS;
  }
  auto server = std::make_shared<Socket>(s->family, hal::kSockStream);
  auto c = std::make_shared<StreamConn>();
  c->q[0].capacity = static_cast<size_t>(s->sndbuf);
  c->q[1].capacity = static_cast<size_t>(listener->sndbuf);
  s->conn = server->conn = c;
  s->side = 0;
  server->side = 1;
  server->kernel = this;
  server->local = listener->local;
  server->has_local = true;
  server->peer = s->local;
  server->state = Socket::State::kConnected;
  s->state = Socket::State::kConnected;
  listener->backlog.push_back(server);
  ++listener->seq;
  if (s->family == hal::kAfUnix) return 0;
  return -EINPROGRESS;
}

int Kernel::sys_accept4(int fd, hal::SockAddr* peer, int flags) {
  int err = 0;
  if (fault(Call::kAccept, &err)) return -err;
  auto* s = dynamic_cast<Socket*>(file(fd));
  if (s == nullptr) return file(fd) == nullptr ? -EBADF : -ENOTSOCK;
  if (s->state != Socket::State::kListening) return -EINVAL;
  if (s->backlog.empty()) return s->nonblock ? -EAGAIN : -EDEADLK;
  std::shared_ptr<Socket> c = s->backlog.front();
  s->backlog.pop_front();
  ++s->seq;
  c->nonblock = (flags & hal::kNonblock) != 0;
  const int nfd = install(c);
  if (nfd < 0) return nfd;
  sockets_.push_back(c.get());
  if (peer != nullptr) *peer = c->peer;
  return nfd;
}

int Kernel::sys_getsockopt(int fd, int level, int name, void* value, uint32_t* len) {
  int err = 0;
  if (fault(Call::kGetsockopt, &err)) return -err;
  auto* s = dynamic_cast<Socket*>(file(fd));
  if (s == nullptr) return file(fd) == nullptr ? -EBADF : -ENOTSOCK;
  if (*len < sizeof(int)) return -EINVAL;
  int v = 0;
  if (level == hal::kSolSocket && name == hal::kSoError) {
    v = s->take_error();
  } else if (level == hal::kSolSocket && name == hal::kSoSndbuf) {
    v = s->sndbuf * 2;
  } else if (level == hal::kSolSocket && name == hal::kSoRcvbuf) {
    v = s->rcvbuf * 2;
  } else {
    v = sockopt(fd, level, name);
    if (v < 0) v = 0;
  }
  std::memcpy(value, &v, sizeof v);
  *len = sizeof v;
  return 0;
}

int Kernel::sys_setsockopt(int fd, int level, int name, const void* value, uint32_t len) {
  int err = 0;
  if (fault(Call::kSetsockopt, &err)) return -err;
  auto* s = dynamic_cast<Socket*>(file(fd));
  if (s == nullptr) return file(fd) == nullptr ? -EBADF : -ENOTSOCK;
  if (len < sizeof(int)) return -EINVAL;
  int v = 0;
  std::memcpy(&v, value, sizeof v);
  if (level == hal::kIpprotoTcp &&
      (s->family == hal::kAfUnix || s->sock_type != hal::kSockStream)) {
    return -EOPNOTSUPP;
  }
  if (level == hal::kSolSocket && name == hal::kSoSndbuf) s->sndbuf = v;
  if (level == hal::kSolSocket && name == hal::kSoRcvbuf) s->rcvbuf = v;
  for (auto& o : s->options) {
    if (o.first == (level << 16 | name)) {
      o.second = v;
      return 0;
    }
  }
  s->options.emplace_back(level << 16 | name, v);
  return 0;
}

int Kernel::sys_getsockname(int fd, hal::SockAddr* addr) {
  auto* s = dynamic_cast<Socket*>(file(fd));
  if (s == nullptr) return file(fd) == nullptr ? -EBADF : -ENOTSOCK;
  *addr = s->local;
  return 0;
}

int Kernel::sys_getpeername(int fd, hal::SockAddr* addr) {
  auto* s = dynamic_cast<Socket*>(file(fd));
  if (s == nullptr) return file(fd) == nullptr ? -EBADF : -ENOTSOCK;
  if (s->state != Socket::State::kConnected && !s->connected_dgram) return -ENOTCONN;
  *addr = s->peer;
  return 0;
}

long Kernel::sys_sendto(int fd, const void* buf, size_t len, int flags, const hal::SockAddr* to) {
  int err = 0;
  if (fault(Call::kSendto, &err)) return -err;
  File* f = file(fd);
  if (f == nullptr) return -EBADF;
  auto* s = dynamic_cast<Socket*>(f);
  if (s == nullptr) return -ENOTSOCK;
  if (chaos_ && s->stream_like() && len > 1 && rng_.chance(rates_.short_io)) {
    len = 1 + rng_.below(len - 1);
  }
  return s->send(buf, limit(Call::kSendto, len), flags, to);
}

long Kernel::sys_recvfrom(int fd, void* buf, size_t len, int flags, hal::SockAddr* from) {
  int err = 0;
  if (fault(Call::kRecvfrom, &err)) return -err;
  File* f = file(fd);
  if (f == nullptr) return -EBADF;
  auto* s = dynamic_cast<Socket*>(f);
  if (s == nullptr) return -ENOTSOCK;
  if (chaos_ && s->stream_like()) {
    if (s->nonblock && rng_.chance(rates_.spurious_eagain)) return -EAGAIN;
    if (len > 1 && rng_.chance(rates_.short_io)) len = 1 + rng_.below(len - 1);
  }
  return s->recv(buf, limit(Call::kRecvfrom, len), flags, from);
}

int Kernel::sys_shutdown(int fd, int how) {
  int err = 0;
  if (fault(Call::kShutdown, &err)) return -err;
  auto* s = dynamic_cast<Socket*>(file(fd));
  if (s == nullptr) return file(fd) == nullptr ? -EBADF : -ENOTSOCK;
  if (how < hal::kShutRd || how > hal::kShutRdWr) return -EINVAL;
  if (s->state != Socket::State::kConnected) return -ENOTCONN;
  if (how != hal::kShutWr) s->shut_rd = true;
  if (how != hal::kShutRd) s->conn->q[s->side].closed = true;
  ++s->conn->seq;
  return 0;
}

}  // namespace fake
