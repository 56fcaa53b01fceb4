// Fuzz target: what a name server sends back (any bytes: a broken or
// hostile server, a spoofed reply), resolv.conf and hosts text. What must
// hold: a reply's result is an error or a count of at most Answer::kMax
// addresses; resolv.conf gives 1 to 3 servers on port 53, options in range
// and a search list whose names are valid; a hosts match is an IP address
// with the port asked for.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "apps/common/dns.h"
#include "hal/address.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 2048) return 0;
  const uint8_t mode = data[0] % 3;
  ++data;
  --size;
  if (mode == 0) {
    // The reply to a fixed question whose id and type come from the input,
    // so that the fuzzer can make replies that are ours.
    if (size < 3) return 0;
    uint8_t q[app::dns::kMaxQuery];
    const auto id = static_cast<uint16_t>(data[0] << 8 | data[1]);
    const uint16_t type = (data[2] & 1) != 0 ? app::dns::kTypeAaaa : app::dns::kTypeA;
    const int qlen = app::dns::build_query("broker.example.lan", id, type, q, sizeof q);
    if (qlen <= 0) std::abort();
    app::dns::Answer a;
    const int n = app::dns::parse_reply(data + 3, size - 3, q, static_cast<size_t>(qlen), &a);
    if (n > app::dns::Answer::kMax || (n > 0 && n != a.count) || (n <= 0 && a.count != 0)) {
      std::abort();
    }
    if (n < 0 && n != app::dns::kErrNotFound && n != app::dns::kErrNoAddress &&
        n != app::dns::kErrServer && n != app::dns::kErrNotOurs) {
      std::abort();
    }
    if (n > 0) {
      hal::SockAddr addr;
      app::dns::make_address(a.addr[0], type == app::dns::kTypeA ? 4 : 16, 1883, &addr);
      if (hal::address_port(addr) != 1883) std::abort();
    }
    return 0;
  }
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (mode == 1) {
    app::dns::ResolvConf c;
    app::dns::parse_resolv_conf(text.c_str(), &c);
    if (c.count < 1 || c.count > app::dns::kMaxServers) std::abort();
    for (int i = 0; i < c.count; ++i) {
      if (hal::address_port(c.servers[i]) != 53) std::abort();
    }
    if (c.timeout_s < 1 || c.timeout_s > 30 || c.attempts < 1 || c.attempts > 5) std::abort();
    if (c.ndots < 0 || c.ndots > 15 || c.search_count < 0 || c.search_count > 6) std::abort();
    // Every name asked for a short name is a valid one, and there are at
    // most the search list's and the name itself.
    char name[app::dns::kMaxName + 2];
    int n = 0;
    while (app::dns::candidate(c, "broker", n, name)) {
      if (!app::dns::valid_name(name) || std::strlen(name) > app::dns::kMaxName) std::abort();
      ++n;
    }
    if (n < 1 || n > c.search_count + 1) std::abort();
    return 0;
  }
  // hosts: the name is the text's last word.
  const size_t sp = text.find_last_of(" \t\n");
  const std::string name = sp == std::string::npos ? text : text.substr(sp + 1);
  hal::SockAddr addr;
  if (app::dns::hosts_lookup(text.c_str(), name.c_str(), 8086, &addr)) {
    const int f = hal::address_family(addr);
    if ((f != hal::kAfInet && f != hal::kAfInet6) || hal::address_port(addr) != 8086) std::abort();
  }
  return 0;
}
