#include "test/apps/tls_pki.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/ecp.h"
#include "mbedtls/oid.h"
#include "mbedtls/x509_crt.h"

namespace tlstest {
namespace {

// (Test and benchmark code: a failure here is a broken set-up.)
void must(int r) {
  if (r != 0) {
    std::fprintf(stderr, "tls_pki: mbedTLS error -0x%04x\n", static_cast<unsigned>(-r));
    std::abort();
  }
}

}  // namespace
namespace {

int fixed_entropy(void*, unsigned char* out, size_t len) {
  for (size_t i = 0; i < len; ++i) out[i] = static_cast<unsigned char>(i * 37 + 11);
  return 0;
}

mbedtls_ctr_drbg_context& drbg() {
  static mbedtls_ctr_drbg_context d;
  static bool seeded = false;
  if (!seeded) {
    mbedtls_ctr_drbg_init(&d);
    static const unsigned char kPers[] = "evl tls test";
    must(mbedtls_ctr_drbg_seed(&d, fixed_entropy, nullptr, kPers, sizeof kPers - 1));
    seeded = true;
  }
  return d;
}

}  // namespace

int random(void*, unsigned char* out, size_t len) {
  return mbedtls_ctr_drbg_random(&drbg(), out, len);
}

Key::Key() {
  mbedtls_pk_init(&pk);
  must(mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)));
  must(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk), random, nullptr));
}

Key::~Key() { mbedtls_pk_free(&pk); }

std::string key_pem(const Key& key) {
  unsigned char pem[1024];
  must(mbedtls_pk_write_key_pem(const_cast<mbedtls_pk_context*>(&key.pk), pem, sizeof pem));
  return std::string(reinterpret_cast<char*>(pem));
}

std::string ip_name(const std::string& bytes) {
  return std::string(1, '\x87') + static_cast<char>(bytes.size()) + bytes;  // [7] implicit
}

std::string dns_name(const char* name) {
  return std::string(1, '\x82') + static_cast<char>(std::strlen(name)) + name;  // [2] implicit
}

std::string certificate(const char* cn, const Key& key, const char* issuer_cn,
                        const Key& issuer_key, bool ca, const char* from, const char* to,
                        const std::string& alt_names) {
  mbedtls_x509write_cert w;
  mbedtls_x509write_crt_init(&w);
  mbedtls_mpi serial;
  mbedtls_mpi_init(&serial);
  must(mbedtls_mpi_lset(&serial, 1 + static_cast<int>(std::strlen(cn))));
  const std::string subject = std::string("CN=") + cn;
  const std::string issuer = std::string("CN=") + issuer_cn;
  mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
  must(mbedtls_x509write_crt_set_serial(&w, &serial));
  must(mbedtls_x509write_crt_set_validity(&w, from, to));
  must(mbedtls_x509write_crt_set_subject_name(&w, subject.c_str()));
  must(mbedtls_x509write_crt_set_issuer_name(&w, issuer.c_str()));
  mbedtls_x509write_crt_set_subject_key(&w, const_cast<mbedtls_pk_context*>(&key.pk));
  mbedtls_x509write_crt_set_issuer_key(&w, const_cast<mbedtls_pk_context*>(&issuer_key.pk));
  must(mbedtls_x509write_crt_set_basic_constraints(&w, ca ? 1 : 0, ca ? 1 : -1));
  if (!alt_names.empty()) {  // GeneralNames ::= SEQUENCE OF GeneralName (short form: < 128)
    const std::string der =
        std::string(1, '\x30') + static_cast<char>(alt_names.size()) + alt_names;
    must(mbedtls_x509write_crt_set_extension(
        &w, MBEDTLS_OID_SUBJECT_ALT_NAME, MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
        reinterpret_cast<const unsigned char*>(der.data()), der.size()));
  }
  unsigned char pem[4096];
  must(mbedtls_x509write_crt_pem(&w, pem, sizeof pem, random, nullptr));
  mbedtls_x509write_crt_free(&w);
  mbedtls_mpi_free(&serial);
  return std::string(reinterpret_cast<char*>(pem));
}

}  // namespace tlstest
