#include "apps/common/options.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "apps/common/log.h"
#include "hal/flight.h"
#include "hal/sys.h"
#include "loop/time.h"
#include "loop/version.h"

namespace app {
namespace {

constexpr size_t kMaxConfig = 16384;
// read_text_file's own code for "not a regular file" (no errno says it).
constexpr int kNotRegular = 4096;

const Option* find(const Option* opts, size_t n, const char* name, size_t len) {
  for (size_t i = 0; i < n; ++i) {
    if (std::strlen(opts[i].name) == len && std::strncmp(opts[i].name, name, len) == 0) {
      return &opts[i];
    }
  }
  return nullptr;
}

bool parse_int(const char* s, int64_t* out) {
  if (*s == '\0') return false;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s, &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

// true/false/yes/no/on/off/1/0, and nothing else.
bool parse_bool(const char* s, bool* out) {
  static const char* const kTrue[] = {"true", "yes", "on", "1"};
  static const char* const kFalse[] = {"false", "no", "off", "0"};
  for (const char* t : kTrue) {
    if (std::strcmp(s, t) == 0) return (*out = true, true);
  }
  for (const char* f : kFalse) {
    if (std::strcmp(s, f) == 0) return (*out = false, true);
  }
  return false;
}

int set(const Option& o, const char* value, const char* where, ParseResult* r) {
  switch (o.kind) {
    case Option::Kind::kFlag: {
      bool on = true;
      if (value != nullptr && !parse_bool(value, &on)) {
        std::snprintf(r->error, sizeof r->error,
                      "%s--%s takes true/false, yes/no, on/off or 1/0, not '%.40s'", where, o.name,
                      value);
        return -EINVAL;
      }
      *static_cast<bool*>(o.target) = on;
      return 0;
    }
    case Option::Kind::kString:
      if (value == nullptr || *value == '\0' || std::strlen(value) >= o.buf_len) {
        std::snprintf(r->error, sizeof r->error, "%s--%s needs a value of 1..%zu characters", where,
                      o.name, o.buf_len - 1);
        return -EINVAL;
      }
      std::snprintf(static_cast<char*>(o.target), o.buf_len, "%s", value);
      return 0;
    case Option::Kind::kInt: {
      int64_t v = 0;
      if (value == nullptr || !parse_int(value, &v) || v < o.min || v > o.max) {
        std::snprintf(r->error, sizeof r->error,
                      "%s--%s needs a whole number from %lld to %lld%s%s", where, o.name,
                      static_cast<long long>(o.min), static_cast<long long>(o.max),
                      value != nullptr ? ", not " : "", value != nullptr ? value : "");
        return -EINVAL;
      }
      *static_cast<int64_t*>(o.target) = v;
      return 0;
    }
  }
  return -EINVAL;
}

char* trim(char* s) {
  while (*s == ' ' || *s == '\t') ++s;
  char* e = s + std::strlen(s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) --e;
  *e = '\0';
  return s;
}

}  // namespace

int read_text_file(const char* what, const char* path, char* text, size_t max, char* err,
                   size_t err_len, uint32_t* perms) {
  const int fd = hal::open(path, hal::kRdOnly | hal::kCloexec | hal::kNonblock, 0);
  if (fd < 0) {
    std::snprintf(err, err_len, "cannot open %s %s: %s", what, path, std::strerror(-fd));
    return -EINVAL;
  }
  hal::FileStat st{};
  int e = hal::fstat(fd, &st);
  if (e == 0 && (st.mode & hal::kSIfmt) != hal::kSIfreg) e = -kNotRegular;
  if (perms != nullptr) *perms = st.mode & 07777;
  size_t len = 0;
  while (e == 0) {
    const long got = hal::read(fd, text + len, max + 1 - len);
    if (got == -EINTR) continue;
    if (got < 0) e = static_cast<int>(got);
    if (got <= 0) break;
    len += static_cast<size_t>(got);
    if (len > max) e = -EFBIG;
  }
  (void)hal::close(fd);
  if (e == -kNotRegular) {
    std::snprintf(err, err_len, "%s %s is not a regular file", what, path);
  } else if (e == -EFBIG) {
    std::snprintf(err, err_len, "%s %s is larger than %zu bytes", what, path, max);
  } else if (e < 0) {
    std::snprintf(err, err_len, "cannot read %s %s: %s", what, path, std::strerror(-e));
  } else if (std::memchr(text, '\0', len) != nullptr) {
    std::snprintf(err, err_len, "%s %s holds a NUL byte (not text)", what, path);
    e = -EINVAL;
  }
  if (e < 0) return -EINVAL;
  text[len] = '\0';
  return 0;
}

bool device_id_ok(const char* id, char* err, size_t err_len) {
  size_t n = 0;
  bool ok = true;
  for (; ok && id[n] != '\0'; ++n) {
    const char c = id[n];
    ok = n < 63 && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-');
  }
  if (ok && n > 0) return true;
  if (err != nullptr) {
    std::snprintf(err, err_len,
                  "--id '%.63s' may hold only letters, digits, '.', '_' and '-' (1 to 63 of them)",
                  id);
  }
  return false;
}

int read_secret_file(const char* what, const char* path, char* out, size_t cap, char* err,
                     size_t err_len) {
  if (cap < 2) return -EINVAL;
  uint32_t perms = 0;
  if (read_text_file(what, path, out, cap - 2, err, err_len, &perms) < 0) return -EINVAL;
  warn_if_public(what, path, perms);
  size_t n = std::strlen(out);
  if (n > 0 && out[n - 1] == '\n') out[--n] = '\0';  // one line end, as editors leave it
  if (n > 0 && out[n - 1] == '\r') out[--n] = '\0';
  for (size_t i = 0; i < n; ++i) {
    if (static_cast<unsigned char>(out[i]) < 0x20) {
      std::snprintf(err, err_len, "%s %s holds a control character or more than one line", what,
                    path);
      return -EINVAL;
    }
  }
  if (n == 0) {
    std::snprintf(err, err_len, "%s %s is empty", what, path);
    return -EINVAL;
  }
  return 0;
}

namespace {

char g_warnings[kMaxStartWarnings][256];
size_t g_warnings_first = 0;  // the oldest kept
size_t g_warnings_kept = 0;
uint64_t g_warnings_lost = 0;  // not kept: no room

}  // namespace

void start_warning(const char* fmt, ...) {
  if (g_warnings_kept == kMaxStartWarnings) {
    ++g_warnings_lost;
    return;
  }
  char* w = g_warnings[(g_warnings_first + g_warnings_kept) % kMaxStartWarnings];
  va_list ap;
  va_start(ap, fmt);
  (void)std::vsnprintf(w, sizeof g_warnings[0], fmt, ap);
  va_end(ap);
  ++g_warnings_kept;
}

bool take_start_warning(char* out, size_t cap) {
  if (cap == 0) return false;
  if (g_warnings_kept > 0) {
    std::snprintf(out, cap, "%s", g_warnings[g_warnings_first]);
    g_warnings_first = (g_warnings_first + 1) % kMaxStartWarnings;
    --g_warnings_kept;
    return true;
  }
  if (g_warnings_lost == 0) return false;
  std::snprintf(out, cap, "%llu more warnings (not kept)",
                static_cast<unsigned long long>(g_warnings_lost));
  g_warnings_lost = 0;
  return true;
}

void warn_if_public(const char* what, const char* path, uint32_t perms) {
  if ((perms & 0007) == 0) return;
  start_warning(
      "%s %s is open to every user of this system (mode %04o): chmod o-rwx it (600, or 640 "
      "for the service's group)",
      what, path, perms);
}

namespace {

int parse_config(const Option* opts, size_t n, const char* path, ParseResult* r) {
  static char text[kMaxConfig + 2];
  if (read_text_file("config file", path, text, kMaxConfig, r->error, sizeof r->error) < 0) {
    return -EINVAL;
  }
  int line_no = 0;
  int set_on[OptionTable::kMax] = {};  // the line that set each option (0: none)
  char* line = text;
  if (std::strncmp(line, "\xef\xbb\xbf", 3) == 0) line += 3;  // a UTF-8 byte-order mark
  while (line != nullptr && *line != '\0') {
    char* next = std::strchr(line, '\n');
    if (next != nullptr) *next++ = '\0';
    ++line_no;
    // A comment starts a line or follows a blank: a '#' inside a value
    // (a user name, a path) is part of it.
    for (char* c = line; *c != '\0'; ++c) {
      if (*c == '#' && (c == line || c[-1] == ' ' || c[-1] == '\t')) {
        *c = '\0';
        break;
      }
    }
    char* t = trim(line);
    line = next;
    if (*t == '\0') continue;
    size_t key_len = std::strcspn(t, " \t=");
    char* value = trim(t + key_len);
    if (*value == '=') value = trim(value + 1);
    char where[160];
    std::snprintf(where, sizeof where, "%s:%d: ", path, line_no);
    const Option* o = find(opts, n, t, key_len);
    if (o == nullptr || std::strcmp(o->name, "config") == 0) {
      std::snprintf(r->error, sizeof r->error, "%sunknown option '%.*s'", where,
                    static_cast<int>(key_len), t);
      return -EINVAL;
    }
    if (o->command_line_only) {
      std::snprintf(r->error, sizeof r->error, "%s'%s' is accepted on the command line only", where,
                    o->name);
      return -EINVAL;
    }
    const auto at = static_cast<size_t>(o - opts);
    if (at < OptionTable::kMax && set_on[at] != 0) {
      std::snprintf(r->error, sizeof r->error, "%s'%s' is set twice (first on line %d)", where,
                    o->name, set_on[at]);
      return -EINVAL;
    }
    if (at < OptionTable::kMax) set_on[at] = line_no;
    if (set(*o, *value != '\0' ? value : nullptr, where, r) < 0) return -EINVAL;
  }
  return 0;
}

}  // namespace

void OptionTable::add(const Option& o) {
  if (n_ < kMax) opts_[n_++] = o;  // a table is built by code, once: kMax is sized for it
}

void add_daemon_options(OptionTable* t, DaemonOptions* d) {
  t->add(flag_option("syslog", "log to syslog (/dev/log) instead of stderr", &d->use_syslog));
  t->add(flag_option("log-time", "begin each stderr line with the UTC time (a log file)",
                     &d->log_time));
  t->add(int_option("run-for-ms", "MS", "stop after this long (default 0: run until SIGTERM)",
                    &d->run_for_ms, 0, INT64_MAX / evl::kMs));
  Option rec = string_option("flight-recorder", "PATH",
                             "record system calls; write them to PATH on SIGUSR2, alarm, exit",
                             d->flight_recorder, sizeof d->flight_recorder);
  rec.command_line_only = true;
  t->add(rec);
  Option kib =
      int_option("flight-recorder-kib", "KIB", "the recorder's ring (default 1024)",
                 &d->flight_recorder_kib, 64, static_cast<int64_t>(flight::kMaxRingBytes >> 10));
  kib.command_line_only = true;
  t->add(kib);
}

Option string_option(const char* name, const char* value_name, const char* help, char* buf,
                     size_t len) {
  return Option{name, Option::Kind::kString, false, value_name, help, buf, 0, 0, len};
}

Option int_option(const char* name, const char* value_name, const char* help, int64_t* v,
                  int64_t min, int64_t max) {
  return Option{name, Option::Kind::kInt, false, value_name, help, v, min, max, 0};
}

Option flag_option(const char* name, const char* help, bool* v) {
  return Option{name, Option::Kind::kFlag, false, nullptr, help, v, 0, 0, 0};
}

namespace {

int parse_all(const Option* opts, size_t n, int argc, char** argv, ParseResult* r);
int parse_args(const Option* opts, size_t n, int argc, char** argv, ParseResult* r);

}  // namespace

// Errors quote what they refuse; a control byte in it (a newline in an
// argument or a file) must not split the one line: it shows as '?'.
int parse_options(const Option* opts, size_t n, int argc, char** argv, ParseResult* r) {
  const int rc = parse_all(opts, n, argc, argv, r);
  for (char* c = r->error; *c != '\0'; ++c) {
    if (static_cast<unsigned char>(*c) < 0x20 || *c == 0x7f) *c = '?';
  }
  return rc;
}

int parse_command_line(const Option* opts, size_t n, int argc, char** argv, ParseResult* r) {
  return parse_args(opts, n, argc, argv, r);
}

namespace {

int parse_all(const Option* opts, size_t n, int argc, char** argv, ParseResult* r) {
  // The config file first, so that the command line wins.
  for (int i = 1; i < argc; ++i) {
    const char* path = nullptr;
    if (std::strcmp(argv[i], "--config") == 0) {
      if (i + 1 == argc || argv[i + 1][0] == '\0') {
        std::snprintf(r->error, sizeof r->error, "--config needs a file path");
        return -EINVAL;
      }
      path = argv[++i];
    } else if (std::strncmp(argv[i], "--config=", 9) == 0) {
      path = argv[i] + 9;
      if (*path == '\0') {
        std::snprintf(r->error, sizeof r->error, "--config needs a file path");
        return -EINVAL;
      }
    }
    if (path != nullptr && parse_config(opts, n, path, r) < 0) return -EINVAL;
  }
  return parse_args(opts, n, argc, argv, r);
}

int parse_args(const Option* opts, size_t n, int argc, char** argv, ParseResult* r) {
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (std::strcmp(a, "--help") == 0 || std::strcmp(a, "-h") == 0) {
      r->help = true;
      return 0;
    }
    if (std::strcmp(a, "--version") == 0) {
      r->version = true;
      return 0;
    }
    if (std::strncmp(a, "--", 2) != 0) {
      std::snprintf(r->error, sizeof r->error, "unexpected argument '%s' (options start with --)",
                    a);
      return -EINVAL;
    }
    const char* name = a + 2;
    const char* eq = std::strchr(name, '=');
    const size_t len = eq != nullptr ? static_cast<size_t>(eq - name) : std::strlen(name);
    if (len == 6 && std::strncmp(name, "config", 6) == 0) {
      if (eq == nullptr) ++i;
      continue;
    }
    const Option* o = find(opts, n, name, len);
    if (o == nullptr) {
      std::snprintf(r->error, sizeof r->error, "unknown option '--%.*s' (see --help)",
                    static_cast<int>(len), name);
      return -EINVAL;
    }
    const char* value = eq != nullptr ? eq + 1 : nullptr;  // --flag=no works; --flag alone: on
    if (o->kind != Option::Kind::kFlag && eq == nullptr && i + 1 < argc) value = argv[++i];
    if (set(*o, value, "", r) < 0) return -EINVAL;
  }
  return 0;
}

}  // namespace

int handle_options(const char* prog, const char* usage, const Option* opts, size_t n, int argc,
                   char** argv) {
  ParseResult pr;
  if (parse_options(opts, n, argc, argv, &pr) < 0) {
    write_error(prog, "%s", pr.error);
    return 2;
  }
  if (pr.help) {
    print_help(1, usage, opts, n);
    return 0;
  }
  if (pr.version) {
    char line[128];
    const int len = std::snprintf(line, sizeof line, "%s evl %s\n", prog, EVL_VERSION_STRING);
    (void)hal::write(1, line, static_cast<size_t>(len));
    return 0;
  }
  return -1;
}

void print_help(int fd, const char* usage, const Option* opts, size_t n) {
  char line[512];
  int len = std::snprintf(line, sizeof line, "%s\n\nOptions:\n", usage);
  (void)hal::write(fd, line, static_cast<size_t>(len));
  for (size_t i = 0; i < n; ++i) {
    char left[64];
    std::snprintf(left, sizeof left, "--%s%s%s", opts[i].name, opts[i].value_name ? " " : "",
                  opts[i].value_name ? opts[i].value_name : "");
    len = std::snprintf(line, sizeof line, "  %-28s %s\n", left, opts[i].help);
    (void)hal::write(fd, line, static_cast<size_t>(len));
  }
  len = std::snprintf(line, sizeof line, "  %-28s %s\n  %-28s %s\n", "--config PATH",
                      "read options from a file (name = value per line, # comments)", "--help",
                      "print this help");
  (void)hal::write(fd, line, static_cast<size_t>(len));
  len = std::snprintf(line, sizeof line, "  %-28s %s\n", "--version",
                      "print the program's evl version");
  (void)hal::write(fd, line, static_cast<size_t>(len));
}

}  // namespace app
