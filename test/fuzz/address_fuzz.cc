// Fuzz target: addresses and URLs from options and config files. What must
// hold: an address that parses formats back to text that parses to the
// same address; a URL that parses has a port and an IP literal or a valid
// host name, and an http path of printable characters only.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "apps/common/link.h"
#include "hal/address.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 300) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  hal::SockAddr a;
  if (hal::parse_address(text.c_str(), &a) == 0) {
    char back[160];
    if (hal::format_address(a, back, sizeof back) < 0) std::abort();
    hal::SockAddr b;
    if (hal::parse_address(back, &b) != 0) std::abort();
    char again[160];
    if (hal::format_address(b, again, sizeof again) < 0 || std::strcmp(back, again) != 0)
      std::abort();
  }
  app::Url u;
  if (app::parse_url(text.c_str(), &u) == 0) {
    if (u.host[0] != '\0') {  // a name: resolved later, checked now
      if (!app::dns::valid_name(u.host) || u.port < 1 || u.port > 65535) std::abort();
      if (hal::address_family(u.addr) != 0) std::abort();
    } else if (hal::address_port(u.addr) == 0 || hal::address_port(u.addr) != u.port) {
      std::abort();
    }
    for (const char* c = u.path; *c != '\0'; ++c) {
      if (*c <= ' ' || *c > '~') std::abort();
    }
    if ((u.path[0] != '\0') != (u.scheme == app::Scheme::kHttp)) std::abort();
  }
  return 0;
}
