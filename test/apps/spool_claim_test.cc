// telemetry's claim on its spool (--spool PATH) on the fake kernel: a second
// daemon on the same spool is refused at start, with the reason, until the
// first stops (test/apps/loopback_test.cc: until it is killed, on Linux).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "CppUTest/TestHarness.h"
#include "apps/common/log.h"
#include "apps/telemetry/telemetry.h"
#include "loop/static_loop.h"
#include "test/fake/kernel.h"
#include "test/fake/serial.h"

namespace {

using TestLoop = evl::StaticLoop<32, 32, 4, 4, 4>;

telemetry::Config config(const std::string& spool) {
  telemetry::Config cfg;
  std::snprintf(cfg.serial, sizeof cfg.serial, "/dev/ttyS1");
  std::snprintf(cfg.collector, sizeof cfg.collector, "tcp://127.0.0.1:8094");  // nobody listens
  std::snprintf(cfg.id, sizeof cfg.id, "board-7");
  std::snprintf(cfg.spool, sizeof cfg.spool, "%s", spool.c_str());
  return cfg;
}

std::string in_use(const std::string& spool) {
  return "--spool " + spool +
         ": in use by another telemetry (or by a writer one left to finish): two daemons on one "
         "spool would send each other's records twice";
}

}  // namespace

TEST_GROUP(SpoolClaim) {
  fake::Kernel k;
  fake::SerialDevice& dev = k.add_serial("/dev/ttyS1");
  std::unique_ptr<TestLoop> loop{new TestLoop()};
  app::Log log{"telemetry"};
  char err[256] = {};
  void setup() override { CHECK_EQUAL(0, loop->init()); }
};

TEST(SpoolClaim, a_second_daemon_on_one_spool_is_refused_until_the_first_stops) {
  const std::string path = "/var/lib/evl/telemetry.spool";
  telemetry::App first(config(path), &log), second(config(path), &log);
  CHECK_EQUAL(0, first.start(*loop, err, sizeof err));
  CHECK_EQUAL(-EINVAL, second.start(*loop, err, sizeof err));
  STRCMP_EQUAL(in_use(path).c_str(), err);
  // Another spool is another claim.
  telemetry::App other(config("/var/lib/evl/other.spool"), &log);
  CHECK_EQUAL(0, other.start(*loop, err, sizeof err));
  other.stop();
  first.stop();
  CHECK_EQUAL(0, second.start(*loop, err, sizeof err));
  second.stop();
}

// A path longer than 80 bytes is named by its hash: the same path still
// collides, another one with the same first 80 bytes does not. A claim
// that fails otherwise says why.
TEST(SpoolClaim, a_long_path_is_claimed_by_its_hash_and_a_failed_claim_says_why) {
  const std::string dir = "/var/lib/evl/" + std::string(80, 'd');
  telemetry::App a(config(dir + "/a.spool"), &log), a2(config(dir + "/a.spool"), &log);
  telemetry::App b(config(dir + "/b.spool"), &log);
  CHECK_EQUAL(0, a.start(*loop, err, sizeof err));
  CHECK_EQUAL(-EINVAL, a2.start(*loop, err, sizeof err));
  STRCMP_EQUAL(in_use(dir + "/a.spool").c_str(), err);
  CHECK_EQUAL(0, b.start(*loop, err, sizeof err));
  b.stop();
  a.stop();
  k.fail_next(fake::Call::kSocket, EMFILE);
  CHECK_EQUAL(-EINVAL, a2.start(*loop, err, sizeof err));
  STRCMP_EQUAL(("--spool " + dir + "/a.spool: cannot claim it (Too many open files)").c_str(), err);
  // A start that fails after the claim gives it back.
  k.fail_next(fake::Call::kOpen, EROFS);
  CHECK_EQUAL(-EINVAL, a2.start(*loop, err, sizeof err));
  STRCMP_CONTAINS("cannot write there", err);
  CHECK_EQUAL(0, a.start(*loop, err, sizeof err));
  a.stop();
}
