// Socket addresses from text, and back.
//
// Accepted forms:
//   192.0.2.1:5000         IPv4 literal and port
//   [2001:db8::1]:5000     IPv6 literal in brackets and port
//   [fe80::1%eth0]:5000    with a zone: the interface's name or index
//                          ("%3"); a link-local address (fe80::/10) needs
//                          one. Formatted back with the index.
//   unix:/run/app.sock     Unix socket path (also a bare path starting with /)
//   unix:@name             abstract Unix socket (also a bare @name)
//
// Only literals: there is no name resolution here on purpose. getaddrinfo()
// blocks for as long as DNS takes (seconds, on a board with a dead uplink),
// and a blocked call stalls every watcher of the loop. Resolve names outside
// the loop (a helper thread, or at configuration time) and pass literals.
//
// Port 0 is accepted: bound, it means "any free port" (read the one chosen
// with getsockname); a connect to it fails in the kernel.
//
// Errors: -EINVAL for anything malformed (bad literal, port above 65535,
// a path too long for sun_path), -EADDRNOTAVAIL for a link-local IPv6
// address without a zone, -ENODEV for a zone naming no interface (the one
// system call here: /sys/class/net/NAME/ifindex is read through the seam);
// the output is not touched on error.
#pragma once

#include <cstddef>

#include "hal/sys.h"

namespace hal {

[[nodiscard]] int parse_address(const char* text, SockAddr* out);
// The text form (as accepted by parse_address); returns its length, or
// -ENOSPC if buf is too small, -EINVAL for an unknown family.
[[nodiscard]] int format_address(const SockAddr& addr, char* buf, size_t len);
int address_family(const SockAddr& addr);  // kAfInet, kAfInet6, kAfUnix or 0
int address_port(const SockAddr& addr);    // host order; 0 for Unix
// Same address, and for IP the wildcard address with the same port: does a
// socket bound at `bound` receive what is sent to `to`?
bool address_matches(const SockAddr& bound, const SockAddr& to);
// An IP address with another port (for ephemeral ports in tests).
void address_set_port(SockAddr* addr, int port);

}  // namespace hal
