// apps/common/tls.h in a build without TLS (--define=evl_tls=off): the
// daemons are smaller by mbedTLS (about 390 KB of armv7 code), and a TLS
// URL is refused at start with a line that says why.
#include <cerrno>
#include <cstdio>

#include "apps/common/tls.h"

namespace app {
namespace tls {

Arena arena() { return Arena{0, 0, 0, 0, 0}; }
void limit_arena(size_t) {}
const char* last_detail() { return ""; }
bool is_tls_error(int err) { return err <= kErrHandshake && err >= kErrClosed; }
const char* error_text(int) { return "TLS error"; }

Client::Client() = default;
Client::~Client() = default;

int Client::init(const char*, char* err, size_t err_len) {
  std::snprintf(err, err_len,
                "this build has no TLS (built with --define=evl_tls=off): mqtts:// and https:// "
                "need a build without that option");
  return -EINVAL;
}
int Client::authorities() const { return 0; }
void append_summary(const Client&, char*, size_t) {}
int Client::set_identity(const char*, const char*, char*, size_t) { return -EINVAL; }
int Client::begin(int, const char*) { return -EINVAL; }
int Client::handshake() { return -ENOTCONN; }
long Client::read(void*, size_t) { return -ENOTCONN; }
long Client::write(const void*, size_t) { return -ENOTCONN; }
size_t Client::pending() const { return 0; }
void Client::end() {}
void Client::forget_session() {}

}  // namespace tls
}  // namespace app
