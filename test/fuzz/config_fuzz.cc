// Fuzz target: a config file and command line, on the fake kernel. What
// must hold: parsing ends with 0 or -EINVAL and a one-line error; values
// taken lie within their options' ranges; a string never overflows.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "apps/common/options.h"
#include "test/fake/kernel.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fake::Kernel k;
  const size_t cut = size > 0 ? data[0] % 64 : 0;  // the first bytes: one command-line argument
  const std::string arg(reinterpret_cast<const char*>(data) + (size > 0 ? 1 : 0),
                        cut < size ? cut : (size > 0 ? size - 1 : 0));
  const size_t rest = 1 + arg.size();
  k.add_regular_path("/etc/evl.conf",
                     rest < size
                         ? std::string(reinterpret_cast<const char*>(data) + rest, size - rest)
                         : std::string());
  char server[32] = {};
  int64_t period = 1000;
  bool flag = false;
  const app::Option table[] = {
      app::string_option("server", "URL", "server", server, sizeof server),
      app::int_option("period-ms", "MS", "period", &period, 10, 60000),
      app::flag_option("syslog", "syslog", &flag),
  };
  char a0[] = "prog";
  char a1[] = "--config";
  char a2[] = "/etc/evl.conf";
  std::string a3 = arg;
  char* argv[] = {a0, a1, a2, &a3[0], nullptr};
  app::ParseResult r;
  const int rc = app::parse_options(table, 3, a3.empty() ? 3 : 4, argv, &r);
  if (rc != 0 && rc != -EINVAL) std::abort();
  if (rc == -EINVAL && (r.error[0] == '\0' || std::strchr(r.error, '\n') != nullptr)) std::abort();
  if (period < 10 || period > 60000) std::abort();
  if (std::memchr(server, '\0', sizeof server) == nullptr) std::abort();
  return 0;
}
