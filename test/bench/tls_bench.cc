// How long a TLS handshake holds the loop, on the machine it runs on:
// app::tls::Client (the daemons' client, through the seam as shipped)
// against an mbedTLS server in the same thread over a socketpair, with an
// ECDSA P-256 certificate from one authority, as a board's broker would
// have. Reported: the client's own CPU time (CLOCK_THREAD_CPUTIME_ID) per
// handshake and its longest step (one call of Client::handshake(): what
// one loop callback takes), for the first, full handshake and for the
// resumed ones that reconnects make. Not a test: build it for a board
// (`bazel build -c opt --config=armv7 //test/bench:tls_bench`) and run it
// there, before choosing the watchdog's --max-lag-ms.
//
//   tls_bench [ROUNDS]   (default 50)
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "apps/common/tls.h"
#include "mbedtls/net_sockets.h"
#include "mbedtls/ssl.h"
#include "mbedtls/ssl_cache.h"
#include "test/apps/tls_pki.h"

namespace {

double cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

int srv_send(void* ctx, const unsigned char* buf, size_t len) {
  const ssize_t n = send(*static_cast<int*>(ctx), buf, len, MSG_NOSIGNAL);
  if (n < 0) return errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_WRITE : MBEDTLS_ERR_NET_SEND_FAILED;
  return static_cast<int>(n);
}

int srv_recv(void* ctx, unsigned char* buf, size_t len) {
  const ssize_t n = recv(*static_cast<int*>(ctx), buf, len, 0);
  if (n < 0) return errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_READ : MBEDTLS_ERR_NET_RECV_FAILED;
  return static_cast<int>(n);
}

[[noreturn]] void die(const char* what, int r) {
  std::fprintf(stderr, "tls_bench: %s: %d\n", what, r);
  std::exit(1);
}

struct Result {
  double total_ms;
  double longest_ms;
  int steps;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 50;
  if (rounds < 2) die("ROUNDS must be at least 2", rounds);
  tlstest::Key ca_key, server_key;
  const std::string ca = tlstest::certificate("bench CA", ca_key, "bench CA", ca_key, true);
  const std::string chain =
      tlstest::certificate("bench.test", server_key, "bench CA", ca_key, false);
  char dir[] = "/tmp/evl-tls-bench.XXXXXX";
  if (mkdtemp(dir) == nullptr) die("mkdtemp", errno);
  const std::string ca_path = std::string(dir) + "/ca.pem";
  FILE* f = std::fopen(ca_path.c_str(), "w");
  if (f == nullptr || std::fputs(ca.c_str(), f) < 0 || std::fclose(f) != 0) die("ca.pem", errno);

  app::tls::Client client;
  char err[256];
  if (client.init(ca_path.c_str(), err, sizeof err) != 0) die(err, 0);
  (void)unlink(ca_path.c_str());
  (void)rmdir(dir);

  mbedtls_x509_crt srv_chain;
  mbedtls_ssl_config conf;
  mbedtls_ssl_context srv;
  mbedtls_ssl_cache_context cache;
  mbedtls_x509_crt_init(&srv_chain);
  mbedtls_ssl_config_init(&conf);
  mbedtls_ssl_init(&srv);
  mbedtls_ssl_cache_init(&cache);
  int r = mbedtls_x509_crt_parse(&srv_chain, reinterpret_cast<const unsigned char*>(chain.c_str()),
                                 chain.size() + 1);
  if (r == 0) {
    r = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT);
  }
  if (r != 0) die("server set-up", r);
  mbedtls_ssl_conf_rng(&conf, tlstest::random, nullptr);
  mbedtls_ssl_conf_session_cache(&conf, &cache, mbedtls_ssl_cache_get, mbedtls_ssl_cache_set);
  if ((r = mbedtls_ssl_conf_own_cert(&conf, &srv_chain, &server_key.pk)) != 0 ||
      (r = mbedtls_ssl_setup(&srv, &conf)) != 0) {
    die("server set-up", r);
  }

  std::vector<Result> results;
  for (int i = 0; i < rounds; ++i) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
      die("socketpair", errno);
    }
    if ((r = client.begin(sv[0], "bench.test")) != 0) die("begin", r);
    (void)mbedtls_ssl_session_reset(&srv);
    mbedtls_ssl_set_bio(&srv, &sv[1], srv_send, srv_recv, nullptr);
    Result res{0, 0, 0};
    bool client_done = false, server_done = false;
    for (int spin = 0; !(client_done && server_done); ++spin) {
      if (spin > 1000) die("the handshake does not end", i);
      if (!client_done) {
        const double t0 = cpu_ms();
        r = client.handshake();
        const double dt = cpu_ms() - t0;
        res.total_ms += dt;
        res.longest_ms = std::max(res.longest_ms, dt);
        ++res.steps;
        if (r == 0) client_done = true;
        if (r != 0 && r != -EAGAIN) die(app::tls::error_text(r), r);
      }
      if (!server_done) {
        r = mbedtls_ssl_handshake(&srv);
        if (r == 0) server_done = true;
        if (r != 0 && r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE) {
          die("server handshake", r);
        }
      }
    }
    results.push_back(res);
    client.end();
    close(sv[0]);
    close(sv[1]);
  }
  std::vector<double> totals, longest;
  for (size_t i = 1; i < results.size(); ++i) {
    totals.push_back(results[i].total_ms);
    longest.push_back(results[i].longest_ms);
  }
  const app::tls::Stats& s = client.stats();
  std::printf(
      "tls_bench: %d handshakes (%llu resumed), ECDSA P-256 certificate from one authority\n"
      "  full handshake (the first): client CPU %.3f ms in %d steps, longest step %.3f ms\n"
      "  resumed (the other %d): median client CPU %.3f ms, median longest step %.3f ms, "
      "longest step of all %.3f ms\n"
      "  TLS arena: %zu KiB carved of %zu\n",
      rounds, static_cast<unsigned long long>(s.resumed), results[0].total_ms, results[0].steps,
      results[0].longest_ms, rounds - 1, median(totals), median(longest),
      *std::max_element(longest.begin(), longest.end()), app::tls::arena().high_water / 1024,
      app::tls::arena().capacity / 1024);
  mbedtls_ssl_free(&srv);
  mbedtls_ssl_config_free(&conf);
  mbedtls_ssl_cache_free(&cache);
  mbedtls_x509_crt_free(&srv_chain);
  return s.resumed == static_cast<uint64_t>(rounds - 1) ? 0 : 1;
}
