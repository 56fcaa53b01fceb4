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

// n digits at p as a number, or -1.
int digits(const char* p, int n) {
  int v = 0;
  for (int i = 0; i < n; ++i) {
    if (p[i] < '0' || p[i] > '9') return -1;
    v = v * 10 + (p[i] - '0');
  }
  return v;
}

// Days from 1970-01-01 to year-month-day (proleptic Gregorian, month
// 1-12), by eras of 400 years starting on March 1st (the inverse of
// app::format_utc's walk).
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// "Sun, 06 Nov 1994 08:49:37 GMT" (exactly 29 bytes) as seconds since
// 1970, or -1. The weekday must be the date's.
int64_t imf_fixdate(const char* v, size_t len) {
  static const char kDays[] = "ThuFriSatSunMonTueWed";  // 1970-01-01 was a Thursday
  static const char kMonths[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  if (len != 29 || v[3] != ',' || v[4] != ' ' || v[7] != ' ' || v[11] != ' ' || v[16] != ' ' ||
      v[19] != ':' || v[22] != ':' || v[25] != ' ' || std::memcmp(v + 26, "GMT", 3) != 0) {
    return -1;
  }
  size_t month = 0;
  while (month < 12 && std::memcmp(kMonths + 3 * month, v + 8, 3) != 0) ++month;
  const int day = digits(v + 5, 2), year = digits(v + 12, 4);
  const int h = digits(v + 17, 2), m = digits(v + 20, 2), s = digits(v + 23, 2);
  static const int kMonthDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 12 || day < 1 || day > kMonthDays[month] || year < 1970 || h < 0 || h > 23 ||
      m < 0 || m > 59 || s < 0 || s > 60) {
    return -1;
  }
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month == 1 && day == 29 && !leap) return -1;
  const int64_t days = days_from_civil(year, static_cast<int>(month) + 1, day);
  if (std::memcmp(kDays + 3 * (days % 7), v, 3) != 0) return -1;
  return days * 86400 + int64_t{h} * 3600 + int64_t{m} * 60 + s;
}

}  // namespace

int64_t retry_after_s(const char* v, size_t len, int64_t now_s) {
  if (len == 0) return -EINVAL;
  if (v[0] >= '0' && v[0] <= '9') {
    int64_t n = 0;
    for (size_t i = 0; i < len; ++i) {
      if (v[i] < '0' || v[i] > '9') return -EINVAL;
      if (n < kMaxRetryAfterS) n = n * 10 + (v[i] - '0');  // (saturates: never overflows)
    }
    return n < kMaxRetryAfterS ? n : kMaxRetryAfterS;
  }
  const int64_t at = imf_fixdate(v, len);
  if (at < 0) return -EINVAL;
  if (now_s < kClockSetAfterS) return -ERANGE;
  if (at <= now_s) return 0;
  return at - now_s < kMaxRetryAfterS ? at - now_s : kMaxRetryAfterS;
}

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
    } else if (iequal(p, name_len, "retry-after")) {
      r.retry_after = v;
      r.retry_after_len = vlen;
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
