// Certificates and keys made with mbedTLS from a fixed seed (no openssl,
// no clock: the same bytes every run), for the TLS tests and the TLS
// benchmark. A failure aborts: it is a broken set-up, not a result.
#pragma once

#include <cstddef>
#include <string>

#include "mbedtls/pk.h"

namespace tlstest {

// An EC key (P-256) from the test's seeded generator.
struct Key {
  mbedtls_pk_context pk;
  Key();
  ~Key();
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
};

// A key as PEM (not encrypted).
std::string key_pem(const Key& key);

// A certificate as PEM: `cn` signed by `issuer_key` under `issuer_cn`
// (self-signed when they are the subject's own), valid in [from, to]
// ("YYYYMMDDhhmmss", UTC).
// alt_names: subjectAltName's GeneralNames, encoded (ip_name(), dns_name());
// none when empty.
std::string certificate(const char* cn, const Key& key, const char* issuer_cn,
                        const Key& issuer_key, bool ca, const char* from = "20250101000000",
                        const char* to = "20400101000000", const std::string& alt_names = "");
// One GeneralName: an iPAddress (4 or 16 bytes), a dNSName.
std::string ip_name(const std::string& bytes);
std::string dns_name(const char* name);

// The test generator (a fixed seed), for keys and the server.
int random(void* ctx, unsigned char* out, size_t len);

}  // namespace tlstest
