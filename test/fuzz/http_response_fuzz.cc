// Fuzz target: bytes from an HTTP server. What must hold: the parser never
// claims more than it was given or than the limit, the body lies inside the
// input, the status has three digits.
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
  }
  return 0;
}
