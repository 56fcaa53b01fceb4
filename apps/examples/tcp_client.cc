#include "apps/examples/tcp_client.h"

#include <cerrno>

namespace examples {
namespace {

constexpr int64_t kFirstBackoffNs = 100000000;  // 100 ms
constexpr int64_t kMaxBackoffNs = 30000000000;  // 30 s

}  // namespace

// [readme-begin]
void on_retry(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  client_start(static_cast<Client*>(ctx));
}

void retry_later(Client* c) {
  ++c->failures;
  c->connected = false;
  (void)c->loop->timer_after(c->backoff_ns, on_retry, c, &c->retry);
  c->backoff_ns = c->backoff_ns * 2 < kMaxBackoffNs ? c->backoff_ns * 2 : kMaxBackoffNs;
}

void on_socket(evl::Loop& loop, evl::IoHandle h, uint32_t events, void* ctx) {
  auto* c = static_cast<Client*>(ctx);
  const int fd = loop.io_fd(h);
  if (!c->connected && hal::socket_error(fd) == 0 && (events & evl::kHup) == 0) {
    c->connected = true;  // the connect completed
    ++c->connects;
    c->backoff_ns = kFirstBackoffNs;
    (void)hal::stream_send(fd, "hello\n", 6);
    (void)loop.io_modify(h, evl::kRdHup);  // from now on, wait for a drop
    return;
  }
  (void)loop.io_close(h);  // refused, reset or closed: try again later
  retry_later(c);
}

void client_start(Client* c) {
  if (c->backoff_ns == 0) c->backoff_ns = kFirstBackoffNs;
  int fd = -1;
  const int r = hal::stream_connect(c->server, &fd);
  if ((r == 0 || r == -EINPROGRESS) &&
      c->loop->io_start(fd, evl::kOut, on_socket, c, &c->io) == 0) {
    return;  // the outcome arrives as kOut (with kErr on failure)
  }
  if (fd >= 0) (void)hal::close(fd);
  retry_later(c);
}
// [readme-end]

}  // namespace examples
