// DNS for the daemons' links: the wire format of one question and its
// answer (RFC 1035), /etc/resolv.conf and /etc/hosts. Pure functions on
// bytes and text: no system call, no allocation. The Resolver
// (resolver.h) sends and waits; this only builds and reads.
//
// What a board's daemon needs and no more: A and AAAA questions by UDP to
// the name servers of resolv.conf, recursion desired, answers followed
// through CNAME chains, the search list (as glibc: "broker" is asked as
// "broker.lan" first when resolv.conf says "search lan"). Not done: TCP for
// truncated answers (the addresses a truncated answer holds are used),
// EDNS, DNSSEC.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hal/sys.h"

namespace app {
namespace dns {

constexpr uint16_t kTypeA = 1;
constexpr uint16_t kTypeCname = 5;
constexpr uint16_t kTypeAaaa = 28;
constexpr size_t kMaxName = 253;    // the longest host name, without the last dot
constexpr size_t kMaxQuery = 512;   // a question: 12 + 255 + 4 bytes fit
constexpr size_t kMaxAnswer = 512;  // what a server sends over UDP without EDNS
constexpr int kMaxServers = 3;      // as glibc: MAXNS
constexpr int kMaxSearch = 6;       // as glibc: MAXDNSRCH

// Resolution's own errors, beyond errno's range (error_text() in link.h
// says them).
constexpr int kErrNotFound = -4001;     // NXDOMAIN: no such name
constexpr int kErrNoAddress = -4002;    // the name has no A or AAAA record
constexpr int kErrServer = -4003;       // every server failed (SERVFAIL, REFUSED, garbage)
constexpr int kErrTimeout = -4004;      // no server answered
constexpr int kErrUnreachable = -4005;  // no server listens (ICMP port unreachable)
// What a reply that is not the answer to our question is (another id,
// another question, not a response): it is ignored, the wait goes on.
constexpr int kErrNotOurs = -4006;

// A host name as DNS carries it: labels of 1 to 63 letters, digits, '-'
// or '_' (not beginning or ending with '-'), joined by '.', at most 253
// characters (one trailing '.' allowed), and not all digits and dots (that
// is a malformed IPv4 literal).
bool valid_name(const char* name);

// The bytes of an IP literal (4 for IPv4, 16 for IPv6; no brackets, no
// zone), or 0 for anything else.
size_t ip_literal(const char* name, unsigned char out[16]);

// The question for name (valid_name) and type, with recursion desired:
// its length in out, or -EINVAL (a bad name) / -ENOSPC.
[[nodiscard]] int build_query(const char* name, uint16_t id, uint16_t type, uint8_t* out,
                              size_t cap);

struct Answer {
  static constexpr int kMax = 4;
  uint8_t addr[kMax][16];  // 4 bytes (A) or 16 (AAAA), network order
  int count = 0;
  bool truncated = false;  // the server set TC: there may have been more
};

// The reply msg to the question `query` (as build_query made it): the
// number of addresses of the question's type found for its name or the
// names its CNAMEs lead to (at most Answer::kMax kept), or kErrNotFound,
// kErrNoAddress (the name exists without such a record), kErrServer (an
// error code, a malformed reply) or kErrNotOurs.
[[nodiscard]] int parse_reply(const uint8_t* msg, size_t len, const uint8_t* query, size_t qlen,
                              Answer* out);

struct ResolvConf {
  hal::SockAddr servers[kMaxServers];  // port 53
  int count = 0;
  int timeout_s = 5;  // per try (options timeout:N, at most 30)
  int attempts = 2;   // rounds over the servers (options attempts:N, at most 5)
  int ndots = 1;      // options ndots:N (at most 15)
  char search[kMaxSearch][kMaxName + 1] = {};  // the search list, without last dots
  int search_count = 0;
};

// resolv.conf(5): "nameserver ADDR" lines (IPv4 or IPv6 literals, the first
// three that parse: a link-local one needs its %zone, whose interface must
// exist), "search D..." and
// "domain D" (the last such line wins; domains that are no valid name are
// left out) and "options timeout:N attempts:N ndots:N"; the rest is
// ignored, as by glibc. No nameserver line means the local one
// (127.0.0.1), as resolv.conf(5) says.
void parse_resolv_conf(const char* text, ResolvConf* out);
// The same a line at a time (a file read in pieces): start from
// ResolvConf{}, give each line, then finish_resolv_conf().
void resolv_conf_line(const char* line, ResolvConf* out);
void finish_resolv_conf(ResolvConf* out);

// The names to ask for `name`, in order, as glibc's res_search: a name
// ending in '.' is only itself; one with at least ndots dots is itself,
// then with each search domain; one with fewer is with each search domain,
// then itself. Candidate i (from 0) into out (kMaxName + 2 bytes): false
// past the last one. Candidates longer than a name may be are passed over.
bool candidate(const ResolvConf& conf, const char* name, int i, char* out);

// The first address of name in hosts(5) text ("ADDR NAME ALIASES...",
// '#' comments), case-insensitive, with port set: true if found.
bool hosts_lookup(const char* text, const char* name, int port, hal::SockAddr* out);

// The address of an answer's bytes (family from len: 4 or 16) and port.
void make_address(const uint8_t* bytes, size_t len, int port, hal::SockAddr* out);

}  // namespace dns
}  // namespace app
