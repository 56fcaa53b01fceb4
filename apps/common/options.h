// Command-line and config-file options for the daemons, from one table.
//
// Each option is --name VALUE (or --name=VALUE). A flag alone turns on;
// --flag=VALUE (and "flag = VALUE" in a file) takes true/false, yes/no,
// on/off or 1/0, nothing else. A config file (--config PATH or
// --config=PATH) holds the same options, one per line as "name = value" or
// "name value" ("name" alone for a flag), with # comments; the command line
// wins over the file. The file must be a regular file of at most 16 KiB with
// no NUL byte: anything else (missing, a directory, a device, a FIFO, too
// large) is an error, never read in part. Any error is one line naming the
// option (and the file and line), and parse_options() returns -EINVAL.
#pragma once

#include <cstddef>
#include <cstdint>

namespace app {

struct Option {
  enum class Kind : uint8_t { kString, kInt, kFlag };
  const char* name;  // without the dashes
  Kind kind;
  bool command_line_only = false;  // a config file naming it is an error
  const char* value_name;          // for --help
  const char* help;
  void* target;  // char[buf_len] / int64_t / bool
  int64_t min;
  int64_t max;
  size_t buf_len;
};

Option string_option(const char* name, const char* value_name, const char* help, char* buf,
                     size_t len);
Option int_option(const char* name, const char* value_name, const char* help, int64_t* v,
                  int64_t min, int64_t max);
Option flag_option(const char* name, const char* help, bool* v);

// A main()'s option table: its own rows, then the shared ones (below).
class OptionTable {
 public:
  static constexpr size_t kMax = 48;
  void add(const Option& o);
  const Option* data() const { return opts_; }
  size_t size() const { return n_; }

 private:
  Option opts_[kMax] = {};
  size_t n_ = 0;
};

// The rows every daemon shares: --syslog, --run-for-ms, and the flight
// recorder's --flight-recorder PATH and --flight-recorder-kib N (command
// line only: see start_flight_recorder() in daemon.h).
struct DaemonOptions {
  bool use_syslog = false;
  bool log_time = false;
  int64_t run_for_ms = 0;
  char flight_recorder[200] = {};
  int64_t flight_recorder_kib = 1024;
};
void add_daemon_options(OptionTable* t, DaemonOptions* d);

struct ParseResult {
  bool help = false;
  bool version = false;  // --version
  char error[256] = {};
};

// Parses argv (argv[0] is the program). 0, or -EINVAL with result->error set.
[[nodiscard]] int parse_options(const Option* opts, size_t n, int argc, char** argv,
                                ParseResult* result);
// The command line alone (no config file is read): what the flight
// recorder needs before anything else runs. Same results as parse_options().
[[nodiscard]] int parse_command_line(const Option* opts, size_t n, int argc, char** argv,
                                     ParseResult* result);
// Writes the usage text to fd: the summary, then every option with its help.
void print_help(int fd, const char* usage, const Option* opts, size_t n);

// Reads a whole text file of at most max bytes into text (NUL-terminated;
// text holds max + 2): only a regular file, opened non-blocking (a FIFO
// cannot hang), never read in part, no NUL inside. -EINVAL with one line in
// err naming `what` ("config file", "password file") and the path.
// perms, if given, receives the file's permission bits.
[[nodiscard]] int read_text_file(const char* what, const char* path, char* text, size_t max,
                                 char* err, size_t err_len, uint32_t* perms = nullptr);
// A device id (--id): 1 to 63 letters, digits, '.', '_' or '-'. It goes
// unescaped into heartbeat lines ("HB id=..."), InfluxDB tag values, MQTT
// topic levels and client ids, where a space, ',', '=', '/', '+' or '#'
// would be misread.
// If it is not and err is given, err says why.
[[nodiscard]] bool device_id_ok(const char* id, char* err = nullptr, size_t err_len = 0);

// A secret (password, token) from a file: one line of printable text, its
// line end removed; empty or multi-line files are errors. A file every
// local user may use is a start warning (warn_if_public()).
[[nodiscard]] int read_secret_file(const char* what, const char* path, char* out, size_t cap,
                                   char* err, size_t err_len);

// Warnings found while the configuration is read (before the daemon's log
// is up, or deep in a transport's set-up): kept, at most
// kMaxStartWarnings of them (later ones are counted), until serve() logs
// them once the daemon has started or failed to.
constexpr size_t kMaxStartWarnings = 8;
void start_warning(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// The oldest kept warning into out, removed: false when none is left. Then
// one "N more warnings" line if some were not kept.
[[nodiscard]] bool take_start_warning(char* out, size_t cap);
// A secret (key, password, token) in a file with any of the "others" bits
// set (0007: read, write, run): a start warning naming it and its mode. (Not an
// error: an image built with the usual umask has 0644 files, and refusing
// to start would take the board off the air; the warning says how to fix
// it.)
void warn_if_public(const char* what, const char* path, uint32_t perms);

// What every main() does with its options: parse them; on --help print the
// usage and return 0; on --version print "prog evl X.Y.Z" and return 0; on
// an error print "prog: error" and return 2; else return -1 (go on).
[[nodiscard]] int handle_options(const char* prog, const char* usage, const Option* opts, size_t n,
                                 int argc, char** argv);

}  // namespace app
