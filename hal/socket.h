// Non-blocking sockets over the seam: TCP and Unix streams, UDP and Unix
// datagrams. Every fd made here is non-blocking and close-on-exec.
//
// Streams, client side: stream_connect() starts a connect and returns
// -EINPROGRESS with *fd set while it is under way; watch the fd for kOut on
// the loop and call socket_error() when it fires: 0 means connected, else the
// failure (-ECONNREFUSED, -ETIMEDOUT, ...). A connect timeout is the caller's
// own timer: stop the watcher and close the fd when it fires. Any other
// negative return means nothing was left open.
//
// Writes: use stream_send(), which never raises SIGPIPE (MSG_NOSIGNAL) and
// returns -EPIPE/-ECONNRESET instead.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hal/address.h"
#include "hal/sys.h"

namespace hal {

[[nodiscard]] int stream_connect(const SockAddr& to, int* fd);
[[nodiscard]] int socket_error(int fd);  // 0, or the pending error as -errno
// Binds with SO_REUSEADDR (IP) and listens.
[[nodiscard]] int stream_listen(const SockAddr& at, int backlog, int* fd);
// -EAGAIN when no connection is waiting.
[[nodiscard]] int stream_accept(int listen_fd, int* fd, SockAddr* peer);
[[nodiscard]] long stream_send(int fd, const void* buf, size_t len);
[[nodiscard]] long stream_recv(int fd, void* buf, size_t len);  // 0 at end of stream

// Datagrams: an unbound socket, one bound to `at`, or one connected to `to`
// (an IPv4 broadcast address included: SO_BROADCAST is set for one).
[[nodiscard]] int dgram_open(int family, int* fd);
[[nodiscard]] int dgram_bind(const SockAddr& at, int* fd);
[[nodiscard]] int dgram_connect(const SockAddr& to, int* fd);
// to may be null for a connected socket.
[[nodiscard]] long dgram_send(int fd, const void* buf, size_t len, const SockAddr* to);
// *truncated: the datagram was longer than len (the rest is lost, as always
// with datagrams). Returns the bytes stored in buf.
[[nodiscard]] long dgram_recv(int fd, void* buf, size_t len, SockAddr* from, bool* truncated);

// Options firmware needs.
struct Keepalive {
  int idle_s;      // idle time before the first probe
  int interval_s;  // between probes
  int count;       // unanswered probes before the connection is dropped
};
[[nodiscard]] int set_keepalive(int fd, const Keepalive& k);
[[nodiscard]] int set_nodelay(int fd, bool on);
[[nodiscard]] int set_reuseaddr(int fd, bool on);
// TCP_USER_TIMEOUT: the kernel drops the connection when sent data stays
// unacknowledged for this long (0: the kernel's default, minutes).
[[nodiscard]] int set_user_timeout(int fd, int64_t ms);
// Bytes written to a stream socket that the peer has not acknowledged yet
// (SIOCOUTQ), or a negative errno.
[[nodiscard]] long stream_unacked(int fd);
// 0 leaves a size unchanged. Linux doubles the value for bookkeeping.
[[nodiscard]] int set_buffer_sizes(int fd, int send_bytes, int recv_bytes);

}  // namespace hal
