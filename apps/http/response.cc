#include "apps/http/response.h"

#include <cerrno>
#include <cstring>

namespace http {
namespace {

bool iequal(const char* a, size_t alen, const char* b) {
  const size_t blen = std::strlen(b);
  if (alen != blen) return false;
  for (size_t i = 0; i < alen; ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

const char* find_crlf(const char* p, const char* end) {
  for (; p + 1 < end; ++p) {
    if (p[0] == '\r' && p[1] == '\n') return p;
  }
  return nullptr;
}

// "HTTP/1.1 204 No Content": the status, or -1.
int status_line(const char* p, size_t n, bool* http10) {
  if (n < 12 || std::memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ') {
    return -1;
  }
  for (int i = 9; i < 12; ++i) {
    if (p[i] < '0' || p[i] > '9') return -1;
  }
  if (n > 12 && p[12] != ' ') return -1;
  *http10 = p[7] == '0';
  return (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
}

}  // namespace

long parse_response(const char* data, size_t len, size_t limit, Response* out) {
  const size_t scan = len < limit ? len : limit;
  const char* end = data + scan;
  const char* eol = find_crlf(data, end);
  if (eol == nullptr) return len >= limit ? -EMSGSIZE : 0;
  Response r;
  bool http10 = false;
  r.status = status_line(data, static_cast<size_t>(eol - data), &http10);
  if (r.status < 100) return -EPROTO;
  r.keep_alive = !http10;
  long long content_length = -1;
  int headers = 0;
  const char* p = eol + 2;
  for (;;) {
    const char* e = find_crlf(p, end);
    if (e == nullptr) return len >= limit ? -EMSGSIZE : 0;
    if (e == p) {  // the blank line: the head ends
      p = e + 2;
      break;
    }
    if (++headers > kMaxHeaders) return -EPROTO;
    const char* colon = static_cast<const char*>(std::memchr(p, ':', static_cast<size_t>(e - p)));
    if (colon == nullptr || colon == p) return -EPROTO;
    for (const char* c = p; c < e; ++c) {
      if ((static_cast<unsigned char>(*c) < 0x20 && *c != '\t') || *c == 0x7f) return -EPROTO;
    }
    const char* v = colon + 1;
    while (v < e && (*v == ' ' || *v == '\t')) ++v;
    const char* ve = e;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) --ve;
    const size_t name_len = static_cast<size_t>(colon - p);
    const size_t vlen = static_cast<size_t>(ve - v);
    if (iequal(p, name_len, "content-length")) {
      if (vlen == 0 || vlen > 9) return -EPROTO;
      long long n = 0;
      for (const char* c = v; c < ve; ++c) {
        if (*c < '0' || *c > '9') return -EPROTO;
        n = n * 10 + (*c - '0');
      }
      if (content_length >= 0 && content_length != n) return -EPROTO;
      content_length = n;
    } else if (iequal(p, name_len, "transfer-encoding")) {
      return -EPROTO;
    } else if (iequal(p, name_len, "location")) {
      r.location = v;
      r.location_len = vlen;
    } else if (iequal(p, name_len, "connection")) {
      if (iequal(v, vlen, "close")) r.keep_alive = false;
      if (iequal(v, vlen, "keep-alive")) r.keep_alive = true;
    }
    p = e + 2;
  }
  const size_t head = static_cast<size_t>(p - data);
  // 204 and 304 carry no body; other answers without a length would end
  // with the connection, which this client does not wait for.
  if (r.status == 204 || r.status == 304 || (r.status >= 100 && r.status < 200)) {
    content_length = 0;
  }
  if (content_length < 0) return -EPROTO;
  if (head + static_cast<size_t>(content_length) > limit) return -EMSGSIZE;
  if (head + static_cast<size_t>(content_length) > len) return 0;
  r.body = p;
  r.body_len = static_cast<size_t>(content_length);
  *out = r;
  return static_cast<long>(head + r.body_len);
}

}  // namespace http
