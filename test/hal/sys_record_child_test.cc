// The recording seam (//hal:sys_record) and child processes
// (hal::run_in_child): the fork is recorded, the child's calls are not,
// and a child may write the recording from its copy of the ring.
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "CppUTest/TestHarness.h"
#include "hal/flight.h"
#include "hal/sys.h"
#include "test/hal/records_since.h"

using hal_test::records_since;

TEST_GROUP(SysRecordChild){};

namespace {
int child_calls(void* ctx) {
  // Made in the child: not in the parent's recording (nor in the child's
  // copy of it, which dies with the child).
  const uint64_t before = flight::calls();
  const long n = hal::write(*static_cast<int*>(ctx), "x", 1);
  return n == 1 && flight::calls() == before ? 0 : -EPROTO;
}

// A child's dump: the ring as it was at the fork, through path.tmc.
int child_dumps(void*) { return flight::dump("child"); }

// A child's crash writes no recording, even with the crash handler on:
// it dies of the signal, and the file is left as it was.
int child_crashes(void*) {
  if (flight::dump_on_crash() != 0) return -EPROTO;
  std::abort();
}
}  // namespace

// What apps/common/daemon.cc's flight_dump_async() does: a child writes
// the recording from its copy of the ring, so that the parent's loop does
// not wait for the storage. The file holds the parent's calls up to the
// fork (the run_in_child that made the child is recorded after it).
TEST(SysRecordChild,
     a_child_writes_the_ring_as_it_was_at_the_fork_and_a_childs_crash_writes_nothing) {
  int p[2] = {-1, -1};
  CHECK_EQUAL(0, hal::pipe2(p, hal::kCloexec));  // the last call before the fork
  const uint64_t at_fork = flight::calls();
  int pid = 0;
  CHECK_EQUAL(0, hal::run_in_child(child_dumps, nullptr, &pid));
  int status = -1;
  CHECK_EQUAL(pid, hal::waitpid(pid, &status, 0));
  CHECK(hal::exited_normally(status));
  CHECK_EQUAL(0, hal::exit_status(status));
  const std::string tmc = std::string(flight::path()) + ".tmc";
  CHECK_EQUAL(-ENOENT, hal::open(tmc.c_str(), hal::kRdOnly | hal::kCloexec, 0));  // renamed
  const std::vector<uint8_t> file = hal_test::recording_bytes();
  flight::Reader r;
  char err[128];
  CHECK_EQUAL_TEXT(0, r.open(file.data(), file.size(), err, sizeof err), err);
  const flight::FileHeader& h = r.header();
  STRCMP_EQUAL("child", h.reason);
  CHECK_EQUAL(at_fork, h.first_seq + (h.records - h.pinned_records));  // up to the fork
  flight::Record rec, last{};
  while (r.next(&rec)) last = rec;
  CHECK(last.call == flight::Call::kPipe2);
  CHECK_EQUAL(0, hal::run_in_child(child_crashes, nullptr, &pid));
  CHECK_EQUAL(pid, hal::waitpid(pid, &status, 0));
  CHECK_FALSE(hal::exited_normally(status));
  CHECK_EQUAL(hal::kSigAbrt, hal::term_signal(status));
  CHECK(hal_test::recording_bytes() == file);  // still the child's dump
  CHECK_EQUAL(0, hal::close(p[0]));
  CHECK_EQUAL(0, hal::close(p[1]));
}

TEST(SysRecordChild, run_in_child_is_kept_with_the_pid_and_the_childs_calls_are_not) {
  int fds[2] = {-1, -1};
  CHECK_EQUAL(0, hal::pipe2(fds, hal::kCloexec));
  const uint64_t from = flight::calls();
  int pid = 0;
  CHECK_EQUAL(0, hal::run_in_child(child_calls, &fds[1], &pid));
  int status = -1;
  CHECK_EQUAL(pid, hal::waitpid(pid, &status, 0));
  CHECK(hal::exited_normally(status));
  CHECK_EQUAL(0, hal::exit_status(status));
  std::vector<uint8_t> file;
  const std::vector<flight::Record> recs = records_since(from, &file);
  CHECK_EQUAL(2u, recs.size());
  CHECK(recs[0].call == flight::Call::kRunInChild);
  CHECK_EQUAL(0, recs[0].result);
  CHECK_EQUAL(sizeof pid, recs[0].out_len);
  int kept = 0;
  std::memcpy(&kept, recs[0].out, sizeof kept);
  CHECK_EQUAL(pid, kept);
  CHECK(recs[1].call == flight::Call::kWaitpid);
  STRCMP_EQUAL("run_in_child", flight::call_name(flight::Call::kRunInChild));
  CHECK_EQUAL(0, hal::close(fds[0]));
  CHECK_EQUAL(0, hal::close(fds[1]));
}

TEST_GROUP(SysRecordFile){};

// A recording holds the bytes of the files the daemon read (its key file,
// its password files): its owner's only, 0600, whatever the umask, and
// also where an earlier dump left its temporary file with another mode (a
// truncated file keeps its mode: it is removed and made anew).
TEST(SysRecordFile, a_recording_is_readable_by_its_owner_only) {
  const std::string tmp = std::string(flight::path()) + ".tmp";
  const int fd = hal::open(tmp.c_str(), hal::kWrOnly | hal::kCreat | hal::kCloexec, 0666);
  CHECK(fd >= 0);
  CHECK_EQUAL(0, hal::close(fd));
  CHECK_EQUAL(0, chmod(tmp.c_str(), 0666));
  const mode_t was = umask(0);
  const int r = flight::dump("test");
  (void)umask(was);
  CHECK_EQUAL(0, r);
  struct stat st {};
  CHECK_EQUAL(0, stat(flight::path(), &st));
  CHECK_EQUAL(0600u, st.st_mode & 0777u);
  CHECK_EQUAL(-1, stat(tmp.c_str(), &st));  // renamed
}
