// A scripted InfluxDB-like HTTP server on the fake kernel: it reads POSTs
// (request line, headers, Content-Length body) and answers each with the
// next scripted outcome, 204 when the script is empty. Test code.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "hal/socket.h"
#include "loop/loop.h"

namespace testhttp {

enum class How {
  kWhole,           // the answer in one write
  kSplit,           // the answer in two writes, 1 ms apart
  kCloseAfterHead,  // headers (announcing a body), then the connection closes
  kSilent,          // no answer at all (the client's timeout)
  kGarbage,         // bytes that are no HTTP response
  kOversized,       // a head longer than the client takes (3 KB of one header)
  kTwice,           // the answer, then the same again with no request for it
};

struct Outcome {
  int status = 204;
  std::string body;
  How how = How::kWhole;
  bool close = false;                       // "Connection: close"
  std::string retry_after = std::string();  // a Retry-After header's value, when not empty
};

struct Request {
  std::string line;
  std::string host;  // the Host header
  std::string authorization;
  std::string body;
  int answered = 0;   // the status sent, or 0
  int64_t at_ns = 0;  // when it came in (the loop's monotonic clock)
};

class Server {
 public:
  Server(evl::Loop* loop, const char* address);
  ~Server();
  // False once the peer did something the model did not expect; failure()
  // says what.
  bool ok() const { return failure_.empty(); }
  const std::string& failure() const { return failure_; }
  void up();
  void down();
  std::deque<Outcome> script;
  std::deque<Outcome> health_script;  // for bodies that are telemetry's health lines
  std::string location;               // a Location header on every answer, when not empty
  std::vector<Request> requests;
  // Lines of the bodies answered with a 2xx (what InfluxDB stored).
  size_t stored_lines() const;

 private:
  std::string failure_;
  static void on_accept(evl::Loop& loop, evl::IoHandle h, uint32_t events, void* ctx);
  static void on_conn(evl::Loop& loop, evl::IoHandle h, uint32_t events, void* ctx);
  static void on_rest(evl::Loop& loop, evl::TimerHandle h, uint32_t missed, void* ctx);
  void take_requests();
  void answer(Request* r);
  void close_conn();
  void write(const std::string& s);

  evl::Loop* loop_;
  hal::SockAddr at_;
  evl::IoHandle listener_;
  evl::IoHandle conn_io_;
  int conn_ = -1;
  std::string in_;
  std::string rest_;  // kSplit: the second half
  evl::TimerHandle rest_timer_;
};

}  // namespace testhttp
