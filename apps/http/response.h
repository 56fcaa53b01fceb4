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
  const char* retry_after = nullptr;  // a Retry-After header's value, or null
  size_t retry_after_len = 0;
};

// A Retry-After value (RFC 9110, 10.2.3): delta-seconds ("120"), or an
// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), the form a server must
// send. A date is read against now_s, the wall clock's seconds since 1970,
// which must be set (kClockSetAfterS or later: a board that has not had
// NTP yet reads 1970, against which any date is far ahead). The wait in
// seconds: 0 for a date already past, at most kMaxRetryAfterS (a longer one
// is cut to it). -EINVAL for any other value (the obsolete RFC 850 and
// asctime dates included), -ERANGE for a date with the clock unset.
constexpr int64_t kMaxRetryAfterS = 3600;
constexpr int64_t kClockSetAfterS = 1735689600;  // 2025-01-01T00:00:00Z
[[nodiscard]] int64_t retry_after_s(const char* v, size_t len, int64_t now_s);

// One response from data[0..len): its size (> 0) with *out filled, 0 when
// more bytes are needed, or a negative errno as above.
[[nodiscard]] long parse_response(const char* data, size_t len, size_t limit, Response* out);

}  // namespace http
