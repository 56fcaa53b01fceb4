#include "hal/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace hal {
namespace {

bool parse_port(const char* s, uint16_t* port) {
  if (*s == '\0' || std::strlen(s) > 5) return false;
  unsigned v = 0;
  for (const char* p = s; *p != '\0'; ++p) {
    if (*p < '0' || *p > '9') return false;
    v = v * 10 + static_cast<unsigned>(*p - '0');
  }
  if (v > 65535) return false;
  *port = static_cast<uint16_t>(v);
  return true;
}

int parse_unix(const char* path, SockAddr* out) {
  const size_t n = std::strlen(path);
  sockaddr_un un{};
  if (n == 0 || n >= sizeof un.sun_path) return -EINVAL;
  un.sun_family = AF_UNIX;
  std::memcpy(un.sun_path, path, n);
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n);
  if (path[0] == '@') {
    if (n < 2) return -EINVAL;
    un.sun_path[0] = '\0';  // abstract: no trailing NUL, the length says it all
  } else {
    len += 1;
  }
  SockAddr a;
  std::memcpy(a.data, &un, sizeof un);
  a.len = len;
  *out = a;
  return 0;
}

// The interface index of an IPv6 zone ("%eth0" or "%3", without the %):
// a number is the index itself; a name is looked up in
// /sys/class/net/NAME/ifindex (a read through the seam: if_nametoindex()
// would open a socket outside it). -EINVAL for a malformed zone, -ENODEV
// for no such interface.
int zone_index(const char* zone) {
  const size_t n = std::strlen(zone);
  if (n == 0 || n > 15) return -EINVAL;  // IFNAMSIZ - 1
  bool digits = true;
  for (const char* c = zone; *c != '\0'; ++c) {
    if (*c <= ' ' || *c > '~' || *c == '/' || *c == ':' || *c == '%') return -EINVAL;
    digits = digits && *c >= '0' && *c <= '9';
  }
  if (std::strcmp(zone, ".") == 0 || std::strcmp(zone, "..") == 0) return -EINVAL;
  char text[24];
  if (!digits) {
    char path[48];
    std::snprintf(path, sizeof path, "/sys/class/net/%s/ifindex", zone);
    const int fd = hal::open(path, kRdOnly | kCloexec, 0);
    if (fd < 0) return -ENODEV;
    const long got = hal::read(fd, text, sizeof text - 1);
    (void)hal::close(fd);
    if (got <= 0) return -ENODEV;
    text[got] = '\0';
    zone = text;
  }
  char* end = nullptr;
  const unsigned long v = std::strtoul(zone, &end, 10);
  if (end == zone || (*end != '\0' && *end != '\n') || v == 0 || v > 0x7fffffffUL) {
    return digits ? -EINVAL : -ENODEV;
  }
  return static_cast<int>(v);
}

int parse_ip(const char* text, SockAddr* out) {
  char host[64];
  const char* port_text = nullptr;
  if (text[0] == '[') {
    const char* close = std::strchr(text, ']');
    if (close == nullptr || close[1] != ':') return -EINVAL;
    const size_t n = static_cast<size_t>(close - text - 1);
    if (n == 0 || n >= sizeof host) return -EINVAL;
    std::memcpy(host, text + 1, n);
    host[n] = '\0';
    port_text = close + 2;
  } else {
    const char* colon = std::strrchr(text, ':');
    if (colon == nullptr || std::strchr(text, ':') != colon) return -EINVAL;
    const size_t n = static_cast<size_t>(colon - text);
    if (n == 0 || n >= sizeof host) return -EINVAL;
    std::memcpy(host, text, n);
    host[n] = '\0';
    port_text = colon + 1;
  }
  uint16_t port = 0;
  if (!parse_port(port_text, &port)) return -EINVAL;
  SockAddr a;
  if (text[0] == '[') {
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(port);
    char* zone = std::strchr(host, '%');
    if (zone != nullptr) *zone++ = '\0';
    if (inet_pton(AF_INET6, host, &in6.sin6_addr) != 1) return -EINVAL;
    if (zone != nullptr) {
      const int index = zone_index(zone);
      if (index < 0) return index;
      in6.sin6_scope_id = static_cast<uint32_t>(index);
    } else if (IN6_IS_ADDR_LINKLOCAL(&in6.sin6_addr)) {
      return -EADDRNOTAVAIL;  // fe80::/10 means nothing without its link
    }
    std::memcpy(a.data, &in6, sizeof in6);
    a.len = sizeof in6;
  } else {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    if (inet_pton(AF_INET, host, &in.sin_addr) != 1) return -EINVAL;
    std::memcpy(a.data, &in, sizeof in);
    a.len = sizeof in;
  }
  *out = a;
  return 0;
}

}  // namespace

int parse_address(const char* text, SockAddr* out) {
  if (text == nullptr || out == nullptr) return -EINVAL;
  if (std::strncmp(text, "unix:", 5) == 0) return parse_unix(text + 5, out);
  if (text[0] == '/' || text[0] == '@') return parse_unix(text, out);
  return parse_ip(text, out);
}

int address_family(const SockAddr& addr) {
  if (addr.len < sizeof(sa_family_t)) return 0;
  sa_family_t f = 0;
  std::memcpy(&f, addr.data, sizeof f);
  return (f == AF_INET || f == AF_INET6 || f == AF_UNIX) ? f : 0;
}

int address_port(const SockAddr& addr) {
  switch (address_family(addr)) {
    case AF_INET: {
      sockaddr_in in{};
      std::memcpy(&in, addr.data, sizeof in);
      return ntohs(in.sin_port);
    }
    case AF_INET6: {
      sockaddr_in6 in6{};
      std::memcpy(&in6, addr.data, sizeof in6);
      return ntohs(in6.sin6_port);
    }
    default: return 0;
  }
}

void address_set_port(SockAddr* addr, int port) {
  const auto p = htons(static_cast<uint16_t>(port));
  if (address_family(*addr) == AF_INET) {
    std::memcpy(addr->data + offsetof(sockaddr_in, sin_port), &p, sizeof p);
  } else if (address_family(*addr) == AF_INET6) {
    std::memcpy(addr->data + offsetof(sockaddr_in6, sin6_port), &p, sizeof p);
  }
}

int format_address(const SockAddr& addr, char* buf, size_t len) {
  char text[160];
  int n = 0;
  switch (address_family(addr)) {
    case AF_INET: {
      sockaddr_in in{};
      std::memcpy(&in, addr.data, sizeof in);
      char host[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &in.sin_addr, host, sizeof host);
      n = std::snprintf(text, sizeof text, "%s:%u", host, ntohs(in.sin_port));
      break;
    }
    case AF_INET6: {
      sockaddr_in6 in6{};
      std::memcpy(&in6, addr.data, sizeof in6);
      char host[INET6_ADDRSTRLEN];
      inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof host);
      if (in6.sin6_scope_id != 0) {
        n = std::snprintf(text, sizeof text, "[%s%%%u]:%u", host, in6.sin6_scope_id,
                          ntohs(in6.sin6_port));
      } else {
        n = std::snprintf(text, sizeof text, "[%s]:%u", host, ntohs(in6.sin6_port));
      }
      break;
    }
    case AF_UNIX: {
      const size_t off = offsetof(sockaddr_un, sun_path);
      if (addr.len <= off) {
        n = std::snprintf(text, sizeof text, "unix:");  // unnamed
        break;
      }
      const auto* path = reinterpret_cast<const char*>(addr.data + off);
      const size_t plen = addr.len - off;
      if (path[0] == '\0') {
        n = std::snprintf(text, sizeof text, "unix:@%.*s", static_cast<int>(plen - 1), path + 1);
      } else {
        n = std::snprintf(text, sizeof text, "unix:%.*s", static_cast<int>(strnlen(path, plen)),
                          path);
      }
      break;
    }
    default: return -EINVAL;
  }
  if (n < 0 || static_cast<size_t>(n) >= len) return -ENOSPC;
  std::memcpy(buf, text, static_cast<size_t>(n) + 1);
  return n;
}

bool address_matches(const SockAddr& bound, const SockAddr& to) {
  if (bound.len == to.len && std::memcmp(bound.data, to.data, bound.len) == 0) return true;
  const int f = address_family(bound);
  if (f != address_family(to) || address_port(bound) != address_port(to)) return false;
  if (f == AF_INET) {
    sockaddr_in in{};
    std::memcpy(&in, bound.data, sizeof in);
    return in.sin_addr.s_addr == htonl(INADDR_ANY);
  }
  if (f == AF_INET6) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, bound.data, sizeof in6);
    return IN6_IS_ADDR_UNSPECIFIED(&in6.sin6_addr);
  }
  return false;
}

}  // namespace hal
