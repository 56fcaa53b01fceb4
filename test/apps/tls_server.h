// A TLS server on the fake kernel, on the test's loop, that keeps what it
// reads and sends what it is told (tls_test, and the seeded "tls"
// scenario: it takes the kernel's injected faults like any peer).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hal/socket.h"
#include "loop/loop.h"
#include "mbedtls/ctr_drbg.h"
#include "mbedtls/pk.h"
#include "mbedtls/ssl.h"
#include "mbedtls/ssl_cache.h"
#include "mbedtls/x509_crt.h"
#include "test/apps/tls_pki.h"

namespace tlstest {

// What the server does with a connection.
enum class Mode {
  kTls,           // a TLS server: handshake, then keep what it reads, send `reply`
  kResets,        // resets each connection at its first byte (a plain port)
  kPlainText,     // answers each connection in plain text (an HTTP port)
  kSilent,        // accepts, reads, answers nothing
  kStopsReading,  // a TLS server that stops reading after the handshake
  kHalfRecord,    // answers the hello with 3 bytes of a record, then closes
  kResetsLater    // a TLS server that resets the connection at the first bytes it reads
};

class Server {
 public:
  // chain_pem: the server's certificate (and its issuers); key: its key;
  // seed: its own random generator's (one per server: the scenario runs
  // seeds in threads). It listens at once if it can (listening()).
  Server(evl::Loop& loop, const char* at, const std::string& chain_pem, const Key& key,
         uint64_t seed = 0);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Mode mode = Mode::kTls;
  std::string got;                 // plaintext read, all connections
  std::vector<std::string> conns;  // the same, one string per connection accepted
  std::string reply;               // sent once after each handshake
  int accepts = 0;
  int handshakes = 0;
  std::vector<std::string> server_names;  // the name (SNI) of each handshake, "" for none
  bool close_after_handshake = false;
  size_t read_limit = 0;  // plaintext bytes read per socket event (0: all there is)
  // Forgets the sessions it gave (as a restarted server): the next
  // handshake is a full one.
  void forget_sessions();
  // Reads again (kStopsReading): what waits is taken.
  void resume();
  // Stops reading now (the current connection too) until resume().
  void stop_reading();
  // Offers only a PSK suite, which the client does not: the handshake
  // fails with the server's alert.
  void no_common_suite();
  // Asks every client for its certificate, which `ca_pem` must have signed.
  void require_client(const std::string& ca_pem);
  void close_connection();
  // Listens (again): false if the kernel refused (an injected fault).
  bool listen();
  void unlisten();
  bool listening() const { return static_cast<bool>(listener_); }

 private:
  static void on_accept(evl::Loop& loop, evl::IoHandle h, uint32_t events, void* ctx);
  static void on_conn(evl::Loop& loop, evl::IoHandle h, uint32_t events, void* ctx);
  static int on_send(void* ctx, const unsigned char* buf, size_t len);
  static int on_recv(void* ctx, unsigned char* buf, size_t len);
  static int on_sni(void* ctx, mbedtls_ssl_context* ssl, const unsigned char* name, size_t len);
  void step();

  evl::Loop& loop_;
  hal::SockAddr at_;
  mbedtls_ctr_drbg_context rng_;
  evl::IoHandle listener_;
  evl::IoHandle conn_;
  int fd_ = -1;
  bool shaken_ = false;
  bool reading_ = true;
  mbedtls_x509_crt chain_;
  mbedtls_x509_crt client_ca_;
  mbedtls_ssl_cache_context cache_;  // sessions, for clients that resume
  mbedtls_ssl_config conf_;
  std::string sni_;  // this connection's
  mbedtls_ssl_context ssl_;
};

}  // namespace tlstest
