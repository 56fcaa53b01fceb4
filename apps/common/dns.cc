#include "apps/common/dns.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "hal/address.h"

namespace app {
namespace dns {
namespace {

constexpr size_t kHeader = 12;
constexpr uint16_t kClassIn = 1;
constexpr int kMaxHops = 8;       // CNAMEs followed
constexpr int kMaxPointers = 64;  // compression pointers in one name

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// The name at pos, lowercased and dotted (no last dot; "" for the root),
// following compression pointers; *next is where the name ends at pos.
// A label byte that a host name cannot hold ('.', NUL) becomes '\1', which
// no name of ours matches. False when malformed.
bool read_name(const uint8_t* msg, size_t len, size_t pos, char (&out)[kMaxName + 2],
               size_t* next) {
  size_t n = 0;
  int jumps = 0;
  bool jumped = false;
  for (;;) {
    if (pos >= len) return false;
    const uint8_t l = msg[pos];
    if (l == 0) {
      if (!jumped) *next = pos + 1;
      out[n] = '\0';
      return true;
    }
    if ((l & 0xc0) == 0xc0) {
      if (pos + 1 >= len || ++jumps > kMaxPointers) return false;
      if (!jumped) *next = pos + 2;
      jumped = true;
      pos = static_cast<size_t>(l & 0x3f) << 8 | msg[pos + 1];
      continue;
    }
    if ((l & 0xc0) != 0 || pos + 1 + l > len) return false;
    if (n + (n != 0 ? 1 : 0) + l > kMaxName + 1) return false;
    if (n != 0) out[n++] = '.';
    for (size_t i = 0; i < l; ++i) {
      const char c = static_cast<char>(msg[pos + 1 + i]);
      out[n++] = c == '.' || c == '\0' ? '\1' : lower(c);
    }
    pos += 1 + l;
  }
}

// One resource record of the answer section.
struct Record {
  size_t owner;  // where its name starts
  uint16_t type;
  uint16_t cls;
  size_t rdata;
  uint16_t rdlen;
};

// The record at *pos; *pos moves past it. False when malformed.
bool read_record(const uint8_t* msg, size_t len, size_t* pos, Record* r) {
  char name[kMaxName + 2];
  size_t p = 0;
  if (!read_name(msg, len, *pos, name, &p) || p + 10 > len) return false;
  r->owner = *pos;
  r->type = get16(msg + p);
  r->cls = get16(msg + p + 2);
  r->rdlen = get16(msg + p + 8);
  r->rdata = p + 10;
  if (r->rdata + r->rdlen > len) return false;
  *pos = r->rdata + r->rdlen;
  return true;
}

bool owner_is(const uint8_t* msg, size_t len, const Record& r, const char* name) {
  char owner[kMaxName + 2];
  size_t next = 0;
  return read_name(msg, len, r.owner, owner, &next) && std::strcmp(owner, name) == 0;
}

}  // namespace

bool valid_name(const char* name) {
  size_t n = std::strlen(name);
  if (n > 0 && name[n - 1] == '.') --n;
  if (n == 0 || n > kMaxName) return false;
  size_t label = 0;
  bool digits_only = true;
  for (size_t i = 0; i < n; ++i) {
    const char c = name[i];
    if (c == '.') {
      if (label == 0 || name[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    if (!name_char(c) || (label == 0 && c == '-') || ++label > 63) return false;
    if (c < '0' || c > '9') digits_only = false;
  }
  return label != 0 && name[n - 1] != '-' && !digits_only;
}

int build_query(const char* name, uint16_t id, uint16_t type, uint8_t* out, size_t cap) {
  if (!valid_name(name)) return -EINVAL;
  const size_t n = std::strlen(name);
  const size_t len = kHeader + (name[n - 1] == '.' ? n : n + 1) + 1 + 4;
  if (len > cap) return -ENOSPC;
  const uint8_t head[kHeader] = {static_cast<uint8_t>(id >> 8),
                                 static_cast<uint8_t>(id),
                                 0x01,
                                 0,
                                 0,
                                 1,
                                 0,
                                 0,
                                 0,
                                 0,
                                 0,
                                 0};  // RD; one question
  std::memcpy(out, head, sizeof head);
  size_t p = kHeader;
  const char* label = name;
  while (*label != '\0') {
    const char* dot = std::strchr(label, '.');
    const size_t l = dot != nullptr ? static_cast<size_t>(dot - label) : std::strlen(label);
    out[p++] = static_cast<uint8_t>(l);
    std::memcpy(out + p, label, l);
    p += l;
    label += l;
    if (*label == '.') ++label;
  }
  out[p++] = 0;
  out[p++] = static_cast<uint8_t>(type >> 8);
  out[p++] = static_cast<uint8_t>(type);
  out[p++] = 0;
  out[p++] = kClassIn;
  return static_cast<int>(p);
}

int parse_reply(const uint8_t* msg, size_t len, const uint8_t* query, size_t qlen, Answer* out) {
  out->count = 0;
  out->truncated = false;
  // Ours: the same id, a response, one question: the same bytes as ours
  // (the name compared without case, as servers may change it).
  const size_t question = qlen - kHeader;
  if (len < qlen || msg[0] != query[0] || msg[1] != query[1] || (msg[2] & 0x80) == 0 ||
      get16(msg + 4) != 1) {
    return kErrNotOurs;
  }
  for (size_t i = 0; i < question; ++i) {
    const auto a = static_cast<char>(msg[kHeader + i]), b = static_cast<char>(query[kHeader + i]);
    if (i < question - 4 ? lower(a) != lower(b) : a != b) return kErrNotOurs;
  }
  const uint16_t type = get16(query + qlen - 4);
  const int rcode = msg[3] & 0x0f;
  if (rcode == 3) return kErrNotFound;
  if (rcode != 0 || (msg[2] & 0x78) != 0) return kErrServer;
  out->truncated = (msg[2] & 0x02) != 0;
  // The name asked, then where its CNAMEs lead.
  char want[kMaxName + 2];
  size_t qend = 0;
  if (!read_name(msg, len, kHeader, want, &qend)) return kErrServer;
  const uint16_t ancount = get16(msg + 6);
  for (int hop = 0; hop <= kMaxHops; ++hop) {
    size_t pos = qlen;
    bool moved = false;
    for (uint16_t i = 0; i < ancount && !moved; ++i) {
      Record r{};
      if (!read_record(msg, len, &pos, &r)) return out->count > 0 ? out->count : kErrServer;
      if (r.cls != kClassIn || !owner_is(msg, len, r, want)) continue;
      if (r.type == kTypeCname && out->count == 0) {
        size_t next = 0;
        if (!read_name(msg, len, r.rdata, want, &next)) return kErrServer;
        moved = true;
      } else if (r.type == type && r.rdlen == (type == kTypeA ? 4 : 16) &&
                 out->count < Answer::kMax) {
        std::memcpy(out->addr[out->count++], msg + r.rdata, r.rdlen);
      }
    }
    if (!moved) break;
  }
  if (out->count > 0) return out->count;
  return out->truncated ? kErrServer : kErrNoAddress;
}

void make_address(const uint8_t* bytes, size_t len, int port, hal::SockAddr* out) {
  char text[64];
  if (len == 4) {
    std::snprintf(text, sizeof text, "%u.%u.%u.%u:%d", bytes[0], bytes[1], bytes[2], bytes[3],
                  port);
  } else {
    int n = std::snprintf(text, sizeof text, "[");
    for (size_t i = 0; i < 8; ++i) {
      n += std::snprintf(text + n, sizeof text - static_cast<size_t>(n), i != 0 ? ":%x" : "%x",
                         get16(bytes + 2 * i));
    }
    std::snprintf(text + n, sizeof text - static_cast<size_t>(n), "]:%d", port);
  }
  (void)hal::parse_address(text, out);
}

namespace {

// The next whitespace-separated word of a line at *p (moves *p past it):
// its length, 0 at the line's end or a comment.
size_t word(const char** p, const char** start) {
  const char* s = *p;
  while (*s == ' ' || *s == '\t' || *s == '\r') ++s;
  *start = s;
  if (*s == '#' || *s == ';') return 0;
  const char* e = s;
  while (*e != '\0' && *e != ' ' && *e != '\t' && *e != '\r' && *e != '\n') ++e;
  *p = e;
  return static_cast<size_t>(e - s);
}

bool is(const char* w, size_t n, const char* lit) {
  return n == std::strlen(lit) && std::strncmp(w, lit, n) == 0;
}

// An IP literal word with port: true if it is one.
bool literal(const char* w, size_t n, int port, hal::SockAddr* out) {
  char text[80];
  if (n == 0 || n > 46) return false;
  const bool v6 = std::memchr(w, ':', n) != nullptr;
  std::snprintf(text, sizeof text, v6 ? "[%.*s]:%d" : "%.*s:%d", static_cast<int>(n), w, port);
  hal::SockAddr a;
  if (hal::parse_address(text, &a) != 0) return false;
  const int f = hal::address_family(a);
  if (f != hal::kAfInet && f != hal::kAfInet6) return false;  // "@x", "/x": Unix forms
  *out = a;
  return true;
}

// A number option's value ("timeout:3"), clamped to [min, max]; -1 if it
// is not a number.
int option_value(const char* w, size_t n, size_t prefix, int min, int max) {
  int v = 0;
  for (size_t i = prefix; i < n; ++i) {
    if (w[i] < '0' || w[i] > '9') return -1;
    if (v < 1000) v = v * 10 + (w[i] - '0');
  }
  if (n == prefix) return -1;
  return v < min ? min : v > max ? max : v;
}

const char* next_line(const char* p) {
  const char* nl = std::strchr(p, '\n');
  return nl != nullptr ? nl + 1 : nullptr;
}

}  // namespace

void resolv_conf_line(const char* line, ResolvConf* out) {
  const char* p = line;
  const char* w = nullptr;
  const size_t n = word(&p, &w);
  if (is(w, n, "nameserver")) {
    const char* a = nullptr;
    const size_t an = word(&p, &a);
    if (out->count < kMaxServers && literal(a, an, 53, &out->servers[out->count])) ++out->count;
  } else if (is(w, n, "search") || is(w, n, "domain")) {
    out->search_count = 0;  // the last line wins
    const char* d = nullptr;
    for (size_t dn = word(&p, &d); dn != 0; dn = word(&p, &d)) {
      if (out->search_count == kMaxSearch || (is(w, n, "domain") && out->search_count == 1)) break;
      if (d[dn - 1] == '.') --dn;
      if (dn == 0 || dn > kMaxName) continue;
      char* to = out->search[out->search_count];
      std::memcpy(to, d, dn);
      to[dn] = '\0';
      if (valid_name(to)) ++out->search_count;
    }
  } else if (is(w, n, "options")) {
    const char* o = nullptr;
    for (size_t on = word(&p, &o); on != 0; on = word(&p, &o)) {
      if (on > 8 && std::strncmp(o, "timeout:", 8) == 0) {
        const int v = option_value(o, on, 8, 1, 30);
        if (v > 0) out->timeout_s = v;
      } else if (on > 9 && std::strncmp(o, "attempts:", 9) == 0) {
        const int v = option_value(o, on, 9, 1, 5);
        if (v > 0) out->attempts = v;
      } else if (on > 6 && std::strncmp(o, "ndots:", 6) == 0) {
        const int v = option_value(o, on, 6, 0, 15);
        if (v >= 0) out->ndots = v;
      }
    }
  }
}

void finish_resolv_conf(ResolvConf* out) {
  if (out->count == 0) {
    (void)hal::parse_address("127.0.0.1:53", &out->servers[0]);
    out->count = 1;
  }
}

void parse_resolv_conf(const char* text, ResolvConf* out) {
  *out = ResolvConf{};
  for (const char* line = text; line != nullptr && *line != '\0'; line = next_line(line)) {
    resolv_conf_line(line, out);
  }
  finish_resolv_conf(out);
}

bool candidate(const ResolvConf& conf, const char* name, int i, char* out) {
  const size_t n = std::strlen(name);
  if (n > 0 && name[n - 1] == '.') {
    if (i != 0) return false;
    std::memcpy(out, name, n + 1);
    return true;
  }
  int dots = 0;
  for (const char* c = name; *c != '\0'; ++c) dots += *c == '.' ? 1 : 0;
  // Itself first or last; the search domains around it.
  const int self = dots >= conf.ndots ? 0 : conf.search_count;
  for (int k = 0, seen = 0; k <= conf.search_count; ++k) {
    const int domain = k < self ? k : k - 1;  // k == self: the name itself
    if (k != self && n + 1 + std::strlen(conf.search[domain]) > kMaxName) continue;
    if (seen++ != i) continue;
    if (k == self) {
      std::memcpy(out, name, n + 1);
    } else {
      std::snprintf(out, kMaxName + 2, "%s.%s", name, conf.search[domain]);
    }
    return true;
  }
  return false;
}

bool hosts_lookup(const char* text, const char* name, int port, hal::SockAddr* out) {
  size_t want = std::strlen(name);
  if (want > 0 && name[want - 1] == '.') --want;
  for (const char* line = text; line != nullptr && *line != '\0'; line = next_line(line)) {
    const char* p = line;
    const char* a = nullptr;
    const size_t an = word(&p, &a);
    hal::SockAddr addr;
    if (an == 0 || !literal(a, an, port, &addr)) continue;
    const char* w = nullptr;
    for (size_t n = word(&p, &w); n != 0; n = word(&p, &w)) {
      if (n != want) continue;
      size_t i = 0;
      while (i < n && lower(w[i]) == lower(name[i])) ++i;
      if (i == n) {
        *out = addr;
        return true;
      }
    }
  }
  return false;
}

size_t ip_literal(const char* name, unsigned char out[16]) {
  char text[64];
  const bool v6 = std::strchr(name, ':') != nullptr;
  if (std::strchr(name, '%') != nullptr || std::snprintf(text, sizeof text, v6 ? "[%s]:0" : "%s:0",
                                                         name) >= static_cast<int>(sizeof text)) {
    return 0;
  }
  hal::SockAddr a;
  if (hal::parse_address(text, &a) != 0) return 0;
  // struct sockaddr_in and sockaddr_in6: the address after the family and
  // port (and, for IPv6, the flow label).
  const size_t at = v6 ? 8 : 4;
  const size_t len = v6 ? 16 : 4;
  std::memcpy(out, a.data + at, len);
  return len;
}

}  // namespace dns
}  // namespace app
