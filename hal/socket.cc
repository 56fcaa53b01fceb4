#include "hal/socket.h"

#include <cerrno>

namespace hal {
namespace {

constexpr int kFlags = kNonblock | kCloexec;

int setopt_int(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof value);
}

// Closes fd and returns err, for the error paths that must leave nothing.
int fail(int fd, int err) {
  (void)close(fd);
  return err;
}

int open_socket(const SockAddr& addr, int type, int* fd) {
  const int family = address_family(addr);
  if (family == 0) return -EINVAL;
  const int s = socket(family, type | kFlags, 0);
  if (s < 0) return s;
  *fd = s;
  return 0;
}

}  // namespace

int stream_connect(const SockAddr& to, int* fd) {
  if (fd == nullptr) return -EINVAL;
  int s = -1;
  if (const int r = open_socket(to, kSockStream, &s); r < 0) return r;
  const int r = connect(s, &to);
  if (r == 0 || r == -EINPROGRESS) {
    *fd = s;
    return r;
  }
  return fail(s, r);
}

int socket_error(int fd) {
  int err = 0;
  uint32_t len = sizeof err;
  const int r = getsockopt(fd, kSolSocket, kSoError, &err, &len);
  if (r < 0) return r;
  return -err;
}

int stream_listen(const SockAddr& at, int backlog, int* fd) {
  if (fd == nullptr || backlog < 1) return -EINVAL;
  int s = -1;
  if (const int r = open_socket(at, kSockStream, &s); r < 0) return r;
  if (address_family(at) != kAfUnix) {
    if (const int r = setopt_int(s, kSolSocket, kSoReuseaddr, 1); r < 0) return fail(s, r);
  }
  if (const int r = bind(s, &at); r < 0) return fail(s, r);
  if (const int r = listen(s, backlog); r < 0) return fail(s, r);
  *fd = s;
  return 0;
}

int stream_accept(int listen_fd, int* fd, SockAddr* peer) {
  if (fd == nullptr) return -EINVAL;
  const int r = accept4(listen_fd, peer, kFlags);
  if (r < 0) return r;
  *fd = r;
  return 0;
}

long stream_send(int fd, const void* buf, size_t len) {
  return sendto(fd, buf, len, kMsgNosignal, nullptr);
}

long stream_recv(int fd, void* buf, size_t len) { return recvfrom(fd, buf, len, 0, nullptr); }

int dgram_open(int family, int* fd) {
  if (fd == nullptr) return -EINVAL;
  if (family != kAfInet && family != kAfInet6 && family != kAfUnix) return -EINVAL;
  const int s = socket(family, kSockDgram | kFlags, 0);
  if (s < 0) return s;
  *fd = s;
  return 0;
}

int dgram_bind(const SockAddr& at, int* fd) {
  if (fd == nullptr) return -EINVAL;
  int s = -1;
  if (const int r = open_socket(at, kSockDgram, &s); r < 0) return r;
  if (const int r = bind(s, &at); r < 0) return fail(s, r);
  *fd = s;
  return 0;
}

int dgram_connect(const SockAddr& to, int* fd) {
  if (fd == nullptr) return -EINVAL;
  int s = -1;
  if (const int r = open_socket(to, kSockDgram, &s); r < 0) return r;
  int r = connect(s, &to);
  // An IPv4 broadcast address (255.255.255.255, a subnet's last address):
  // the kernel refuses it (EACCES) to a socket without SO_BROADCAST. Given
  // as the destination, it is meant: the option is set, and only then.
  if (r == -EACCES && address_family(to) == kAfInet) {
    r = setopt_int(s, kSolSocket, kSoBroadcast, 1);
    if (r == 0) r = connect(s, &to);
  }
  if (r < 0) return fail(s, r);
  *fd = s;
  return 0;
}

long dgram_send(int fd, const void* buf, size_t len, const SockAddr* to) {
  return sendto(fd, buf, len, kMsgNosignal, to);
}

long dgram_recv(int fd, void* buf, size_t len, SockAddr* from, bool* truncated) {
  const long r = recvfrom(fd, buf, len, kMsgTrunc, from);
  if (r < 0) return r;
  if (truncated != nullptr) *truncated = static_cast<size_t>(r) > len;
  return static_cast<size_t>(r) > len ? static_cast<long>(len) : r;
}

int set_keepalive(int fd, const Keepalive& k) {
  if (k.idle_s < 1 || k.interval_s < 1 || k.count < 1) return -EINVAL;
  if (const int r = setopt_int(fd, kSolSocket, kSoKeepalive, 1); r < 0) return r;
  if (const int r = setopt_int(fd, kIpprotoTcp, kTcpKeepidle, k.idle_s); r < 0) return r;
  if (const int r = setopt_int(fd, kIpprotoTcp, kTcpKeepintvl, k.interval_s); r < 0) return r;
  return setopt_int(fd, kIpprotoTcp, kTcpKeepcnt, k.count);
}

int set_nodelay(int fd, bool on) { return setopt_int(fd, kIpprotoTcp, kTcpNodelay, on ? 1 : 0); }
int set_reuseaddr(int fd, bool on) { return setopt_int(fd, kSolSocket, kSoReuseaddr, on ? 1 : 0); }

int set_buffer_sizes(int fd, int send_bytes, int recv_bytes) {
  if (send_bytes < 0 || recv_bytes < 0) return -EINVAL;
  if (send_bytes > 0) {
    if (const int r = setopt_int(fd, kSolSocket, kSoSndbuf, send_bytes); r < 0) return r;
  }
  if (recv_bytes > 0) return setopt_int(fd, kSolSocket, kSoRcvbuf, recv_bytes);
  return 0;
}

int set_user_timeout(int fd, int64_t ms) {
  if (ms < 0) return -EINVAL;
  const int v = ms > 0x7fffffff ? 0x7fffffff : static_cast<int>(ms);
  return setopt_int(fd, kIpprotoTcp, kTcpUserTimeout, v);
}

long stream_unacked(int fd) {
  int n = 0;
  const int r = ioctl(fd, kSiocOutq, &n);
  return r < 0 ? r : n;
}

}  // namespace hal
