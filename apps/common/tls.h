// TLS for the daemons' links (mqtts://, https://): a client over a stream
// socket, on Debian's mbedTLS (TLS 1.2), with nothing of it outside the
// seam:
// - its socket I/O is hal::stream_send / stream_recv on the link's socket;
// - its randomness is a CTR_DRBG seeded from hal::getrandom;
// - its clock (certificate dates, the hello's time) is the wall clock read
//   through hal::clock_gettime (toolchains/mbedtls renames its time());
// - its memory is a fixed arena in static memory (its calloc and free are
//   renamed the same way): no heap, ever. The arena's pages are touched as
//   they are first used; what a handshake takes is given back at its end
//   and taken again, from the same blocks, at the next one.
// So a recording of a TLS daemon replays: the same random bytes and clock
// readings give the same hello, and the recorded answers decrypt.
//
// Reconnects resume the last session (its id or ticket, as the server
// gave): no certificate crosses the link again and no key exchange runs,
// which spares a board's CPU and a cellular link's bytes. A server that
// does not take it makes a full handshake.
//
// Certificates: the server's chain must lead to an authority in the CA
// file (PEM; one or many, as /etc/ssl/certs/ca-certificates.crt), and name
// the server: the URL's host name, or --tls-server-name (an IP literal URL
// needs it unless the certificate names that literal as a DNS name: this
// mbedTLS does not read IP address names). The dates are checked once the
// wall clock is set (after 2025); a board whose clock still reads 1970
// after boot would otherwise refuse every certificate until NTP: until then
// they are not checked, and stats().dates_unchecked counts the handshakes
// that skipped them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/pk.h"
#include "mbedtls/ssl.h"
#include "mbedtls/x509_crt.h"

namespace app {
namespace tls {

// Errors (negative, beside -errno): a handshake that failed for TLS's own
// reasons. Client::detail() says more about the last one.
constexpr int kErrHandshake = -4020;  // the server's TLS answer was refused or broken
constexpr int kErrUntrusted = -4021;  // its certificate: not trusted, another name, out of date
constexpr int kErrNotTls = -4022;     // the server did not answer in TLS (a plain port?)
constexpr int kErrMemory = -4023;     // the arena is exhausted
constexpr int kErrNoEntropy = -4024;  // the kernel's random pool is not ready yet (early boot)
constexpr int kErrClosed = -4025;     // the server ended the connection in the handshake
bool is_tls_error(int err);
const char* error_text(int err);
// The detail of the last TLS failure in this process ("" if none).
const char* last_detail();

// A wall clock before this (2025-01-01T00:00:00Z) has not been set.
constexpr int64_t kWallClockSetS = 1735689600;

struct Arena {
  size_t capacity;    // bytes
  size_t used;        // in blocks given out now (with their rounding)
  size_t high_water;  // bytes ever carved from the arena
  uint64_t allocs;    // blocks given out
  uint64_t failures;  // requests refused (exhausted)
};
Arena arena();
// Tests: the arena refuses a block that would take what is given out past
// `bytes` (0: the whole arena again), as if it were that small.
void limit_arena(size_t bytes);

struct Stats {
  uint64_t handshakes = 0;       // completed
  uint64_t resumed = 0;          // of them, resuming the last session (no certificate sent)
  uint64_t failures = 0;         // handshakes that failed
  uint64_t dates_unchecked = 0;  // completed while the wall clock was unset
};

class Client {
 public:
  Client();
  // (Frees mbedTLS's contexts; trivial only in a build without TLS.)
  ~Client();  // NOLINT(performance-trivially-destructible)
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Once, before any connection: reads the CA file (PEM, at most
  // kMaxCaBytes) through the seam. 0, or -EINVAL with err set.
  static constexpr size_t kMaxCaBytes = size_t{512} * 1024;
  [[nodiscard]] int init(const char* ca_file, char* err, size_t err_len);
  bool ready() const { return ready_; }
  // The client's own certificate (PEM, with its chain if any) and its key
  // (PEM, not encrypted), for a server that asks for one (mutual TLS: AWS
  // IoT Core, a broker with require_certificate): after init(), before any
  // connection. 0, or -EINVAL with err set (a file, a key that is not the
  // certificate's). The key's text is wiped once parsed.
  static constexpr size_t kMaxIdentityBytes = size_t{64} * 1024;
  [[nodiscard]] int set_identity(const char* cert_file, const char* key_file, char* err,
                                 size_t err_len);
  // The authorities init() read.
  int authorities() const;

  // A new connection on the connected stream socket fd to the server
  // named `name` (sent in the hello, checked in its certificate). 0 or an
  // error (kErrNoEntropy, kErrMemory).
  [[nodiscard]] int begin(int fd, const char* name);
  // Advances the handshake: 0 when done, -EAGAIN to be called again when
  // want() is ready, or an error (-errno of the socket, kErr*).
  [[nodiscard]] int handshake();
  // The socket event the handshake, read or write waits for: evl::kIn or
  // evl::kOut.
  uint32_t want() const { return want_; }
  // Application bytes: >0, -EAGAIN (after a write: offer the same bytes
  // again, at least as many: as many are taken), 0 from read when the
  // server ended the connection, or an error.
  [[nodiscard]] long read(void* buf, size_t len);
  [[nodiscard]] long write(const void* buf, size_t len);
  // Decrypted bytes held that read() gives without the socket.
  size_t pending() const;
  // Bytes written to the socket in this connection (records, handshake),
  // and those of a record not yet written whole.
  uint64_t sent() const { return sent_; }
  size_t unsent() const { return fd_ < 0 ? 0 : ssl_.out_left; }
  // The connection is over (the link closes its socket): ready for begin().
  void end();
  bool active() const { return fd_ >= 0; }

  // The last failure in words ("certificate: not trusted, expired").
  const char* detail() const { return detail_; }
  const Stats& stats() const { return stats_; }

  // (mbedTLS's callbacks.)
  static int on_send(void* ctx, const unsigned char* buf, size_t len);
  static int on_recv(void* ctx, unsigned char* buf, size_t len);
  static int on_verify(void* ctx, mbedtls_x509_crt* crt, int depth, uint32_t* flags);

 private:
  int fail(int mbed_err);
  void forget_session();
  int classify(int mbed_err);
  // kErrMemory, with the arena's size as its detail.
  int out_of_memory();
  // detail_ becomes last_detail() (the words of error_text()); returns err.
  int reported(int err);

  mbedtls_ssl_context ssl_;
  mbedtls_ssl_config conf_;
  mbedtls_x509_crt ca_;
  mbedtls_x509_crt own_;
  mbedtls_ssl_session saved_;  // the last connection's session, offered to resume
  bool have_saved_ = false;
  bool verified_ = false;  // this handshake checked a certificate (not resumed)
  mbedtls_pk_context key_;
  bool has_identity_ = false;
  mbedtls_ctr_drbg_context drbg_;
  bool ready_ = false;
  bool seeded_ = false;
  int fd_ = -1;
  int io_err_ = 0;
  uint32_t want_ = 0;
  uint64_t bytes_in_ = 0;  // read from the socket in this connection
  // The arena's refusals when this connection began: any since, and the
  // connection's failure is the arena's (mbedTLS may word it otherwise: a
  // signature check short of memory is "not correctly signed").
  uint64_t arena_failures_ = 0;
  uint64_t sent_ = 0;
  size_t retry_len_ = 0;        // a write that would block: its length, offered again
  bool dates_skipped_ = false;  // this handshake's certificate dates were not checked
  // The server's name when it is an IP literal (then mbedTLS is given no
  // name: no SNI, which may not carry an address, and on_verify matches the
  // certificate's IP address names): its 4 or 16 bytes, and its text.
  unsigned char ip_[16] = {};
  size_t ip_len_ = 0;
  char ip_text_[48] = {};
  bool ip_mismatch_ = false;  // on_verify found the address in none of its names
  bool not_tls_ = false;      // the server's first byte began no TLS record
  bool in_handshake_ = false;
  unsigned char first_ = 0;
  Stats stats_;
  char detail_[160] = {};
};

// Appends "; tls handshakes=N resumed=R failures=F dates_unchecked=D" to
// the counters line in buf when the client is in use (init() done).
void append_summary(const Client& c, char* buf, size_t len);

}  // namespace tls
}  // namespace app
