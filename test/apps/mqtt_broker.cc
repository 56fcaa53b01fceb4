#include "test/apps/mqtt_broker.h"

#include <cerrno>

// The model runs outside CppUTest too (in the simulator): a broken
// expectation is remembered, and tests check ok().
#define EXPECT(cond)                                   \
  do {                                                 \
    if (!(cond) && failure_.empty()) failure_ = #cond; \
  } while (0)

namespace testmqtt {
namespace {

std::string u16(uint16_t v) {
  return std::string{static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
}

std::string packet(uint8_t first, const std::string& body) {
  std::string out(1, static_cast<char>(first));
  size_t n = body.size();
  do {
    uint8_t b = static_cast<uint8_t>(n % 128);
    n /= 128;
    if (n > 0) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (n > 0);
  return out + body;
}

// Reads a 2-byte length and that many bytes at pos; false if it runs out.
bool take_str(const std::string& b, size_t* pos, std::string* out) {
  if (*pos + 2 > b.size()) return false;
  const size_t n = static_cast<uint8_t>(b[*pos]) << 8 | static_cast<uint8_t>(b[*pos + 1]);
  if (*pos + 2 + n > b.size()) return false;
  *out = b.substr(*pos + 2, n);
  *pos += 2 + n;
  return true;
}

uint16_t get16(const std::string& b, size_t pos) {
  return static_cast<uint16_t>(static_cast<uint8_t>(b[pos]) << 8 |
                               static_cast<uint8_t>(b[pos + 1]));
}

}  // namespace

Broker::Broker(evl::Loop* loop, const char* address) : loop_(loop) {
  EXPECT(0 == hal::parse_address(address, &at_));
}

Broker::~Broker() {
  if (conn_io_) (void)loop_->io_close(conn_io_);
  if (listener_) (void)loop_->io_close(listener_);
}

void Broker::up() {
  // Under the simulator's injected faults this may fail: the server is
  // then simply not up (the weather tries again).
  int fd = -1;
  if (hal::stream_listen(at_, 4, &fd) < 0) return;
  if (loop_->io_start(fd, evl::kIn, on_accept, this, &listener_) < 0) (void)hal::close(fd);
}

void Broker::down() {
  close_client();
  if (listener_) (void)loop_->io_close(listener_);
  listener_ = evl::IoHandle{};
}

void Broker::close_client() {
  if (!conn_io_) return;
  (void)loop_->io_close(conn_io_);
  conn_io_ = evl::IoHandle{};
  lost_client();
}

void Broker::lost_client() {
  conn_ = -1;
  in_.clear();
  if (will_pending_) {
    retained[will_topic] = will_message;
    ++wills;
  }
  will_pending_ = false;
}

void Broker::write(const std::string& bytes) {
  if (conn_ < 0) return;
  (void)hal::stream_send(conn_, bytes.data(), bytes.size());
}

void Broker::send_raw(const std::string& bytes) { write(bytes); }

void Broker::publish(const std::string& topic, const std::string& payload, int qos, bool retain) {
  std::string body = u16(static_cast<uint16_t>(topic.size())) + topic;
  if (qos > 0) body += u16(next_id_++);
  write(packet(static_cast<uint8_t>(0x30 | qos << 1 | (retain ? 1 : 0)), body + payload));
}

void Broker::on_accept(evl::Loop& loop, evl::IoHandle h, uint32_t, void* ctx) {
  auto* b = static_cast<Broker*>(ctx);
  int fd = -1;
  while (hal::stream_accept(loop.io_fd(h), &fd, nullptr) == 0) {
    b->close_client();  // a new connection replaces the old (as a broker takes over a client id)
    if (loop.io_start(fd, evl::kIn, on_conn, b, &b->conn_io_) != 0) {
      (void)hal::close(fd);  // an injected fault: the connection is dropped
      continue;
    }
    b->conn_ = fd;
  }
}

void Broker::on_conn(evl::Loop& loop, evl::IoHandle h, uint32_t, void* ctx) {
  auto* b = static_cast<Broker*>(ctx);
  char buf[4096];
  bool ended = false;
  for (;;) {
    const long n = hal::stream_recv(loop.io_fd(h), buf, sizeof buf);
    if (n == -EAGAIN) break;
    if (n <= 0) {
      ended = true;  // what came before the end is still handled
      break;
    }
    b->in_.append(buf, static_cast<size_t>(n));
  }
  b->take_packets();
  if (ended) b->close_client();
}

void Broker::take_packets() {
  Broker* b = this;
  while (b->in_.size() >= 2 && b->conn_ >= 0) {
    size_t len = 0, pos = 1;
    int shift = 0;
    bool complete = false;
    while (pos < b->in_.size() && pos < 5) {
      const uint8_t c = static_cast<uint8_t>(b->in_[pos++]);
      len |= static_cast<size_t>(c & 0x7f) << shift;
      shift += 7;
      if ((c & 0x80) == 0) {
        complete = true;
        break;
      }
    }
    if (!complete || b->in_.size() < pos + len) return;
    const uint8_t first = static_cast<uint8_t>(b->in_[0]);
    const std::string body = b->in_.substr(pos, len);
    b->in_.erase(0, pos + len);
    b->handle(first, body);
  }
}

void Broker::handle(uint8_t first, const std::string& body) {
  const int type = first >> 4;
  switch (type) {
    case 1: {  // CONNECT
      size_t pos = 0;
      std::string proto;
      EXPECT(take_str(body, &pos, &proto));
      EXPECT(proto == "MQTT");
      EXPECT(body[pos] == 4);
      const uint8_t flags = static_cast<uint8_t>(body[pos + 1]);
      keepalive_s = get16(body, pos + 2);
      pos += 4;
      EXPECT(take_str(body, &pos, &client_id));
      clean_session = (flags & 0x02) != 0;
      if ((flags & 0x04) != 0) {
        EXPECT(take_str(body, &pos, &will_topic));
        EXPECT(take_str(body, &pos, &will_message));
      }
      if ((flags & 0x80) != 0) EXPECT(take_str(body, &pos, &user));
      if ((flags & 0x40) != 0) EXPECT(take_str(body, &pos, &password));
      ++connects;
      if (!script.answer_connect) return;
      write(packet(0x20, std::string{0, static_cast<char>(script.connack_code)}));
      will_pending_ = script.connack_code == 0 && (flags & 0x04) != 0;
      return;
    }
    case 3: {  // PUBLISH
      if (script.max_body > 0 && body.size() > script.max_body) {
        ++oversize_closes;  // as mosquitto's max_packet_size: no PUBACK, the connection ends
        close_client();
        return;
      }
      Message m;
      m.qos = (first >> 1) & 3;
      m.retain = (first & 1) != 0;
      m.dup = (first & 8) != 0;
      size_t pos = 0;
      EXPECT(take_str(body, &pos, &m.topic));
      if (m.qos > 0) {
        m.id = get16(body, pos);
        pos += 2;
      }
      m.payload = body.substr(pos);
      published.push_back(m);
      if (m.retain) retained[m.topic] = m.payload;
      if (script.close_after_next_publish) {
        script.close_after_next_publish = false;
        close_client();
        return;
      }
      if (m.qos == 0) return;
      if (script.drop_pubacks > 0) {
        --script.drop_pubacks;
        return;
      }
      const std::string ack = packet(0x40, u16(m.id));
      write(ack);
      if (script.dup_pubacks > 0) {
        --script.dup_pubacks;
        write(ack);
      }
      return;
    }
    case 4: return;  // PUBACK of our PUBLISH
    case 8: {        // SUBSCRIBE
      const uint16_t id = get16(body, 0);
      size_t pos = 2;
      std::string filter;
      EXPECT(take_str(body, &pos, &filter));
      subscriptions.push_back(filter);
      write(packet(0x90, u16(id) + std::string(1, script.refuse_subscriptions ? '\x80' : '\x01')));
      return;
    }
    case 12:  // PINGREQ
      ++pings;
      if (script.answer_pings) write(packet(0xD0, ""));
      return;
    case 14:  // DISCONNECT: a clean end, no will
      ++disconnects;
      will_pending_ = false;
      close_client();
      return;
    default: failure_ = "the client sent a packet type a client must not send";
  }
}

}  // namespace testmqtt
