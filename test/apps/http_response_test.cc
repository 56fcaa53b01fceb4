// The HTTP response parser: strict, bounded, never past its input.
#include <cerrno>
#include <cstring>
#include <string>

#include "CppUTest/TestHarness.h"
#include "apps/http/client.h"
#include "apps/http/response.h"

namespace {

long parse(const std::string& s, http::Response* r, size_t limit = 2048) {
  return http::parse_response(s.data(), s.size(), limit, r);
}

}  // namespace

TEST_GROUP(HttpResponse){};

TEST(HttpResponse, no_content_and_an_error_body) {
  http::Response r;
  const std::string ok = "HTTP/1.1 204 No Content\r\nX-Influxdb-Version: 1.6.7\r\n\r\n";
  CHECK_EQUAL(static_cast<long>(ok.size()), parse(ok, &r));
  CHECK_EQUAL(204, r.status);
  CHECK(r.keep_alive);
  const std::string bad =
      "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n"
      "{\"error\":\"unable to parse\"}HTTP/1.1 204";
  CHECK_EQUAL(static_cast<long>(bad.size() - 12), parse(bad, &r));  // the next one stays
  CHECK_EQUAL(400, r.status);
  CHECK_EQUAL(27u, r.body_len);
  CHECK(std::memcmp(r.body, "{\"error\"", 8) == 0);
}

TEST(HttpResponse, pieces_ask_for_more_at_every_cut) {
  const std::string full =
      "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\nConnection: close\r\n\r\nboom!";
  http::Response r;
  for (size_t cut = 0; cut < full.size(); ++cut) {
    CHECK_EQUAL(0, parse(full.substr(0, cut), &r));
  }
  CHECK_EQUAL(static_cast<long>(full.size()), parse(full, &r));
  CHECK_FALSE(r.keep_alive);
}

TEST(HttpResponse, malformed_responses_are_refused) {
  http::Response r;
  CHECK_EQUAL(-EPROTO, parse("HTTP/2 204 OK\r\n\r\n", &r));
  CHECK_EQUAL(-EPROTO, parse("HTTP/1.1 2x4 OK\r\n\r\n", &r));
  CHECK_EQUAL(-EPROTO, parse("HTTP/1.1 204X\r\n\r\n", &r));
  CHECK_EQUAL(-EPROTO, parse("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", &r));
  CHECK_EQUAL(-EPROTO, parse("HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n", &r));
  CHECK_EQUAL(-EPROTO,
              parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx", &r));
  CHECK_EQUAL(-EPROTO, parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", &r));
  CHECK_EQUAL(-EPROTO, parse("HTTP/1.1 200 OK\r\n\r\n", &r));  // a body with no length
  CHECK_EQUAL(-EPROTO, parse(std::string("HTTP/1.1 200 OK\r\nX: a\x01\r\n\r\n"), &r));
  std::string many = "HTTP/1.1 204 No Content\r\n";
  for (int i = 0; i <= http::kMaxHeaders; ++i) many += "X-A: b\r\n";
  CHECK_EQUAL(-EPROTO, parse(many + "\r\n", &r));
}

TEST(HttpResponse, oversized_heads_and_bodies_are_refused) {
  http::Response r;
  CHECK_EQUAL(-EMSGSIZE, parse("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", &r));
  CHECK_EQUAL(-EMSGSIZE, parse("HTTP/1.1 200 OK\r\nX: " + std::string(3000, 'a'), &r));
  CHECK_EQUAL(-EMSGSIZE, parse(std::string(3000, 'H'), &r));
}

TEST(HttpResponse, http_1_0_closes_unless_it_says_keep_alive) {
  http::Response r;
  CHECK(parse("HTTP/1.0 204 No Content\r\n\r\n", &r) > 0);
  CHECK_FALSE(r.keep_alive);
  CHECK(parse("HTTP/1.0 204 No Content\r\nConnection: Keep-Alive\r\n\r\n", &r) > 0);
  CHECK(r.keep_alive);
}

TEST(HttpResponse, basic_credentials_are_base64) {
  char out[64];
  CHECK(http::basic_credentials("Aladdin", "open sesame", out, sizeof out));
  STRCMP_EQUAL("QWxhZGRpbjpvcGVuIHNlc2FtZQ==", out);
  CHECK(http::basic_credentials("a", "", out, sizeof out));
  STRCMP_EQUAL("YTo=", out);
  CHECK_FALSE(http::basic_credentials("user", "password", out, 8));
}

TEST(HttpResponse, a_redirect_carries_its_location) {
  const char text[] =
      "HTTP/1.1 301 Moved Permanently\r\nlocation:  https://influx.lan/write?db=x \r\n"
      "Content-Length: 0\r\n\r\n";
  http::Response r;
  CHECK_EQUAL(static_cast<long>(sizeof text - 1),
              http::parse_response(text, sizeof text - 1, 2048, &r));
  CHECK_EQUAL(301, r.status);
  CHECK_EQUAL(std::string("https://influx.lan/write?db=x"),
              std::string(r.location, r.location_len));
  const char plain[] = "HTTP/1.1 204 No Content\r\n\r\n";
  CHECK(http::parse_response(plain, sizeof plain - 1, 2048, &r) > 0);
  CHECK(r.location == nullptr);
}

namespace {

constexpr int64_t kNow = 1798761600;  // 2027-01-01T00:00:00Z (a Friday)

int64_t after(const char* v, int64_t now_s = kNow) {
  return http::retry_after_s(v, std::strlen(v), now_s);
}

}  // namespace

TEST(HttpResponse, a_retry_after_header_is_kept_for_the_client) {
  const char text[] =
      "HTTP/1.1 429 Too Many Requests\r\nretry-after:  30 \r\nContent-Length: 0\r\n\r\n";
  http::Response r;
  CHECK(http::parse_response(text, sizeof text - 1, 2048, &r) > 0);
  CHECK_EQUAL(std::string("30"), std::string(r.retry_after, r.retry_after_len));
  const char plain[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
  CHECK(http::parse_response(plain, sizeof plain - 1, 2048, &r) > 0);
  CHECK(r.retry_after == nullptr);
}

TEST(HttpResponse, retry_after_seconds_saturate_at_an_hour) {
  CHECK_EQUAL(0, after("0"));
  CHECK_EQUAL(120, after("120"));
  CHECK_EQUAL(7, after("007"));
  CHECK_EQUAL(3599, after("3599"));
  CHECK_EQUAL(http::kMaxRetryAfterS, after("3601"));
  CHECK_EQUAL(http::kMaxRetryAfterS, after("18446744073709551616123456789"));
  for (const char* bad : {"", "-5", "1.5", "12a", "+3", " 3", "0x10", "soon", "\x80"}) {
    CHECK_EQUAL(-EINVAL, after(bad));
  }
}

TEST(HttpResponse, retry_after_dates_are_imf_fixdates_read_against_the_wall_clock) {
  CHECK_EQUAL(20, after("Fri, 01 Jan 2027 00:00:20 GMT"));
  CHECK_EQUAL(0, after("Fri, 01 Jan 2027 00:00:00 GMT"));
  CHECK_EQUAL(0, after("Sun, 06 Nov 1994 08:49:37 GMT"));  // past: at once
  CHECK_EQUAL(http::kMaxRetryAfterS, after("Sat, 02 Jan 2027 00:00:00 GMT"));
  CHECK_EQUAL(-ERANGE, after("Fri, 01 Jan 2027 00:00:20 GMT", 5));      // the clock reads 1970
  CHECK_EQUAL(59, after("Tue, 29 Feb 2028 00:00:59 GMT", 1835395200));  // a leap day
  for (const char* bad : {
           "Sat, 01 Jan 2027 00:00:20 GMT",   // not that date's weekday
           "Sat, 29 Feb 2027 00:00:20 GMT",   // 2027 has no leap day
           "Mon, 30 Feb 2032 00:00:00 GMT",   // no such day
           "Fri, 01 Jan 2027 24:00:00 GMT",   // no such hour
           "Fri, 01 Foo 2027 00:00:20 GMT",   // no such month
           "Fri, 01 Jan 2027 00:00:20 UTC",   // the zone is GMT
           "Fri, 1 Jan 2027 00:00:20 GMT",    // two digits
           "Friday, 01-Jan-27 00:00:20 GMT",  // RFC 850: obsolete
           "Fri Jan  1 00:00:20 2027",        // asctime: obsolete
           "Fri, 01 Jan 1969 23:59:59 GMT",   // before 1970
       }) {
    CHECK_EQUAL(-EINVAL, after(bad));
  }
}
