// The replay kernel against recordings built here call by call: what it
// hands back, and where it reports a program that no longer makes the
// recorded calls.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "hal/flight_calls.h"
#include "hal/sys.h"
#include "test/fake/replay.h"
#include "test/fake/stderr_capture.h"
// After the standard containers: CppUTest redefines new.
#include "CppUTest/TestHarness.h"

namespace {

// A recording in the file format of hal/flight.h.
class Recording {
 public:
  void add(flight::Call c, int64_t result, const flight::Args& a, const void* out = nullptr,
           size_t out_len = 0, uint8_t flags = 0) {
    const size_t size =
        (sizeof(flight::RecordHead) + 8 * static_cast<size_t>(a.n) + out_len + 7) & ~size_t{7};
    const flight::RecordHead h{static_cast<uint32_t>(size),
                               static_cast<uint32_t>(count_++),
                               static_cast<uint16_t>(c),
                               static_cast<uint8_t>(a.n),
                               flags,
                               static_cast<uint32_t>(out_len),
                               result};
    ++added_;
    const size_t at = records_.size();
    records_.resize(at + size);
    std::memcpy(&records_[at], &h, sizeof h);
    std::memcpy(&records_[at + sizeof h], a.v, 8 * static_cast<size_t>(a.n));
    if (out_len > 0) std::memcpy(&records_[at + sizeof h + 8 * a.n], out, out_len);
  }
  std::vector<uint8_t> bytes(const char* reason) const {
    flight::FileHeader h{};
    std::memcpy(h.magic, flight::kMagic, sizeof h.magic);
    h.version = flight::kVersion;
    h.header_bytes = sizeof h;
    std::strcpy(h.program, "test");
    std::strcpy(h.reason, reason);
    h.records = added_;
    h.record_bytes = records_.size();
    h.pinned_records = pinned_;
    h.first_seq = first_seq_;
    h.ring_bytes = 1 << 17;
    h.argc = 1;
    h.argv_bytes = 8;
    std::vector<uint8_t> out(sizeof h + 8);
    std::memcpy(out.data(), &h, sizeof h);
    std::memcpy(&out[sizeof h], "test\0\0\0", 8);
    out.insert(out.end(), records_.begin(), records_.end());
    return out;
  }

  // The records so far are the program's pinned start; then the ring lost
  // n calls (the next record is call number pinned + n).
  void pin_and_lose(uint64_t n) {
    pinned_ = added_;
    count_ += n;
    first_seq_ = count_;
  }

 private:
  std::vector<uint8_t> records_;
  uint64_t count_ = 0;  // the next record's call number
  uint64_t added_ = 0;
  uint64_t pinned_ = 0;
  uint64_t first_seq_ = 0;
};

constexpr uint64_t kRecordedCookie = 0x1234;
constexpr uint64_t kReplayCookie = 0xabcd;

// The start of what the little program below did when it was recorded:
// up to its first epoll_wait.
Recording recorded_start() {
  Recording r;
  const hal::Timespec ts{100, 5};
  r.add(flight::Call::kClockGettime, 0, flight::args::fd(hal::kClockMonotonic), &ts, sizeof ts);
  r.add(flight::Call::kRead, 6, flight::args::read(5, 16), "hello\n", 6);
  r.add(flight::Call::kWrite, 6, flight::args::write(9, "hello\n", 6));
  hal::EpollEvent ev{hal::kEpollIn, kRecordedCookie};
  r.add(flight::Call::kEpollCtl, 0, flight::args::epoll_ctl(4, hal::kEpollCtlAdd, 5, &ev));
  return r;
}

// All it did.
Recording recorded() {
  Recording r = recorded_start();
  const flight::WireEvent w{hal::kEpollIn, 0, kRecordedCookie};
  r.add(flight::Call::kEpollWait, 1, flight::args::epoll_wait(4, 8, -1), &w, sizeof w);
  return r;
}

struct Seen {
  hal::Timespec ts{};
  std::string read;
  uint64_t cookie = 0;
};

// The program; `changed` makes it write other bytes at its third call.
Seen program(bool changed) {
  Seen s;
  (void)hal::clock_gettime(hal::kClockMonotonic, &s.ts);
  char buf[16];
  const long n = hal::read(5, buf, sizeof buf);
  if (n > 0) s.read.assign(buf, static_cast<size_t>(n));
  (void)hal::write(9, changed ? "hellO\n" : buf, n > 0 ? static_cast<size_t>(n) : 0);
  hal::EpollEvent ev{hal::kEpollIn, kReplayCookie};
  (void)hal::epoll_ctl(4, hal::kEpollCtlAdd, 5, &ev);
  hal::EpollEvent out[8];
  if (hal::epoll_wait(4, out, 8, -1) == 1) s.cookie = out[0].data;
  return s;
}

}  // namespace

TEST_GROUP(Replay) {
  replay::Player player;
  void load(const Recording& r, const char* reason = "exit") {
    char err[128] = {};
    const int rc = player.load(r.bytes(reason), err, sizeof err);
    CHECK_EQUAL_TEXT(0, rc, err);
    player.set_exit_on_divergence(false);
    replay::Player::set_current(&player);
  }
  void teardown() override { replay::Player::set_current(nullptr); }
};

TEST(Replay, the_program_gets_the_recorded_results_bytes_and_its_own_cookies) {
  load(recorded());
  const Seen s = program(false);
  CHECK_EQUAL(0, player.failure());
  CHECK_EQUAL(100, s.ts.sec);
  CHECK_EQUAL(5, s.ts.nsec);
  CHECK_EQUAL(std::string("hello\n"), s.read);
  CHECK_EQUAL(kReplayCookie, s.cookie);
  CHECK_EQUAL(5u, player.replayed());
  CHECK(player.finished());
}

TEST(Replay, getrandom_gives_the_recorded_bytes_and_its_length_is_compared) {
  Recording r;
  const unsigned char bytes[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  r.add(flight::Call::kGetrandom, 8, flight::args::getrandom(8, hal::kGrndNonblock), bytes, 8);
  r.add(flight::Call::kGetrandom, -EAGAIN, flight::args::getrandom(8, hal::kGrndNonblock));
  r.add(flight::Call::kGetrandom, 4, flight::args::getrandom(4, 0), bytes, 4);
  load(r);
  unsigned char got[8] = {};
  CHECK_EQUAL(8, hal::getrandom(got, sizeof got, hal::kGrndNonblock));
  CHECK(std::memcmp(got, bytes, sizeof got) == 0);
  CHECK_EQUAL(-EAGAIN, hal::getrandom(got, sizeof got, hal::kGrndNonblock));
  (void)hal::getrandom(got, 8, 0);  // the recording asked for 4
  CHECK_EQUAL(replay::kDiverged, player.failure());
  STRCMP_CONTAINS(
      "DIVERGED at call #2: the recording has getrandom(4, 0) = 4, the program made "
      "getrandom(8, 0)",
      player.message());
}

namespace {
int must_not_run(void* ran) {
  *static_cast<bool*>(ran) = true;
  return 0;
}
}  // namespace

// The child's work is not replayed: what the parent sees of it (its pid,
// its exit status) is in the recording.
TEST(Replay, run_in_child_gives_the_recorded_pid_without_running_the_work) {
  Recording r;
  const int pid = 4321;
  const int status = 5 << 8;  // exited with EIO
  r.add(flight::Call::kRunInChild, 0, flight::args::of(), &pid, sizeof pid);
  r.add(flight::Call::kWaitpid, pid, flight::args::fd_value(pid, 0), &status, sizeof status);
  r.add(flight::Call::kRunInChild, -EAGAIN, flight::args::of());
  load(r);
  bool ran = false;
  int got = 0;
  CHECK_EQUAL(0, hal::run_in_child(must_not_run, &ran, &got));
  CHECK_EQUAL(pid, got);
  int st = 0;
  CHECK_EQUAL(pid, hal::waitpid(pid, &st, 0));
  CHECK_EQUAL(status, st);
  got = 7;
  CHECK_EQUAL(-EAGAIN, hal::run_in_child(must_not_run, &ran, &got));
  CHECK_EQUAL(7, got);
  CHECK(!ran);
  CHECK_EQUAL(0, player.failure());
  CHECK(player.finished());
}

TEST(Replay, a_changed_program_is_reported_at_the_first_call_that_differs) {
  load(recorded());
  (void)program(true);
  CHECK_EQUAL(replay::kDiverged, player.failure());
  STRCMP_CONTAINS("DIVERGED at call #2", player.message());
  STRCMP_CONTAINS("the recording has write(9, 6, ", player.message());
  STRCMP_CONTAINS("the program made write(9, 6, ", player.message());
  CHECK_EQUAL(2u, player.replayed());
}

TEST(Replay, another_call_in_place_of_the_recorded_one_is_reported) {
  load(recorded());
  hal::Timespec ts{};
  (void)hal::clock_gettime(hal::kClockMonotonic, &ts);
  CHECK_EQUAL(-EIO, hal::close(5));  // the recording has a read here
  STRCMP_CONTAINS(
      "DIVERGED at call #1: the recording has read(5, 16) = 6, the program made close(5)",
      player.message());
}

TEST(Replay, a_program_that_stops_early_or_runs_past_an_exit_recording_diverges) {
  load(recorded());
  hal::Timespec ts{};
  (void)hal::clock_gettime(hal::kClockMonotonic, &ts);
  CHECK_FALSE(player.finished());
  STRCMP_CONTAINS("the program ended, but the recording goes on with read(5, 16) = 6",
                  player.message());

  load(recorded());
  (void)program(false);
  CHECK_EQUAL(-EIO, hal::close(3));
  CHECK_EQUAL(replay::kDiverged, player.failure());
  STRCMP_CONTAINS("the recording ends (written on exit) but the program made close(3)",
                  player.message());
}

TEST(Replay, a_recording_written_while_running_ends_without_a_failure) {
  load(recorded(), "SIGUSR2");
  (void)program(false);
  CHECK_EQUAL(-EIO, hal::close(3));
  CHECK_EQUAL(0, player.failure());
  CHECK(player.ended());
  STRCMP_CONTAINS("written on SIGUSR2 while the daemon ran", player.message());
}

// app::Log writes a pipe or a terminal stderr through its own description,
// "/proc/self/fd/2" opened anew: the replay prints what goes there as the
// program's stderr, as it does fd 2's, until it is closed.
TEST(Replay, a_reopened_stderr_is_printed_as_stderr) {
  Recording r;
  const int flags = hal::kWrOnly | hal::kNonblock | hal::kNoCtty | hal::kCloexec;
  r.add(flight::Call::kOpen, 7, flight::args::open("/proc/self/fd/2", flags, 0));
  r.add(flight::Call::kWrite, 4, flight::args::write(7, "one\n", 4));
  r.add(flight::Call::kOpen, 8, flight::args::open("/var/x", hal::kWrOnly, 0));
  r.add(flight::Call::kWrite, 4, flight::args::write(8, "two\n", 4));
  r.add(flight::Call::kClose, 0, flight::args::fd(7));
  r.add(flight::Call::kOpen, 7, flight::args::open("/var/y", hal::kWrOnly, 0));
  r.add(flight::Call::kWrite, 6, flight::args::write(7, "three\n", 6));
  load(r);
  StderrCapture err;
  CHECK_EQUAL(7, hal::open("/proc/self/fd/2", flags, 0));
  CHECK_EQUAL(4, hal::write(7, "one\n", 4));
  CHECK_EQUAL(8, hal::open("/var/x", hal::kWrOnly, 0));
  CHECK_EQUAL(4, hal::write(8, "two\n", 4));
  CHECK_EQUAL(0, hal::close(7));
  CHECK_EQUAL(7, hal::open("/var/y", hal::kWrOnly, 0));
  CHECK_EQUAL(6, hal::write(7, "three\n", 6));
  STRCMP_EQUAL("one\n", err.end().c_str());
  CHECK_EQUAL(0, player.failure());
}

// A socket stderr (journald's stream): app::Log sends its lines there.
TEST(Replay, a_send_to_stderr_is_printed_as_stderr) {
  Recording r;
  const int flags = hal::kMsgDontwait | hal::kMsgNosignal;
  r.add(flight::Call::kSendto, 4, flight::args::sendto(2, "one\n", 4, flags, nullptr));
  r.add(flight::Call::kSendto, 4, flight::args::sendto(9, "two\n", 4, flags, nullptr));
  load(r);
  StderrCapture err;
  CHECK_EQUAL(4, hal::sendto(2, "one\n", 4, flags, nullptr));
  CHECK_EQUAL(4, hal::sendto(9, "two\n", 4, flags, nullptr));
  STRCMP_EQUAL("one\n", err.end().c_str());
  CHECK_EQUAL(0, player.failure());
}

// Written at the stop by a child the daemon made for it
// (app::flight_dump_at_stop): the child's copy of the ring ends before the
// run_in_child that made it, the program's next call.
TEST(Replay, an_exit_recording_ends_at_the_child_that_wrote_it) {
  for (const char* reason : {"exit", "error"}) {
    load(recorded(), reason);
    (void)program(false);
    bool ran = false;
    int pid = 0;
    CHECK_EQUAL(-EIO, hal::run_in_child(must_not_run, &ran, &pid));
    CHECK(!ran);
    CHECK_EQUAL(0, player.failure());
    CHECK(player.ended());
    STRCMP_CONTAINS((std::string("the recording ends there (written on ") + reason +
                     " by the process made next)")
                        .c_str(),
                    player.message());
  }
}

// Written by the crash handler: the board crashed after the last call. A
// program that goes on did not reproduce the crash.
TEST(Replay, a_crash_recording_whose_program_goes_on_did_not_reproduce_it) {
  load(recorded(), "SIGSEGV");
  (void)program(false);
  CHECK_EQUAL(-EIO, hal::close(3));
  CHECK_EQUAL(replay::kDiverged, player.failure());
  STRCMP_CONTAINS(
      "DIVERGED at call #5: the board crashed (SIGSEGV) after the recorded calls, the program "
      "went on and made close(3): the crash did not reproduce",
      player.message());
}

namespace {
void exit_55(int) { ::_exit(55); }
}  // namespace

// The replay answers on_crash from the recording but installs nothing: a
// crash of the replayed program stops it where it happens, as it did the
// board (here a real fault in a child: it dies of SIGSEGV, not through the
// program's handler).
TEST(Replay, the_replayed_program_crashes_where_it_crashes) {
  Recording r = recorded();
  r.add(flight::Call::kOnCrash, 0, flight::args::of(true));
  load(r, "SIGSEGV");
  void* page = ::mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(page != MAP_FAILED);
  const pid_t pid = ::fork();
  if (pid == 0) {
    (void)program(false);
    if (hal::on_crash(exit_55) != 0 || player.failure() != 0) ::_exit(97);
    *static_cast<volatile char*>(page) = 1;
    ::_exit(98);
  }
  int status = 0;
  CHECK(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status));  // not _exit(55): the program's handler was not installed
#if defined(__SANITIZE_ADDRESS__)
  CHECK_EQUAL(SIGABRT, WTERMSIG(status));  // AddressSanitizer reports the fault and aborts
#else
  CHECK_EQUAL(SIGSEGV, WTERMSIG(status));
#endif
  CHECK_EQUAL(0, ::munmap(page, 4096));
}

TEST(Replay, a_record_cut_by_the_recorder_stops_the_replay) {
  Recording r;
  const std::string big(64, 'b');
  r.add(flight::Call::kRead, 100000, flight::args::read(5, 200000), big.data(), big.size(),
        flight::kTruncated);
  load(r);
  std::vector<char> buf(200000);
  CHECK_EQUAL(-EIO, hal::read(5, buf.data(), buf.size()));
  CHECK_EQUAL(replay::kCut, player.failure());
  STRCMP_CONTAINS("recorded cut short", player.message());
}

TEST(Replay, outputs_of_sockets_and_addresses_come_back_in_their_parts) {
  Recording r;
  uint8_t out[4 + 16] = {};
  const uint32_t len = 16;
  std::memcpy(out, &len, 4);
  out[4] = hal::kAfInet;
  r.add(flight::Call::kAccept4, 11,
        flight::args::accept4(3, reinterpret_cast<hal::SockAddr*>(1), hal::kNonblock), out,
        sizeof out);
  uint8_t rv[3 + 4 + 16] = {'a', 'b', 'c'};
  std::memcpy(rv + 3, &len, 4);
  r.add(flight::Call::kRecvfrom, 3,
        flight::args::recvfrom(11, 64, 0, reinterpret_cast<hal::SockAddr*>(1)), rv, sizeof rv);
  int fds[2] = {7, 8};
  r.add(flight::Call::kPipe2, 0, flight::args::flags(hal::kCloexec), fds, sizeof fds);
  load(r);
  hal::SockAddr peer;
  CHECK_EQUAL(11, hal::accept4(3, &peer, hal::kNonblock));
  CHECK_EQUAL(16u, peer.len);
  CHECK_EQUAL(hal::kAfInet, peer.data[0]);
  char buf[64];
  hal::SockAddr from;
  CHECK_EQUAL(3, hal::recvfrom(11, buf, sizeof buf, 0, &from));
  CHECK_EQUAL(std::string("abc"), std::string(buf, 3));
  CHECK_EQUAL(16u, from.len);
  int p[2] = {};
  CHECK_EQUAL(0, hal::pipe2(p, hal::kCloexec));
  CHECK_EQUAL(7, p[0]);
  CHECK_EQUAL(8, p[1]);
  CHECK(player.finished());
}

namespace {

// The start of the program above pinned (4 calls), 100 calls lost, then the
// ring's: a read and the epoll_wait of a later iteration.
Recording wrapped_after_start() {
  Recording r = recorded_start();
  r.pin_and_lose(100);
  r.add(flight::Call::kRead, 2, flight::args::read(5, 16), "x\n", 2);
  const flight::WireEvent w{hal::kEpollIn, 0, kRecordedCookie};
  r.add(flight::Call::kEpollWait, 1, flight::args::epoll_wait(4, 8, -1), &w, sizeof w);
  return r;
}

std::string printed(replay::Player& p) {
  std::FILE* f = std::tmpfile();
  p.print_kept(f);
  std::rewind(f);
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, f) != nullptr) out += buf;
  std::fclose(f);
  return out;
}

}  // namespace

// A ring that wrapped after the program's start: the start replays as
// recorded, and the program's first call past it ends the replay.
TEST(Replay, a_wrapped_ring_replays_the_pinned_start_then_stops_at_the_loss) {
  load(wrapped_after_start(), "alarm");
  CHECK(player.wrapped());
  const Seen s = program(false);
  CHECK_EQUAL(std::string("hello\n"), s.read);
  CHECK_EQUAL(0u, s.cookie);  // its epoll_wait was not answered
  CHECK_EQUAL(replay::kWrapped, player.failure());
  CHECK_EQUAL(4u, player.replayed());
  STRCMP_CONTAINS("the program's start (4 calls, up to its first epoll_wait) was replayed",
                  player.message());
  STRCMP_CONTAINS("the ring lost calls #4 to #103", player.message());
  const std::string out = printed(player);
  STRCMP_CONTAINS(
      "it kept the program's first 4 calls (its start) and the last 2 of 106. The kept calls "
      "after the loss, from the oldest whole loop iteration:\n#105 epoll_wait(4, 8, -1) = 1\n",
      out.c_str());
  CHECK(out.find("read(5, 16) = 2") == std::string::npos);  // before the first whole iteration
}

// Without a pinned start (a version 1 file, or a start too big to pin)
// only the trace is left.
TEST(Replay, a_wrapped_ring_without_its_start_is_only_printed) {
  Recording r;
  r.pin_and_lose(50);
  const flight::WireEvent w{hal::kEpollIn, 0, kRecordedCookie};
  r.add(flight::Call::kEpollWait, 1, flight::args::epoll_wait(4, 8, -1), &w, sizeof w);
  load(r, "alarm");
  CHECK(player.wrapped());
  STRCMP_CONTAINS(
      "this recording kept the last 1 calls of 51 (the ring of 131072 bytes wrapped), so the "
      "program cannot be re-run from its start. The kept calls, from the oldest whole loop "
      "iteration:\n#50 epoll_wait(4, 8, -1) = 1\n",
      printed(player).c_str());
  hal::Timespec ts{};
  (void)hal::clock_gettime(hal::kClockMonotonic, &ts);
  CHECK_EQUAL(replay::kWrapped, player.failure());
}

namespace {

constexpr uint64_t kRecordedCookie2 = 0x5678;
constexpr uint64_t kReplayCookie2 = 0xef01;

// A snapshot's records: the registrations, then the app's bytes, in parts
// of at most 16 KiB (from part `from` on: the ring lost the others).
void add_snapshot(Recording* r, const std::vector<flight::EpollReg>& regs, const std::string& app,
                  size_t from = 0) {
  std::vector<uint8_t> out(regs.size() * sizeof(flight::EpollReg));
  if (!regs.empty()) std::memcpy(out.data(), regs.data(), out.size());
  out.insert(out.end(), app.begin(), app.end());
  const size_t parts =
      out.empty() ? 1 : (out.size() + flight::kMaxOutBytes - 1) / flight::kMaxOutBytes;
  for (size_t i = from; i < parts; ++i) {
    const size_t at = i * flight::kMaxOutBytes;
    const size_t len = std::min<size_t>(out.size() - at, flight::kMaxOutBytes);
    r->add(flight::Call::kSnapshot, 0,
           flight::args::of(static_cast<int64_t>(regs.size()), static_cast<int64_t>(app.size()),
                            static_cast<int64_t>(i), static_cast<int64_t>(parts)),
           out.data() + at, len);
  }
}

// The program's start pinned, 100 calls lost, a call of a partial
// iteration, a snapshot (fd 6 registered with kRecordedCookie2), then an
// epoll_wait reporting fd 6 and its read.
Recording wrapped_with_snapshot(const std::string& app = "S", const std::string& older = "") {
  Recording r = recorded_start();
  r.pin_and_lose(100);
  if (!older.empty()) add_snapshot(&r, {}, older, 1);  // its first part lost
  r.add(flight::Call::kRead, 2, flight::args::read(5, 16), "x\n", 2);
  add_snapshot(&r, {{4, 6, kRecordedCookie2}}, app);
  const flight::WireEvent w{hal::kEpollIn, 0, kRecordedCookie2};
  r.add(flight::Call::kEpollWait, 1, flight::args::epoll_wait(4, 8, 250), &w, sizeof w);
  r.add(flight::Call::kRead, 2, flight::args::read(6, 16), "y\n", 2);
  return r;
}

// What the restore hook below saw and does.
struct Restored {
  std::string app;
  bool forbidden_call = false;
  int result = 0;
};

int restore_hook(void* ctx, flight::SnapReader& in) {
  auto* r = static_cast<Restored*>(ctx);
  char c = 0;
  while (in.left() > 0 && in.get(&c)) r->app += c;
  (void)hal::epoll_ctl(4, hal::kEpollCtlDel, 5, nullptr);  // the start's watcher goes
  (void)hal::close(5);
  hal::EpollEvent ev{hal::kEpollIn, kReplayCookie2};
  (void)hal::epoll_ctl(4, hal::kEpollCtlAdd, 6, &ev);  // the snapshot's comes back
  if (r->forbidden_call) (void)hal::getpid();
  return r->result;
}

}  // namespace

TEST_GROUP(ReplaySnapshot) {
  replay::Player player;
  Restored restored;
  void load(const Recording& r) {
    char err[128] = {};
    CHECK_EQUAL_TEXT(0, player.load(r.bytes("exit"), err, sizeof err), err);
    player.set_exit_on_divergence(false);
    replay::Player::set_current(&player);
    flight::set_snapshot_hooks(flight::SnapshotHooks{nullptr, restore_hook, &restored});
  }
  void teardown() override {
    flight::set_snapshot_hooks(flight::SnapshotHooks{});
    replay::Player::set_current(nullptr);
  }
};

// The restore runs at the program's first epoll_wait: its calls are
// answered without the recording, its registration gets the recorded
// cookie of its fd, and the replay goes on from the epoll_wait after the
// snapshot (whose timeout the program computed before the restore).
TEST(ReplaySnapshot, the_restored_program_gets_the_recorded_events_with_its_own_cookies) {
  Recording r = wrapped_with_snapshot();
  load(r);
  // program(): its start, then its first epoll_wait, answered by the
  // epoll_wait after the snapshot, with the cookie the restore registered.
  const Seen s = program(false);
  CHECK_EQUAL(0, player.failure());
  CHECK_EQUAL(kReplayCookie2, s.cookie);
  char buf[16];
  CHECK_EQUAL(2, hal::read(6, buf, sizeof buf));
  CHECK_EQUAL(0, std::memcmp(buf, "y\n", 2));
  CHECK(player.finished());
  CHECK_EQUAL(0, player.failure());
  CHECK_EQUAL(std::string("S"), restored.app);
  CHECK_EQUAL(106u, player.resumed_at());  // 4 pinned, 100 lost, the read, the snapshot
  char made[128];
  player.describe_replayed(made, sizeof made);
  STRCMP_EQUAL("the recorded calls #0 to #3, then #106 to #107 from the restored snapshot", made);
}

TEST(ReplaySnapshot, without_a_restore_hook_the_replay_stops_at_the_loss) {
  load(wrapped_with_snapshot());
  flight::set_snapshot_hooks(flight::SnapshotHooks{});
  (void)program(false);
  CHECK_EQUAL(replay::kWrapped, player.failure());
  STRCMP_CONTAINS("the program has no snapshot of its state to restore", player.message());
}

TEST(ReplaySnapshot, kept_calls_without_a_snapshot_stop_the_replay_at_the_loss) {
  load(wrapped_after_start());
  (void)program(false);
  CHECK_EQUAL(replay::kWrapped, player.failure());
  STRCMP_CONTAINS("the kept calls hold no snapshot of its state", player.message());
}

TEST(ReplaySnapshot, a_malformed_snapshot_stops_the_replay_at_the_loss) {
  Recording r = recorded_start();
  r.pin_and_lose(10);
  const char junk[4] = {1, 2, 3, 4};
  r.add(flight::Call::kSnapshot, 0, flight::args::of(1, 0, 0, 1), junk, sizeof junk);
  load(r);
  (void)program(false);
  CHECK_EQUAL(replay::kWrapped, player.failure());
  STRCMP_CONTAINS("its oldest kept snapshot is malformed", player.message());
}

TEST(ReplaySnapshot, a_restore_that_fails_or_leaves_bytes_stops_the_replay) {
  load(wrapped_with_snapshot());
  restored.result = -EINVAL;
  (void)program(false);
  CHECK_EQUAL(replay::kWrapped, player.failure());
  STRCMP_CONTAINS("the program could not restore its snapshot", player.message());
}

TEST(ReplaySnapshot, a_restore_may_not_make_other_calls) {
  load(wrapped_with_snapshot());
  restored.forbidden_call = true;
  (void)program(false);
  CHECK_EQUAL(replay::kWrapped, player.failure());
  STRCMP_CONTAINS("restoring the snapshot, the program made getpid(): a restore may make only",
                  player.message());
}

// Snapshots in a ring that did not wrap are not calls: the replay passes
// over them.
TEST(ReplaySnapshot, a_snapshot_in_a_whole_recording_is_passed_over) {
  Recording r = recorded_start();
  add_snapshot(&r, {}, "S");
  const flight::WireEvent w{hal::kEpollIn, 0, kRecordedCookie};
  r.add(flight::Call::kEpollWait, 1, flight::args::epoll_wait(4, 8, -1), &w, sizeof w);
  add_snapshot(&r, {}, "T");
  load(r);
  const Seen s = program(false);
  CHECK_EQUAL(kReplayCookie, s.cookie);
  CHECK(player.finished());
  CHECK_EQUAL(0, player.failure());
  CHECK_EQUAL(std::string(""), restored.app);
  char made[128];
  player.describe_replayed(made, sizeof made);
  STRCMP_EQUAL("the 5 recorded calls", made);  // the snapshots are not calls
}

// A snapshot larger than a record comes in parts; one whose first part the
// ring lost is passed over for the next whole one.
TEST(ReplaySnapshot, a_snapshot_in_parts_is_put_together_and_a_partial_one_passed_over) {
  std::string big(40000, 'b');
  big[0] = 'B';
  big.back() = 'E';
  load(wrapped_with_snapshot(big, std::string(20000, 'o')));
  const Seen s = program(false);
  CHECK_EQUAL(0, player.failure());
  CHECK_EQUAL(kReplayCookie2, s.cookie);
  CHECK(restored.app == big);
  CHECK_EQUAL(109u, player.resumed_at());  // 4 pinned, 100 lost, 1 part, read, 3 parts
}

namespace {

struct TimerfdRead {
  long timerfd = 0;
  long other = 0;
  bool read_other = false;
};

int read_timerfd_hook(void* ctx, flight::SnapReader& in) {
  auto* t = static_cast<TimerfdRead*>(ctx);
  char c = 0;
  while (in.left() > 0 && in.get(&c)) {
  }
  uint64_t expirations = 0;
  t->timerfd = hal::read(7, &expirations, sizeof expirations);
  if (t->read_other) t->other = hal::read(5, &expirations, sizeof expirations);
  return 0;
}

// A start that creates a timerfd (fd 7), then a snapshot after the loss.
Recording timerfd_start_then_snapshot() {
  Recording r;
  r.add(flight::Call::kTimerfdCreate, 7,
        flight::args::fd_value(hal::kClockRealtime, hal::kCloexec | hal::kNonblock));
  r.pin_and_lose(10);
  add_snapshot(&r, {}, "S");
  r.add(flight::Call::kEpollWait, 0, flight::args::epoll_wait(4, 8, -1));
  return r;
}

void timerfd_program() {
  (void)hal::timerfd_create(hal::kClockRealtime, hal::kCloexec | hal::kNonblock);
  hal::EpollEvent out[8];
  (void)hal::epoll_wait(4, out, 8, -1);
}

}  // namespace

// The loop reads its realtime timerfd before re-arming it (a clock step
// would have cancelled it): in a restore that read finds nothing pending.
// Another read is still refused.
TEST(ReplaySnapshot, a_restore_may_read_the_programs_timerfds_and_finds_nothing_pending) {
  TimerfdRead t;
  load(timerfd_start_then_snapshot());
  flight::set_snapshot_hooks(flight::SnapshotHooks{nullptr, read_timerfd_hook, &t});
  timerfd_program();
  CHECK_EQUAL(0, player.failure());
  CHECK_EQUAL(-EAGAIN, t.timerfd);
  CHECK(player.finished());

  TimerfdRead u;
  u.read_other = true;
  load(timerfd_start_then_snapshot());
  flight::set_snapshot_hooks(flight::SnapshotHooks{nullptr, read_timerfd_hook, &u});
  timerfd_program();
  CHECK_EQUAL(replay::kWrapped, player.failure());
  STRCMP_CONTAINS("the program made read(5, 8): a restore may make only", player.message());
}
