// Parsing and formatting socket addresses (pure code).
#include <cerrno>
#include <cstring>

#include "CppUTest/TestHarness.h"
#include "hal/address.h"

TEST_GROUP(Address){};

namespace {

std::string round_trip(const char* text) {
  hal::SockAddr a;
  if (hal::parse_address(text, &a) != 0) return "error";
  char buf[160];
  if (hal::format_address(a, buf, sizeof buf) < 0) return "format-error";
  return buf;
}

}  // namespace

TEST(Address, ipv4_ipv6_and_unix_forms_round_trip) {
  STRCMP_EQUAL("192.0.2.1:5000", round_trip("192.0.2.1:5000").c_str());
  STRCMP_EQUAL("[2001:db8::1]:5000", round_trip("[2001:db8::1]:5000").c_str());
  STRCMP_EQUAL("[::1]:1", round_trip("[::1]:1").c_str());
  STRCMP_EQUAL("unix:/run/app.sock", round_trip("unix:/run/app.sock").c_str());
  STRCMP_EQUAL("unix:/run/app.sock", round_trip("/run/app.sock").c_str());
  STRCMP_EQUAL("unix:@evl-test", round_trip("@evl-test").c_str());
  STRCMP_EQUAL("unix:@evl-test", round_trip("unix:@evl-test").c_str());
}

TEST(Address, family_and_port) {
  hal::SockAddr a;
  CHECK_EQUAL(0, hal::parse_address("10.1.2.3:65535", &a));
  CHECK_EQUAL(hal::kAfInet, hal::address_family(a));
  CHECK_EQUAL(65535, hal::address_port(a));
  CHECK_EQUAL(0, hal::parse_address("[fe80::2]:80", &a));
  CHECK_EQUAL(hal::kAfInet6, hal::address_family(a));
  CHECK_EQUAL(80, hal::address_port(a));
  CHECK_EQUAL(0, hal::parse_address("@x", &a));
  CHECK_EQUAL(hal::kAfUnix, hal::address_family(a));
  CHECK_EQUAL(0, hal::address_port(a));
}

TEST(Address, malformed_input_is_einval_and_leaves_output_alone) {
  const char* bad[] = {"",
                       "192.0.2.1",
                       "192.0.2.1:",
                       "192.0.2.1:65536",
                       "192.0.2.1:12a",
                       "192.0.2.256:80",
                       "localhost:80",
                       "2001:db8::1:80",
                       "[2001:db8::1]80",
                       "[2001:db8::zz]:80",
                       "[]:80",
                       "unix:",
                       "@",
                       "1.2.3.4:-1",
                       "1.2.3.4:999999"};
  for (const char* text : bad) {
    hal::SockAddr a;
    a.len = 77;
    CHECK_EQUAL_TEXT(-EINVAL, hal::parse_address(text, &a), text);
    CHECK_EQUAL(77u, a.len);
  }
  std::string long_path = "/" + std::string(200, 'p');
  hal::SockAddr a;
  CHECK_EQUAL(-EINVAL, hal::parse_address(long_path.c_str(), &a));
  CHECK_EQUAL(-EINVAL, hal::parse_address(nullptr, &a));
}

TEST(Address, format_reports_small_buffers) {
  hal::SockAddr a;
  CHECK_EQUAL(0, hal::parse_address("192.0.2.1:5000", &a));
  char buf[8];
  CHECK_EQUAL(-ENOSPC, hal::format_address(a, buf, sizeof buf));
  hal::SockAddr none;
  char big[64];
  CHECK_EQUAL(-EINVAL, hal::format_address(none, big, sizeof big));
}

TEST(Address, wildcard_bind_matches_any_destination_with_its_port) {
  hal::SockAddr any;
  hal::SockAddr one;
  hal::SockAddr other_port;
  CHECK_EQUAL(0, hal::parse_address("0.0.0.0:7000", &any));
  CHECK_EQUAL(0, hal::parse_address("127.0.0.1:7000", &one));
  CHECK_EQUAL(0, hal::parse_address("127.0.0.1:7001", &other_port));
  CHECK(hal::address_matches(any, one));
  CHECK(hal::address_matches(one, one));
  CHECK_FALSE(hal::address_matches(one, any));
  CHECK_FALSE(hal::address_matches(any, other_port));
}
