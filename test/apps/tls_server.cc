#include "test/apps/tls_server.h"

#include <cerrno>
#include <cstring>

#include <cstdio>
#include <cstdlib>

#include "hal/address.h"
#include "mbedtls/ecp.h"
#include "mbedtls/net_sockets.h"
#include "mbedtls/x509_crt.h"
#include "test/fake/kernel.h"

namespace tlstest {
namespace {

// (A failure in the set-up is a broken test, not a result.)
void must(int r, const char* what) {
  if (r != 0) {
    std::fprintf(stderr, "tls_server: %s: %d\n", what, r);
    std::abort();
  }
}

int seed_bytes(void* ctx, unsigned char* out, size_t len) {
  const uint64_t seed = *static_cast<const uint64_t*>(ctx);
  for (size_t i = 0; i < len; ++i) {
    out[i] = static_cast<unsigned char>((seed >> (8 * (i % 8))) ^ i);
  }
  return 0;
}

}  // namespace

Server::Server(evl::Loop& loop, const char* at, const std::string& chain_pem, const Key& key,
               uint64_t seed)
    : loop_(loop) {
  mbedtls_ctr_drbg_init(&rng_);
  mbedtls_x509_crt_init(&chain_);
  mbedtls_x509_crt_init(&client_ca_);
  mbedtls_ssl_cache_init(&cache_);
  mbedtls_ssl_config_init(&conf_);
  mbedtls_ssl_init(&ssl_);
  static const unsigned char kPers[] = "evl tls server";
  must(mbedtls_ctr_drbg_seed(&rng_, seed_bytes, &seed, kPers, sizeof kPers - 1), "its generator");
  must(mbedtls_x509_crt_parse(&chain_, reinterpret_cast<const unsigned char*>(chain_pem.c_str()),
                              chain_pem.size() + 1),
       "its certificate");
  must(mbedtls_ssl_config_defaults(&conf_, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                   MBEDTLS_SSL_PRESET_DEFAULT),
       "its configuration");
  mbedtls_ssl_conf_rng(&conf_, mbedtls_ctr_drbg_random, &rng_);
  mbedtls_ssl_conf_sni(&conf_, on_sni, this);
  mbedtls_ssl_conf_session_cache(&conf_, &cache_, mbedtls_ssl_cache_get, mbedtls_ssl_cache_set);
  must(mbedtls_ssl_conf_own_cert(&conf_, &chain_, const_cast<mbedtls_pk_context*>(&key.pk)),
       "its key");
  must(mbedtls_ssl_setup(&ssl_, &conf_), "its context");
  must(hal::parse_address(at, &at_), "its address");
  (void)listen();
}

bool Server::listen() {
  if (listener_) return true;
  int fd = -1;
  if (hal::stream_listen(at_, 8, &fd) != 0) return false;
  if (loop_.io_start(fd, evl::kIn, on_accept, this, &listener_) != 0) {
    (void)hal::close(fd);
    return false;
  }
  return true;
}

void Server::unlisten() {
  close_connection();
  if (listener_) (void)loop_.io_close(listener_);
  listener_ = evl::IoHandle{};
}

Server::~Server() {
  close_connection();
  if (listener_) (void)loop_.io_close(listener_);
  mbedtls_ssl_free(&ssl_);
  mbedtls_ssl_config_free(&conf_);
  mbedtls_x509_crt_free(&chain_);
  mbedtls_x509_crt_free(&client_ca_);
  mbedtls_ssl_cache_free(&cache_);
  mbedtls_ctr_drbg_free(&rng_);
}

void Server::forget_sessions() {
  mbedtls_ssl_cache_free(&cache_);
  mbedtls_ssl_cache_init(&cache_);
}

void Server::close_connection() {
  if (conn_) (void)loop_.io_close(conn_);
  conn_ = evl::IoHandle{};
  fd_ = -1;
  shaken_ = false;
  sni_.clear();
  (void)mbedtls_ssl_session_reset(&ssl_);
}

void Server::no_common_suite() {
  static const int kPskOnly[] = {MBEDTLS_TLS_PSK_WITH_AES_128_GCM_SHA256, 0};
  mbedtls_ssl_conf_ciphersuites(&conf_, kPskOnly);
}

void Server::require_client(const std::string& ca_pem) {
  must(mbedtls_x509_crt_parse(&client_ca_, reinterpret_cast<const unsigned char*>(ca_pem.c_str()),
                              ca_pem.size() + 1),
       "the client authority");
  mbedtls_ssl_conf_ca_chain(&conf_, &client_ca_, nullptr);
  mbedtls_ssl_conf_authmode(&conf_, MBEDTLS_SSL_VERIFY_REQUIRED);
}

void Server::stop_reading() {
  reading_ = false;
  if (conn_) (void)loop_.io_modify(conn_, evl::kRdHup);
}

void Server::resume() {
  reading_ = true;
  step();
}

void Server::on_accept(evl::Loop& loop, evl::IoHandle h, uint32_t, void* ctx) {
  auto* s = static_cast<Server*>(ctx);
  int fd = -1;
  while (hal::stream_accept(loop.io_fd(h), &fd, nullptr) == 0) {
    ++s->accepts;
    s->close_connection();
    if (s->mode == Mode::kPlainText) {
      const char kAnswer[] = "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
      (void)hal::stream_send(fd, kAnswer, sizeof kAnswer - 1);
    }
    if (loop.io_start(fd, evl::kIn, on_conn, s, &s->conn_) != 0) {
      (void)hal::close(fd);
      continue;
    }
    s->conns.emplace_back();
    s->fd_ = fd;
    s->reading_ = true;
    mbedtls_ssl_set_bio(&s->ssl_, s, on_send, on_recv, nullptr);
  }
}

void Server::on_conn(evl::Loop&, evl::IoHandle, uint32_t events, void* ctx) {
  auto* s = static_cast<Server*>(ctx);
  // Not reading, it still sees the client leave (else the hang-up would be
  // reported at every turn of the loop).
  if (!s->reading_ && s->shaken_ && (events & (evl::kRdHup | evl::kHup | evl::kErr)) != 0) {
    s->close_connection();
    return;
  }
  s->step();
}

void Server::step() {
  if (fd_ < 0) return;
  if (mode == Mode::kResets) {
    (void)fake::Kernel::current().reset(fd_);
    close_connection();
    return;
  }
  if (mode == Mode::kHalfRecord) {
    char hello[2048];
    while (hal::stream_recv(fd_, hello, sizeof hello) > 0) {
    }
    (void)hal::stream_send(fd_, "\x16\x03\x03", 3);
    close_connection();
    return;
  }
  if (mode == Mode::kPlainText || mode == Mode::kSilent) {
    char buf[512];
    long n = 0;
    while ((n = hal::stream_recv(fd_, buf, sizeof buf)) > 0) {
    }
    if (n == 0) close_connection();
    return;
  }
  if (!shaken_) {
    const int r = mbedtls_ssl_handshake(&ssl_);
    if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) return;
    if (r != 0) {
      close_connection();
      return;
    }
    shaken_ = true;
    ++handshakes;
    server_names.push_back(sni_);
    sni_.clear();
    if (mode == Mode::kStopsReading) reading_ = false;

    if (!reply.empty() &&
        mbedtls_ssl_write(&ssl_, reinterpret_cast<const unsigned char*>(reply.data()),
                          reply.size()) != static_cast<int>(reply.size())) {
      close_connection();
      return;
    }
    if (close_after_handshake) {
      close_connection();
      return;
    }
  }
  if (!reading_) {
    if (conn_) (void)loop_.io_modify(conn_, evl::kRdHup);  // (not level-triggered on data)
    return;
  }
  if (conn_) (void)loop_.io_modify(conn_, evl::kIn);
  unsigned char buf[4096];
  for (size_t taken = 0; read_limit == 0 || taken < read_limit;) {
    const size_t ask =
        read_limit == 0 || read_limit - taken > sizeof buf ? sizeof buf : read_limit - taken;
    const int r = mbedtls_ssl_read(&ssl_, buf, ask);
    if (r > 0) taken += static_cast<size_t>(r);
    if (r > 0) {
      got.append(reinterpret_cast<char*>(buf), static_cast<size_t>(r));
      conns.back().append(reinterpret_cast<char*>(buf), static_cast<size_t>(r));
      if (mode == Mode::kResetsLater) {  // at the first bytes
        (void)fake::Kernel::current().reset(fd_);
        close_connection();
        return;
      }
      continue;
    }
    if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) return;
    close_connection();
    return;
  }
}

int Server::on_send(void* ctx, const unsigned char* buf, size_t len) {
  const long n = hal::stream_send(static_cast<Server*>(ctx)->fd_, buf, len);
  if (n == -EAGAIN) return MBEDTLS_ERR_SSL_WANT_WRITE;
  return n < 0 ? MBEDTLS_ERR_NET_SEND_FAILED : static_cast<int>(n);
}

int Server::on_sni(void* ctx, mbedtls_ssl_context*, const unsigned char* name, size_t len) {
  static_cast<Server*>(ctx)->sni_.assign(reinterpret_cast<const char*>(name), len);
  return 0;
}

int Server::on_recv(void* ctx, unsigned char* buf, size_t len) {
  const long n = hal::stream_recv(static_cast<Server*>(ctx)->fd_, buf, len);
  if (n == -EAGAIN) return MBEDTLS_ERR_SSL_WANT_READ;
  return n < 0 ? MBEDTLS_ERR_NET_RECV_FAILED : static_cast<int>(n);
}

}  // namespace tlstest
