// Fuzz target: bytes from an HTTP server. What must hold: the parser never
// claims more than it was given or than the limit, the body lies inside the
// input, the status has three digits, a Retry-After is a wait of at most
// an hour or refused.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>

#include "apps/http/response.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto* text = reinterpret_cast<const char*>(data);
  for (size_t limit : {size_t{64}, size_t{2048}}) {
    http::Response r;
    const long n = http::parse_response(text, size, limit, &r);
    if (n <= 0) continue;
    if (static_cast<size_t>(n) > size || static_cast<size_t>(n) > limit) std::abort();
    if (r.status < 100 || r.status > 999) std::abort();
    if (r.body < text || r.body + r.body_len > text + n) std::abort();
    if (r.location != nullptr && (r.location < text || r.location + r.location_len > r.body)) {
      std::abort();  // a header's value: inside the head
    }
    if (r.retry_after != nullptr) {
      if (r.retry_after < text || r.retry_after + r.retry_after_len > r.body) std::abort();
      for (int64_t now : {int64_t{0}, int64_t{1798761600}}) {  // 1970, 2027
        const int64_t s = http::retry_after_s(r.retry_after, r.retry_after_len, now);
        if (s > http::kMaxRetryAfterS || (s < 0 && s != -EINVAL && s != -ERANGE)) std::abort();
      }
    }
  }
  return 0;
}
