// Options from the command line and from a config file (on the fake kernel).
#include <cerrno>
#include <cstring>
#include <string>

#include "CppUTest/TestHarness.h"
#include "apps/common/options.h"
#include "loop/version.h"
#include "test/fake/kernel.h"

namespace {

struct Opts {
  char server[32] = {};
  int64_t period = 1000;
  bool syslog = false;
  app::Option table[3];
  Opts() {
    table[0] = app::string_option("server", "URL", "server", server, sizeof server);
    table[1] = app::int_option("period-ms", "MS", "period", &period, 10, 60000);
    table[2] = app::flag_option("syslog", "syslog", &syslog);
  }
  int parse(std::initializer_list<const char*> args, app::ParseResult* r) {
    static char storage[16][128];
    static char* argv[16];
    int argc = 0;
    for (const char* a : args) {
      std::snprintf(storage[argc], sizeof storage[argc], "%s", a);
      argv[argc] = storage[argc];
      ++argc;
    }
    return app::parse_options(table, 3, argc, argv, r);
  }
};

}  // namespace

TEST_GROUP(Options) {
  fake::Kernel* k = nullptr;
  void setup() override {
    k = new fake::Kernel();
    char w[256];
    while (app::take_start_warning(w, sizeof w)) {  // other tests' secret files
    }
  }
  void teardown() override { delete k; }
};

TEST(Options, command_line_values_flags_and_equals_form) {
  Opts o;
  app::ParseResult r;
  CHECK_EQUAL(0,
              o.parse({"prog", "--server", "tcp://1.2.3.4:5", "--period-ms=250", "--syslog"}, &r));
  STRCMP_EQUAL("tcp://1.2.3.4:5", o.server);
  CHECK_EQUAL(250, o.period);
  CHECK(o.syslog);
  CHECK_FALSE(r.help);
}

TEST(Options, malformed_options_give_one_clear_line) {
  Opts o;
  app::ParseResult r;
  CHECK_EQUAL(-EINVAL, o.parse({"prog", "--period-ms", "fast"}, &r));
  STRCMP_EQUAL("--period-ms needs a whole number from 10 to 60000, not fast", r.error);
  CHECK_EQUAL(-EINVAL, o.parse({"prog", "--period-ms", "5"}, &r));
  CHECK_EQUAL(-EINVAL, o.parse({"prog", "--bogus"}, &r));
  STRCMP_EQUAL("unknown option '--bogus' (see --help)", r.error);
  CHECK_EQUAL(-EINVAL, o.parse({"prog", "stray"}, &r));
  CHECK_EQUAL(-EINVAL, o.parse({"prog", "--server"}, &r));
  CHECK(std::strchr(r.error, '\n') == nullptr);
}

TEST(Options, config_file_is_read_and_the_command_line_wins) {
  k->add_regular_path("/etc/hb.conf",
                      "# heartbeat\nserver = udp://10.0.0.1:9\n  period-ms 500  # twice a second\n"
                      "syslog\n");
  Opts o;
  app::ParseResult r;
  CHECK_EQUAL(0, o.parse({"prog", "--config", "/etc/hb.conf", "--period-ms", "750"}, &r));
  STRCMP_EQUAL("udp://10.0.0.1:9", o.server);
  CHECK_EQUAL(750, o.period);
  CHECK(o.syslog);
}

TEST(Options, config_file_errors_name_file_and_line) {
  k->add_regular_path("/etc/bad.conf", "server = x\nperiod = 3\n");
  Opts o;
  app::ParseResult r;
  CHECK_EQUAL(-EINVAL, o.parse({"prog", "--config", "/etc/bad.conf"}, &r));
  STRCMP_EQUAL("/etc/bad.conf:2: unknown option 'period'", r.error);
  CHECK_EQUAL(-EINVAL, o.parse({"prog", "--config", "/etc/missing.conf"}, &r));
  STRCMP_EQUAL("cannot open config file /etc/missing.conf: No such file or directory", r.error);
}

// A file saved by an editor that writes a UTF-8 byte-order mark reads as
// it looks; a '#' inside a value (a user name, a path) is part of it, one
// after a blank starts a comment; an option set twice in one file is an
// error, not the last one silently winning.
TEST(Options, config_files_as_editors_write_them) {
  k->add_regular_path("/etc/bom.conf", "\xef\xbb\xbfserver = tcp://a#b\t# the server\n");
  Opts o;
  app::ParseResult r;
  CHECK_EQUAL(0, o.parse({"prog", "--config", "/etc/bom.conf"}, &r));
  STRCMP_EQUAL("tcp://a#b", o.server);
  k->add_regular_path("/etc/hash.conf", "#server = x\nserver=u#1 #c\n#\n");
  CHECK_EQUAL(0, o.parse({"prog", "--config", "/etc/hash.conf"}, &r));
  STRCMP_EQUAL("u#1", o.server);
  k->add_regular_path("/etc/twice.conf", "server = a\n# x\nperiod-ms = 20\nserver = b\n");
  CHECK_EQUAL(-EINVAL, o.parse({"prog", "--config", "/etc/twice.conf"}, &r));
  STRCMP_EQUAL("/etc/twice.conf:4: 'server' is set twice (first on line 1)", r.error);
  // The command line still wins over the file, as often as it likes.
  k->add_regular_path("/etc/once.conf", "period-ms = 20\n");
  CHECK_EQUAL(
      0, o.parse({"prog", "--config", "/etc/once.conf", "--period-ms", "30", "--period-ms", "40"},
                 &r));
  CHECK_EQUAL(40, o.period);
}

TEST(Options, help_is_recognised) {
  Opts o;
  app::ParseResult r;
  CHECK_EQUAL(0, o.parse({"prog", "--help"}, &r));
  CHECK(r.help);
}

TEST(Options, version_is_recognised_and_wins_over_later_arguments) {
  Opts o;
  app::ParseResult r;
  CHECK_EQUAL(0, o.parse({"prog", "--version", "--bogus"}, &r));
  CHECK(r.version);
  CHECK_FALSE(r.help);
  app::ParseResult plain;
  CHECK_EQUAL(0, o.parse({"prog"}, &plain));
  CHECK_FALSE(plain.version);
}

// The field faults: each of these was ignored or misread with exit 0.
TEST(Options, config_path_forms_without_a_usable_file_are_errors) {
  Opts o;
  app::ParseResult r;
  CHECK_EQUAL(-EINVAL, o.parse({"prog", "--config=/nonexistent"}, &r));
  STRCMP_EQUAL("cannot open config file /nonexistent: No such file or directory", r.error);
  CHECK_EQUAL(-EINVAL, o.parse({"prog", "--server", "x", "--config"}, &r));
  STRCMP_EQUAL("--config needs a file path", r.error);
  CHECK_EQUAL(-EINVAL, o.parse({"prog", "--config="}, &r));
  STRCMP_EQUAL("--config needs a file path", r.error);
}

TEST(Options, config_equals_form_is_read) {
  k->add_regular_path("/etc/hb.conf", "period-ms = 500\n");
  Opts o;
  app::ParseResult r;
  CHECK_EQUAL(0, o.parse({"prog", "--config=/etc/hb.conf"}, &r));
  CHECK_EQUAL(500, o.period);
}

TEST(Options, only_regular_files_are_config_files) {
  k->add_special_path("/etc", fake::Kernel::Special::kDirectory);
  k->add_special_path("/dev/zero", fake::Kernel::Special::kZero);
  k->add_special_path("/run/hb.fifo", fake::Kernel::Special::kFifo);
  Opts o;
  app::ParseResult r;
  CHECK_EQUAL(-EINVAL, o.parse({"prog", "--config", "/etc"}, &r));
  STRCMP_EQUAL("config file /etc is not a regular file", r.error);
  CHECK_EQUAL(-EINVAL, o.parse({"prog", "--config", "/dev/zero"}, &r));
  STRCMP_EQUAL("config file /dev/zero is not a regular file", r.error);
  // A FIFO: refused at once, not a read that blocks for ever.
  CHECK_EQUAL(-EINVAL, o.parse({"prog", "--config", "/run/hb.fifo"}, &r));
  STRCMP_EQUAL("config file /run/hb.fifo is not a regular file", r.error);
}

TEST(Options, a_config_file_over_the_limit_is_an_error_never_truncated) {
  // The line "period-ms = 5000" straddles the 16 KiB boundary: truncated, it
  // once read as 50 ms.
  std::string text(16384 - 14, '#');
  text += "\nperiod-ms = 5000\n";
  k->add_regular_path("/etc/big.conf", text);
  Opts o;
  app::ParseResult r;
  CHECK_EQUAL(-EINVAL, o.parse({"prog", "--config", "/etc/big.conf"}, &r));
  STRCMP_EQUAL("config file /etc/big.conf is larger than 16384 bytes", r.error);
  CHECK_EQUAL(1000, o.period);
  k->add_regular_path("/etc/exact.conf", std::string(16384 - 18, '#') + "\nperiod-ms = 5000\n");
  CHECK_EQUAL(0, o.parse({"prog", "--config", "/etc/exact.conf"}, &r));
  CHECK_EQUAL(5000, o.period);
}

TEST(Options, a_nul_byte_in_a_config_file_is_an_error) {
  k->add_regular_path("/etc/nul.conf", std::string("server = a\0period-ms = 20\n", 26));
  Opts o;
  app::ParseResult r;
  CHECK_EQUAL(-EINVAL, o.parse({"prog", "--config", "/etc/nul.conf"}, &r));
  STRCMP_EQUAL("config file /etc/nul.conf holds a NUL byte (not text)", r.error);
}

TEST(Options, booleans_take_true_false_yes_no_on_off_1_0_and_nothing_else) {
  Opts o;
  app::ParseResult r;
  const char* const off[] = {"--syslog=no", "--syslog=false", "--syslog=off", "--syslog=0"};
  for (const char* a : off) {
    o.syslog = true;
    CHECK_EQUAL(0, o.parse({"prog", a}, &r));
    CHECK_FALSE(o.syslog);
  }
  const char* const on[] = {"--syslog=yes", "--syslog=true", "--syslog=on", "--syslog=1"};
  for (const char* a : on) {
    o.syslog = false;
    CHECK_EQUAL(0, o.parse({"prog", a}, &r));
    CHECK_TRUE(o.syslog);
  }
  CHECK_EQUAL(-EINVAL, o.parse({"prog", "--syslog=maybe"}, &r));
  STRCMP_EQUAL("--syslog takes true/false, yes/no, on/off or 1/0, not 'maybe'", r.error);
  k->add_regular_path("/etc/f.conf", "syslog = false\n");
  o.syslog = true;
  CHECK_EQUAL(0, o.parse({"prog", "--config", "/etc/f.conf"}, &r));
  CHECK_FALSE(o.syslog);
}

// Found by the config fuzzer: an argument holding a newline made the "one
// line" error two lines.
TEST(Options, errors_stay_one_line_whatever_they_quote) {
  Opts o;
  app::ParseResult r;
  CHECK_EQUAL(-EINVAL, o.parse({"prog", "\n"}, &r));
  STRCMP_EQUAL("unexpected argument '?' (options start with --)", r.error);
  CHECK_EQUAL(-EINVAL, o.parse({"prog", "--period-ms", "1\r\n2"}, &r));
  CHECK(std::strchr(r.error, '\n') == nullptr && std::strchr(r.error, '\r') == nullptr);
}

// What main() does with its options: --version on stdout, an error on
// stderr as one line with exit code 2, otherwise go on (-1).
TEST(Options, handle_options_prints_the_version_and_errors) {
  Opts o;
  char prog[] = "hb";
  char version[] = "--version";
  char bogus[] = "--bogus";
  char* with_version[] = {prog, version, nullptr};
  char* with_bogus[] = {prog, bogus, nullptr};
  char* plain[] = {prog, nullptr};
  CHECK_EQUAL(0, app::handle_options("hb", "usage: hb", o.table, 3, 2, with_version));
  STRCMP_EQUAL("hb evl " EVL_VERSION_STRING "\n", k->written(1).c_str());
  CHECK_EQUAL(2, app::handle_options("hb", "usage: hb", o.table, 3, 2, with_bogus));
  STRCMP_EQUAL("hb: unknown option '--bogus' (see --help)\n", k->written(2).c_str());
  CHECK_EQUAL(-1, app::handle_options("hb", "usage: hb", o.table, 3, 1, plain));
}

// Secrets (tokens, passwords) are one line of printable text.
TEST(Options, a_secret_file_is_one_printable_line) {
  char out[64];
  char err[160];
  k->add_regular_path("/etc/evl/ok", "s3cret\r\n");
  CHECK_EQUAL(0,
              app::read_secret_file("token file", "/etc/evl/ok", out, sizeof out, err, sizeof err));
  STRCMP_EQUAL("s3cret", out);
  k->add_regular_path("/etc/evl/two", "one\ntwo\n");
  CHECK_EQUAL(-EINVAL, app::read_secret_file("token file", "/etc/evl/two", out, sizeof out, err,
                                             sizeof err));
  STRCMP_EQUAL("token file /etc/evl/two holds a control character or more than one line", err);
  k->add_regular_path("/etc/evl/empty", "\n");
  CHECK_EQUAL(-EINVAL, app::read_secret_file("token file", "/etc/evl/empty", out, sizeof out, err,
                                             sizeof err));
  STRCMP_EQUAL("token file /etc/evl/empty is empty", err);
  k->add_regular_path("/etc/evl/eio", "s3cret\n");
  k->fail_next(fake::Call::kRead, EIO);
  CHECK_EQUAL(-EINVAL, app::read_secret_file("token file", "/etc/evl/eio", out, sizeof out, err,
                                             sizeof err));
  STRCMP_EQUAL("cannot read token file /etc/evl/eio: Input/output error", err);
}

// A secret every local user may read is a start warning, naming the file
// and its mode; the owner's and the service group's are not.
TEST(Options, a_secret_others_may_read_is_a_start_warning) {
  char out[64];
  char err[160];
  char w[256];
  while (app::take_start_warning(w, sizeof w)) {  // the earlier tests'
  }
  for (const uint32_t mode : {0600u, 0640u, 0400u}) {
    k->add_regular_path("/etc/evl/tok", "s3cret\n");
    k->set_path_mode("/etc/evl/tok", mode);
    CHECK_EQUAL(
        0, app::read_secret_file("token file", "/etc/evl/tok", out, sizeof out, err, sizeof err));
    CHECK_FALSE(app::take_start_warning(w, sizeof w));
  }
  k->add_regular_path("/etc/evl/pub", "s3cret\n");  // 0644, the usual umask's
  CHECK_EQUAL(
      0, app::read_secret_file("password file", "/etc/evl/pub", out, sizeof out, err, sizeof err));
  STRCMP_EQUAL("s3cret", out);  // read all the same
  CHECK(app::take_start_warning(w, sizeof w));
  STRCMP_EQUAL(
      "password file /etc/evl/pub is open to every user of this system (mode 0644): chmod "
      "o-rwx it (600, or 640 for the service's group)",
      w);
  CHECK_FALSE(app::take_start_warning(w, sizeof w));
}

// Kept in order, at most kMaxStartWarnings; the rest are counted, said once.
TEST(Options, start_warnings_are_kept_in_order_and_the_rest_counted) {
  char w[256];
  while (app::take_start_warning(w, sizeof w)) {
  }
  for (size_t i = 0; i < app::kMaxStartWarnings + 3; ++i) app::start_warning("w%zu", i);
  for (size_t i = 0; i < app::kMaxStartWarnings; ++i) {
    CHECK(app::take_start_warning(w, sizeof w));
    char want[16];
    std::snprintf(want, sizeof want, "w%zu", i);
    STRCMP_EQUAL(want, w);
  }
  CHECK(app::take_start_warning(w, sizeof w));
  STRCMP_EQUAL("3 more warnings (not kept)", w);
  CHECK_FALSE(app::take_start_warning(w, sizeof w));
  app::start_warning("again");  // room again
  CHECK(app::take_start_warning(w, sizeof w));
  STRCMP_EQUAL("again", w);
  CHECK_FALSE(app::take_start_warning(w, 0));
}
