#include "apps/common/tls.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "apps/common/dns.h"
#include "apps/common/options.h"
#include "hal/socket.h"
#include "hal/sys.h"
#include "loop/loop.h"
#include "mbedtls/asn1.h"
#include "mbedtls/error.h"
#include "mbedtls/net_sockets.h"
#include "mbedtls/oid.h"
#include "mbedtls/platform_util.h"

// mbedTLS's calloc, free and time, renamed in its archives
// (toolchains/mbedtls/BUILD.bazel).
extern "C" {
void* evl_tls_calloc(size_t n, size_t size);
void evl_tls_free(void* p);
time_t evl_tls_time(time_t* t);
}

namespace app {
namespace tls {
namespace {

// The arena: blocks of power-of-two sizes (a 16-byte head, then the bytes),
// carved once from a static array and kept on per-size free lists when
// given back. mbedTLS asks for the same sizes at every handshake, so after
// the first connection the free lists serve them and the carved part stops
// growing (tested).
constexpr size_t kArenaBytes = size_t{2} << 20;
constexpr int kMinShift = 5;  // 32-byte blocks at least
constexpr int kClasses = 22;  // blocks up to 2^21 bytes: the whole arena
constexpr size_t kHead = 16;
constexpr uint32_t kMagic = 0x7e15a11c;

bool equals_text(const mbedtls_x509_buf& b, const char* text) {
  return b.len == std::strlen(text) && std::memcmp(b.p, text, b.len) == 0;
}

// Whether the certificate names the address: an IP address name (the
// subjectAltName's iPAddress, RFC 5280; this mbedTLS does not list those,
// so its extensions are read here), or, as mbedTLS matched an IP literal
// given as the server name, a DNS name or CN that is its text.
bool names_address(const mbedtls_x509_crt& crt, const unsigned char* ip, size_t ip_len,
                   const char* text) {
  unsigned char* p = crt.v3_ext.p;
  const unsigned char* end = p != nullptr ? p + crt.v3_ext.len : nullptr;
  size_t len = 0;
  if (p != nullptr &&
      mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) == 0) {
    end = p + len;
    while (p < end) {  // Extension ::= SEQUENCE { extnID, critical BOOLEAN OPTIONAL, extnValue }
      size_t ext_len = 0, oid_len = 0, value_len = 0, names_len = 0;
      if (mbedtls_asn1_get_tag(&p, end, &ext_len,
                               MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0) {
        break;
      }
      unsigned char* const ext_end = p + ext_len;
      if (mbedtls_asn1_get_tag(&p, ext_end, &oid_len, MBEDTLS_ASN1_OID) != 0) break;
      const bool san = oid_len == MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME) &&
                       std::memcmp(p, MBEDTLS_OID_SUBJECT_ALT_NAME, oid_len) == 0;
      p += oid_len;
      if (!san) {
        p = ext_end;
        continue;
      }
      int critical = 0;
      (void)mbedtls_asn1_get_bool(&p, ext_end, &critical);  // optional: p moves only if there
      if (mbedtls_asn1_get_tag(&p, ext_end, &value_len, MBEDTLS_ASN1_OCTET_STRING) != 0 ||
          mbedtls_asn1_get_tag(&p, ext_end, &names_len,
                               MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0) {
        break;
      }
      const unsigned char* const names_end = p + names_len;
      while (p < names_end) {  // GeneralName: [7] iPAddress OCTET STRING (implicit)
        const unsigned char tag = *p++;
        size_t n = 0;
        if (mbedtls_asn1_get_len(&p, names_end, &n) != 0) break;
        if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) && n == ip_len &&
            std::memcmp(p, ip, n) == 0) {
          return true;
        }
        p += n;
      }
      break;
    }
  }
  for (const mbedtls_x509_sequence* s = &crt.subject_alt_names; s != nullptr; s = s->next) {
    if (s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2) && equals_text(s->buf, text)) return true;
  }
  for (const mbedtls_x509_name* n = &crt.subject; n != nullptr; n = n->next) {
    if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0 && equals_text(n->val, text)) return true;
  }
  return false;
}

struct Head {
  uint32_t shift;
  uint32_t magic;
  Head* next;  // on a free list
};
static_assert(sizeof(Head) <= kHead, "a block's head fits its 16 bytes");

alignas(16) unsigned char g_arena[kArenaBytes];
size_t g_carved = 0;
size_t g_used = 0;
size_t g_limit = kArenaBytes;  // limit_arena()
uint64_t g_allocs = 0;
uint64_t g_failures = 0;
Head* g_free[kClasses] = {};
// The daemons are single-threaded; some tests run loops in threads.
std::atomic_flag g_lock = ATOMIC_FLAG_INIT;

struct Locked {
  Locked() {
    while (g_lock.test_and_set(std::memory_order_acquire)) {
    }
  }
  ~Locked() { g_lock.clear(std::memory_order_release); }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;
};

int shift_for(size_t bytes) {
  int s = kMinShift;
  while (s < kClasses && (size_t{1} << s) < bytes) ++s;
  return s;
}

bool in_arena(const void* p) {
  const auto* b = static_cast<const unsigned char*>(p);
  return b >= g_arena + kHead && b < g_arena + kArenaBytes;
}

// The CA file's text (init reads it here; mbedTLS keeps its own copy),
// and the client's certificate or key (set_identity; the key is wiped).
char g_ca_text[Client::kMaxCaBytes + 2];
char g_identity_text[Client::kMaxIdentityBytes + 2];

constexpr unsigned char kPersonal[] = "evl tls";

int entropy(void*, unsigned char* out, size_t len) {
  while (len > 0) {
    const size_t ask = len < 256 ? len : 256;
    const long r = hal::getrandom(out, ask, hal::kGrndNonblock);
    if (r <= 0) return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
    out += r;
    len -= static_cast<size_t>(r);
  }
  return 0;
}

int64_t wall_s() {
  hal::Timespec ts{};
  if (hal::clock_gettime(hal::kClockRealtime, &ts) < 0) return -1;
  return ts.sec;
}

}  // namespace

Arena arena() {
  Locked l;
  return Arena{kArenaBytes, g_used, g_carved, g_allocs, g_failures};
}

void limit_arena(size_t bytes) {
  Locked l;
  g_limit = bytes == 0 || bytes > kArenaBytes ? kArenaBytes : bytes;
}

// Client::detail() of the last failure, for error_text() in log lines.
char g_last_detail[160];

const char* last_detail() { return g_last_detail; }

bool is_tls_error(int err) { return err <= kErrHandshake && err >= kErrClosed; }

const char* error_text(int err) {
  switch (err) {
    case kErrHandshake: return "TLS handshake failed";
    case kErrUntrusted: return "the server's TLS certificate was refused";
    case kErrNotTls: return "the server did not answer in TLS (a plain port?)";
    case kErrMemory: return "TLS memory exhausted";
    case kErrNoEntropy: return "the kernel's random pool is not ready yet";
    case kErrClosed: return "the server ended the connection during the TLS handshake";
    default: return "TLS error";
  }
}

Client::Client() {
  mbedtls_ssl_init(&ssl_);
  mbedtls_ssl_config_init(&conf_);
  mbedtls_x509_crt_init(&ca_);
  mbedtls_x509_crt_init(&own_);
  mbedtls_pk_init(&key_);
  mbedtls_ssl_session_init(&saved_);
  mbedtls_ctr_drbg_init(&drbg_);
}

Client::~Client() {
  mbedtls_ssl_free(&ssl_);
  mbedtls_ssl_config_free(&conf_);
  mbedtls_x509_crt_free(&ca_);
  mbedtls_x509_crt_free(&own_);
  mbedtls_pk_free(&key_);
  mbedtls_ssl_session_free(&saved_);
  mbedtls_ctr_drbg_free(&drbg_);
}

int Client::set_identity(const char* cert_file, const char* key_file, char* err, size_t err_len) {
  if (!ready_ || has_identity_ || fd_ >= 0) {
    std::snprintf(err, err_len, "TLS: the client's certificate is set after init, once");
    return -EINVAL;
  }
  if (read_text_file("TLS certificate file", cert_file, g_identity_text, kMaxIdentityBytes, err,
                     err_len) < 0) {
    return -EINVAL;
  }
  char why[96];
  int r = mbedtls_x509_crt_parse(&own_, reinterpret_cast<const unsigned char*>(g_identity_text),
                                 std::strlen(g_identity_text) + 1);
  if (r != 0 || own_.version == 0) {
    mbedtls_strerror(r, why, sizeof why);
    std::snprintf(err, err_len,
                  "TLS certificate file %s: not a certificate mbedTLS reads (PEM): %s", cert_file,
                  r < 0 ? why : "none found");
    mbedtls_x509_crt_free(&own_);
    mbedtls_x509_crt_init(&own_);
    return -EINVAL;
  }
  uint32_t perms = 0;
  r = read_text_file("TLS key file", key_file, g_identity_text, kMaxIdentityBytes, err, err_len,
                     &perms);
  if (r == 0) {
    warn_if_public("TLS key file", key_file, perms);
    r = mbedtls_pk_parse_key(&key_, reinterpret_cast<const unsigned char*>(g_identity_text),
                             std::strlen(g_identity_text) + 1, nullptr, 0);
    if (r != 0) {
      mbedtls_strerror(r, why, sizeof why);
      std::snprintf(err, err_len,
                    "TLS key file %s: not a key mbedTLS reads (PEM, not encrypted): %s", key_file,
                    why);
    } else if (mbedtls_pk_check_pair(&own_.pk, &key_) != 0) {
      std::snprintf(err, err_len, "TLS key file %s is not the key of certificate %s", key_file,
                    cert_file);
      r = -1;
    } else {
      r = mbedtls_ssl_conf_own_cert(&conf_, &own_, &key_);
      if (r != 0) std::snprintf(err, err_len, "TLS: the client's certificate cannot be used");
    }
  }
  mbedtls_platform_zeroize(g_identity_text, sizeof g_identity_text);
  if (r != 0) {
    mbedtls_x509_crt_free(&own_);
    mbedtls_x509_crt_init(&own_);
    mbedtls_pk_free(&key_);
    mbedtls_pk_init(&key_);
    return -EINVAL;
  }
  has_identity_ = true;
  return 0;
}

int Client::init(const char* ca_file, char* err, size_t err_len) {
  if (ready_) {
    std::snprintf(err, err_len, "TLS is set up already");
    return -EINVAL;
  }
  if (read_text_file("TLS CA file", ca_file, g_ca_text, kMaxCaBytes, err, err_len) < 0) {
    return -EINVAL;
  }
  const size_t len = std::strlen(g_ca_text) + 1;  // PEM is parsed with its NUL
  const int bad =
      mbedtls_x509_crt_parse(&ca_, reinterpret_cast<const unsigned char*>(g_ca_text), len);
  if (bad < 0 || ca_.version == 0) {
    char why[96];
    mbedtls_strerror(bad, why, sizeof why);
    std::snprintf(err, err_len, "TLS CA file %s holds no certificate that can be read (PEM): %s",
                  ca_file, bad < 0 ? why : "none found");
    mbedtls_x509_crt_free(&ca_);
    mbedtls_x509_crt_init(&ca_);
    return -EINVAL;
  }
  int r = mbedtls_ssl_config_defaults(&conf_, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                      MBEDTLS_SSL_PRESET_DEFAULT);
  if (r == 0) {
    mbedtls_ssl_conf_min_version(&conf_, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_authmode(&conf_, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&conf_, &ca_, nullptr);
    mbedtls_ssl_conf_rng(&conf_, mbedtls_ctr_drbg_random, &drbg_);
    mbedtls_ssl_conf_verify(&conf_, on_verify, this);
    r = mbedtls_ssl_setup(&ssl_, &conf_);
  }
  if (r != 0) {
    char why[96];
    mbedtls_strerror(r, why, sizeof why);
    std::snprintf(err, err_len, "TLS set-up failed: %s", why);
    return -EINVAL;
  }
  ready_ = true;
  return 0;
}

int Client::begin(int fd, const char* name) {
  if (!ready_ || fd < 0 || name == nullptr) return -EINVAL;
  detail_[0] = '\0';
  if (!seeded_) {
    // Seeded at the first connection, not at start: early at boot the
    // kernel may have nothing to give yet, and the link retries.
    if (mbedtls_ctr_drbg_seed(&drbg_, entropy, nullptr, kPersonal, sizeof kPersonal - 1) != 0) {
      std::snprintf(detail_, sizeof detail_, "getrandom has no bytes yet");
      return reported(kErrNoEntropy);
    }
    seeded_ = true;
  }
  arena_failures_ = arena().failures;
  ip_len_ = dns::ip_literal(name, ip_);
  ip_mismatch_ = false;
  std::snprintf(ip_text_, sizeof ip_text_, "%s", ip_len_ > 0 ? name : "");
  const int r = mbedtls_ssl_set_hostname(&ssl_, ip_len_ > 0 ? nullptr : name);
  if (r == MBEDTLS_ERR_SSL_ALLOC_FAILED) return reported(out_of_memory());
  if (r != 0) {
    std::snprintf(detail_, sizeof detail_, "server name '%.60s' refused", name);
    return reported(kErrHandshake);
  }
  // (A session the server no longer has costs nothing: it answers with a
  // full handshake.)
  if (have_saved_ && mbedtls_ssl_set_session(&ssl_, &saved_) != 0) forget_session();
  mbedtls_ssl_set_bio(&ssl_, this, on_send, on_recv, nullptr);
  fd_ = fd;
  verified_ = false;
  io_err_ = 0;
  bytes_in_ = 0;
  sent_ = 0;
  retry_len_ = 0;
  not_tls_ = false;
  in_handshake_ = true;
  want_ = evl::kOut;
  dates_skipped_ = false;
  return 0;
}

int Client::handshake() {
  if (fd_ < 0) return -ENOTCONN;
  const int r = mbedtls_ssl_handshake(&ssl_);
  if (r == 0) {
    in_handshake_ = false;
    ++stats_.handshakes;
    if (!verified_) ++stats_.resumed;
    forget_session();
    have_saved_ = mbedtls_ssl_get_session(&ssl_, &saved_) == 0;
    if (dates_skipped_) ++stats_.dates_unchecked;
    return 0;
  }
  if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) {
    want_ = r == MBEDTLS_ERR_SSL_WANT_READ ? evl::kIn : evl::kOut;
    return -EAGAIN;
  }
  ++stats_.failures;
  forget_session();  // (a session refused, or from a server that changed)
  return fail(r);
}

void Client::forget_session() {
  if (!have_saved_) return;
  mbedtls_ssl_session_free(&saved_);
  mbedtls_ssl_session_init(&saved_);
  have_saved_ = false;
}

long Client::read(void* buf, size_t len) {
  if (fd_ < 0) return -ENOTCONN;
  const int r = mbedtls_ssl_read(&ssl_, static_cast<unsigned char*>(buf), len);
  if (r > 0) return r;
  if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) {
    want_ = r == MBEDTLS_ERR_SSL_WANT_READ ? evl::kIn : evl::kOut;
    return -EAGAIN;
  }
  // The server's close_notify, or the end of the stream.
  if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || r == MBEDTLS_ERR_SSL_CONN_EOF) return 0;
  return fail(r);
}

long Client::write(const void* buf, size_t len) {
  if (fd_ < 0) return -ENOTCONN;
  // A write that would block is made again with the same length: mbedTLS
  // has that many bytes in its record already, and would count the new
  // length as written.
  if (retry_len_ != 0) {
    if (len < retry_len_) return -EINVAL;
    len = retry_len_;
  }
  const int r = mbedtls_ssl_write(&ssl_, static_cast<const unsigned char*>(buf), len);
  if (r >= 0) {
    retry_len_ = 0;
    return r;
  }
  if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) {
    want_ = r == MBEDTLS_ERR_SSL_WANT_READ ? evl::kIn : evl::kOut;
    retry_len_ = len;
    return -EAGAIN;
  }
  retry_len_ = 0;
  return fail(r);
}

void append_summary(const Client& c, char* buf, size_t len) {
  if (!c.ready()) return;
  const size_t used = std::strlen(buf);
  if (used >= len) return;
  std::snprintf(buf + used, len - used,
                "; tls handshakes=%llu resumed=%llu failures=%llu dates_unchecked=%llu",
                static_cast<unsigned long long>(c.stats().handshakes),
                static_cast<unsigned long long>(c.stats().resumed),
                static_cast<unsigned long long>(c.stats().failures),
                static_cast<unsigned long long>(c.stats().dates_unchecked));
}

int Client::authorities() const {
  int n = 0;
  for (const mbedtls_x509_crt* c = &ca_; c != nullptr && c->version != 0; c = c->next) ++n;
  return n;
}

size_t Client::pending() const { return fd_ < 0 ? 0 : mbedtls_ssl_get_bytes_avail(&ssl_); }

void Client::end() {
  if (fd_ < 0) return;
  fd_ = -1;
  // Gives back what the connection held, and makes the next handshake's.
  (void)mbedtls_ssl_session_reset(&ssl_);
}

int Client::fail(int mbed_err) { return reported(classify(mbed_err)); }

int Client::reported(int err) {
  std::memcpy(g_last_detail, detail_, sizeof g_last_detail);
  return err;
}

int Client::out_of_memory() {
  std::snprintf(detail_, sizeof detail_, "the arena's %zu KiB are in use", kArenaBytes / 1024);
  return kErrMemory;
}

int Client::classify(int mbed_err) {
  if (arena().failures != arena_failures_) return out_of_memory();
  // A reset or an end before the server's first byte, in the handshake: most
  // often a plain port that took the hello for garbage (mosquitto resets:
  // "wrong version number").
  // A server that asked for our certificate (CertificateRequest) and got
  // none ends the handshake: with an alert, or a reset that may overtake
  // it. Say what it wanted.
  if (in_handshake_ && ssl_.client_auth != 0 && !has_identity_ &&
      mbed_err != MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
    std::snprintf(detail_, sizeof detail_,
                  "the server asks for a client certificate: --tls-cert-file and --tls-key-file");
    return kErrHandshake;
  }
  const bool silent = in_handshake_ && bytes_in_ == 0;
  if (silent && (io_err_ == -ECONNRESET || mbed_err == MBEDTLS_ERR_SSL_CONN_EOF)) {
    std::snprintf(detail_, sizeof detail_, "%s before any TLS byte from it: a plain port?",
                  io_err_ != 0 ? "a reset" : "its end");
    return kErrClosed;
  }
  if (io_err_ != 0) return io_err_;  // the socket's own error (a reset, a timeout)
  if (mbed_err == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
    uint32_t flags = mbedtls_ssl_get_verify_result(&ssl_);
    char said[80] = {};
    if (ip_mismatch_) {  // mbedTLS's words would speak of a CN it was not given
      flags &= ~static_cast<uint32_t>(MBEDTLS_X509_BADCERT_CN_MISMATCH);
      std::snprintf(said, sizeof said, "not issued for the address %s", ip_text_);
    }
    char info[128];
    const int n = flags != 0 ? mbedtls_x509_crt_verify_info(info, sizeof info, "", flags) : 0;
    // One line: the flags' texts joined.
    for (int i = 0; i < n; ++i) {
      if (info[i] == '\n') info[i] = i + 1 < n ? ';' : '\0';
    }
    std::snprintf(detail_, sizeof detail_, "certificate: %.66s%s%.76s", said,
                  said[0] != '\0' && n > 0 ? "; " : "",
                  n > 0 ? info : (said[0] != '\0' ? "" : "not trusted"));
    return kErrUntrusted;
  }
  if (mbed_err == MBEDTLS_ERR_SSL_CONN_EOF) {
    std::snprintf(detail_, sizeof detail_, "after %llu bytes from it",
                  static_cast<unsigned long long>(bytes_in_));
    return kErrClosed;
  }
  if (not_tls_) {
    std::snprintf(detail_, sizeof detail_, "its first byte was 0x%02x, not a TLS record's", first_);
    return kErrNotTls;
  }
  char why[120];
  mbedtls_strerror(mbed_err, why, sizeof why);
  std::snprintf(detail_, sizeof detail_, "%s", why);
  return kErrHandshake;
}

int Client::on_send(void* ctx, const unsigned char* buf, size_t len) {
  auto* c = static_cast<Client*>(ctx);
  const long n = hal::stream_send(c->fd_, buf, len);
  if (n == -EAGAIN) return MBEDTLS_ERR_SSL_WANT_WRITE;
  if (n < 0) {
    c->io_err_ = static_cast<int>(n);
    return MBEDTLS_ERR_NET_SEND_FAILED;
  }
  c->sent_ += static_cast<uint64_t>(n);
  return static_cast<int>(n);
}

int Client::on_recv(void* ctx, unsigned char* buf, size_t len) {
  auto* c = static_cast<Client*>(ctx);
  const long n = hal::stream_recv(c->fd_, buf, len);
  if (n == -EAGAIN) return MBEDTLS_ERR_SSL_WANT_READ;
  if (n < 0) {
    c->io_err_ = static_cast<int>(n);
    return MBEDTLS_ERR_NET_RECV_FAILED;
  }
  if (n > 0 && c->bytes_in_ == 0) {
    // A TLS record begins with its content type: 20 to 23.
    c->first_ = buf[0];
    c->not_tls_ = buf[0] < 20 || buf[0] > 23;
  }
  c->bytes_in_ += static_cast<uint64_t>(n);
  return static_cast<int>(n);
}

int Client::on_verify(void* ctx, mbedtls_x509_crt* crt, int depth, uint32_t* flags) {
  auto* c = static_cast<Client*>(ctx);
  c->verified_ = true;
  if (depth == 0 && c->ip_len_ > 0 && !names_address(*crt, c->ip_, c->ip_len_, c->ip_text_)) {
    *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
    c->ip_mismatch_ = true;
  }
  // A board whose clock was never set (1970 after boot, until NTP) would
  // refuse every certificate as not yet valid: the dates wait for a set
  // clock. Everything else (the chain, the name) is checked.
  if (wall_s() < kWallClockSetS) {
    *flags &= ~static_cast<uint32_t>(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);
    c->dates_skipped_ = true;
  }
  return 0;
}

}  // namespace tls
}  // namespace app

extern "C" void* evl_tls_calloc(size_t n, size_t size) {
  using namespace app::tls;
  Locked l;
  const bool overflows = size != 0 && n > (SIZE_MAX - kHead) / size;
  const size_t bytes = overflows ? SIZE_MAX : (n * size == 0 ? 1 : n * size) + kHead;
  const int shift = shift_for(bytes);
  if (shift >= kClasses) {
    ++g_failures;
    return nullptr;
  }
  const size_t block = size_t{1} << shift;
  if (g_used > g_limit || block > g_limit - g_used) {
    ++g_failures;
    return nullptr;
  }
  Head* h = g_free[shift];
  if (h != nullptr) {
    g_free[shift] = h->next;
  } else if (block <= kArenaBytes - g_carved) {
    h = reinterpret_cast<Head*>(g_arena + g_carved);
    g_carved += block;
    h->shift = static_cast<uint32_t>(shift);
  } else {
    ++g_failures;
    return nullptr;
  }
  h->magic = kMagic;
  g_used += block;
  ++g_allocs;
  unsigned char* p = reinterpret_cast<unsigned char*>(h) + kHead;
  std::memset(p, 0, block - kHead);
  return p;
}

extern "C" void evl_tls_free(void* p) {
  using namespace app::tls;
  if (p == nullptr) return;
  Head* h = reinterpret_cast<Head*>(static_cast<unsigned char*>(p) - kHead);
  Locked l;
  // Only what the arena gave out comes back; anything else is a bug worth
  // a crash here rather than a corrupted list.
  if (!in_arena(p) || h->magic != kMagic) __builtin_trap();
  h->magic = 0;
  g_used -= size_t{1} << h->shift;
  h->next = g_free[h->shift];
  g_free[h->shift] = h;
}

extern "C" time_t evl_tls_time(time_t* t) {
  const int64_t s = app::tls::wall_s();
  const auto v = static_cast<time_t>(s);
  if (t != nullptr) *t = v;
  return v;
}
