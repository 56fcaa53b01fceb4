// Sockets of the fake kernel: TCP and Unix streams, UDP and Unix datagrams.
//
// Streams connect instantly when a socket listens at the address (connect
// still returns -EINPROGRESS, as Linux does on loopback); with no listener the
// connect fails asynchronously with ECONNREFUSED (SO_ERROR); a black-holed
// address never answers (a connect timeout). Closing a socket with unread
// input resets the peer (ECONNRESET), as Linux does; otherwise it sends FIN.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "test/fake/kernel.h"

namespace fake {

struct ByteQueue {
  std::deque<uint8_t> data;
  size_t capacity = 65536;
  bool closed = false;  // the writer sent FIN
  uint64_t seq = 1;
};

struct StreamConn {
  ByteQueue q[2];  // q[i]: written by side i, read by side 1 - i
  bool reset = false;
  bool side_open[2] = {true, true};
  size_t reset_after[2] = {SIZE_MAX, SIZE_MAX};  // side i resets after reading N more bytes
  uint64_t seq = 1;
};

class Socket : public File {
 public:
  Socket(int f, int t) : family(f), sock_type(t) {}
  uint32_t poll() const override;
  long read(void* buf, size_t count) override { return recv(buf, count, 0, nullptr); }
  long write(const void* buf, size_t count) override { return send(buf, count, 0, nullptr); }
  void last_close() override;
  uint64_t changes() const override;
  bool stream_like() const override { return sock_type == hal::kSockStream; }
  const char* type_name() const;
  const char* type() const override { return type_name(); }
  uint32_t mode() const override { return hal::kSIfsock | 0777; }

  long send(const void* buf, size_t len, int flags, const hal::SockAddr* to);
  long recv(void* buf, size_t len, int flags, hal::SockAddr* from);
  int take_error();
  // SIOCOUTQ: bytes this side wrote that the peer has not read yet (the fake
  // has no separate TCP acknowledgement: a byte counts as acknowledged once
  // the peer application read it, a stricter model than Linux's).
  int unacked(int* out) const;

  int family;
  int sock_type;
  enum class State { kNew, kBound, kListening, kConnecting, kConnected, kRefused, kClosed };
  State state = State::kNew;
  hal::SockAddr local;
  hal::SockAddr peer;
  bool has_local = false;
  int pending_error = 0;
  int sndbuf = 65536;
  int rcvbuf = 65536;
  bool shut_rd = false;
  std::vector<std::pair<int, int>> options;  // (level << 16 | name, value)
  // Streams.
  std::shared_ptr<StreamConn> conn;
  int side = 0;
  std::deque<std::shared_ptr<Socket>> backlog;
  int backlog_max = 0;
  // Datagrams.
  struct Datagram {
    std::vector<uint8_t> bytes;
    hal::SockAddr from;
  };
  std::deque<Datagram> inbox;
  size_t inbox_bytes = 0;
  bool connected_dgram = false;
};

}  // namespace fake
