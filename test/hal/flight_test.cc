// The flight recorder's ring, its file and the reader, on the fake kernel
// (the records are made here by hand: the fake seam does not record).
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "CppUTest/TestHarness.h"
#include "hal/flight.h"
#include "hal/flight_calls.h"
#include "test/fake/kernel.h"

using fake::Call;

namespace {

char arg0[] = "heartbeat";
char arg1[] = "--server";
char arg2[] = "tcp://10.0.0.1:9000";
char arg3[] = "";  // an empty argument is kept as one
char* const kArgv[] = {arg0, arg1, arg2, arg3, nullptr};

// One read of `n` bytes of `c`, recorded as the seam does.
void record_read(int fd, size_t n, char c) {
  std::string bytes(n, c);
  flight::record(flight::Call::kRead, static_cast<int64_t>(n), flight::args::read(fd, 4096),
                 bytes.data(), n);
}

std::vector<uint8_t> file_bytes(fake::Kernel& k, const char* path) {
  const std::string* s = k.created_file(path);
  if (s == nullptr) return {};
  return std::vector<uint8_t>(s->begin(), s->end());
}

}  // namespace

TEST_GROUP(Flight) {
  fake::Kernel* k = nullptr;
  void setup() override { k = new fake::Kernel(); }
  void teardown() override {
    flight::stop();
    ::unsetenv("WATCHDOG_USEC");
    delete k;
  }
  int start(size_t ring = flight::kMinRingBytes) {
    return flight::start("heartbeat", 4, kArgv, "/var/evl/hb.rec", ring);
  }
  void open_reader(flight::Reader * r, std::vector<uint8_t> * bytes) {
    *bytes = file_bytes(*k, "/var/evl/hb.rec");
    char err[128] = {};
    const int rc = r->open(bytes->data(), bytes->size(), err, sizeof err);
    CHECK_EQUAL_TEXT(0, rc, err);
  }
};

TEST(Flight, records_come_back_in_order_with_their_arguments_and_bytes) {
  ::setenv("WATCHDOG_USEC", "5000000", 1);
  CHECK_EQUAL(0, start());
  CHECK(flight::recording());
  record_read(7, 5, 'a');
  const hal::Timespec ts{12, 345};
  flight::record(flight::Call::kClockGettime, 0, flight::args::fd(hal::kClockMonotonic), &ts,
                 sizeof ts);
  flight::record(flight::Call::kWrite, -EAGAIN, flight::args::write(2, "x\n", 2), nullptr, 0);
  CHECK_EQUAL(0, flight::dump("SIGUSR2"));
  CHECK(k->created_file("/var/evl/hb.rec.tmp") == nullptr);  // renamed over the target

  flight::Reader r;
  std::vector<uint8_t> bytes;
  open_reader(&r, &bytes);
  STRCMP_EQUAL("heartbeat", r.header().program);
  STRCMP_EQUAL("SIGUSR2", r.header().reason);
  // The build names the compiler, the mode and the sources' id.
  char src[64];
  STRCMP_EQUAL(flight::kSourceId, flight::source_id_of(r.header().build, src, sizeof src));
  CHECK_EQUAL(16u, std::strlen(flight::kSourceId));
  CHECK(std::strspn(flight::kSourceId, "0123456789abcdef") == 16);
  CHECK_EQUAL(0u, r.header().first_seq);
  CHECK_EQUAL(3u, r.header().records);
  CHECK_EQUAL(4u, r.header().argc);
  STRCMP_EQUAL("tcp://10.0.0.1:9000", r.arg(2));
  STRCMP_EQUAL("", r.arg(3));
  CHECK(r.arg(4) == nullptr);
  STRCMP_EQUAL("WATCHDOG_USEC=5000000", r.env(0));
  CHECK(r.env(1) == nullptr);

  flight::Record rec;
  CHECK(r.next(&rec));
  CHECK(rec.call == flight::Call::kRead);
  CHECK_EQUAL(5, rec.result);
  CHECK_EQUAL(2, rec.nargs);
  CHECK_EQUAL(7, rec.args[0]);
  CHECK_EQUAL(std::string("aaaaa"), std::string(reinterpret_cast<const char*>(rec.out), 5));
  CHECK(r.next(&rec));
  CHECK(rec.call == flight::Call::kClockGettime);
  hal::Timespec got{};
  CHECK_EQUAL(sizeof got, rec.out_len);
  std::memcpy(&got, rec.out, sizeof got);
  CHECK_EQUAL(345, got.nsec);
  CHECK(r.next(&rec));
  CHECK(rec.call == flight::Call::kWrite);
  CHECK_EQUAL(-EAGAIN, rec.result);
  CHECK_EQUAL(flight::hash("x\n", 2), rec.args[2]);
  CHECK_EQUAL(2u, rec.seq);
  CHECK_FALSE(r.next(&rec));
}

TEST(Flight, a_full_ring_keeps_the_newest_whole_records) {
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  CHECK_EQUAL(0, start());
  for (int i = 0; i < 5000; ++i) record_read(3, static_cast<size_t>(1 + i % 200), 'x');
  CHECK_EQUAL(5000u, flight::calls());
  CHECK(flight::kept_first() > 0);
  CHECK(flight::kept_bytes() <= flight::kMinRingBytes);
  CHECK(flight::kept_bytes() > flight::kMinRingBytes - flight::kBlockBytes - 400);  // bar one block
  CHECK_EQUAL(0, flight::dump("alarm"));

  flight::Reader r;
  std::vector<uint8_t> bytes;
  open_reader(&r, &bytes);
  CHECK_EQUAL(flight::kept_first(), r.header().first_seq);
  CHECK_EQUAL(5000u, r.header().first_seq + r.header().records);
  CHECK(r.env(0) == nullptr);  // neither variable was set
  flight::Record rec;
  uint64_t seq = r.header().first_seq;
  while (r.next(&rec)) {
    CHECK_EQUAL(static_cast<uint32_t>(seq), rec.seq);
    CHECK_EQUAL(static_cast<int64_t>(1 + seq % 200), rec.result);  // its own bytes, whole
    CHECK_EQUAL(rec.result, static_cast<int64_t>(rec.out_len));
    ++seq;
  }
  CHECK_EQUAL(5000u, seq);
}

TEST(Flight, an_output_over_the_limit_is_kept_cut_and_flagged) {
  CHECK_EQUAL(0, start());
  record_read(3, flight::kMaxOutBytes + 100, 'z');
  CHECK_EQUAL(0, flight::dump("exit"));
  flight::Reader r;
  std::vector<uint8_t> bytes;
  open_reader(&r, &bytes);
  flight::Record rec;
  CHECK(r.next(&rec));
  CHECK_EQUAL(flight::kTruncated, rec.flags);
  CHECK_EQUAL(flight::kMaxOutBytes, rec.out_len);
  CHECK_EQUAL(static_cast<int64_t>(flight::kMaxOutBytes + 100), rec.result);
}

TEST(Flight, the_dump_makes_no_record_of_its_own_calls) {
  CHECK_EQUAL(0, start());
  record_read(3, 1, 'a');
  CHECK_EQUAL(0, flight::dump("SIGUSR2"));
  CHECK(flight::g_on);  // recording again after the dump
  CHECK_EQUAL(1u, flight::calls());
}

TEST(Flight, a_failed_dump_leaves_the_previous_file_and_no_temporary) {
  CHECK_EQUAL(0, start());
  record_read(3, 1, 'a');
  CHECK_EQUAL(0, flight::dump("SIGUSR2"));
  const std::vector<uint8_t> first = file_bytes(*k, "/var/evl/hb.rec");
  record_read(3, 2, 'b');
  for (Call c : {Call::kWrite, Call::kFsync, Call::kRename, Call::kClose}) {
    k->fail_next(c, c == Call::kWrite ? ENOSPC : EIO);
    CHECK_EQUAL(c == Call::kWrite ? -ENOSPC : -EIO, flight::dump("alarm"));
    CHECK(first == file_bytes(*k, "/var/evl/hb.rec"));
    CHECK(k->created_file("/var/evl/hb.rec.tmp") == nullptr);
    CHECK(flight::g_on);
  }
  k->fail_next(Call::kOpen, EACCES);
  CHECK_EQUAL(-EACCES, flight::dump("alarm"));
  CHECK(first == file_bytes(*k, "/var/evl/hb.rec"));
}

TEST(Flight, short_writes_and_eintr_still_write_the_whole_file) {
  CHECK_EQUAL(0, start());
  for (int i = 0; i < 50; ++i) record_read(3, 100, 'q');
  k->fail_next(Call::kWrite, EINTR);
  k->short_next(Call::kWrite, 10);
  CHECK_EQUAL(0, flight::dump("exit"));
  flight::Reader r;
  std::vector<uint8_t> bytes;
  open_reader(&r, &bytes);
  CHECK_EQUAL(50u, r.header().records);
}

TEST(Flight, start_refuses_bad_sizes_long_paths_and_a_second_start) {
  CHECK_EQUAL(-EINVAL, start(flight::kMinRingBytes - 8));
  CHECK_EQUAL(-EINVAL, start(flight::kMaxRingBytes + 8));
  const std::string long_path(300, 'p');
  CHECK_EQUAL(-EINVAL, flight::start("x", 0, kArgv, long_path.c_str(), flight::kMinRingBytes));
  CHECK_EQUAL(-EINVAL, flight::dump("exit"));  // not recording
  CHECK_EQUAL(0, start());
  CHECK_EQUAL(-EALREADY, start());
}

// A path a dump could not write is refused at start (the daemon's
// --flight-recorder then fails when it starts, not a week later): its
// temporary file is made and removed, and the path must be no directory.
TEST(Flight, start_refuses_a_path_a_dump_could_not_write) {
  k->fail_next(fake::Call::kOpen, EROFS);
  CHECK_EQUAL(-EROFS, start());
  CHECK(!flight::recording());
  k->fail_next(fake::Call::kUnlink, EACCES, 1, 1);  // (the first removes an old one: may fail)
  CHECK_EQUAL(-EACCES, start());
  CHECK(!flight::recording());
  k->add_special_path("/var/evl/dir.rec", fake::Kernel::Special::kDirectory);
  CHECK_EQUAL(-EISDIR, flight::start("x", 0, kArgv, "/var/evl/dir.rec", flight::kMinRingBytes));
  k->add_special_path("/var/evl/fifo.rec", fake::Kernel::Special::kFifo);
  k->fail_next(fake::Call::kFstat, EIO);
  CHECK_EQUAL(-EIO, flight::start("x", 0, kArgv, "/var/evl/fifo.rec", flight::kMinRingBytes));
  CHECK(!flight::recording());
  // A path there already (a recording of an earlier run), or not yet: the
  // check leaves no file behind.
  k->add_regular_path("/var/evl/old.rec", "an earlier recording");
  CHECK_EQUAL(0, flight::start("x", 0, kArgv, "/var/evl/old.rec", flight::kMinRingBytes));
  CHECK(k->created_file("/var/evl/old.rec.tmp") == nullptr);
  flight::stop();
  CHECK_EQUAL(0, start());
  CHECK(flight::recording());
  CHECK(k->created_file("/var/evl/hb.rec.tmp") == nullptr);
  CHECK(k->created_file("/var/evl/hb.rec") == nullptr);
}

// A header's build without a source id (an older recording), or one that
// fills the whole field without its NUL.
TEST(Flight, the_source_id_is_read_from_a_build_string_that_may_lack_one) {
  char build[sizeof(flight::FileHeader::build)] = "gcc 12.2.0 opt";
  char src[64] = "x";
  STRCMP_EQUAL("", flight::source_id_of(build, src, sizeof src));
  std::memset(build, 'a', sizeof build);
  std::memcpy(build + sizeof build - 8, " src=01z", 8);
  STRCMP_EQUAL("01z", flight::source_id_of(build, src, sizeof src));
  STRCMP_EQUAL("01", flight::source_id_of(build, src, 3));
}

// The replay's start makes no calls: the recording has none of the check's.
TEST(Flight, a_replaying_start_does_not_check_the_path) {
  flight::set_replaying(true);
  k->fail_next(fake::Call::kOpen, EROFS);
  const int r = start();
  flight::set_replaying(false);
  CHECK_EQUAL(0, r);
  CHECK(k->calls(fake::Call::kOpen) == 0);
}

TEST(Flight, the_reader_refuses_what_is_not_a_whole_recording) {
  ::setenv("WATCHDOG_USEC", "1234567", 1);  // 21 bytes and a NUL: padded to 24
  CHECK_EQUAL(0, start());
  record_read(3, 8, 'a');
  record_read(3, 8, 'b');
  CHECK_EQUAL(0, flight::dump("exit"));
  const std::vector<uint8_t> good = file_bytes(*k, "/var/evl/hb.rec");
  char err[128];
  flight::Reader r;
  CHECK_EQUAL(0, r.open(good.data(), good.size(), err, sizeof err));

  std::vector<uint8_t> bad = good;
  bad[0] = 'X';
  CHECK_EQUAL(-EINVAL, r.open(bad.data(), bad.size(), err, sizeof err));
  STRCMP_CONTAINS("magic", err);

  bad = good;
  bad.resize(bad.size() - 8);
  CHECK_EQUAL(-EINVAL, r.open(bad.data(), bad.size(), err, sizeof err));
  STRCMP_CONTAINS("cut short", err);

  bad = good;
  bad[8] = 9;  // version
  CHECK_EQUAL(-EINVAL, r.open(bad.data(), bad.size(), err, sizeof err));
  STRCMP_CONTAINS("version", err);

  flight::FileHeader h;
  std::memcpy(&h, good.data(), sizeof h);
  const size_t first_record = sizeof h + h.argv_bytes + h.env_bytes;
  bad = good;
  bad[first_record] = 12;  // a size that is no multiple of 8
  CHECK_EQUAL(-EINVAL, r.open(bad.data(), bad.size(), err, sizeof err));
  STRCMP_CONTAINS("framing", err);

  bad = good;
  bad[first_record + 8] = 0xee;  // the call
  CHECK_EQUAL(-EINVAL, r.open(bad.data(), bad.size(), err, sizeof err));
  STRCMP_CONTAINS("unknown call", err);

  bad = good;
  bad[offsetof(flight::FileHeader, ring_bytes) + 3] = 0x40;  // ring_bytes' top byte: harmless
  CHECK_EQUAL(0, r.open(bad.data(), bad.size(), err, sizeof err));
  bad = good;
  bad[offsetof(flight::FileHeader, pinned_records)] = 3;  // more than the records
  CHECK_EQUAL(-EINVAL, r.open(bad.data(), bad.size(), err, sizeof err));
  STRCMP_CONTAINS("pinned start", err);
  bad = good;
  std::memset(bad.data() + sizeof h, 'a', h.argv_bytes);  // argv without its NULs
  CHECK_EQUAL(-EINVAL, r.open(bad.data(), bad.size(), err, sizeof err));
  STRCMP_CONTAINS("argv", err);

  CHECK_EQUAL(24u, h.env_bytes);
  bad = good;
  bad[sizeof h + h.argv_bytes + h.env_bytes - 1] = 'x';  // the environment's last NUL
  CHECK_EQUAL(-EINVAL, r.open(bad.data(), bad.size(), err, sizeof err));
  STRCMP_CONTAINS("environment", err);

  // Found by flight_fuzz: sizes whose sum wraps past 2^64 to the file's
  // length (a record_bytes near 2^64 cancels an argv_bytes of 16 MiB) made
  // the argv check read 16 MiB past the file.
  flight::FileHeader w = h;
  w.argv_bytes = 0x01000008;
  w.record_bytes = 0 - uint64_t{w.argv_bytes} + (good.size() - sizeof h - h.env_bytes);
  bad = good;
  std::memcpy(bad.data(), &w, sizeof w);
  CHECK_EQUAL(-EINVAL, r.open(bad.data(), bad.size(), err, sizeof err));
  STRCMP_CONTAINS("cut short", err);
}

TEST(Flight, replaying_starts_without_recording_and_dumps_nothing) {
  flight::set_replaying();
  CHECK_EQUAL(0, start());
  CHECK(flight::recording());
  CHECK_FALSE(flight::g_on);
  CHECK_EQUAL(0, flight::dump("exit"));
  CHECK(k->created_file("/var/evl/hb.rec") == nullptr);
  flight::set_replaying(false);
}

TEST(Flight, every_call_has_a_name) {
  for (int c = 1; c < static_cast<int>(flight::Call::kEnd); ++c) {
    CHECK(std::strcmp("?", flight::call_name(static_cast<flight::Call>(c))) != 0);
  }
  STRCMP_EQUAL("?", flight::call_name(flight::Call::kEnd));
  STRCMP_EQUAL("epoll_wait", flight::call_name(flight::Call::kEpollWait));
  STRCMP_EQUAL("fstat", flight::call_name(flight::Call::kFstat));
}

// A crash writes the ring (the reason is the signal's name) and then sends
// the signal again, its action back to the default: the process dies of it.
TEST(Flight, a_crash_writes_the_ring_then_sends_the_signal_again) {
  CHECK_EQUAL(-EINVAL, flight::dump_on_crash());  // not recording
  CHECK_EQUAL(0, start());
  record_read(3, 10, 'a');
  CHECK_EQUAL(0, flight::dump_on_crash());
  CHECK(k->crash(hal::kSigSegv));
  flight::Reader r;
  std::vector<uint8_t> bytes;
  open_reader(&r, &bytes);
  STRCMP_EQUAL("SIGSEGV", r.header().reason);
  CHECK(flight::crash_reason(r.header().reason));
  flight::Record rec;
  CHECK(r.next(&rec));
  CHECK(flight::Call::kRead == rec.call);
  CHECK_EQUAL(1u, k->delivered_unblocked(hal::kSigSegv));
  // The handler was reset: a second crash finds none.
  CHECK_FALSE(k->crash(hal::kSigSegv));
}

// In a child process (hal::run_in_child calls in_child() there): nothing
// more is recorded, the ring stays for a dump through path.tmc, and a
// crash writes nothing. On the fake kernel, in this process.
TEST(Flight, in_a_child_nothing_is_recorded_a_dump_goes_through_tmc_and_a_crash_writes_nothing) {
  CHECK_EQUAL(0, start());
  record_read(3, 10, 'a');
  CHECK_EQUAL(0, flight::dump_on_crash());
  flight::in_child();
  CHECK_FALSE(flight::g_on);  // the seam records only while it is set
  k->fail_next(Call::kRename, EIO);
  CHECK_EQUAL(-EIO, flight::dump("SIGUSR2"));
  CHECK(k->created_file("/var/evl/hb.rec.tmc") == nullptr);  // removed
  CHECK_FALSE(flight::g_on);                                 // still a child's
  CHECK_EQUAL(0, flight::dump("SIGUSR2"));
  CHECK(k->created_file("/var/evl/hb.rec.tmp") == nullptr);
  flight::Reader r;
  std::vector<uint8_t> bytes;
  open_reader(&r, &bytes);
  STRCMP_EQUAL("SIGUSR2", r.header().reason);
  CHECK_EQUAL(1u, r.header().records);
  CHECK(k->crash(hal::kSigSegv));
  CHECK(bytes == file_bytes(*k, "/var/evl/hb.rec"));  // not rewritten
  CHECK_EQUAL(1u, k->delivered_unblocked(hal::kSigSegv));
}

TEST(Flight, each_crash_signal_is_named_and_others_are_a_crash) {
  CHECK_EQUAL(0, start());
  const struct {
    int signo;
    const char* reason;
  } cases[] = {{hal::kSigBus, "SIGBUS"},   {hal::kSigIll, "SIGILL"},   {hal::kSigFpe, "SIGFPE"},
               {hal::kSigAbrt, "SIGABRT"}, {hal::kSigSegv, "SIGSEGV"}, {hal::kSigHup, "crash"}};
  for (const auto& c : cases) {
    CHECK_EQUAL(0, flight::dump_on_crash());
    CHECK(k->crash(c.signo));
    flight::Reader r;
    std::vector<uint8_t> bytes;
    open_reader(&r, &bytes);
    STRCMP_EQUAL(c.reason, r.header().reason);
  }
  CHECK_FALSE(flight::crash_reason("SIGUSR2"));
  CHECK(flight::crash_reason("crash"));
  CHECK_FALSE(flight::crash_reason("exit"));
}

TEST(Flight, a_handler_that_cannot_be_installed_is_an_error) {
  CHECK_EQUAL(0, start());
  k->fail_next(Call::kOnCrash, EINVAL);
  CHECK_EQUAL(-EINVAL, flight::dump_on_crash());
  CHECK_FALSE(k->crash(hal::kSigSegv));
}

// The program's start (its calls up to its first epoll_wait, which calls
// before_wait()) is pinned: kept whole before the ring's newest calls.
TEST(Flight, the_programs_start_is_pinned_and_kept_through_wraps) {
  CHECK_EQUAL(0, start(4 * flight::kBlockBytes));
  for (int i = 0; i < 10; ++i) record_read(4, 100, static_cast<char>('a' + i));
  CHECK_EQUAL(0u, flight::pinned());  // not before the start ends
  flight::before_wait();              // the first wait: the start ends
  CHECK_EQUAL(10u, flight::pinned());
  for (int i = 0; i < 5000; ++i) record_read(3, static_cast<size_t>(1 + i % 200), 'x');
  CHECK_EQUAL(5010u, flight::calls());
  CHECK(flight::kept_first() > 10);
  CHECK_EQUAL(0, flight::dump("alarm"));

  flight::Reader r;
  std::vector<uint8_t> bytes;
  open_reader(&r, &bytes);
  const flight::FileHeader& h = r.header();
  CHECK_EQUAL(10u, h.pinned_records);
  CHECK_EQUAL(flight::kept_first(), h.first_seq);
  CHECK_EQUAL(5010u, h.first_seq + h.records - h.pinned_records);
  // The ring turns over the three other blocks: two full ones at least.
  CHECK(flight::kept_bytes() > 2 * flight::kBlockBytes);
  flight::Record rec;
  for (uint32_t i = 0; i < 10; ++i) {
    CHECK(r.next(&rec));
    CHECK_EQUAL(i, rec.seq);
    CHECK_EQUAL(100u, rec.out_len);
    CHECK_EQUAL('a' + static_cast<int>(i), rec.out[0]);
  }
  for (uint64_t seq = h.first_seq; r.next(&rec); ++seq) {
    CHECK_EQUAL(static_cast<uint32_t>(seq), rec.seq);
    CHECK_EQUAL(static_cast<int64_t>(1 + (seq - 10) % 200), rec.result);
  }
}

// A start that would leave the ring fewer than two blocks, or that already
// lost calls, is not pinned: the ring stays whole.
TEST(Flight, a_start_too_big_to_pin_is_not_pinned) {
  CHECK_EQUAL(0, start(2 * flight::kBlockBytes));
  record_read(4, 100, 'a');
  flight::before_wait();  // the first wait: the start ends
  CHECK_EQUAL(0u, flight::pinned());
  flight::stop();

  CHECK_EQUAL(0, start(4 * flight::kBlockBytes));
  for (int i = 0; i < 2000; ++i) record_read(4, 100, 'a');  // 136 bytes each: wraps
  CHECK(flight::kept_first() > 0);
  flight::before_wait();  // the first wait: the start ends
  CHECK_EQUAL(0u, flight::pinned());
  record_read(4, 100, 'b');
  CHECK_EQUAL(0, flight::dump("exit"));
  flight::Reader r;
  std::vector<uint8_t> bytes;
  open_reader(&r, &bytes);
  CHECK_EQUAL(0u, r.header().pinned_records);
  CHECK_EQUAL(2001u, r.header().first_seq + r.header().records);
}

// Version 1 (a 216-byte header, nothing pinned) is still read.
TEST(Flight, a_version_1_recording_is_read) {
  CHECK_EQUAL(0, start());
  record_read(3, 8, 'a');
  CHECK_EQUAL(0, flight::dump("exit"));
  std::vector<uint8_t> v2 = file_bytes(*k, "/var/evl/hb.rec");
  flight::FileHeader h;
  std::memcpy(&h, v2.data(), sizeof h);
  h.version = 1;
  h.header_bytes = flight::kVersion1HeaderBytes;
  std::vector<uint8_t> v1(v2.size() - (sizeof h - flight::kVersion1HeaderBytes));
  std::memcpy(v1.data(), &h, flight::kVersion1HeaderBytes);
  std::memcpy(v1.data() + flight::kVersion1HeaderBytes, v2.data() + sizeof h, v2.size() - sizeof h);
  flight::Reader r;
  char err[128] = {};
  CHECK_EQUAL_TEXT(0, r.open(v1.data(), v1.size(), err, sizeof err), err);
  CHECK_EQUAL(0u, r.header().pinned_records);
  CHECK_EQUAL(1u, r.header().records);
  STRCMP_EQUAL("heartbeat", r.arg(0));
  flight::Record rec;
  CHECK(r.next(&rec));
  CHECK_EQUAL(8, rec.result);
  // A version 2 header cut inside its last field is short, not misread.
  std::vector<uint8_t> cut(v2.begin(), v2.begin() + flight::kVersion1HeaderBytes + 4);
  CHECK_EQUAL(-EINVAL, r.open(cut.data(), cut.size(), err, sizeof err));
  STRCMP_CONTAINS("cut short", err);
}
