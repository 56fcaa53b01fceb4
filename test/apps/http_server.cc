#include "test/apps/http_server.h"

#include <cerrno>
#include <cstdlib>

// The model runs outside CppUTest too (in the simulator): a broken
// expectation is remembered, and tests check ok().
#define EXPECT(cond)                                   \
  do {                                                 \
    if (!(cond) && failure_.empty()) failure_ = #cond; \
  } while (0)

namespace testhttp {

Server::Server(evl::Loop* loop, const char* address) : loop_(loop) {
  EXPECT(0 == hal::parse_address(address, &at_));
}

Server::~Server() { down(); }

void Server::up() {
  // Under the simulator's injected faults this may fail: the server is
  // then simply not up (the weather tries again).
  int fd = -1;
  if (hal::stream_listen(at_, 4, &fd) < 0) return;
  if (loop_->io_start(fd, evl::kIn, on_accept, this, &listener_) < 0) (void)hal::close(fd);
}

void Server::down() {
  close_conn();
  if (listener_) (void)loop_->io_close(listener_);
  listener_ = evl::IoHandle{};
}

void Server::close_conn() {
  if (conn_io_) (void)loop_->io_close(conn_io_);
  conn_io_ = evl::IoHandle{};
  conn_ = -1;
  in_.clear();
  rest_.clear();
  loop_->timer_clear(&rest_timer_);
}

size_t Server::stored_lines() const {
  size_t n = 0;
  for (const Request& r : requests) {
    if (r.answered < 200 || r.answered >= 300) continue;
    for (char c : r.body) n += c == '\n' ? 1 : 0;
  }
  return n;
}

void Server::write(const std::string& s) {
  if (conn_ >= 0) (void)hal::stream_send(conn_, s.data(), s.size());
}

void Server::on_accept(evl::Loop& loop, evl::IoHandle h, uint32_t, void* ctx) {
  auto* s = static_cast<Server*>(ctx);
  int fd = -1;
  while (hal::stream_accept(loop.io_fd(h), &fd, nullptr) == 0) {
    s->close_conn();
    if (loop.io_start(fd, evl::kIn, on_conn, s, &s->conn_io_) != 0) {
      (void)hal::close(fd);  // an injected fault: the connection is dropped
      continue;
    }
    s->conn_ = fd;
  }
}

void Server::on_conn(evl::Loop& loop, evl::IoHandle h, uint32_t, void* ctx) {
  auto* s = static_cast<Server*>(ctx);
  char buf[8192];
  for (;;) {
    const long n = hal::stream_recv(loop.io_fd(h), buf, sizeof buf);
    if (n == -EAGAIN) break;
    if (n <= 0) {
      s->close_conn();
      return;
    }
    s->in_.append(buf, static_cast<size_t>(n));
  }
  s->take_requests();
}

void Server::take_requests() {
  for (;;) {
    const size_t head_end = in_.find("\r\n\r\n");
    if (head_end == std::string::npos) return;
    const std::string head = in_.substr(0, head_end + 2);
    const size_t cl = head.find("Content-Length: ");
    EXPECT(cl != std::string::npos);
    const size_t len = std::strtoul(head.c_str() + cl + 16, nullptr, 10);
    if (in_.size() < head_end + 4 + len) return;
    Request r;
    r.line = head.substr(0, head.find("\r\n"));
    const size_t host = head.find("\r\nHost: ");
    if (host != std::string::npos) {
      r.host = head.substr(host + 8, head.find("\r\n", host + 2) - host - 8);
    }
    const size_t auth = head.find("Authorization: ");
    if (auth != std::string::npos) {
      r.authorization = head.substr(auth + 15, head.find("\r\n", auth) - auth - 15);
    }
    r.body = in_.substr(head_end + 4, len);
    r.at_ns = loop_->now(evl::Clock::kMonotonic);
    in_.erase(0, head_end + 4 + len);
    requests.push_back(r);
    answer(&requests.back());
    if (conn_ < 0) return;
  }
}

void Server::answer(Request* r) {
  Outcome o;
  std::deque<Outcome>& from =
      r->body.rfind("telemetry_health", 0) == 0 && !health_script.empty() ? health_script : script;
  if (!from.empty()) {
    o = from.front();
    from.pop_front();
  }
  std::string text = "HTTP/1.1 " + std::to_string(o.status) + " X\r\n";
  if (o.status != 204) text += "Content-Length: " + std::to_string(o.body.size()) + "\r\n";
  if (o.close) text += "Connection: close\r\n";
  if (!location.empty()) text += "Location: " + location + "\r\n";
  if (!o.retry_after.empty()) text += "Retry-After: " + o.retry_after + "\r\n";
  text += "\r\n";
  switch (o.how) {
    case How::kSilent: return;
    case How::kGarbage: write("SMTP ready\r\n\r\n"); return;
    case How::kOversized:
      write("HTTP/1.1 204 X\r\nX-Pad: " + std::string(3000, 'p') + "\r\n\r\n");
      return;
    case How::kTwice:
      r->answered = o.status;
      write(text + o.body + text + o.body);
      return;
    case How::kCloseAfterHead:
      // A 204's head is the whole answer (it never has a body): stored.
      if (o.status == 204) r->answered = 204;
      write("HTTP/1.1 " + std::to_string(o.status) + " X\r\nContent-Length: 50\r\n\r\n");
      close_conn();
      return;
    case How::kSplit:
      r->answered = o.status;
      text += o.body;
      write(text.substr(0, text.size() / 2));
      rest_ = text.substr(text.size() / 2);
      (void)loop_->timer_after(evl::kMs, on_rest, this, &rest_timer_);
      return;
    case How::kWhole:
      r->answered = o.status;
      write(text + o.body);
      if (o.close) close_conn();
      return;
  }
}

void Server::on_rest(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  auto* s = static_cast<Server*>(ctx);
  s->rest_timer_ = evl::TimerHandle{};
  s->write(s->rest_);
  s->rest_.clear();
}

}  // namespace testhttp
