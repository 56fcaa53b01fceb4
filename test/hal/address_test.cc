// Parsing and formatting socket addresses (pure code, but for an IPv6
// zone's interface name, read from /sys/class/net on the fake kernel).
#include <cerrno>
#include <cstring>

#include "CppUTest/TestHarness.h"
#include "hal/address.h"
#include "test/fake/kernel.h"

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
  CHECK_EQUAL(0, hal::parse_address("[2001:db8::2]:80", &a));
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
                       "[2001:db8::1",
                       "[1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd]:80",
                       ":80",
                       "1111222233334444555566667777888899990000aaaabbbbccccddddeeeeffff:80",
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
  CHECK_EQUAL(-EINVAL, hal::parse_address("192.0.2.1:80", nullptr));
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
  hal::SockAddr any6;
  hal::SockAddr one6;
  CHECK_EQUAL(0, hal::parse_address("[::]:7000", &any6));
  CHECK_EQUAL(0, hal::parse_address("[::1]:7000", &one6));
  CHECK(hal::address_matches(any6, one6));
  CHECK_FALSE(hal::address_matches(one6, any6));
  CHECK_FALSE(hal::address_matches(any6, one));  // another family
  hal::SockAddr sock;
  hal::SockAddr other_sock;
  CHECK_EQUAL(0, hal::parse_address("/run/a.sock", &sock));
  CHECK_EQUAL(0, hal::parse_address("/run/b.sock", &other_sock));
  CHECK(hal::address_matches(sock, sock));
  CHECK_FALSE(hal::address_matches(sock, other_sock));  // no wildcard for Unix paths
}

TEST(Address, an_unnamed_unix_peer_formats_as_unix_colon) {
  hal::SockAddr a;
  const uint16_t family = hal::kAfUnix;  // what recvfrom gives for an unbound peer
  std::memcpy(a.data, &family, sizeof family);
  a.len = sizeof family;
  char text[16];
  CHECK_EQUAL(5, hal::format_address(a, text, sizeof text));
  STRCMP_EQUAL("unix:", text);
}

TEST(Address, set_port_changes_only_ip_addresses) {
  hal::SockAddr v4;
  hal::SockAddr v6;
  hal::SockAddr un;
  CHECK_EQUAL(0, hal::parse_address("192.0.2.1:1", &v4));
  CHECK_EQUAL(0, hal::parse_address("[2001:db8::1]:1", &v6));
  CHECK_EQUAL(0, hal::parse_address("/run/a.sock", &un));
  hal::address_set_port(&v4, 8086);
  hal::address_set_port(&v6, 1883);
  const hal::SockAddr before = un;
  hal::address_set_port(&un, 99);
  CHECK_EQUAL(8086, hal::address_port(v4));
  CHECK_EQUAL(1883, hal::address_port(v6));
  MEMCMP_EQUAL(&before, &un, sizeof un);
  char text[64];
  CHECK(hal::format_address(v6, text, sizeof text) > 0);
  STRCMP_EQUAL("[2001:db8::1]:1883", text);
  CHECK_EQUAL(-ENOSPC, hal::format_address(v6, text, 10));
}

// A link-local address means nothing without its link: a zone names the
// interface (its index, or its name looked up in /sys/class/net), and one
// without a zone is refused at once (connect() would say EINVAL for ever).
TEST(Address, ipv6_zones_name_the_interface_and_link_local_needs_one) {
  fake::Kernel k;
  k.add_regular_path("/sys/class/net/eth0/ifindex", "3\n");
  k.add_regular_path("/sys/class/net/bad/ifindex", "x\n");
  k.add_regular_path("/sys/class/net/empty/ifindex", "");
  STRCMP_EQUAL("[fe80::1%3]:9000", round_trip("[fe80::1%eth0]:9000").c_str());
  STRCMP_EQUAL("[fe80::1%3]:9000", round_trip("[fe80::1%3]:9000").c_str());
  STRCMP_EQUAL("[2001:db8::1%3]:9000", round_trip("[2001:db8::1%eth0]:9000").c_str());
  hal::SockAddr a;
  CHECK_EQUAL(-EADDRNOTAVAIL, hal::parse_address("[fe80::1]:9000", &a));
  CHECK_EQUAL(-EADDRNOTAVAIL, hal::parse_address("[febf::1]:9000", &a));
  CHECK_EQUAL(0, hal::parse_address("[fec0::1]:9000", &a));  // not link-local
  CHECK_EQUAL(-ENODEV, hal::parse_address("[fe80::1%wlan0]:9000", &a));
  CHECK_EQUAL(-ENODEV, hal::parse_address("[fe80::1%bad]:9000", &a));
  CHECK_EQUAL(-ENODEV, hal::parse_address("[fe80::1%empty]:9000", &a));
  const char* malformed[] = {"[fe80::1%]:9000",           "[fe80::1%0]:9000",
                             "[fe80::1%4294967296]:9000", "[fe80::1%a/b]:9000",
                             "[fe80::1%..]:9000",         "[fe80::1%.]:9000",
                             "[fe80::1%a b]:9000",        "[fe80::1%0123456789abcdef]:9000",
                             "[fe80::1%x:y]:9000",        "[fe80::1%3%4]:9000"};
  for (const char* t : malformed) CHECK_EQUAL_TEXT(-EINVAL, hal::parse_address(t, &a), t);
  CHECK_EQUAL(-EINVAL, hal::parse_address("[fe80::zz%eth0]:9000", &a));
}
