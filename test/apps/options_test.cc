// Options from the command line and from a config file (on the fake kernel).
#include <cerrno>
#include <cstring>

#include "CppUTest/TestHarness.h"
#include "apps/common/options.h"
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
  void setup() override { k = new fake::Kernel(); }
  void teardown() override { delete k; }
};

TEST(Options, command_line_values_flags_and_equals_form) {
  Opts o;
  app::ParseResult r;
  CHECK_EQUAL(0, o.parse({"prog", "--server", "tcp://1.2.3.4:5", "--period-ms=250", "--syslog"}, &r));
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

TEST(Options, help_is_recognised) {
  Opts o;
  app::ParseResult r;
  CHECK_EQUAL(0, o.parse({"prog", "--help"}, &r));
  CHECK(r.help);
}
