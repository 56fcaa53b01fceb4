// The flight recorder: the seam's calls, their results and the bytes the
// kernel gave back, kept in a fixed ring in static memory, and written to a
// file on demand. A recording is replayed on the host by //test/fake:replay,
// which runs the same app code on a kernel that answers every call from the
// recording (README: "A bug seen on a board, replayed on your desk").
//
// Recording: //hal:sys_record is //hal:sys_linux with one record per call.
// Nothing is recorded until start(); after it, each call costs a record in
// the ring (see the benchmark's "flight recorder" table). Binaries linking
// //hal:sys_linux have no recorder at all. Single-threaded, as the loop.
//
// The ring keeps the newest calls in whole blocks of kBlockBytes: when the
// writer needs a block, the oldest one is dropped whole. The program's start
// (its calls up to its first epoll_wait: the config read, the sockets, the
// loop's set-up) is pinned: those blocks are never dropped, as long as they
// leave at least two blocks to the ring.
// A recording that lost calls after its start re-runs the app past them
// from a snapshot of its state (see "Snapshots" below); without one the
// replay runs the pinned start and prints the kept calls from the oldest
// whole loop iteration instead (see test/fake/replay.cc).
//
// File format (version 3, little-endian, every part 8-byte aligned):
//   FileHeader, then argv (argc NUL-terminated strings), then the recorded
//   environment ("NAME=value" strings), each block padded to 8 bytes, then
//   `records` records in call order: the pinned start's (pinned_records,
//   numbered from 0), then the ring's, from first_seq on. A record:
//   RecordHead, nargs int64 arguments, out_len bytes the call returned,
//   padded to 8. seq counts every call since start() from 0, so calls were
//   lost when first_seq > pinned_records. Version 1 (no pinned start, a
//   216-byte header without pinned_records) and version 2 (no snapshot
//   records) are still read.
//
// Snapshots: how a replay goes on past lost calls. An app that can describe
// its state registers set_snapshot_hooks(). When the writer enters a new
// block, the next epoll_wait (before the wait: the app is between two
// iterations) has the app's save hook write its state, and records it as a
// snapshot when it is small (at most a quarter of a block: then every block
// starts with one), or when three times its size was recorded since the
// last one (snapshots take at most a quarter of the ring; none over half
// the ring's turning blocks). A snapshot holds the epoll registrations the
// recorder has seen (EpollReg, epoll_ctl's cookies by fd) and the bytes the
// save hook wrote (at most kMaxSnapshotBytes), in consecutive kSnapshot
// records of at most kMaxOutBytes each (arguments: registrations, app
// bytes, part, parts). A save hook may decline (a state it cannot describe,
// too big): the next epoll_wait tries again. The replay of a wrapped ring
// runs the pinned start, then, at the program's first epoll_wait, has the
// app's restore hook rebuild the state of the oldest kept snapshot (its
// calls answered without the recording), and compares again from the
// epoll_wait that follows the snapshot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "hal/snapshot.h"

namespace flight {

enum class Call : uint16_t {
  kRead = 1,
  kWrite,
  kClose,
  kPipe2,
  kOpen,
  kDup,
  kFstat,
  kGetFlags,
  kSetFlags,
  kIoctl,
  kOpenpty,
  kSocket,
  kSocketpair,
  kBind,
  kConnect,
  kListen,
  kAccept4,
  kGetsockopt,
  kSetsockopt,
  kGetsockname,
  kGetpeername,
  kSendto,
  kRecvfrom,
  kShutdown,
  kSpawn,
  kWaitpid,
  kPidfdOpen,
  kEpollCreate1,
  kEpollCtl,
  kEpollWait,
  kEventfd,
  kSignalfd,
  kSigprocmask,
  kKill,
  kGetpid,
  kClockGettime,
  kTimerfdCreate,
  kTimerfdSettime,
  kTimerfdGettime,
  kFsync,
  kRename,
  kUnlink,
  kOnCrash,
  kSnapshot,    // not a system call: the app's state (see "Snapshots" below)
  kGetrandom,   // version 4
  kRunInChild,  // version 5
  kEnd,         // one past the last
};
const char* call_name(Call c);

// 3: snapshot records, 4: getrandom records, 5: run_in_child records (2
// to 4 have the same layout and are read as they are).
constexpr uint32_t kVersion = 5;
constexpr char kMagic[8] = {'E', 'V', 'L', 'F', 'L', 'I', 'T', 'E'};
constexpr int kMaxArgs = 6;
// The ring is whole blocks (rounded down); the oldest block is dropped whole
// when the writer needs it, so the ring keeps at least its size less one
// block. A block holds the largest record.
constexpr size_t kBlockBytes = size_t{32} << 10;
constexpr size_t kMinRingBytes = 2 * kBlockBytes;
constexpr size_t kDefaultRingBytes = size_t{1} << 20;
// The static storage the ring lives in (bss, touched only as used), chosen
// at build: --define=evl_flight_kib=N (.bazelrc sets 4096); a ring's size is
// chosen at start, up to it. It is in every binary linking //hal:flight,
// recording or not, so it stays small by default.
#ifndef EVL_FLIGHT_STORAGE_KIB
#define EVL_FLIGHT_STORAGE_KIB 4096
#endif
constexpr size_t kMaxRingBytes = size_t{EVL_FLIGHT_STORAGE_KIB} << 10;
static_assert(kMaxRingBytes >= kDefaultRingBytes && kMaxRingBytes % kBlockBytes == 0 &&
                  kMaxRingBytes <= (size_t{1} << 30),
              "--define=evl_flight_kib: a multiple of 32 from 1024 to 1048576");
// Bytes of one call's output kept at most; a record cut here is flagged and
// the replay stops at it.
constexpr uint32_t kMaxOutBytes = 16384;
// The environment variables the daemons read, kept so the replay sees them.
constexpr const char* kRecordedEnv[] = {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"};

// 16 hex digits of a hash of the sources of the loop, the HAL and the
// daemons this binary was built from (generated: //hal:source_id_cc).
// A recording's header has it in `build` as " src=..."; the replay says
// when the recording's differs from its own.
extern const char kSourceId[];
// The source id in a header's build string ("" if it has none).
const char* source_id_of(const char* build, char* out, size_t cap);

struct FileHeader {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;  // sizeof(FileHeader)
  char program[32];       // the name given to start()
  char evl_version[16];
  char build[64];   // compiler, build mode and " src=" the source id
  char arch[16];    // x86_64, armv7, aarch64
  char reason[32];  // why it was written: SIGUSR2, alarm, exit, error
  uint64_t first_seq;
  uint64_t records;
  uint64_t record_bytes;
  uint32_t argc;
  uint32_t argv_bytes;  // padded to 8
  uint32_t env_bytes;   // padded to 8
  uint32_t ring_bytes;
  uint64_t pinned_records;  // version 2: the program's start, kept whole (see above)
};
static_assert(sizeof(FileHeader) == 224, "the file header has one layout on every target");
constexpr uint32_t kVersion1HeaderBytes = 216;  // the same without pinned_records

struct RecordHead {
  uint32_t size;  // the whole record, padded to 8; 0 marks the ring's wrap
  uint32_t seq;   // low 32 bits of the call's number
  uint16_t call;
  uint8_t nargs;
  uint8_t flags;  // kTruncated
  uint32_t out_len;
  int64_t result;
};
static_assert(sizeof(RecordHead) == 24, "one record layout on every target");
constexpr uint8_t kTruncated = 1;

struct Args {
  int64_t v[kMaxArgs];
  int n;
};

// FNV-1a of bytes: how arguments the kernel only reads (written bytes,
// paths, addresses) are compared without keeping them. (Out of line: an
// inline copy from a test's object could stand in for the seam's.)
int64_t hash(const void* p, size_t len);
int64_t hash_str(const char* s);

// Starts recording into the first ring_bytes of the static ring (rounded
// down to 8; kMinRingBytes..kMaxRingBytes). path is where dump() writes;
// program, argv and the recorded environment go into the header. Returns 0,
// -EINVAL for a bad size or an over-long path, -EALREADY if recording.
[[nodiscard]] int start(const char* program, int argc, char* const* argv, const char* path,
                        size_t ring_bytes);
// Ends recording (tests); the ring is forgotten.
void stop();
// In a child process (hal::run_in_child calls it): nothing is recorded
// from here on and a crash writes nothing, but the ring stays as it was at
// the fork, for dump() (a process made to write it: apps/common/daemon.h).
void in_child();
bool recording();
const char* path();

// The recording seam calls this after every call (only while recording()).
void record(Call c, int64_t result, const Args& args, const void* out, size_t out_len);
// The same for calls with two outputs (pipe2's fds and nothing, recvfrom's
// bytes and address): the record holds both, one after the other.
void record2(Call c, int64_t result, const Args& args, const void* out1, size_t len1,
             const void* out2, size_t len2);
inline bool g_on = false;  // recording() for the seam's fast path
// The ring's write position (flight.cc owns the ring; here so that a record
// costs no call).
namespace ring {
inline uint8_t* g_head = nullptr;       // where the next record goes
inline uint8_t* g_block_end = nullptr;  // the end of the block being filled
inline uint64_t g_calls = 0;            // records ever written
// What the recording seam's next epoll_wait does first (one test of the
// byte on its path): kInStart, the program's first wait, pins the records
// so far (its start); kWantSnapshot, a new block began, takes a snapshot.
constexpr uint8_t kInStart = 1;
constexpr uint8_t kWantSnapshot = 2;
inline uint8_t g_before_wait = 0;
// The recording seam's epoll_wait takes its fast path while g_head is at
// most this: its record's head and arguments fit in the block and
// g_before_wait is 0. 0 sends the next wait to its slow path, which
// sets the limit again (flight.cc clears it whenever a block is entered or
// recording starts or stops; g_before_wait only becomes non-zero then).
inline uintptr_t g_wait_limit = 0;
inline bool in_start() { return (g_before_wait & kInStart) != 0; }
inline bool want_snapshot() { return (g_before_wait & kWantSnapshot) != 0; }
uint8_t* next_block();  // moves to the next block, drops the oldest
}  // namespace ring

// A record whose output the caller writes in place: its head and arguments
// are written, and the returned pointer is where its out_len bytes go
// (out_len <= kMaxOutBytes). record() and record2() use it; the seam uses
// it directly for outputs converted on the way in (epoll events).
inline uint8_t* begin_record(Call c, int64_t result, const Args& args, size_t out_len,
                             uint8_t flags) {
  const auto nargs = static_cast<size_t>(args.n);
  const size_t size = (sizeof(RecordHead) + sizeof(int64_t) * nargs + out_len + 7) & ~size_t{7};
  uint8_t* p = ring::g_head;
  if (size > static_cast<size_t>(ring::g_block_end - p)) p = ring::next_block();
  ring::g_head = p + size;
  const RecordHead h{static_cast<uint32_t>(size),
                     static_cast<uint32_t>(ring::g_calls++),
                     static_cast<uint16_t>(c),
                     static_cast<uint8_t>(nargs),
                     flags,
                     static_cast<uint32_t>(out_len),
                     result};
  std::memcpy(p, &h, sizeof h);
  p += sizeof h;
  for (size_t i = 0; i < nargs; ++i, p += sizeof(int64_t)) std::memcpy(p, &args.v[i], 8);
  return p;
}

// Writes the ring to path() atomically: path.tmp (path.tmc in a child, so
// that a child's writing and its parent's never share one), fsync,
// rename. The calls the dump makes are not recorded. 0 or -errno (the
// temporary file is removed on failure). A no-op returning 0 when
// replaying.
[[nodiscard]] int dump(const char* reason);
// Also writes the ring when the process crashes (SIGSEGV, SIGBUS, SIGILL,
// SIGFPE, SIGABRT; hal::on_crash): the reason is the signal's name, and the
// process then dies of that signal as it would have. 0, -EINVAL when not
// recording, or on_crash's error.
[[nodiscard]] int dump_on_crash();
// Whether a recording was written by dump_on_crash() (its header's reason).
bool crash_reason(const char* reason);
// The replay kernel sets this: start() only notes the path, dump() writes
// nothing, so the app takes the same paths as when it recorded.
void set_replaying(bool on = true);

// Counters of the current recording.
uint64_t calls();       // recorded since start()
uint64_t kept_first();  // seq of the oldest record kept after the pinned start
uint64_t pinned();      // records of the pinned start (0 before it ends, or if it did not fit)
size_t kept_bytes();

// Snapshots (see the file format above).
struct EpollReg {
  int32_t epfd;
  int32_t fd;
  uint64_t cookie;
};
static_assert(sizeof(EpollReg) == 16, "one layout on every target");
constexpr size_t kMaxEpollRegs = 64;  // more registrations: no snapshot is taken
constexpr size_t kMaxSnapshotBytes = size_t{512} << 10;

struct SnapshotHooks {
  // Recording: writes the app's state; false when it cannot now.
  bool (*save)(void* ctx, SnapWriter& w) = nullptr;
  // Replay: rebuilds the state save wrote, in place of the state the
  // program has (its start's). 0, or -EINVAL for bytes it cannot use.
  int (*restore)(void* ctx, SnapReader& r) = nullptr;
  void* ctx = nullptr;
};
// Registers the app's hooks ({} removes them). Recording and replaying.
void set_snapshot_hooks(const SnapshotHooks& h);
const SnapshotHooks& snapshot_hooks();
// The recording seam's notes, for the registrations a snapshot lists.
void note_epoll_ctl(int epfd, int op, int fd, uint64_t cookie, int result);
void note_close(int fd, int result);
// Called by the recording seam's epoll_wait, before the wait, when
// ring::g_before_wait is not 0: ends the start, takes a snapshot.
void before_wait();
// One kSnapshot record's part of a snapshot; false if it is malformed.
struct SnapshotPart {
  uint32_t nregs;      // registrations, at the start of the whole snapshot
  uint64_t app_bytes;  // the app's bytes after them
  uint32_t part;
  uint32_t parts;
  const uint8_t* bytes;  // this part's share of the whole
  uint32_t len;
};
bool snapshot_part(const int64_t* args, int nargs, const uint8_t* out, uint32_t out_len,
                   SnapshotPart* p);
uint64_t snapshots();  // snapshot records taken since start()

// Reading a recording (the replay, tests).
struct Record {
  Call call;
  uint8_t flags;
  uint32_t seq;
  int64_t result;
  int nargs;
  const int64_t* args;
  const uint8_t* out;
  uint32_t out_len;
};

class Reader {
 public:
  // Checks the header and every record's framing over the whole file. 0,
  // or -EINVAL with the reason in err. data must outlive the reader.
  [[nodiscard]] int open(const uint8_t* data, size_t len, char* err, size_t err_len);
  const FileHeader& header() const { return hdr_; }
  // argv[i] of the recorded process (i < argc), and the recorded
  // environment's i-th "NAME=value" string (nullptr past the end).
  const char* arg(uint32_t i) const;
  const char* env(uint32_t i) const;
  // The records in order: false after the last.
  bool next(Record* r);
  void rewind() { pos_ = 0; }

 private:
  FileHeader hdr_{};
  const uint8_t* argv_ = nullptr;
  const uint8_t* env_ = nullptr;
  const uint8_t* records_ = nullptr;
  size_t pos_ = 0;
};

}  // namespace flight
