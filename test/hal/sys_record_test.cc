// The recording seam (//hal:sys_record) on Linux: what it keeps of real
// calls. This binary also runs sys_linux_test's and pty_test's cases with
// the recorder on (record_on.cc), so every call's record path runs.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "CppUTest/TestHarness.h"
#include "hal/flight.h"
#include "hal/flight_calls.h"
#include "hal/sys.h"
#include "test/hal/records_since.h"

namespace {

using hal_test::records_since;
std::string g_dir;

}  // namespace

TEST_GROUP(SysRecord){};

TEST(SysRecord, reads_writes_pipes_and_clocks_are_kept_with_their_bytes) {
  CHECK(flight::recording());
  const uint64_t from = flight::calls();
  int p[2] = {-1, -1};
  CHECK_EQUAL(0, hal::pipe2(p, hal::kCloexec | hal::kNonblock));
  CHECK_EQUAL(3, hal::write(p[1], "abc", 3));
  char buf[8] = {};
  CHECK_EQUAL(3, hal::read(p[0], buf, sizeof buf));
  CHECK_EQUAL(-EAGAIN, hal::read(p[0], buf, sizeof buf));
  hal::Timespec ts{};
  CHECK_EQUAL(0, hal::clock_gettime(hal::kClockMonotonic, &ts));
  CHECK_EQUAL(0, hal::close(p[0]));
  CHECK_EQUAL(0, hal::close(p[1]));

  std::vector<uint8_t> file;
  const std::vector<flight::Record> recs = records_since(from, &file);
  CHECK_EQUAL(7u, recs.size());
  CHECK(recs[0].call == flight::Call::kPipe2);
  int fds[2];
  CHECK_EQUAL(sizeof fds, recs[0].out_len);
  std::memcpy(fds, recs[0].out, sizeof fds);
  CHECK_EQUAL(p[0], fds[0]);
  CHECK_EQUAL(p[1], fds[1]);
  CHECK(recs[1].call == flight::Call::kWrite);
  CHECK_EQUAL(flight::hash("abc", 3), recs[1].args[2]);
  CHECK_EQUAL(0u, recs[1].out_len);
  CHECK(recs[2].call == flight::Call::kRead);
  CHECK_EQUAL(std::string("abc"), std::string(reinterpret_cast<const char*>(recs[2].out), 3));
  CHECK_EQUAL(-EAGAIN, recs[3].result);
  CHECK_EQUAL(0u, recs[3].out_len);
  hal::Timespec kept{};
  std::memcpy(&kept, recs[4].out, sizeof kept);
  CHECK_EQUAL(ts.sec, kept.sec);
  CHECK_EQUAL(ts.nsec, kept.nsec);
  CHECK(recs[6].call == flight::Call::kClose);
}

TEST(SysRecord, getrandom_is_kept_with_its_bytes) {
  const uint64_t from = flight::calls();
  unsigned char got[16] = {};
  // 16 bytes, or -EAGAIN on a board whose pool is not ready yet (see
  // SysLinux.getrandom_fills_the_buffer_or_reports_errno): either is kept.
  const long n = hal::getrandom(got, sizeof got, hal::kGrndNonblock);
  CHECK(n == 16 || n == -EAGAIN);
  CHECK_EQUAL(-EINVAL, hal::getrandom(got, 1, 0x80000000u));
  std::vector<uint8_t> file;
  const std::vector<flight::Record> recs = records_since(from, &file);
  CHECK_EQUAL(2u, recs.size());
  CHECK(recs[0].call == flight::Call::kGetrandom);
  CHECK_EQUAL(n, recs[0].result);
  CHECK_EQUAL(16, recs[0].args[0]);
  CHECK_EQUAL(static_cast<int64_t>(hal::kGrndNonblock), recs[0].args[1]);
  CHECK_EQUAL(n > 0 ? sizeof got : 0u, recs[0].out_len);
  if (n > 0) CHECK(std::memcmp(got, recs[0].out, sizeof got) == 0);
  CHECK_EQUAL(-EINVAL, recs[1].result);
  CHECK_EQUAL(0u, recs[1].out_len);
  STRCMP_EQUAL("getrandom", flight::call_name(flight::Call::kGetrandom));
}

TEST(SysRecord, epoll_events_are_kept_in_one_layout_for_every_target) {
  const uint64_t from = flight::calls();
  const int ep = hal::epoll_create1(hal::kCloexec);
  const int ev = hal::eventfd(1, hal::kCloexec | hal::kNonblock);
  hal::EpollEvent in{hal::kEpollIn, 0x1122334455667788ULL};
  CHECK_EQUAL(0, hal::epoll_ctl(ep, hal::kEpollCtlAdd, ev, &in));
  hal::EpollEvent out[4];
  CHECK_EQUAL(1, hal::epoll_wait(ep, out, 4, 0));
  CHECK_EQUAL(0, hal::close(ev));
  CHECK_EQUAL(0, hal::close(ep));
  std::vector<uint8_t> file;
  const std::vector<flight::Record> recs = records_since(from, &file);
  CHECK(recs[2].call == flight::Call::kEpollCtl);
  CHECK_EQUAL(static_cast<int64_t>(0x1122334455667788ULL), recs[2].args[4]);
  CHECK(recs[3].call == flight::Call::kEpollWait);
  flight::WireEvent w{};
  CHECK_EQUAL(sizeof w, recs[3].out_len);
  std::memcpy(&w, recs[3].out, sizeof w);
  CHECK_EQUAL(hal::kEpollIn, w.events);
  CHECK_EQUAL(0x1122334455667788ULL, w.data);
}

TEST(SysRecord, the_dump_is_not_recorded_and_a_failed_call_is) {
  const uint64_t before = flight::calls();
  std::vector<uint8_t> file;
  (void)records_since(before, &file);
  // The dump's open, writes, fsync, close, rename: none recorded; the
  // reading back (open, fstat, read, close) is.
  CHECK_EQUAL(before + 4, flight::calls());
  CHECK_EQUAL(-EBADF, hal::fsync(-1));
  CHECK_EQUAL(-ENOENT, hal::unlink("/nonexistent/evl"));
  CHECK_EQUAL(-ENOENT, hal::rename("/nonexistent/a", "/nonexistent/b"));
  const std::vector<flight::Record> recs = records_since(before + 4, &file);
  CHECK_EQUAL(3u, recs.size());
  CHECK(recs[0].call == flight::Call::kFsync);
  CHECK_EQUAL(-EBADF, recs[0].result);
  CHECK(recs[1].call == flight::Call::kUnlink);
  CHECK_EQUAL(flight::hash_str("/nonexistent/evl"), recs[1].args[0]);
  CHECK(recs[2].call == flight::Call::kRename);
}

TEST(SysRecord, an_output_over_16_kib_is_kept_cut_and_odd_calls_are_kept_too) {
  const uint64_t from = flight::calls();
  int sp[2] = {-1, -1};
  CHECK_EQUAL(0, hal::socketpair(hal::kAfUnix, hal::kSockDgram | hal::kCloexec, 0, sp));
  std::vector<char> big(flight::kMaxOutBytes + 1000, 'd');
  CHECK_EQUAL(static_cast<long>(big.size()),
              hal::sendto(sp[0], big.data(), big.size(), 0, nullptr));
  hal::SockAddr from_addr;
  CHECK_EQUAL(static_cast<long>(big.size()),
              hal::recvfrom(sp[1], big.data(), big.size(), 0, &from_addr));
  int x = 0;
  // A request the recorder does not know (qemu-user refuses it before the
  // fd: ENOSYS).
  const int r = hal::ioctl(-1, 0x1234, &x);
  CHECK(r == -EBADF || r == -ENOSYS);
  CHECK(hal::getpid() > 0);
  CHECK_EQUAL(0, hal::close(sp[0]));
  CHECK_EQUAL(0, hal::close(sp[1]));
  std::vector<uint8_t> file;
  const std::vector<flight::Record> recs = records_since(from, &file);
  CHECK(recs[2].call == flight::Call::kRecvfrom);
  CHECK_EQUAL(flight::kTruncated, recs[2].flags);
  CHECK_EQUAL(flight::kMaxOutBytes, recs[2].out_len);
  CHECK(recs[3].call == flight::Call::kIoctl);
  CHECK_EQUAL(0u, recs[3].out_len);
  CHECK(recs[4].call == flight::Call::kGetpid);
  CHECK_EQUAL(0, recs[4].nargs);
}

// The watchdog's ioctls keep their argument's bytes (hashed before the
// call): on a pipe, which is no watchdog, they fail with ENOTTY.
TEST(SysRecord, watchdog_ioctls_are_recorded_with_their_arguments) {
  int p[2] = {-1, -1};
  CHECK_EQUAL(0, hal::pipe2(p, hal::kCloexec));
  const uint64_t from = flight::calls();
  hal::WatchdogInfo info{};
  int timeout_s = 0;
  const int a = hal::ioctl(p[1], hal::kWdiocGetsupport, &info);
  const int b = hal::ioctl(p[1], hal::kWdiocGettimeout, &timeout_s);
  CHECK(a == -ENOTTY || a == -ENOSYS);  // (qemu-user: ENOSYS for what it does not know)
  CHECK(b == -ENOTTY || b == -ENOSYS);
  CHECK_EQUAL(0, hal::close(p[0]));
  CHECK_EQUAL(0, hal::close(p[1]));
  std::vector<uint8_t> file;
  const std::vector<flight::Record> recs = records_since(from, &file);
  CHECK(recs[0].call == flight::Call::kIoctl);
  CHECK_EQUAL(static_cast<int64_t>(hal::kWdiocGetsupport), recs[0].args[1]);
  CHECK_EQUAL(flight::hash(&info, sizeof info), recs[0].args[2]);
  CHECK(recs[1].call == flight::Call::kIoctl);
  CHECK_EQUAL(flight::hash(&timeout_s, sizeof timeout_s), recs[1].args[2]);
}

namespace {

int g_seen_signo = 0;
void note_crash(int signo) { g_seen_signo = signo; }

// Runs crash() in a child that records with the crash dump on; returns its
// wait status. The child writes the ring to flight::path().
template <class Crash>
int crash_in_child(Crash crash) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (flight::dump_on_crash() != 0) ::_exit(97);
    (void)hal::getpid();
    crash();
    ::_exit(98);  // not reached
  }
  int status = 0;
  CHECK(::waitpid(pid, &status, 0) == pid);
  return status;
}

void check_crash_recording(const char* reason) {
  const std::vector<uint8_t> file = hal_test::recording_bytes();
  flight::Reader r;
  char err[128];
  CHECK_EQUAL_TEXT(0, r.open(file.data(), file.size(), err, sizeof err), err);
  STRCMP_EQUAL(reason, r.header().reason);
  // The child's last calls: the handler installed, then getpid.
  flight::Record rec;
  flight::Record last[2] = {};
  while (r.next(&rec)) {
    last[0] = last[1];
    last[1] = rec;
  }
  CHECK(last[0].call == flight::Call::kOnCrash);
  CHECK_EQUAL(1, last[0].args[0]);
  CHECK(last[1].call == flight::Call::kGetpid);
}

}  // namespace

// A real fault: the child writes to a page it may not touch, the kernel
// sends SIGSEGV, the handler writes the ring on its own stack, and the
// child dies of SIGSEGV as it would have without the recorder.
TEST(SysRecord, a_segfault_writes_the_ring_and_the_process_still_dies_of_it) {
  void* page = ::mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(page != MAP_FAILED);
  const int status = crash_in_child([page] { *static_cast<volatile char*>(page) = 1; });
  CHECK(WIFSIGNALED(status));
  CHECK_EQUAL(SIGSEGV, WTERMSIG(status));
  check_crash_recording("SIGSEGV");
  CHECK_EQUAL(0, ::munmap(page, 4096));
}

TEST(SysRecord, an_abort_writes_the_ring_and_the_process_still_dies_of_it) {
  const int status = crash_in_child([] { std::abort(); });
  CHECK(WIFSIGNALED(status));
  CHECK_EQUAL(SIGABRT, WTERMSIG(status));
  check_crash_recording("SIGABRT");
}

// The handler in this process: it runs on the alternate stack for a crash
// signal and its action is then the default again; nullptr restores all.
TEST(SysRecord, the_crash_handler_runs_once_and_can_be_removed) {
  const uint64_t from = flight::calls();
  g_seen_signo = 0;
  CHECK_EQUAL(0, hal::on_crash(note_crash));
  CHECK_EQUAL(0, hal::kill(hal::getpid(), hal::kSigFpe));
  CHECK_EQUAL(hal::kSigFpe, g_seen_signo);
  struct sigaction now {};
  CHECK_EQUAL(0, ::sigaction(SIGFPE, nullptr, &now));
  CHECK(now.sa_handler == SIG_DFL);  // reset when it ran
  CHECK_EQUAL(0, ::sigaction(SIGSEGV, nullptr, &now));
  CHECK(now.sa_handler != SIG_DFL);
  CHECK_EQUAL(0, hal::on_crash(nullptr));
  CHECK_EQUAL(0, ::sigaction(SIGSEGV, nullptr, &now));
  CHECK(now.sa_handler == SIG_DFL);
  std::vector<uint8_t> file;
  const std::vector<flight::Record> recs = records_since(from, &file);
  CHECK(recs.size() >= 4);
  CHECK(recs[0].call == flight::Call::kOnCrash);
  CHECK_EQUAL(1, recs[0].args[0]);
  CHECK(recs[3].call == flight::Call::kOnCrash);
  CHECK_EQUAL(0, recs[3].args[0]);
}

namespace {

struct Snap {
  bool accept = false;
  int saves = 0;
  size_t extra = 0;  // bytes written after the word
};

bool save_snap(void* ctx, flight::SnapWriter& w) {
  auto* s = static_cast<Snap*>(ctx);
  ++s->saves;
  w.put(uint32_t{0xabcd1234});
  static const uint8_t kFill[1024] = {};
  for (size_t left = s->extra; left > 0;) {
    const size_t n = left < sizeof kFill ? left : sizeof kFill;
    w.put(kFill, n);
    left -= n;
  }
  return s->accept;
}

// Records calls until the writer has entered n new blocks.
void fill_blocks(int n) {
  hal::Timespec ts{};
  for (int b = 0; b < n; ++b) {
    const uint8_t* end = flight::ring::g_block_end;
    for (int i = 0; i < 100000 && flight::ring::g_block_end == end; ++i) {
      CHECK_EQUAL(0, hal::clock_gettime(hal::kClockMonotonic, &ts));
    }
  }
}

int restore_snap(void*, flight::SnapReader&) { return 0; }

// Records calls until the writer enters a new block.
void fill_block() {
  hal::Timespec ts{};
  for (int i = 0; i < 100000 && !flight::ring::want_snapshot(); ++i) {
    CHECK_EQUAL(0, hal::clock_gettime(hal::kClockMonotonic, &ts));
  }
  CHECK(flight::ring::want_snapshot());
}

// A fresh recording in the same file (the other tests' is given back after).
char g_snap_prog[] = "snap";
char* g_snap_argv[] = {g_snap_prog, nullptr};  // start() keeps the pointer: static

struct FreshRecording {
  std::string path = flight::path();
  char* prog = g_snap_prog;
  char** argv = g_snap_argv;
  explicit FreshRecording(size_t ring_bytes = flight::kDefaultRingBytes) {
    flight::stop();
    CHECK_EQUAL(0, flight::start(prog, 1, argv, path.c_str(), ring_bytes));
  }
  ~FreshRecording() {
    flight::set_snapshot_hooks(flight::SnapshotHooks{});
    flight::stop();
    CHECK_EQUAL(0, flight::start(prog, 1, argv, path.c_str(), flight::kDefaultRingBytes));
  }
};

}  // namespace

TEST(SysRecord, a_new_block_snapshots_the_app_and_the_epoll_registrations_at_the_next_wait) {
  FreshRecording fresh;
  Snap snap;
  flight::set_snapshot_hooks(flight::SnapshotHooks{save_snap, restore_snap, &snap});
  const int ep = hal::epoll_create1(hal::kCloexec);
  int fds[4];
  for (int& fd : fds) fd = hal::eventfd(0, hal::kCloexec | hal::kNonblock);
  for (int i = 0; i < 4; ++i) {
    hal::EpollEvent ev{hal::kEpollIn, 100u + static_cast<uint64_t>(i)};
    CHECK_EQUAL(0, hal::epoll_ctl(ep, hal::kEpollCtlAdd, fds[i], &ev));
  }
  hal::EpollEvent mod{hal::kEpollOut, 777};
  CHECK_EQUAL(0, hal::epoll_ctl(ep, hal::kEpollCtlMod, fds[1], &mod));
  CHECK_EQUAL(0, hal::epoll_ctl(ep, hal::kEpollCtlDel, fds[2], nullptr));
  CHECK_EQUAL(0, hal::close(fds[3]));
  CHECK_EQUAL(-EEXIST, hal::epoll_ctl(ep, hal::kEpollCtlAdd, fds[0], &mod));  // failed: not noted
  hal::EpollEvent out[4];
  // fds[1], now watched for writing, is ready in every wait.
  CHECK_EQUAL(1, hal::epoll_wait(ep, out, 4, 0));  // the program's first wait: its start ends
  CHECK_EQUAL(0, snap.saves);
  fill_block();
  CHECK_EQUAL(1, hal::epoll_wait(ep, out, 4, 0));  // the app declines: tried again next wait
  CHECK_EQUAL(1, snap.saves);
  CHECK_EQUAL(0u, flight::snapshots());
  snap.accept = true;
  const uint64_t from = flight::calls();
  CHECK_EQUAL(1, hal::epoll_wait(ep, out, 4, 0));
  CHECK_EQUAL(1u, flight::snapshots());
  CHECK(!flight::ring::want_snapshot());
  CHECK_EQUAL(1, hal::epoll_wait(ep, out, 4, 0));  // one per block
  CHECK_EQUAL(2, snap.saves);

  std::vector<uint8_t> file;
  const std::vector<flight::Record> recs = records_since(from, &file);
  CHECK(recs[0].call == flight::Call::kSnapshot);
  CHECK(recs[1].call == flight::Call::kEpollWait);
  flight::SnapshotPart part{};
  CHECK(flight::snapshot_part(recs[0].args, recs[0].nargs, recs[0].out, recs[0].out_len, &part));
  CHECK_EQUAL(0u, part.part);
  CHECK_EQUAL(1u, part.parts);
  const size_t nregs = part.nregs;
  std::vector<flight::EpollReg> regs(nregs);
  std::memcpy(regs.data(), part.bytes, nregs * sizeof(flight::EpollReg));
  const uint8_t* app = part.bytes + nregs * sizeof(flight::EpollReg);
  const size_t app_len = part.app_bytes;
  CHECK_EQUAL(2u, nregs);  // fds[0] and fds[1], with its new cookie
  for (size_t i = 0; i < nregs; ++i) {
    CHECK_EQUAL(ep, regs[i].epfd);
    CHECK(regs[i].fd == fds[0] || regs[i].fd == fds[1]);
    CHECK_EQUAL(regs[i].fd == fds[0] ? 100u : 777u, regs[i].cookie);
  }
  CHECK_EQUAL(4u, app_len);
  uint32_t v = 0;
  std::memcpy(&v, app, 4);
  CHECK_EQUAL(0xabcd1234u, v);
  // A record whose parts do not add up is refused.
  const int64_t bad[][4] = {{3, 4, 0, 1},  {65, 0, 0, 1}, {2, -1, 0, 1}, {2, 4, 1, 1},
                            {2, 4, -1, 1}, {2, 4, 0, 0},  {2, 4, 0, 2},  {2, 1 << 30, 0, 1}};
  for (const auto& a : bad) {
    CHECK(!flight::snapshot_part(a, 4, recs[0].out, recs[0].out_len, &part));
  }
  CHECK(!flight::snapshot_part(recs[0].args, 3, recs[0].out, recs[0].out_len, &part));
  // Closing the epoll fd ends its registrations.
  CHECK_EQUAL(0, hal::close(ep));
  for (int i = 0; i < 3; ++i) CHECK_EQUAL(0, hal::close(fds[i]));
  fill_block();
  const int ep2 = hal::epoll_create1(hal::kCloexec);
  CHECK_EQUAL(0, hal::epoll_wait(ep2, out, 4, 0));
  CHECK_EQUAL(2u, flight::snapshots());
  const std::vector<flight::Record> last = records_since(flight::calls() - 2, &file);
  CHECK(last[0].call == flight::Call::kSnapshot);
  CHECK_EQUAL(0, last[0].args[0]);
  CHECK_EQUAL(0, hal::close(ep2));
}

TEST(SysRecord, more_registrations_than_a_snapshot_lists_stop_the_snapshots) {
  FreshRecording fresh;
  Snap snap{true};
  flight::set_snapshot_hooks(flight::SnapshotHooks{save_snap, restore_snap, &snap});
  const int ep = hal::epoll_create1(hal::kCloexec);
  int p[2];
  CHECK_EQUAL(0, hal::pipe2(p, hal::kCloexec));
  std::vector<int> dups;
  for (size_t i = 0; i <= flight::kMaxEpollRegs; ++i) {
    dups.push_back(hal::dup(p[0]));
    hal::EpollEvent ev{hal::kEpollIn, i};
    CHECK_EQUAL(0, hal::epoll_ctl(ep, hal::kEpollCtlAdd, dups.back(), &ev));
  }
  hal::EpollEvent out[4];
  CHECK_EQUAL(0, hal::epoll_wait(ep, out, 4, 0));
  fill_block();
  CHECK_EQUAL(0, hal::epoll_wait(ep, out, 4, 0));
  CHECK_EQUAL(0, snap.saves);
  CHECK_EQUAL(0u, flight::snapshots());
  CHECK(!flight::ring::want_snapshot());
  for (int fd : dups) CHECK_EQUAL(0, hal::close(fd));
  CHECK_EQUAL(0, hal::close(p[0]));
  CHECK_EQUAL(0, hal::close(p[1]));
  CHECK_EQUAL(0, hal::close(ep));
}

// A snapshot over 16 KiB goes in consecutive parts; a large one waits until
// three times its size was recorded after the last, a small one is taken at
// every block.
TEST(SysRecord, a_large_snapshot_goes_in_parts_and_waits_for_three_times_its_size) {
  FreshRecording fresh;
  Snap snap{true, 0, 40000};
  flight::set_snapshot_hooks(flight::SnapshotHooks{save_snap, restore_snap, &snap});
  const int ep = hal::epoll_create1(hal::kCloexec);
  hal::EpollEvent out[1];
  CHECK_EQUAL(0, hal::epoll_wait(ep, out, 1, 0));
  fill_block();
  const uint64_t from = flight::calls();
  CHECK_EQUAL(0, hal::epoll_wait(ep, out, 1, 0));
  CHECK_EQUAL(1u, flight::snapshots());
  // 40 KiB of snapshot: the next one after 120 KiB, at the fourth block.
  // The state is saved at each block's first wait, and recorded only then.
  fill_blocks(3);
  CHECK(flight::ring::want_snapshot());
  CHECK_EQUAL(0, hal::epoll_wait(ep, out, 1, 0));
  CHECK_EQUAL(2, snap.saves);
  CHECK_EQUAL(1u, flight::snapshots());
  CHECK(!flight::ring::want_snapshot());
  fill_blocks(1);
  CHECK_EQUAL(0, hal::epoll_wait(ep, out, 1, 0));
  CHECK_EQUAL(3, snap.saves);
  CHECK_EQUAL(2u, flight::snapshots());
  // A small state is recorded at every block.
  snap.extra = 100;
  for (uint64_t n = 3; n <= 5; ++n) {
    fill_blocks(1);
    CHECK_EQUAL(0, hal::epoll_wait(ep, out, 1, 0));
    CHECK_EQUAL(n, flight::snapshots());
  }
  std::vector<uint8_t> file;
  const std::vector<flight::Record> recs = records_since(from, &file);
  CHECK(recs.size() > 4);  // 3 parts, the wait, then the clock reads
  size_t total = 0;
  for (uint32_t i = 0; i < 3; ++i) {
    flight::SnapshotPart p{};
    CHECK(recs[i].call == flight::Call::kSnapshot);
    CHECK(flight::snapshot_part(recs[i].args, recs[i].nargs, recs[i].out, recs[i].out_len, &p));
    CHECK_EQUAL(i, p.part);
    CHECK_EQUAL(3u, p.parts);
    CHECK_EQUAL(40004u, p.app_bytes);
    total += p.len;
  }
  CHECK_EQUAL(40004u, total);
  CHECK(recs[3].call == flight::Call::kEpollWait);
  CHECK_EQUAL(0, hal::close(ep));
}

// A snapshot over half the ring's turning blocks could not be kept whole:
// it is not recorded.
TEST(SysRecord, a_snapshot_too_big_for_the_ring_is_not_recorded) {
  FreshRecording fresh;
  Snap snap{true, 0, 510000};  // 1 MiB ring: 31 turning blocks, half is 496 KiB
  flight::set_snapshot_hooks(flight::SnapshotHooks{save_snap, restore_snap, &snap});
  const int ep = hal::epoll_create1(hal::kCloexec);
  hal::EpollEvent out[1];
  CHECK_EQUAL(0, hal::epoll_wait(ep, out, 1, 0));
  fill_block();
  const uint64_t before = flight::calls();
  CHECK_EQUAL(0, hal::epoll_wait(ep, out, 1, 0));
  CHECK_EQUAL(1, snap.saves);
  CHECK_EQUAL(0u, flight::snapshots());
  CHECK_EQUAL(before + 1, flight::calls());  // the wait alone
  CHECK(!flight::ring::want_snapshot());
  fill_blocks(1);
  CHECK_EQUAL(0, hal::epoll_wait(ep, out, 1, 0));  // saved again, and again not recorded
  CHECK_EQUAL(2, snap.saves);
  CHECK_EQUAL(0u, flight::snapshots());
  CHECK_EQUAL(0, hal::close(ep));
}

namespace {

// Records reads of /dev/zero until the block being filled has `room` bytes
// left (8 <= room < 64, or at least 104). A read's record is 40 bytes and
// the bytes read, so one read moves the head by any multiple of 8 from 40.
void leave_room(int zero_fd, size_t room) {
  const int fd = zero_fd;
  static char buf[flight::kMaxOutBytes];
  constexpr size_t kRead = sizeof(flight::RecordHead) + 2 * sizeof(int64_t);
  for (int i = 0; i < 100; ++i) {
    const auto left = static_cast<size_t>(flight::ring::g_block_end - flight::ring::g_head);
    if (left == room) break;
    size_t k = sizeof buf;  // the next block, when this one has too little
    if (left >= room + kRead) k = std::min(left - room - kRead, sizeof buf);
    CHECK_EQUAL(static_cast<long>(k), hal::read(fd, buf, k));
  }
  CHECK_EQUAL(room, static_cast<size_t>(flight::ring::g_block_end - flight::ring::g_head));
}

// An epoll fd with `n` eventfds, each ready and watched with cookie 500 + i.
int ready_epoll(int n, std::vector<int>* fds) {
  const int ep = hal::epoll_create1(hal::kCloexec);
  CHECK(ep >= 0);
  for (int i = 0; i < n; ++i) {
    fds->push_back(hal::eventfd(1, hal::kCloexec | hal::kNonblock));
    hal::EpollEvent ev{hal::kEpollIn, 500u + static_cast<uint64_t>(i)};
    CHECK_EQUAL(0, hal::epoll_ctl(ep, hal::kEpollCtlAdd, fds->back(), &ev));
  }
  return ep;
}

void close_all(int ep, const std::vector<int>& fds) {
  for (const int fd : fds) CHECK_EQUAL(0, hal::close(fd));
  CHECK_EQUAL(0, hal::close(ep));
}

// The epoll_wait record: its arguments, result and the cookies of its events.
void check_wait_record(const flight::Record& r, int ep, int maxevents, int timeout, int n) {
  CHECK(r.call == flight::Call::kEpollWait);
  CHECK_EQUAL(3, r.nargs);
  CHECK_EQUAL(ep, r.args[0]);
  CHECK_EQUAL(maxevents, r.args[1]);
  CHECK_EQUAL(timeout, r.args[2]);
  CHECK_EQUAL(n, r.result);
  CHECK_EQUAL(sizeof(flight::WireEvent) * static_cast<size_t>(n > 0 ? n : 0), r.out_len);
  std::vector<uint64_t> cookies;
  for (int i = 0; i < n; ++i) {
    flight::WireEvent w{};
    std::memcpy(&w, r.out + i * sizeof w, sizeof w);
    CHECK_EQUAL(hal::kEpollIn, w.events);
    CHECK_EQUAL(0u, w.pad);
    cookies.push_back(w.data);
  }
  std::sort(cookies.begin(), cookies.end());
  for (int i = 0; i < n; ++i) CHECK_EQUAL(500u + static_cast<uint64_t>(i), cookies[i]);
}

}  // namespace

// The recording epoll_wait writes its arguments where its record goes
// before the wait (the record's size is known only after it): a record
// that then does not fit moves to the next block with them; a block without
// room for them is left before the wait.
TEST(SysRecord, an_epoll_wait_record_that_does_not_fit_goes_whole_to_the_next_block) {
  const int zero = hal::open("/dev/zero", hal::kRdOnly | hal::kCloexec, 0);
  CHECK(zero >= 0);
  std::vector<int> fds;
  const int ep = ready_epoll(3, &fds);
  hal::EpollEvent out[8];
  CHECK_EQUAL(3, hal::epoll_wait(ep, out, 8, 0));  // a program's first wait may change blocks
  for (const size_t room : {size_t{64}, size_t{40}, size_t{8}}) {
    leave_room(zero, room);
    const uint8_t* block = flight::ring::g_block_end;
    const uint64_t from = flight::calls();
    CHECK_EQUAL(3, hal::epoll_wait(ep, out, 8, 0));
    CHECK(flight::ring::g_block_end != block);
    std::vector<uint8_t> file;
    const std::vector<flight::Record> recs = records_since(from, &file);
    check_wait_record(recs[0], ep, 8, 0, 3);
  }
  // Exactly the room a record with one event needs, then none to spare for
  // one without: each stays in its block.
  std::vector<int> one;
  const int ep1 = ready_epoll(1, &one);
  leave_room(zero, 64);
  const uint8_t* block = flight::ring::g_block_end;
  uint64_t from = flight::calls();
  CHECK_EQUAL(1, hal::epoll_wait(ep1, out, 8, 0));
  CHECK(flight::ring::g_block_end == block);
  std::vector<uint8_t> file;
  check_wait_record(records_since(from, &file)[0], ep1, 8, 0, 1);
  close_all(ep1, one);
  std::vector<int> none;
  const int ep0 = ready_epoll(0, &none);
  leave_room(zero, 48);
  block = flight::ring::g_block_end;
  from = flight::calls();
  CHECK_EQUAL(0, hal::epoll_wait(ep0, out, 8, 0));
  CHECK(flight::ring::g_block_end == block);
  check_wait_record(records_since(from, &file)[0], ep0, 8, 0, 0);
  close_all(ep0, none);
  // In the storage's last block, the arguments would go past its end
  // (AddressSanitizer sees it in the asan_ubsan stage).
  {
    FreshRecording fresh(flight::kMaxRingBytes);
    const uint8_t* last = flight::ring::g_head + flight::kMaxRingBytes;
    CHECK_EQUAL(3, hal::epoll_wait(ep, out, 8, 0));  // the start ends
    static char buf[flight::kMaxOutBytes];
    for (int i = 0; i < 1000 && flight::ring::g_block_end != last; ++i) {
      CHECK_EQUAL(static_cast<long>(sizeof buf), hal::read(zero, buf, sizeof buf));
    }
    leave_room(zero, 8);
    CHECK(flight::ring::g_block_end == last);
    CHECK(!flight::ring::in_start());
    from = flight::calls();
    CHECK_EQUAL(3, hal::epoll_wait(ep, out, 8, 0));
    check_wait_record(records_since(from, &file)[0], ep, 8, 0, 3);
  }
  close_all(ep, fds);
  CHECK_EQUAL(0, hal::close(zero));
}

// More events asked for than a record keeps: the kernel is asked for 1024,
// the record has the caller's number; a failed wait is recorded too.
TEST(SysRecord, an_epoll_wait_for_more_than_a_record_keeps_and_a_failed_one_are_recorded) {
  std::vector<int> fds;
  const int ep = ready_epoll(3, &fds);
  std::vector<hal::EpollEvent> out(2000);
  const uint64_t from = flight::calls();
  CHECK_EQUAL(3, hal::epoll_wait(ep, out.data(), 2000, 0));
  CHECK_EQUAL(-EINVAL, hal::epoll_wait(fds[0], out.data(), 4, 0));  // not an epoll fd
  CHECK_EQUAL(-EINVAL, hal::epoll_wait(ep, out.data(), 0, 0));
  std::vector<uint8_t> file;
  const std::vector<flight::Record> recs = records_since(from, &file);
  check_wait_record(recs[0], ep, 2000, 0, 3);
  check_wait_record(recs[1], fds[0], 4, 0, -EINVAL);
  check_wait_record(recs[2], ep, 0, 0, -EINVAL);
  close_all(ep, fds);
}
