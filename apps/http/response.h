// HTTP/1.1 responses, parsed strictly from bytes a server sent: a status
// line, headers, and a Content-Length body, all within the caller's limit.
//
// Refused (-EPROTO): a status line that is not "HTTP/1.x DDD ...", a header
// line without a colon or with a control byte, a Content-Length that is not
// all digits or given twice with different values, any Transfer-Encoding
// (this client sends nothing that needs chunked answers back), more than
// kMaxHeaders headers. -EMSGSIZE: the head and body do not fit `limit`.
// The parser never reads past `len`.
#pragma once

#include <cstddef>
#include <cstdint>

namespace http {

constexpr int kMaxHeaders = 32;

struct Response {
  int status = 0;
  bool keep_alive = true;      // false after "Connection: close" (or HTTP/1.0)
  const char* body = nullptr;  // points into the caller's bytes
  size_t body_len = 0;
  const char* location = nullptr;  // a Location header's value (redirects), or null
  size_t location_len = 0;
};

// One response from data[0..len): its size (> 0) with *out filled, 0 when
// more bytes are needed, or a negative errno as above.
[[nodiscard]] long parse_response(const char* data, size_t len, size_t limit, Response* out);

}  // namespace http
