// The heartbeat tests' TCP server on the fake kernel: reads "HB" lines,
// checks that sequence numbers only grow and that each beat leaves on its
// phase, and answers each with "ACK seq=N". server_down() closes the
// listener and the connection; server_up() listens again; an Outage's
// timer does both. And a UDP server that acknowledges beats (UdpAcker).
#pragma once

#include <cerrno>
#include <cstdio>
#include <string>

#include "CppUTest/TestHarness.h"
#include "hal/socket.h"
#include "loop/loop.h"

namespace testhb {

using evl::kSec;

struct Server {
  evl::Loop* loop = nullptr;
  hal::SockAddr at;
  evl::IoHandle listener;
  evl::IoHandle conn;
  int64_t start_ns = 0;
  int64_t period_ns = kSec;
  uint64_t received = 0;
  uint64_t last_seq = 0;
  uint64_t off_phase = 0;
  std::string partial;
  bool up = false;
  bool ack = true;  // false: reads beats and answers none (a hung server's kernel)
};

inline void on_conn(evl::Loop& loop, evl::IoHandle h, uint32_t, void* ctx) {
  auto* s = static_cast<Server*>(ctx);
  char buf[4096];
  const long n = hal::stream_recv(loop.io_fd(h), buf, sizeof buf);
  if (n <= 0) {
    if (n == -EAGAIN) return;
    (void)loop.io_close(h);
    s->conn = evl::IoHandle{};
    return;
  }
  s->partial.append(buf, static_cast<size_t>(n));
  size_t nl;
  while ((nl = s->partial.find('\n')) != std::string::npos) {
    const std::string line = s->partial.substr(0, nl);
    s->partial.erase(0, nl + 1);
    unsigned long long seq = 0;
    long long mono = 0;
    if (std::sscanf(line.c_str(), "HB id=board-7 seq=%llu uptime_ms=%*d mono_ns=%lld", &seq,
                    &mono) != 2) {
      FAIL(("malformed heartbeat: " + line).c_str());
    }
    CHECK(seq > s->last_seq);
    s->last_seq = seq;
    ++s->received;
    // Zero jitter on the fake: beat n leaves at exactly start + n * period.
    if (mono != s->start_ns + static_cast<long long>(seq) * s->period_ns) ++s->off_phase;
    if (!s->ack) continue;
    char ack[64];
    const int len = std::snprintf(ack, sizeof ack, "ACK seq=%llu\n", seq);
    (void)hal::stream_send(loop.io_fd(h), ack, static_cast<size_t>(len));
  }
}

inline void on_listener(evl::Loop& loop, evl::IoHandle h, uint32_t, void* ctx) {
  auto* s = static_cast<Server*>(ctx);
  int fd = -1;
  while (hal::stream_accept(loop.io_fd(h), &fd, nullptr) == 0) {
    if (s->conn) (void)loop.io_close(s->conn);
    CHECK_EQUAL(0, loop.io_start(fd, evl::kIn, on_conn, s, &s->conn));
  }
}

inline void server_up(Server* s) {
  int fd = -1;
  CHECK_EQUAL(0, hal::stream_listen(s->at, 4, &fd));
  CHECK_EQUAL(0, s->loop->io_start(fd, evl::kIn, on_listener, s, &s->listener));
  s->up = true;
}

inline void server_down(Server* s) {
  if (s->conn) (void)s->loop->io_close(s->conn);
  if (s->listener) (void)s->loop->io_close(s->listener);
  s->conn = evl::IoHandle{};
  s->listener = evl::IoHandle{};
  s->partial.clear();
  s->up = false;
}

// An outage: the server goes down at_s, and up again for_s later.
struct Outage {
  Server* server;
  int64_t at_s;
  int64_t for_s;
  bool started = false;
};

inline void on_outage(evl::Loop& loop, evl::TimerHandle h, uint32_t, void* ctx) {
  auto* o = static_cast<Outage*>(ctx);
  if (!o->started) {
    server_down(o->server);
    o->started = true;
    CHECK_EQUAL(0, loop.timer_restart(h, o->for_s * kSec));
  } else {
    server_up(o->server);
  }
}

// A UDP server that answers each beat with its ACK line.
struct UdpAcker {
  int fd = -1;
  int beats = 0;
};

inline void on_udp_beat(evl::Loop&, evl::IoHandle, uint32_t, void* ctx) {
  auto* u = static_cast<UdpAcker*>(ctx);
  char buf[256];
  hal::SockAddr from;
  long n;
  while ((n = hal::dgram_recv(u->fd, buf, sizeof buf - 1, &from, nullptr)) > 0) {
    buf[n] = '\0';
    unsigned long long seq = 0;
    if (std::sscanf(buf, "HB id=board-7 seq=%llu", &seq) != 1) continue;
    ++u->beats;
    char ack[64];
    const int len = std::snprintf(ack, sizeof ack, "ACK seq=%llu\n", seq);
    (void)hal::dgram_send(u->fd, ack, static_cast<size_t>(len), &from);
  }
}

}  // namespace testhb
