// telemetry's spool (--spool PATH) on the fake kernel: the store's records
// across a restart, files that are not a spool of this id refused whole,
// and every failed write leaving the last spool as it was.
#include "apps/telemetry/spool.h"

#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "CppUTest/TestHarness.h"
#include "apps/common/daemon.h"
#include "apps/common/log.h"
#include "apps/telemetry/store.h"
#include "apps/telemetry/telemetry.h"
#include "hal/flight.h"
#include "hal/sys.h"
#include "loop/static_loop.h"
#include "test/apps/xdr_line.h"
#include "test/fake/kernel.h"
#include "test/fake/serial.h"

using telemetry::Store;

namespace {

constexpr const char* kPath = "/var/lib/evl/telemetry.spool";

nmea::Record env(int64_t t, double temp) {
  nmea::Record r;
  r.kind = nmea::Kind::kEnv;
  r.has = nmea::kHasTemp;
  r.wall_ns = t;
  r.temp_c = temp;
  return r;
}

std::unique_ptr<Store> store_of(size_t limit, int n) {
  std::unique_ptr<Store> s(new Store(limit));
  for (int i = 0; i < n; ++i) (void)s->push(env(1000 + i, 20.0 + i));
  return s;
}

// Writes bytes as a file the fake kernel keeps (as a spool left on disk).
void put_file(const char* path, const std::string& bytes) {
  const int fd = hal::open(path, hal::kWrOnly | hal::kCreat | hal::kTrunc, 0644);
  CHECK(fd >= 0);
  CHECK_EQUAL(static_cast<long>(bytes.size()), hal::write(fd, bytes.data(), bytes.size()));
  CHECK_EQUAL(0, hal::close(fd));
}

int load(Store* s, telemetry::SpoolLoaded* got, std::string* why, const char* id = "board-7") {
  char err[160] = {};
  const int r = telemetry::load_spool(s, kPath, id, got, err, sizeof err);
  *why = err;
  return r;
}

}  // namespace

TEST_GROUP(Spool){};

TEST(Spool, records_come_back_whole_in_order_and_counted_as_accepted) {
  fake::Kernel k;
  auto before = store_of(64, 5);
  CHECK_EQUAL(0, before->begin_batch(2));  // in flight at the stop: kept too
  CHECK_EQUAL(0, telemetry::save_spool(*before, kPath, "board-7"));
  const std::string* file = k.created_file(kPath);
  CHECK(file != nullptr);
  CHECK_EQUAL(sizeof(telemetry::SpoolHeader) + 5 * sizeof(nmea::Record), file->size());
  CHECK(k.created_file("/var/lib/evl/telemetry.spool.tmp") == nullptr);  // renamed
  CHECK_EQUAL(1u, k.calls(fake::Call::kFsync));
  auto after = store_of(64, 0);
  telemetry::SpoolLoaded got;
  std::string why;
  CHECK_EQUAL(0, load(after.get(), &got, &why));
  CHECK_EQUAL(5u, got.records);
  CHECK_EQUAL(0u, got.dropped);
  CHECK_EQUAL(5u, after->size());
  CHECK_EQUAL(5u, after->accepted());
  CHECK(after->consistent());
  for (size_t i = 0; i < 5; ++i) {
    CHECK_EQUAL(1000 + static_cast<int64_t>(i), after->at(i).wall_ns);
    CHECK(std::memcmp(&before->at(i), &after->at(i), sizeof(nmea::Record)) == 0);
  }
  CHECK(k.created_file(kPath) != nullptr);  // kept until the next stop replaces it
}

TEST(Spool, a_stop_with_nothing_to_keep_removes_it_and_no_spool_is_enoent) {
  fake::Kernel k;
  CHECK_EQUAL(0, telemetry::save_spool(*store_of(8, 3), kPath, "board-7"));
  CHECK(k.created_file(kPath) != nullptr);
  CHECK_EQUAL(0, telemetry::save_spool(*store_of(8, 0), kPath, "board-7"));
  CHECK(k.created_file(kPath) == nullptr);
  CHECK_EQUAL(0, telemetry::save_spool(*store_of(8, 0), kPath, "board-7"));  // none: fine
  telemetry::SpoolLoaded got;
  std::string why;
  CHECK_EQUAL(-ENOENT, load(store_of(8, 0).get(), &got, &why));
}

TEST(Spool, more_records_than_the_store_holds_keep_the_newest) {
  fake::Kernel k;
  CHECK_EQUAL(0, telemetry::save_spool(*store_of(64, 10), kPath, "board-7"));
  auto small = store_of(4, 0);
  telemetry::SpoolLoaded got;
  std::string why;
  CHECK_EQUAL(0, load(small.get(), &got, &why));
  CHECK_EQUAL(10u, got.records);
  CHECK_EQUAL(6u, got.dropped);
  CHECK_EQUAL(4u, small->size());
  CHECK_EQUAL(1006, small->at(0).wall_ns);
  CHECK_EQUAL(6u, small->dropped());
  CHECK(small->consistent());
}

// Each of these is refused whole, with its reason, and nothing is pushed.
TEST(Spool, files_that_are_not_a_spool_of_this_id_are_refused_whole) {
  fake::Kernel k;
  CHECK_EQUAL(0, telemetry::save_spool(*store_of(64, 6), kPath, "board-7"));
  const std::string good = *k.created_file(kPath);
  struct Case {
    std::string bytes;
    const char* why;
  };
  std::string flipped = good;
  flipped[sizeof(telemetry::SpoolHeader) + 3 * sizeof(nmea::Record) + 20] ^= 0x10;
  std::string version = good;
  version[8] = 2;
  std::string wide = good;
  wide[12] = 80;  // another record size
  std::string more = good;
  more[16] = 7;  // says 7 records, holds 6
  const Case cases[] = {
      {good.substr(0, good.size() - 10), "its size does not match its 6 records (cut short?)"},
      {good.substr(0, 40), "not a spool file"},
      {"", "not a spool file"},
      {std::string(200, 'x'), "not a spool file"},
      {flipped, "its checksum does not hold (a damaged file)"},
      {version, "written by another version (format 2, 72-byte records)"},
      {wide, "written by another version (format 1, 80-byte records)"},
      {more, "its size does not match its 7 records (cut short?)"},
  };
  for (const Case& c : cases) {
    put_file(kPath, c.bytes);
    auto s = store_of(64, 0);
    telemetry::SpoolLoaded got;
    std::string why;
    CHECK_EQUAL(-EINVAL, load(s.get(), &got, &why));
    STRCMP_EQUAL(c.why, why.c_str());
    CHECK_EQUAL(0u, s->size());
    CHECK_EQUAL(0u, got.records);
  }
  put_file(kPath, good);
  auto s = store_of(64, 0);
  telemetry::SpoolLoaded got;
  std::string why;
  CHECK_EQUAL(-EINVAL, load(s.get(), &got, &why, "board-8"));
  STRCMP_EQUAL("written for --id board-7, not board-8", why.c_str());
  // An id that is none (the bytes are the file's: a line end would end the
  // log line; found by spool_fuzz) is not echoed.
  std::string odd_id = good;
  odd_id[offsetof(telemetry::SpoolHeader, id) + 3] = '\n';
  put_file(kPath, odd_id);
  CHECK_EQUAL(-EINVAL, load(s.get(), &got, &why));
  STRCMP_EQUAL("written for --id (not a valid one), not board-7", why.c_str());
  // A record telemetry never makes (a NaN would go out as "nan", which
  // InfluxDB refuses with the whole batch), its checksum right.
  auto odd = store_of(64, 2);
  (void)odd->push(env(3000, std::nan("")));
  CHECK_EQUAL(0, telemetry::save_spool(*odd, kPath, "board-7"));
  CHECK_EQUAL(-EINVAL, load(s.get(), &got, &why));
  STRCMP_EQUAL("record 2 is not one telemetry makes", why.c_str());
  CHECK_EQUAL(0u, s->size());
  // A directory where the spool should be.
  k.add_special_path("/var/lib/evl/dir.spool", fake::Kernel::Special::kDirectory);
  char err[160] = {};
  CHECK_EQUAL(-EINVAL, telemetry::load_spool(s.get(), "/var/lib/evl/dir.spool", "board-7", &got,
                                             err, sizeof err));
  STRCMP_EQUAL("not a regular file", err);
}

// A read error is said as such (the caller keeps the file: it may read
// next time), not as a bad spool.
TEST(Spool, a_read_error_is_an_errno_not_a_bad_file) {
  fake::Kernel k;
  CHECK_EQUAL(0, telemetry::save_spool(*store_of(64, 3), kPath, "board-7"));
  auto s = store_of(64, 0);
  telemetry::SpoolLoaded got;
  std::string why;
  k.fail_next(fake::Call::kRead, EIO);
  CHECK_EQUAL(-EIO, load(s.get(), &got, &why));
  CHECK_EQUAL(0u, s->size());
  k.fail_next(fake::Call::kOpen, EACCES);
  CHECK_EQUAL(-EACCES, load(s.get(), &got, &why));
  k.fail_next(fake::Call::kFstat, EIO);
  CHECK_EQUAL(-EIO, load(s.get(), &got, &why));
  k.fail_next(fake::Call::kRead, EINTR);  // retried
  CHECK_EQUAL(0, load(s.get(), &got, &why));
  CHECK_EQUAL(3u, s->size());
}

// Every failing step of a save: an error, the temporary file removed, the
// spool of the last stop untouched.
TEST(Spool, a_failed_save_leaves_the_last_spool_as_it_was) {
  fake::Kernel k;
  CHECK_EQUAL(0, telemetry::save_spool(*store_of(64, 2), kPath, "board-7"));
  const std::string last = *k.created_file(kPath);
  const struct {
    fake::Call call;
    int err;
  } steps[] = {{fake::Call::kOpen, EACCES},
               {fake::Call::kWrite, ENOSPC},
               {fake::Call::kFsync, EIO},
               {fake::Call::kClose, EIO},
               {fake::Call::kRename, EXDEV}};
  auto bigger = store_of(256, 200);  // several writes
  for (const auto& st : steps) {
    k.fail_next(st.call, st.err);
    CHECK_EQUAL(-st.err, telemetry::save_spool(*bigger, kPath, "board-7"));
    CHECK(k.created_file("/var/lib/evl/telemetry.spool.tmp") == nullptr);
    CHECK(*k.created_file(kPath) == last);
  }
  k.fail_next(fake::Call::kWrite, EINTR);  // retried
  k.short_next(fake::Call::kWrite, 100);   // a short write goes on
  CHECK_EQUAL(0, telemetry::save_spool(*bigger, kPath, "board-7"));
  CHECK_EQUAL(sizeof(telemetry::SpoolHeader) + 200 * sizeof(nmea::Record),
              k.created_file(kPath)->size());
  k.fail_next(fake::Call::kUnlink, EROFS);  // an empty store removes: that fails
  CHECK_EQUAL(-EROFS, telemetry::save_spool(*store_of(8, 0), kPath, "board-7"));
  char path[400];
  std::memset(path, 'a', sizeof path - 1);
  path[sizeof path - 1] = '\0';
  CHECK_EQUAL(-ENAMETOOLONG, telemetry::save_spool(*bigger, path, "board-7"));
}

namespace {

using TestLoop = evl::StaticLoop<16, 32, 4, 1, 4>;

telemetry::Config spool_config() {
  telemetry::Config cfg;
  std::snprintf(cfg.serial, sizeof cfg.serial, "/dev/ttyS1");
  std::snprintf(cfg.collector, sizeof cfg.collector, "tcp://127.0.0.1:8094");  // nobody listens
  std::snprintf(cfg.id, sizeof cfg.id, "board-7");
  std::snprintf(cfg.spool, sizeof cfg.spool, "%s", kPath);
  return cfg;
}

// The collector down (UDP, refused) and a checkpoint every 10 s.
telemetry::Config outage_config() {
  telemetry::Config cfg = spool_config();
  std::snprintf(cfg.collector, sizeof cfg.collector, "udp://127.0.0.1:8094");
  cfg.spool_every_s = 10;
  return cfg;
}

// The daemon: n sentences read while the collector is away, then a stop.
void run_daemon(fake::SerialDevice& dev, evl::Loop& loop, app::Log& log, int n,
                telemetry::Counters* c, size_t* buffered) {
  telemetry::App app(spool_config(), &log);
  char err[256] = {};
  CHECK_EQUAL(0, app.start(loop, err, sizeof err));
  for (int i = 0; i < n; ++i) {
    char line[64];
    (void)testxdr::line(20, i, line, sizeof line);
    dev.emit(line);
    for (int j = 0; j < 3; ++j) CHECK(loop.run_once(100) >= 0);
  }
  *buffered = app.store().size();
  app.stop();
  *c = app.counters();
}

}  // namespace

// The daemon on a fake kernel with the sensor's serial device.
namespace {
void emit_and_run(fake::Kernel& k, fake::SerialDevice& dev, evl::Loop& loop, int seconds, int* n);
}  // namespace

TEST_GROUP(SpoolDaemon) {
  fake::Kernel k;
  fake::SerialDevice& dev = k.add_serial("/dev/ttyS1");
  std::unique_ptr<TestLoop> loop{new TestLoop()};
  app::Log log{"telemetry"};
  void setup() override { CHECK_EQUAL(0, loop->init()); }
  // app (on outage_config()) started and run 21 s: its first checkpoint's
  // writer, at 20 s, hangs (a stalled fsync) until killed.
  void run_to_a_hanging_writer(telemetry::App & app) {
    k.child_work_behaviour(-1);
    char err[256] = {};
    CHECK_EQUAL(0, app.start(*loop, err, sizeof err));
    int n = 0;
    emit_and_run(k, dev, *loop, 21, &n);
    CHECK_EQUAL(1, k.children_run());
  }
};

// The daemon's side: what a stop keeps, the next start loads; a file that
// is not a spool is set aside with one line; a path that cannot be written
// is a configuration error at start, not a loss at the first stop.
TEST(SpoolDaemon, the_daemon_keeps_its_records_across_a_restart) {
  telemetry::Counters c;
  size_t buffered = 0;
  run_daemon(dev, *loop, log, 7, &c, &buffered);
  CHECK_EQUAL(7u, buffered);
  CHECK_EQUAL(7u, c.spool_out);
  CHECK(k.created_file(kPath) != nullptr);
  run_daemon(dev, *loop, log, 3, &c, &buffered);
  CHECK_EQUAL(7u, c.spool_in);
  CHECK_EQUAL(10u, buffered);  // the last run's first, then the new
  CHECK_EQUAL(10u, c.spool_out);
  STRCMP_CONTAINS(
      "telemetry: info: spool /var/lib/evl/telemetry.spool: 7 records from the last run\n",
      k.written(2).c_str());
  STRCMP_CONTAINS("spool /var/lib/evl/telemetry.spool: 10 records kept for the next start\n",
                  k.written(2).c_str());
  // Damaged: set aside as .bad, said, and the daemon starts empty.
  std::string damaged = *k.created_file(kPath);
  damaged[damaged.size() - 1] ^= 1;
  put_file(kPath, damaged);
  run_daemon(dev, *loop, log, 1, &c, &buffered);
  CHECK_EQUAL(0u, c.spool_in);
  CHECK_EQUAL(1u, buffered);
  CHECK(k.created_file("/var/lib/evl/telemetry.spool.bad") != nullptr);
  STRCMP_CONTAINS(
      "warning: spool /var/lib/evl/telemetry.spool not loaded: its checksum does not hold (a "
      "damaged file); kept as .bad\n",
      k.written(2).c_str());
  // A start that fails (here: its path cannot be written) leaves the spool
  // of the last stop alone.
  const std::string kept = *k.created_file(kPath);
  k.fail_next(fake::Call::kOpen, EACCES);
  telemetry::App denied(spool_config(), &log);
  char err[256] = {};
  CHECK_EQUAL(-EINVAL, denied.start(*loop, err, sizeof err));
  STRCMP_EQUAL(
      "--spool /var/lib/evl/telemetry.spool: cannot write there "
      "(/var/lib/evl/telemetry.spool.tmp: Permission denied)",
      err);
  denied.stop();
  CHECK(*k.created_file(kPath) == kept);
}

namespace {

// The records a spool file's header counts (0 when there is none).
uint32_t spooled(const fake::Kernel& k) {
  const std::string* f = k.created_file(kPath);
  if (f == nullptr || f->size() < sizeof(telemetry::SpoolHeader)) return 0;
  telemetry::SpoolHeader h{};
  std::memcpy(&h, f->data(), sizeof h);
  return h.records;
}

// A record a second for `seconds` of virtual time.
void emit_and_run(fake::Kernel& k, fake::SerialDevice& dev, evl::Loop& loop, int seconds, int* n) {
  for (int s = 0; s < seconds; ++s) {
    char line[64];
    (void)testxdr::line(20, (*n)++ % 100, line, sizeof line);
    dev.emit(line);
    const int64_t end = k.monotonic_ns() + evl::kSec;
    while (k.monotonic_ns() < end) {
      CHECK(loop.run_once(static_cast<int>((end - k.monotonic_ns() + evl::kMs - 1) / evl::kMs)) >=
            0);
    }
  }
}

}  // namespace

// --spool-every-s: while the collector takes nothing, the file follows the
// store, so a power cut (no stop: the process just ends) loses at most
// that much; once records flow again it is removed, and a collector that
// takes them costs no write.
TEST(SpoolDaemon, checkpoints_during_an_outage_bound_what_a_power_cut_loses) {
  const telemetry::Config cfg = outage_config();
  telemetry::App app(cfg, &log);
  char err[256] = {};
  CHECK_EQUAL(0, app.start(*loop, err, sizeof err));
  int n = 0;
  emit_and_run(k, dev, *loop, 9, &n);
  CHECK_EQUAL(0u, spooled(k));  // before the first tick
  emit_and_run(k, dev, *loop, 3, &n);
  // None at 10 s: the first beat's datagram went before the refusal, and a
  // tick after a delivery does not write.
  CHECK_EQUAL(0u, spooled(k));
  emit_and_run(k, dev, *loop, 8, &n);
  CHECK_EQUAL(19u, spooled(k));  // at 20 s: 20 records read, the first one sent
  const uint64_t fsyncs = k.calls(fake::Call::kFsync);
  emit_and_run(k, dev, *loop, 2, &n);
  CHECK_EQUAL(fsyncs, k.calls(fake::Call::kFsync));  // no tick: no write
  // The power cut: what the file holds is what the next start gets.
  {
    Store s(64);
    telemetry::SpoolLoaded got;
    std::string why;
    CHECK_EQUAL(0, load(&s, &got, &why));
    CHECK_EQUAL(19u, got.records);
  }
  // A write that fails is said, counted and tried at the next tick; the
  // last file stays whole.
  k.fail_next(fake::Call::kFsync, EIO);
  emit_and_run(k, dev, *loop, 10, &n);
  CHECK_EQUAL(19u, spooled(k));
  CHECK_EQUAL(1u, app.counters().spool_failures);
  STRCMP_CONTAINS(
      "error: spool /var/lib/evl/telemetry.spool: cannot write it: Input/output error "
      "(tried again in 10 s)\n",
      k.written(2).c_str());
  emit_and_run(k, dev, *loop, 10, &n);
  CHECK_EQUAL(39u, spooled(k));
  // The collector comes back: the store drains, the file goes.
  hal::SockAddr at;
  CHECK_EQUAL(0, hal::parse_address("127.0.0.1:8094", &at));
  int rx = -1;
  CHECK_EQUAL(0, hal::dgram_bind(at, &rx));
  k.fail_next(fake::Call::kUnlink, EROFS);  // the first removal fails: said, tried again
  emit_and_run(k, dev, *loop, 80, &n);
  CHECK_EQUAL(2u, app.counters().spool_failures);
  STRCMP_CONTAINS("cannot remove it: Read-only file system (tried again in 10 s)\n",
                  k.written(2).c_str());
  CHECK(app.store().size() <= 1);  // (the record of the last second waits for its batch)
  CHECK(app.store().delivered() >= 100);
  CHECK(k.created_file(kPath) == nullptr);
  const uint64_t writes = app.counters().spool_checkpoints;
  CHECK(writes >= 2);                   // 19 and 39 records, and while the back-log drained
  emit_and_run(k, dev, *loop, 60, &n);  // delivering: no write
  CHECK_EQUAL(writes, app.counters().spool_checkpoints);
  CHECK(k.created_file(kPath) == nullptr);
  app.stop();
  CHECK_EQUAL(0, hal::close(rx));
}

TEST(SpoolDaemon, every_s_0_writes_at_stop_only) {
  telemetry::Config cfg = spool_config();
  cfg.spool_every_s = 0;
  telemetry::App app(cfg, &log);
  char err[256] = {};
  CHECK_EQUAL(0, app.start(*loop, err, sizeof err));
  int n = 0;
  emit_and_run(k, dev, *loop, 30, &n);
  CHECK(k.created_file(kPath) == nullptr);
  app.stop();
  CHECK_EQUAL(30u, spooled(k));
  CHECK_EQUAL(0u, app.counters().spool_checkpoints);
}

// A checkpoint is written by a child process (hal::run_in_child): a
// stalling SD card (an fsync that takes seconds) stalls the writer, not the
// loop, which goes on reading the sensor. A tick that finds the writer
// still going waits for the next one (busy=). A stop ends it and writes
// the file from a child too, waiting 0.7 s at most: a daemon ends within a
// second of SIGTERM, and a writer still going then is left to finish.
TEST(SpoolDaemon, a_stalling_checkpoint_write_does_not_stall_the_loop) {
  const telemetry::Config cfg = outage_config();
  k.child_work_behaviour(15 * evl::kSec);  // each write takes 15 s
  telemetry::App app(cfg, &log);
  char err[256] = {};
  CHECK_EQUAL(0, app.start(*loop, err, sizeof err));
  int n = 0;
  emit_and_run(k, dev, *loop, 21, &n);
  CHECK_EQUAL(1, k.children_run());                   // at 20 s
  CHECK_EQUAL(19u, spooled(k));                       // (the fake runs the work at the call)
  CHECK_EQUAL(0u, app.counters().spool_checkpoints);  // not until the writer is done
  emit_and_run(k, dev, *loop, 10, &n);
  CHECK_EQUAL(1u, app.counters().spool_busy);  // at 30 s: still writing
  CHECK_EQUAL(1, k.children_run());
  CHECK_EQUAL(31u, app.store().accepted());  // the loop read every line meanwhile
  emit_and_run(k, dev, *loop, 5, &n);
  CHECK_EQUAL(1u, app.counters().spool_checkpoints);  // done at 35 s
  CHECK_EQUAL(0u, app.counters().spool_failures);
  emit_and_run(k, dev, *loop, 5, &n);
  CHECK_EQUAL(2, k.children_run());  // at 40 s: the store changed, a new writer
  CHECK_EQUAL(1, k.running_processes());
  const size_t held = app.store().size();
  const int checkpoint_writer = k.last_pid();
  const int64_t t0 = k.monotonic_ns();
  app.stop();
  CHECK_EQUAL(700 * evl::kMs, k.monotonic_ns() - t0);  // waited 0.7 s, no more
  CHECK(k.process(checkpoint_writer)->reaped);         // ended and reaped
  CHECK_EQUAL(3, k.children_run());                    // the stop's writer
  CHECK_EQUAL(1, k.running_processes());               // left to finish
  CHECK_EQUAL(held, spooled(k));                       // (the fake runs the work at the call)
  CHECK_EQUAL(0u, app.counters().spool_out);           // not known to be written
  char want[256];
  std::snprintf(want, sizeof want,
                "warning: spool /var/lib/evl/telemetry.spool: still being written after 700 ms "
                "(storage stalled?): %zu records left to process %d to write; the file is the "
                "last one until it is done\n",
                held, k.last_pid());
  STRCMP_CONTAINS(want, k.written(2).c_str());
  char line[1024];
  app.summary(line, sizeof line);
  STRCMP_CONTAINS("checkpoints=1 failures=0 busy=1", line);
}

// A checkpoint writer that does not end when the stop kills it (caught in
// the kernel: here, the kill itself fails) is said and left; the stop's
// writer then has none of the 0.7 s left and is left to finish too.
TEST(SpoolDaemon, a_checkpoint_writer_that_does_not_end_at_stop_is_said_and_left) {
  telemetry::App app(outage_config(), &log);
  run_to_a_hanging_writer(app);
  const int checkpoint_writer = k.last_pid();
  k.fail_next(fake::Call::kKill, EPERM);
  const int64_t t0 = k.monotonic_ns();
  app.stop();
  CHECK_EQUAL(700 * evl::kMs, k.monotonic_ns() - t0);
  CHECK_FALSE(k.process(checkpoint_writer)->reaped);
  CHECK_EQUAL(2, k.children_run());
  char want[160];
  std::snprintf(want, sizeof want,
                "warning: spool /var/lib/evl/telemetry.spool: the checkpoint writer (process %d) "
                "did not end in 700 ms (storage stalled?); the stop's write goes on\n",
                checkpoint_writer);
  STRCMP_CONTAINS(want, k.written(2).c_str());
  STRCMP_CONTAINS("still being written after 700 ms (storage stalled?)", k.written(2).c_str());
  CHECK_EQUAL(0u, app.counters().spool_out);
}

// The stop's two writes on a stalled card share the daemon's second: the
// spool's stop writer has 0.7 s, the flight recorder's exit dump what is
// left of 0.9 s from the loop's stop, and both are left to finish, said.
TEST(SpoolDaemon, the_spool_and_the_flight_recorders_exit_dump_share_the_stops_budget) {
  CHECK_EQUAL(0, flight::start("telemetry", 0, nullptr, "/var/t.rec", flight::kMinRingBytes));
  telemetry::App app(outage_config(), &log);
  run_to_a_hanging_writer(app);
  evl::TimerHandle stop;
  CHECK_EQUAL(0, loop->timer_after(
                     evl::kSec, [](evl::Loop& l, evl::TimerHandle, uint32_t, void*) { l.stop(); },
                     nullptr, &stop));
  const int64_t t0 = k.monotonic_ns();
  CHECK_EQUAL(0, app::run_daemon(*loop, log, 0, app::daemon_hooks(app)));
  CHECK_EQUAL(evl::kSec + 700 * evl::kMs, k.monotonic_ns() - t0);
  app::flight_dump_at_stop(*loop, log, "exit");
  CHECK_EQUAL(evl::kSec + 900 * evl::kMs, k.monotonic_ns() - t0);
  flight::stop();
  STRCMP_CONTAINS("still being written after 700 ms (storage stalled?)", k.written(2).c_str());
  char want[200];
  std::snprintf(want, sizeof want,
                "warning: flight recorder: still writing /var/t.rec after 200 ms (storage "
                "stalled?): left to process %d to finish; the file is the last one until it is "
                "done\n",
                k.last_pid());
  STRCMP_CONTAINS(want, k.written(2).c_str());
  CHECK_FALSE(k.process(k.last_pid())->reaped);  // left, not ended
  CHECK_EQUAL(3, k.children_run());              // a checkpoint's, the stop's, the dump's
  // Outside a stop, the dump has the whole budget.
  CHECK_EQUAL(0, flight::start("telemetry", 0, nullptr, "/var/t.rec", flight::kMinRingBytes));
  const int64_t t1 = k.monotonic_ns();
  app::flight_dump_at_stop(*loop, log, "error");
  flight::stop();
  CHECK_EQUAL(app::kStopBudgetMs * evl::kMs, k.monotonic_ns() - t1);
}

// The stop's writer usually ends at once: the file is the stop's, through
// its own temporary file (PATH.stop, apart from the checkpoints' PATH.tmp);
// a stop that cannot make a child writes it here; one whose writer cannot
// be watched leaves the writing to it.
TEST(SpoolDaemon, the_stop_writes_from_a_child_or_here_when_there_is_none) {
  const telemetry::Config cfg = outage_config();
  for (int round = 0; round < 3; ++round) {
    telemetry::App app(cfg, &log);
    char err[256] = {};
    CHECK_EQUAL(0, app.start(*loop, err, sizeof err));
    int n = 0;
    emit_and_run(k, dev, *loop, 3, &n);
    const size_t held = app.store().size();
    CHECK(held > 0);
    const int children = k.children_run();
    const int64_t t0 = k.monotonic_ns();
    if (round == 1) k.fail_next(fake::Call::kRunInChild, EAGAIN);
    if (round == 2) k.fail_next(fake::Call::kPidfdOpen, EMFILE);
    app.stop();
    CHECK_EQUAL(0, k.monotonic_ns() - t0);
    CHECK_EQUAL(children + (round == 1 ? 0 : 1), k.children_run());
    CHECK_EQUAL(held, spooled(k));
    CHECK(k.created_file("/var/lib/evl/telemetry.spool.stop") == nullptr);  // renamed
    CHECK_EQUAL(round == 2 ? 0u : held, app.counters().spool_out);
  }
  STRCMP_CONTAINS(
      "warning: spool /var/lib/evl/telemetry.spool: cannot write it from a child process: "
      "Resource temporarily unavailable; written here\n",
      k.written(2).c_str());
  STRCMP_CONTAINS("records left to process", k.written(2).c_str());
  STRCMP_CONTAINS("to write (cannot watch it: Too many open files)\n", k.written(2).c_str());
}

// A writer that fails or dies is said and counted like a failed write, and
// the next tick tries again; without a child process (fork failing: out of
// memory, a process limit) the checkpoint is written in the loop, as before;
// a writer the loop cannot watch is ended and the checkpoint written here;
// one whose end cannot be read is a failed write.
TEST(SpoolDaemon, a_failed_or_missing_checkpoint_writer_is_said_and_the_write_tried_again) {
  telemetry::App app(outage_config(), &log);
  run_to_a_hanging_writer(app);
  int n = 21;
  k.exit_process(k.last_pid(), hal::kSigKill);  // a wait status: killed by signal 9
  emit_and_run(k, dev, *loop, 1, &n);
  CHECK_EQUAL(1u, app.counters().spool_failures);
  STRCMP_CONTAINS(
      "error: spool /var/lib/evl/telemetry.spool: cannot write it: its writer ended by signal 9 "
      "(tried again in 10 s)\n",
      k.written(2).c_str());
  k.child_work_behaviour(0);
  k.fail_next(fake::Call::kRunInChild, EAGAIN);
  emit_and_run(k, dev, *loop, 9, &n);  // the tick at 30 s
  CHECK_EQUAL(1, k.children_run());
  CHECK_EQUAL(1u, app.counters().spool_checkpoints);  // written in the loop
  CHECK_EQUAL(29u, spooled(k));
  STRCMP_CONTAINS(
      "warning: spool /var/lib/evl/telemetry.spool: cannot write it from a child process: "
      "Resource temporarily unavailable; written here\n",
      k.written(2).c_str());
  // A writer started but not watched (the loop cannot open its pidfd) is
  // ended and reaped, and the checkpoint written in the loop.
  k.child_work_behaviour(-1);
  k.fail_next(fake::Call::kPidfdOpen, EMFILE);
  emit_and_run(k, dev, *loop, 10, &n);  // the tick at 40 s
  CHECK_EQUAL(2, k.children_run());
  CHECK_EQUAL(0, k.running_processes());  // killed and reaped
  CHECK_EQUAL(2u, app.counters().spool_checkpoints);
  CHECK_EQUAL(39u, spooled(k));
  STRCMP_CONTAINS("cannot write it from a child process: Too many open files; written here\n",
                  k.written(2).c_str());
  // A writer whose end cannot be read (waitpid failing) is a failed write.
  k.child_work_behaviour(0);
  k.fail_next(fake::Call::kWaitpid, ECHILD);
  emit_and_run(k, dev, *loop, 10, &n);  // the tick at 50 s
  CHECK_EQUAL(3, k.children_run());
  CHECK_EQUAL(2u, app.counters().spool_failures);
  STRCMP_CONTAINS("cannot write it: No child processes (tried again in 10 s)\n",
                  k.written(2).c_str());
  app.stop();
}

// The last run's records at start when the file cannot be read to its end
// (the records read so far are kept) or holds more than --buffer-records
// (the oldest are dropped); a stop whose write fails says what is lost.
TEST(SpoolDaemon, what_a_start_or_a_stop_could_not_keep_is_said) {
  telemetry::Counters c;
  size_t buffered = 0;
  run_daemon(dev, *loop, log, 6, &c, &buffered);
  CHECK_EQUAL(6u, c.spool_out);
  // The second pass's third record: the header and 6 records checked, the
  // header and 2 records read.
  k.fail_next(fake::Call::kRead, EIO, 1, 1 + 6 + 1 + 2);
  run_daemon(dev, *loop, log, 0, &c, &buffered);
  CHECK_EQUAL(2u, c.spool_in);
  CHECK_EQUAL(2u, buffered);
  STRCMP_CONTAINS(
      "warning: spool /var/lib/evl/telemetry.spool: Input/output error (2 records loaded)\n",
      k.written(2).c_str());
  telemetry::Config cfg = spool_config();
  cfg.buffer_records = 1;
  cfg.batch_max = 1;
  telemetry::App app(cfg, &log);
  char err[256] = {};
  CHECK_EQUAL(0, app.start(*loop, err, sizeof err));
  CHECK_EQUAL(1u, app.store().size());
  STRCMP_CONTAINS(
      "warning: spool /var/lib/evl/telemetry.spool: 2 records from the last run, 1 of them "
      "dropped (more than --buffer-records 1 holds: the oldest)\n",
      k.written(2).c_str());
  const std::string kept = *k.created_file(kPath);
  k.fail_next(fake::Call::kFsync, EIO);
  app.stop();
  STRCMP_CONTAINS(
      "error: spool /var/lib/evl/telemetry.spool: cannot write it: Input/output error; 1 records "
      "lost\n",
      k.written(2).c_str());
  CHECK(*k.created_file(kPath) == kept);  // the last good file stays
  CHECK_EQUAL(0u, app.counters().spool_out);
}
