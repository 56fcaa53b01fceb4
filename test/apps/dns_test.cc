// app::dns: the wire format of a question and its reply, resolv.conf and
// hosts, on bytes built here byte by byte.
#include "apps/common/dns.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "CppUTest/TestHarness.h"
#include "hal/address.h"
#include "test/fake/kernel.h"

namespace {

using Bytes = std::basic_string<uint8_t>;

Bytes query(const char* name, uint16_t id, uint16_t type) {
  uint8_t q[app::dns::kMaxQuery];
  const int n = app::dns::build_query(name, id, type, q, sizeof q);
  CHECK(n > 0);
  return Bytes(q, static_cast<size_t>(n));
}

void put16(Bytes* b, uint16_t v) {
  b->push_back(static_cast<uint8_t>(v >> 8));
  b->push_back(static_cast<uint8_t>(v));
}

// A reply to q: its header and question, with flags (QR set), rcode and
// the answer records given as raw bytes; ancount says how many.
Bytes reply(const Bytes& q, uint16_t ancount, const Bytes& answers, int rcode = 0,
            uint8_t flags2 = 0x80) {
  Bytes r = q;
  r[2] = static_cast<uint8_t>(flags2 | (q[2] & 0x01));
  r[3] = static_cast<uint8_t>(0x80 | rcode);
  r[6] = static_cast<uint8_t>(ancount >> 8);
  r[7] = static_cast<uint8_t>(ancount);
  return r + answers;
}

// A record owned by the name at offset `at` (a compression pointer).
Bytes rr_at(uint16_t at, uint16_t type, const Bytes& rdata) {
  Bytes b;
  put16(&b, static_cast<uint16_t>(0xc000 | at));
  put16(&b, type);
  put16(&b, 1);                  // IN
  b += Bytes{0, 0, 0x0e, 0x10};  // ttl 3600
  put16(&b, static_cast<uint16_t>(rdata.size()));
  return b + rdata;
}

Bytes a_rdata(uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return Bytes{a, b, c, d}; }

std::string text(const hal::SockAddr& a) {
  char buf[80];
  CHECK(hal::format_address(a, buf, sizeof buf) > 0);
  return buf;
}

}  // namespace

TEST_GROUP(Dns){};

TEST(Dns, host_names_are_checked_as_dns_carries_them) {
  using app::dns::valid_name;
  CHECK(valid_name("broker"));
  CHECK(valid_name("broker.lan."));
  CHECK(valid_name("mqtt-1.eu_west.example.com"));
  CHECK(valid_name("1password.com"));
  CHECK(!valid_name(""));
  CHECK(!valid_name("."));
  CHECK(!valid_name("a..b"));
  CHECK(!valid_name("-a.b"));
  CHECK(!valid_name("a-.b"));
  CHECK(!valid_name("a.b-"));
  CHECK(!valid_name("a b"));
  CHECK(!valid_name("192.168.1.300"));  // a broken literal, not a name
  CHECK(!valid_name(".a"));
  const std::string label63(63, 'a');
  CHECK(valid_name((label63 + ".b").c_str()));
  CHECK(!valid_name((label63 + "a.b").c_str()));
  std::string long_name;
  while (long_name.size() < 260) long_name += "abcdefghi.";
  long_name.resize(253);
  CHECK(valid_name(long_name.c_str()));
  CHECK(!valid_name((long_name + "x").c_str()));
}

TEST(Dns, ip_literals_give_their_bytes_and_names_none) {
  unsigned char b[16] = {};
  CHECK_EQUAL(4u, app::dns::ip_literal("192.0.2.7", b));
  CHECK(std::memcmp(b, "\xc0\x00\x02\x07", 4) == 0);
  CHECK_EQUAL(16u, app::dns::ip_literal("2001:db8::1", b));
  CHECK(std::memcmp(b, "\x20\x01\x0d\xb8", 4) == 0);
  CHECK_EQUAL(1, b[15]);
  CHECK_EQUAL(0u, app::dns::ip_literal("broker.lan", b));
  CHECK_EQUAL(0u, app::dns::ip_literal("192.168.1.300", b));
  CHECK_EQUAL(0u, app::dns::ip_literal("[::1]", b));         // no brackets
  CHECK_EQUAL(0u, app::dns::ip_literal("fe80::1%eth0", b));  // no zone
  CHECK_EQUAL(0u, app::dns::ip_literal("", b));
  const std::string long_text(80, '1');
  CHECK_EQUAL(0u, app::dns::ip_literal(long_text.c_str(), b));
}

TEST(Dns, a_question_is_the_header_and_the_name_in_labels) {
  const Bytes q = query("Broker.lan.", 0xbeef, app::dns::kTypeAaaa);
  const Bytes want = {0xbe, 0xef, 0x01, 0,   0,   1, 0,   0,   0,   0, 0, 0,  6, 'B',
                      'r',  'o',  'k',  'e', 'r', 3, 'l', 'a', 'n', 0, 0, 28, 0, 1};
  CHECK(q == want);
  uint8_t small[20];
  CHECK_EQUAL(-ENOSPC, app::dns::build_query("broker.lan", 1, 1, small, sizeof small));
  CHECK_EQUAL(-EINVAL, app::dns::build_query("bro ker", 1, 1, small, sizeof small));
}

TEST(Dns, addresses_of_the_name_and_its_cnames_are_taken) {
  const Bytes q = query("mqtt.example.com", 7, app::dns::kTypeA);
  // mqtt.example.com CNAME edge.example.net; edge.example.net A 192.0.2.7
  // and 192.0.2.8; an A record of another name in between is not ours.
  Bytes target = {4, 'e', 'd', 'g', 'e', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'n', 'e', 't', 0};
  const auto cname_at = static_cast<uint16_t>(q.size() + 12);  // its rdata's offset
  Bytes ans = rr_at(12, app::dns::kTypeCname, target);
  ans += rr_at(12 + 5, app::dns::kTypeA, a_rdata(10, 0, 0, 1));  // "example.com"
  ans += rr_at(cname_at, app::dns::kTypeA, a_rdata(192, 0, 2, 7));
  ans += rr_at(cname_at, app::dns::kTypeA, a_rdata(192, 0, 2, 8));
  const Bytes r = reply(q, 4, ans);
  app::dns::Answer a;
  CHECK_EQUAL(2, app::dns::parse_reply(r.data(), r.size(), q.data(), q.size(), &a));
  hal::SockAddr addr;
  app::dns::make_address(a.addr[0], 4, 1883, &addr);
  CHECK_EQUAL(std::string("192.0.2.7:1883"), text(addr));
  CHECK(!a.truncated);
}

TEST(Dns, aaaa_answers_make_ipv6_addresses) {
  const Bytes q = query("v6.example", 9, app::dns::kTypeAaaa);
  Bytes six(16, 0);
  six[0] = 0x20;
  six[1] = 0x01;
  six[2] = 0x0d;
  six[3] = 0xb8;
  six[15] = 0x05;
  const Bytes r = reply(q, 1, rr_at(12, app::dns::kTypeAaaa, six));
  app::dns::Answer a;
  CHECK_EQUAL(1, app::dns::parse_reply(r.data(), r.size(), q.data(), q.size(), &a));
  hal::SockAddr addr;
  app::dns::make_address(a.addr[0], 16, 8086, &addr);
  CHECK_EQUAL(std::string("[2001:db8::5]:8086"), text(addr));
}

TEST(Dns, error_codes_and_empty_answers_are_told_apart) {
  const Bytes q = query("gone.example", 11, app::dns::kTypeA);
  app::dns::Answer a;
  Bytes r = reply(q, 0, Bytes{}, 3);
  CHECK_EQUAL(app::dns::kErrNotFound,
              app::dns::parse_reply(r.data(), r.size(), q.data(), q.size(), &a));
  r = reply(q, 0, Bytes{}, 2);  // SERVFAIL
  CHECK_EQUAL(app::dns::kErrServer,
              app::dns::parse_reply(r.data(), r.size(), q.data(), q.size(), &a));
  r = reply(q, 0, Bytes{}, 5);  // REFUSED
  CHECK_EQUAL(app::dns::kErrServer,
              app::dns::parse_reply(r.data(), r.size(), q.data(), q.size(), &a));
  r = reply(q, 0, Bytes{});  // NOERROR, no record: the name has none of this type
  CHECK_EQUAL(app::dns::kErrNoAddress,
              app::dns::parse_reply(r.data(), r.size(), q.data(), q.size(), &a));
  r = reply(q, 0, Bytes{}, 0, 0x82);  // truncated and empty: nothing to use
  CHECK_EQUAL(app::dns::kErrServer,
              app::dns::parse_reply(r.data(), r.size(), q.data(), q.size(), &a));
  r = reply(q, 1, rr_at(12, app::dns::kTypeA, a_rdata(192, 0, 2, 1)), 0, 0x82);
  CHECK_EQUAL(1, app::dns::parse_reply(r.data(), r.size(), q.data(), q.size(), &a));
  CHECK(a.truncated);                        // what a truncated reply holds is used
  r = reply(q, 0, Bytes{}, 0, 0x80 | 0x08);  // another opcode
  CHECK_EQUAL(app::dns::kErrServer,
              app::dns::parse_reply(r.data(), r.size(), q.data(), q.size(), &a));
}

TEST(Dns, replies_that_are_not_to_our_question_are_not_ours) {
  const Bytes q = query("broker.lan", 0x1234, app::dns::kTypeA);
  app::dns::Answer a;
  Bytes r = reply(q, 1, rr_at(12, app::dns::kTypeA, a_rdata(10, 0, 0, 9)));
  Bytes other = r;
  other[1] = 0x35;  // another id
  CHECK_EQUAL(app::dns::kErrNotOurs,
              app::dns::parse_reply(other.data(), other.size(), q.data(), q.size(), &a));
  other = r;
  other[14] = 'x';  // another name
  CHECK_EQUAL(app::dns::kErrNotOurs,
              app::dns::parse_reply(other.data(), other.size(), q.data(), q.size(), &a));
  other = r;
  other[13] = 'B';  // the same name in other case: ours
  CHECK_EQUAL(1, app::dns::parse_reply(other.data(), other.size(), q.data(), q.size(), &a));
  other = r;
  other[q.size() - 3] = 28;  // another type
  CHECK_EQUAL(app::dns::kErrNotOurs,
              app::dns::parse_reply(other.data(), other.size(), q.data(), q.size(), &a));
  other = q;  // our own question (QR clear)
  CHECK_EQUAL(app::dns::kErrNotOurs,
              app::dns::parse_reply(other.data(), other.size(), q.data(), q.size(), &a));
  CHECK_EQUAL(app::dns::kErrNotOurs, app::dns::parse_reply(r.data(), 11, q.data(), q.size(), &a));
}

TEST(Dns, malformed_answers_are_server_errors_not_reads_out_of_bounds) {
  const Bytes q = query("broker.lan", 5, app::dns::kTypeA);
  app::dns::Answer a;
  // A pointer to itself, for ever.
  const auto self = static_cast<uint16_t>(q.size());
  Bytes r = reply(q, 1, rr_at(self, app::dns::kTypeA, a_rdata(1, 2, 3, 4)));
  CHECK_EQUAL(app::dns::kErrServer,
              app::dns::parse_reply(r.data(), r.size(), q.data(), q.size(), &a));
  // A record cut short, and one whose rdata runs past the end.
  r = reply(q, 1, rr_at(12, app::dns::kTypeA, a_rdata(1, 2, 3, 4)));
  CHECK_EQUAL(app::dns::kErrServer,
              app::dns::parse_reply(r.data(), r.size() - 1, q.data(), q.size(), &a));
  r = reply(q, 2, rr_at(12, app::dns::kTypeA, a_rdata(1, 2, 3, 4)));  // says 2, holds 1
  CHECK_EQUAL(1, app::dns::parse_reply(r.data(), r.size(), q.data(), q.size(), &a));
  // An A record of the wrong length is not an address.
  r = reply(q, 1, rr_at(12, app::dns::kTypeA, Bytes{1, 2, 3}));
  CHECK_EQUAL(app::dns::kErrNoAddress,
              app::dns::parse_reply(r.data(), r.size(), q.data(), q.size(), &a));
  // A CNAME loop ends after a few hops.
  r = reply(q, 1, rr_at(12, app::dns::kTypeCname, Bytes{0xc0, 12}));
  CHECK_EQUAL(app::dns::kErrNoAddress,
              app::dns::parse_reply(r.data(), r.size(), q.data(), q.size(), &a));
}

TEST(Dns, resolv_conf_servers_and_options) {
  fake::Kernel k;  // for the zones' interfaces (/sys/class/net)
  app::dns::ResolvConf c;
  app::dns::parse_resolv_conf(
      "# generated\n"
      "search lan\n"
      "nameserver 10.0.0.1\n"
      "nameserver   fe80::1%eth9\n"  // no such interface: skipped
      "nameserver fe80::1\n"         // link-local without its interface: skipped
      "nameserver 2001:db8::53 # comment\n"
      "options ndots:1 timeout:2 attempts:9\r\n"
      "nameserver @abstract\n"
      "nameserver 10.0.0.2\n"
      "nameserver 10.0.0.3\n",
      &c);
  CHECK_EQUAL(3, c.count);
  CHECK_EQUAL(std::string("10.0.0.1:53"), text(c.servers[0]));
  CHECK_EQUAL(std::string("[2001:db8::53]:53"), text(c.servers[1]));
  CHECK_EQUAL(std::string("10.0.0.2:53"), text(c.servers[2]));
  CHECK_EQUAL(2, c.timeout_s);
  CHECK_EQUAL(5, c.attempts);  // at most 5
  app::dns::parse_resolv_conf("options timeout:0 attempts:x\nnameserver nonsense\n", &c);
  CHECK_EQUAL(1, c.count);  // none: the local server
  CHECK_EQUAL(std::string("127.0.0.1:53"), text(c.servers[0]));
  CHECK_EQUAL(1, c.timeout_s);
  CHECK_EQUAL(2, c.attempts);
  app::dns::parse_resolv_conf("", &c);
  CHECK_EQUAL(5, c.timeout_s);
  k.add_regular_path("/sys/class/net/eth0/ifindex", "2\n");
  app::dns::parse_resolv_conf("nameserver fe80::53%eth0\n", &c);  // a link-local server
  CHECK_EQUAL(1, c.count);
  CHECK_EQUAL(std::string("[fe80::53%2]:53"), text(c.servers[0]));
}

TEST(Dns, hosts_lines_give_the_first_address_of_a_name) {
  const char* hosts =
      "127.0.0.1\tlocalhost\n"
      "# 10.9.9.9 broker\n"
      "::1 localhost ip6-localhost\n"
      "10.1.2.3 gw Broker.LAN broker # the broker\n"
      "10.1.2.4 broker\n"
      "not-an-address broker2\n"
      "@abstract broker3\n"  // a Unix form of hal::parse_address, not an IP
      "/run/x.sock broker3\n";
  hal::SockAddr a;
  CHECK(app::dns::hosts_lookup(hosts, "broker.lan.", 1883, &a));
  CHECK_EQUAL(std::string("10.1.2.3:1883"), text(a));
  CHECK(app::dns::hosts_lookup(hosts, "ip6-localhost", 9, &a));
  CHECK_EQUAL(std::string("[::1]:9"), text(a));
  CHECK(!app::dns::hosts_lookup(hosts, "broker2", 9, &a));
  CHECK(!app::dns::hosts_lookup(hosts, "broker3", 9, &a));
  CHECK(!app::dns::hosts_lookup(hosts, "brok", 9, &a));
  CHECK(!app::dns::hosts_lookup("", "broker", 9, &a));
}

TEST(Dns, the_search_list_is_tried_as_glibc_does) {
  app::dns::ResolvConf c;
  app::dns::parse_resolv_conf(
      "domain old.example\nsearch lan corp.example. bad..name\noptions ndots:2\n", &c);
  CHECK_EQUAL(2, c.search_count);  // the last line wins; a bad name is left out
  STRCMP_EQUAL("lan", c.search[0]);
  STRCMP_EQUAL("corp.example", c.search[1]);
  CHECK_EQUAL(2, c.ndots);
  char name[app::dns::kMaxName + 2];
  // Fewer dots than ndots: the search list first, then the name itself.
  CHECK(app::dns::candidate(c, "broker", 0, name));
  STRCMP_EQUAL("broker.lan", name);
  CHECK(app::dns::candidate(c, "broker", 1, name));
  STRCMP_EQUAL("broker.corp.example", name);
  CHECK(app::dns::candidate(c, "broker", 2, name));
  STRCMP_EQUAL("broker", name);
  CHECK(!app::dns::candidate(c, "broker", 3, name));
  // As many dots as ndots: itself first.
  CHECK(app::dns::candidate(c, "a.b.c", 0, name));
  STRCMP_EQUAL("a.b.c", name);
  CHECK(app::dns::candidate(c, "a.b.c", 1, name));
  STRCMP_EQUAL("a.b.c.lan", name);
  // An absolute name is only itself.
  CHECK(app::dns::candidate(c, "broker.", 0, name));
  STRCMP_EQUAL("broker.", name);
  CHECK(!app::dns::candidate(c, "broker.", 1, name));
  // A candidate too long for a name is passed over.
  const std::string label(60, 'x');
  const std::string long_name = label + "." + label + "." + label + "." + label;  // 243
  CHECK(app::dns::candidate(c, long_name.c_str(), 0, name));
  STRCMP_EQUAL(long_name.c_str(), name);
  CHECK(app::dns::candidate(c, long_name.c_str(), 1, name));
  STRCMP_EQUAL((long_name + ".lan").c_str(), name);
  CHECK(!app::dns::candidate(c, long_name.c_str(), 2, name));  // + ".corp.example": 256
  // "domain" alone is one domain; ndots:0 asks every name as given first.
  app::dns::parse_resolv_conf("search a b\ndomain home.arpa other\noptions ndots:0\n", &c);
  CHECK_EQUAL(1, c.search_count);
  STRCMP_EQUAL("home.arpa", c.search[0]);
  CHECK_EQUAL(0, c.ndots);
  CHECK(app::dns::candidate(c, "broker", 0, name));
  STRCMP_EQUAL("broker", name);
  app::dns::parse_resolv_conf("search\n", &c);
  CHECK_EQUAL(0, c.search_count);
  CHECK_EQUAL(1, c.ndots);
  CHECK(app::dns::candidate(c, "broker", 0, name));
  CHECK(!app::dns::candidate(c, "broker", 1, name));
}
