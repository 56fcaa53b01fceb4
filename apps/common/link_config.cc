// The link's configuration: URLs, their errors and the words for them,
// the link's options (tls too), and the back-off's cap. (link.cc has the
// state machine.)
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "apps/common/link.h"
#include "apps/common/options.h"
#include "apps/common/tls.h"
#include "hal/address.h"

namespace app {

int parse_url(const char* text, Url* out) {
  if (text == nullptr || out == nullptr) return -EINVAL;
  static const struct {
    const char* prefix;
    Scheme scheme;
    bool tls;
  } kSchemes[] = {{"tcp://", Scheme::kTcp, false},   {"udp://", Scheme::kUdp, false},
                  {"mqtt://", Scheme::kMqtt, false}, {"http://", Scheme::kHttp, false},
                  {"mqtts://", Scheme::kMqtt, true}, {"https://", Scheme::kHttp, true}};
  Url u;
  const char* rest = nullptr;
  for (const auto& k : kSchemes) {
    const size_t n = std::strlen(k.prefix);
    if (std::strncmp(text, k.prefix, n) == 0) {
      u.scheme = k.scheme;
      u.tls = k.tls;
      rest = text + n;
    }
  }
  if (rest == nullptr) return -EINVAL;
  // user:password@ in the authority: not read, and the caller must not
  // print the text (a password would go to the log).
  const char* at = std::strchr(rest, '@');
  if (at != nullptr && (std::strchr(rest, '/') == nullptr || at < std::strchr(rest, '/'))) {
    return -EPERM;
  }
  char host[dns::kMaxName + 16];  // a name or literal, and a port
  const char* slash = std::strchr(rest, '/');
  const size_t host_len = slash != nullptr ? static_cast<size_t>(slash - rest) : std::strlen(rest);
  if (host_len == 0 || host_len >= sizeof host) return -EINVAL;
  std::memcpy(host, rest, host_len);
  host[host_len] = '\0';
  // No port: mqtt's and http's own (1883, 80), as their URLs mean; tcp and
  // udp have none.
  const char* close = host[0] == '[' ? std::strchr(host, ']') : nullptr;
  const bool has_port =
      host[0] == '[' ? close != nullptr && close[1] == ':' : std::strchr(host, ':') != nullptr;
  const char* port_text = nullptr;
  if (u.scheme == Scheme::kMqtt) port_text = u.tls ? ":8883" : ":1883";
  if (u.scheme == Scheme::kHttp) port_text = u.tls ? ":443" : ":80";
  if (!has_port && port_text != nullptr) {
    if (host_len + std::strlen(port_text) >= sizeof host) return -EINVAL;
    std::memcpy(host + host_len, port_text, std::strlen(port_text) + 1);
  }
  if ((slash != nullptr) != (u.scheme == Scheme::kHttp)) return -EINVAL;  // only http has a path
  if (slash != nullptr) {
    const size_t plen = std::strlen(slash);
    if (plen >= sizeof u.path) return -EINVAL;
    for (const char* c = slash; *c != '\0'; ++c) {
      if (*c <= ' ' || *c > '~') return -EINVAL;  // it goes into a request line verbatim
    }
    std::memcpy(u.path, slash, plen + 1);
  }
  if (host[0] == '[') {  // an IPv6 literal: its own errors (a zone missing or unknown)
    const int r = hal::parse_address(host, &u.addr);
    if (r < 0) return r;
  }
  if (host[0] == '[' || hal::parse_address(host, &u.addr) == 0) {
    const int f = hal::address_family(u.addr);
    if ((f != hal::kAfInet && f != hal::kAfInet6) || hal::address_port(u.addr) == 0) {
      return -EINVAL;
    }
    u.port = hal::address_port(u.addr);
    *out = u;
    return 0;
  }
  // A host name and a port.
  char* colon = std::strrchr(host, ':');
  if (colon == nullptr || colon[1] == '\0' || static_cast<size_t>(colon - host) >= sizeof u.host) {
    return -EINVAL;
  }
  *colon = '\0';
  int port = 0;
  for (const char* d = colon + 1; *d != '\0'; ++d) {
    if (*d < '0' || *d > '9' || port > 65535) return -EINVAL;
    port = port * 10 + (*d - '0');
  }
  if (port < 1 || port > 65535 || !dns::valid_name(host)) return -EINVAL;
  std::memcpy(u.host, host, static_cast<size_t>(colon - host) + 1);
  u.port = port;
  u.addr = hal::SockAddr{};
  *out = u;
  return 0;
}

bool looks_like_tls(const char* data, size_t len) {
  // ContentType alert (21) or handshake (22), then version 3.x.
  return len >= 3 && (data[0] == '\x15' || data[0] == '\x16') && data[1] == '\x03' &&
         static_cast<unsigned char>(data[2]) <= 4;
}

bool looks_like_http(const char* data, size_t len) {
  return len >= 5 && std::memcmp(data, "HTTP/", 5) == 0;
}

bool describe_url_error(const char* option, const char* text, int err, char* out, size_t cap) {
  if (err == -EPERM) {  // the text is not printed: it holds a password
    std::snprintf(out, cap,
                  "%s: a user or password in the URL (user:password@) is not read, and the URL "
                  "is not printed: use --mqtt-user and --mqtt-password-file, or --http-user and "
                  "--http-password-file",
                  option);
  } else if (err == -EADDRNOTAVAIL) {
    std::snprintf(out, cap,
                  "%s '%s': a link-local IPv6 address needs its interface, as "
                  "[fe80::1%%eth0]:PORT",
                  option, text);
  } else if (err == -ENODEV) {
    std::snprintf(out, cap, "%s '%s': no network interface of that name (/sys/class/net)", option,
                  text);
  } else {
    return false;
  }
  return true;
}

const char* error_text(int err) {
  switch (err) {
    case kErrTlsServer:
      return "the server speaks TLS (an https or mqtts port?): give the URL as mqtts:// or "
             "https://, or the server's plain port";
    case kErrHttpServer:
      return "the server answered in HTTP (a web or InfluxDB port?), not in this URL's "
             "protocol: check the port (InfluxDB takes http://HOST:8086/write?db=NAME)";
    case dns::kErrNotFound: return "name not found (NXDOMAIN)";
    case dns::kErrNoAddress: return "the name has no IPv4 or IPv6 address";
    case dns::kErrServer: return "the name servers failed (SERVFAIL, REFUSED or a bad reply)";
    case dns::kErrTimeout: return "no answer from the name servers";
    case dns::kErrUnreachable: return "no name server listens (port unreachable)";
    default: break;
  }
  if (tls::is_tls_error(err)) {
    thread_local char line[256];
    const char* detail = tls::last_detail();
    std::snprintf(line, sizeof line, detail[0] != '\0' ? "%s (%s)" : "%s", tls::error_text(err),
                  detail);
    return line;
  }
  return std::strerror(-err);
}

size_t take_lines(const char* data, size_t len, void (*fn)(void* ctx, const char* line, size_t n),
                  void* ctx) {
  size_t used = 0;
  for (;;) {
    const void* nl = std::memchr(data + used, '\n', len - used);
    if (nl == nullptr) return used;
    const size_t end = static_cast<size_t>(static_cast<const char*>(nl) - data);
    fn(ctx, data + used, end - used);
    used = end + 1;
  }
}

void add_link_options(OptionTable* t, LinkConfig* cfg) {
  t->add(int_option("backoff-initial-ms", "MS", "first reconnect back-off cap (default 500)",
                    &cfg->backoff_initial_ms, 1, 3600000));
  t->add(int_option("backoff-max-ms", "MS", "largest back-off cap (default 30000)",
                    &cfg->backoff_max_ms, 1, 86400000));
  t->add(int_option("connect-timeout-ms", "MS", "give up a connect after (default 5000)",
                    &cfg->connect_timeout_ms, 1, 600000));
  t->add(int_option("stall-timeout-ms", "MS",
                    "drop a connection whose peer takes nothing for this long (default: "
                    "heartbeat 3 periods, at least 5000; telemetry 30000)",
                    &cfg->stall_timeout_ms, 100, 86400000));
  t->add(string_option("tls-ca-file", "PATH",
                       "mqtts:// and https://: the authorities trusted, PEM (default "
                       "/etc/ssl/certs/ca-certificates.crt)",
                       cfg->tls_ca_file, sizeof cfg->tls_ca_file));
  t->add(string_option("tls-server-name", "NAME",
                       "mqtts:// and https://: the name the server's certificate must have "
                       "(default: the URL's host)",
                       cfg->tls_server_name, sizeof cfg->tls_server_name));
  t->add(string_option("tls-cert-file", "PATH",
                       "mqtts:// and https://: this client's certificate, PEM, for a server that "
                       "asks for one (with --tls-key-file)",
                       cfg->tls_cert_file, sizeof cfg->tls_cert_file));
  t->add(string_option("tls-key-file", "PATH",
                       "mqtts:// and https://: the key of --tls-cert-file, PEM, not encrypted",
                       cfg->tls_key_file, sizeof cfg->tls_key_file));
}

int prepare_tls(const Url& url, LinkConfig* cfg, tls::Client* client, char* err, size_t err_len,
                char* said, size_t said_len) {
  if (!url.tls) return 0;
  unsigned char ip[16];
  if (cfg->tls_server_name[0] != '\0' && !dns::valid_name(cfg->tls_server_name) &&
      dns::ip_literal(cfg->tls_server_name, ip) == 0) {
    std::snprintf(err, err_len, "--tls-server-name '%.80s' is not a host name or an IP address",
                  cfg->tls_server_name);
    return -EINVAL;
  }
  if ((cfg->tls_cert_file[0] != '\0') != (cfg->tls_key_file[0] != '\0')) {
    std::snprintf(err, err_len, "--tls-cert-file and --tls-key-file go together");
    return -EINVAL;
  }
  if (!client->ready()) {
    if (client->init(cfg->tls_ca_file, err, err_len) < 0) return -EINVAL;
    if (cfg->tls_cert_file[0] != '\0' &&
        client->set_identity(cfg->tls_cert_file, cfg->tls_key_file, err, err_len) < 0) {
      return -EINVAL;
    }
  }
  cfg->tls = client;
  if (said != nullptr) {
    const tls::Arena a = tls::arena();
    std::snprintf(said, said_len,
                  "TLS: %d authorities from %s%s%s (%zu of the TLS arena's %zu KiB)",
                  client->authorities(), cfg->tls_ca_file,
                  cfg->tls_cert_file[0] != '\0' ? "; this client's certificate from " : "",
                  cfg->tls_cert_file, (a.used + 1023) / 1024, a.capacity / 1024);
  }
  return 0;
}

int64_t backoff_cap_ms(const LinkConfig& cfg, uint32_t attempt) {
  int64_t cap = cfg.backoff_initial_ms;
  for (uint32_t i = 0; i < attempt && cap < cfg.backoff_max_ms; ++i) cap *= 2;
  return cap < cfg.backoff_max_ms ? cap : cfg.backoff_max_ms;
}

}  // namespace app
