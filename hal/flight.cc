#include "hal/flight.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "hal/sys.h"
#include "loop/version.h"

namespace flight {
namespace {

constexpr const char* kCallNames[] = {
    "?",           "read",          "write",          "close",           "pipe2",
    "open",        "dup",           "fstat",          "fcntl(F_GETFL)",  "fcntl(F_SETFL)",
    "ioctl",       "openpty",       "socket",         "socketpair",      "bind",
    "connect",     "listen",        "accept4",        "getsockopt",      "setsockopt",
    "getsockname", "getpeername",   "sendto",         "recvfrom",        "shutdown",
    "spawn",       "waitpid",       "pidfd_open",     "epoll_create1",   "epoll_ctl",
    "epoll_wait",  "eventfd",       "signalfd",       "sigprocmask",     "kill",
    "getpid",      "clock_gettime", "timerfd_create", "timerfd_settime", "timerfd_gettime",
    "fsync",       "rename",        "unlink",         "on_crash",        "snapshot",
    "getrandom",   "run_in_child",
};
static_assert(sizeof(kCallNames) / sizeof(kCallNames[0]) == static_cast<size_t>(Call::kEnd),
              "one name per call");

#if defined(__x86_64__)
constexpr const char* kArch = "x86_64";
#elif defined(__aarch64__)
constexpr const char* kArch = "aarch64";
#elif defined(__arm__)
constexpr const char* kArch = "armv7";
#else
constexpr const char* kArch = "unknown";
#endif

#ifdef __clang__
constexpr const char* kCompiler = "clang " __clang_version__;
#else
constexpr const char* kCompiler = "gcc " __VERSION__;
#endif

#ifdef NDEBUG
constexpr const char* kMode = " opt";
#else
constexpr const char* kMode = " dbg";
#endif
constexpr char kSourceTag[] = " src=";  // before the source id in a header's build

constexpr size_t pad8(size_t n) { return (n + 7) & ~size_t{7}; }

// The ring: whole blocks of kBlockBytes, filled one after the other; a
// record never straddles two. When the writer moves into the oldest block,
// that block is dropped whole, so a record costs no eviction work. A
// filled block ends where a zero size is written, or at its end. The first
// `pinned` blocks hold the program's start and are never reused: the ring
// turns over the others.
struct Ring {
  uint8_t* buf = nullptr;
  size_t blocks = 0;
  size_t head_block = 0;  // the block being filled (ring::g_head is in it)
  size_t tail_block = 0;  // the oldest block kept
  size_t pinned = 0;
  size_t turning() const { return blocks - pinned; }
  size_t after(size_t b) const { return pinned + (b - pinned + 1) % turning(); }
};

alignas(8) uint8_t g_storage[kMaxRingBytes];
Ring g_ring;
bool g_started = false;
bool g_replaying = false;
bool g_child = false;  // in_child(): a child process's copy of the ring
char g_path[240];
char g_program[32];
int g_argc = 0;
char* const* g_argv = nullptr;
SnapshotHooks g_hooks;
EpollReg g_regs[kMaxEpollRegs];
size_t g_nregs = 0;
bool g_regs_overflow = false;  // a registration was not kept: no snapshot can be taken
uint64_t g_snapshots = 0;
// Blocks begun since the last snapshot recorded ("many" before the first).
constexpr size_t kManyBlocks = size_t{1} << 30;
size_t g_blocks_since_snapshot = kManyBlocks;
alignas(8) uint8_t g_snap[kMaxSnapshotBytes];

void copy_str(char* dst, size_t cap, const char* src) {
  size_t n = std::strlen(src);
  if (n >= cap) n = cap - 1;
  std::memcpy(dst, src, n);
  dst[n] = '\0';
}

void append_str(char* dst, size_t cap, const char* src) {
  const size_t n = std::strlen(dst);
  copy_str(dst + n, cap - n, src);
}

size_t strings_bytes(int n, const char* (*get)(int)) {
  size_t total = 0;
  for (int i = 0; i < n; ++i) {
    if (const char* s = get(i)) total += std::strlen(s) + 1;
  }
  return pad8(total);
}

const char* argv_at(int i) { return g_argv[i]; }

// "NAME=value" of the i-th recorded variable that is set, from a static
// buffer; nullptr if it is unset.
const char* env_at(int i) {
  static char buf[256];
  const char* name = kRecordedEnv[i];
  const char* v = std::getenv(name);
  if (v == nullptr) return nullptr;
  buf[0] = '\0';
  copy_str(buf, sizeof buf, name);
  const size_t n = std::strlen(buf);
  buf[n] = '=';
  copy_str(buf + n + 1, sizeof buf - n - 1, v);
  return buf;
}
constexpr int kEnvCount = static_cast<int>(sizeof kRecordedEnv / sizeof kRecordedEnv[0]);

int write_strings(int fd, int n, const char* (*get)(int)) {
  size_t written = 0;
  for (int i = 0; i < n; ++i) {
    const char* s = get(i);
    if (s == nullptr) continue;
    const size_t len = std::strlen(s) + 1;
    if (const int r = hal::write_all(fd, s, len); r < 0) return r;
    written += len;
  }
  static const uint8_t zeros[8] = {};
  return hal::write_all(fd, zeros, pad8(written) - written);
}

size_t kept_blocks() {
  const Ring& g = g_ring;
  if (g.buf == nullptr) return 0;
  return g.pinned + (g.head_block + g.turning() - g.tail_block) % g.turning() + 1;
}

// The records of the i-th kept block (0: the oldest): the pinned ones,
// then the ring's from its oldest.
struct Span {
  const uint8_t* start;
  size_t bytes;
  uint64_t records;
};
Span span(size_t i) {
  const Ring& g = g_ring;
  const size_t b =
      i < g.pinned ? i : g.pinned + (g.tail_block - g.pinned + i - g.pinned) % g.turning();
  const uint8_t* start = g.buf + b * kBlockBytes;
  const size_t limit =
      b == g.head_block ? static_cast<size_t>(ring::g_head - start) : size_t{kBlockBytes};
  Span sp{start, 0, 0};
  while (limit - sp.bytes >= sizeof(RecordHead)) {
    uint32_t size = 0;
    std::memcpy(&size, start + sp.bytes, sizeof size);
    if (size == 0) break;
    sp.bytes += size;
    ++sp.records;
  }
  return sp;
}

struct Kept {
  uint64_t records;
  size_t bytes;
  uint64_t pinned_records;
};
Kept kept() {
  Kept k{0, 0, 0};
  for (size_t i = 0; i < kept_blocks(); ++i) {
    const Span sp = span(i);
    k.records += sp.records;
    k.bytes += sp.bytes;
    if (i < g_ring.pinned) k.pinned_records += sp.records;
  }
  return k;
}

// The number of the oldest call kept after the pinned start.
uint64_t first_after_start(const Kept& k) { return ring::g_calls - (k.records - k.pinned_records); }

FileHeader make_header(const char* reason) {
  FileHeader h{};
  std::memcpy(h.magic, kMagic, sizeof h.magic);
  h.version = kVersion;
  h.header_bytes = sizeof h;
  copy_str(h.program, sizeof h.program, g_program);
  copy_str(h.evl_version, sizeof h.evl_version, EVL_VERSION_STRING);
  copy_str(h.build, sizeof h.build, kCompiler);
  for (const char* part : {kMode, kSourceTag, kSourceId}) append_str(h.build, sizeof h.build, part);
  copy_str(h.arch, sizeof h.arch, kArch);
  copy_str(h.reason, sizeof h.reason, reason);
  const Kept k = kept();
  h.first_seq = first_after_start(k);
  h.pinned_records = k.pinned_records;
  h.records = k.records;
  h.record_bytes = k.bytes;
  h.argc = static_cast<uint32_t>(g_argc);
  h.argv_bytes = static_cast<uint32_t>(strings_bytes(g_argc, argv_at));
  h.env_bytes = static_cast<uint32_t>(strings_bytes(kEnvCount, env_at));
  h.ring_bytes = static_cast<uint32_t>(g_ring.blocks * kBlockBytes);
  return h;
}

int write_file(int fd, const char* reason) {
  const FileHeader h = make_header(reason);
  int r = hal::write_all(fd, &h, sizeof h);
  if (r == 0) r = write_strings(fd, g_argc, argv_at);
  if (r == 0) r = write_strings(fd, kEnvCount, env_at);
  for (size_t i = 0; r == 0 && i < kept_blocks(); ++i) {
    const Span sp = span(i);
    r = hal::write_all(fd, sp.start, sp.bytes);
  }
  if (r == 0) r = hal::fsync(fd);
  return r;
}

}  // namespace

const char* call_name(Call c) {
  const auto i = static_cast<size_t>(c);
  return i < static_cast<size_t>(Call::kEnd) ? kCallNames[i] : "?";
}

int64_t hash(const void* p, size_t len) {
  uint64_t h = 0xcbf29ce484222325ULL;
  const auto* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < len; ++i) h = (h ^ b[i]) * 0x100000001b3ULL;
  return static_cast<int64_t>(h);
}

const char* source_id_of(const char* build, char* out, size_t cap) {
  if (cap == 0) return out;
  out[0] = '\0';
  char b[sizeof(FileHeader::build) + 1] = {};
  std::memcpy(b, build, sizeof(FileHeader::build));  // (a file's may lack its NUL)
  const char* at = std::strstr(b, kSourceTag);
  if (at != nullptr) copy_str(out, cap, at + sizeof kSourceTag - 1);
  return out;
}

int64_t hash_str(const char* s) { return s == nullptr ? 0 : hash(s, std::strlen(s)); }

namespace {

// The temporary file a dump writes first: the path and ".tmp".
struct TmpPath {
  char s[sizeof g_path + 4];
  explicit TmpPath(const char* path) {
    copy_str(s, sizeof s, path);
    copy_str(s + std::strlen(s), 5, g_child ? ".tmc" : ".tmp");
  }
};

// Owner only (0600): a recording holds the bytes of the files the daemon
// read, its key file and password files among them. A file an earlier
// dump left would keep its mode when truncated, so it is removed first and
// the new one made with O_EXCL (which also refuses a symlink put there).
int open_tmp(const TmpPath& tmp) {
  (void)hal::unlink(tmp.s);
  return hal::open(tmp.s, hal::kWrOnly | hal::kCreat | hal::kExcl | hal::kCloexec, 0600);
}

// Whether a dump could write path: its temporary file can be made (and is
// removed again) and path is no directory. Checked at start(), so that a
// path that cannot take the recording is an error when the daemon starts,
// not when the recording is wanted.
int check_path(const char* path) {
  const TmpPath tmp(path);
  int r = open_tmp(tmp);
  if (r < 0) return r;
  (void)hal::close(r);
  r = hal::unlink(tmp.s);
  if (r < 0) return r;
  hal::FileStat st{};
  r = hal::stat_path(path, &st);
  if (r < 0) return r == -ENOENT || r == -EACCES ? 0 : r;  // not there yet, or replaced by rename
  return (st.mode & hal::kSIfmt) == hal::kSIfdir ? -EISDIR : 0;
}

}  // namespace

int start(const char* program, int argc, char* const* argv, const char* path, size_t ring_bytes) {
  if (g_started) return -EALREADY;
  if (ring_bytes < kMinRingBytes || ring_bytes > kMaxRingBytes || path == nullptr ||
      std::strlen(path) + 5 > sizeof g_path || argc < 0) {
    return -EINVAL;
  }
  if (!g_replaying) {  // (the replay makes only the calls the recording has)
    if (const int r = check_path(path); r < 0) return r;
  }
  copy_str(g_path, sizeof g_path, path);
  copy_str(g_program, sizeof g_program, program);
  g_argc = argc;
  g_argv = argv;
  g_ring = Ring{g_storage, ring_bytes / kBlockBytes, 0, 0, 0};
  ring::g_head = g_storage;
  ring::g_block_end = g_storage + kBlockBytes;
  ring::g_calls = 0;
  ring::g_before_wait = ring::kInStart;
  ring::g_wait_limit = 0;
  g_nregs = 0;
  g_regs_overflow = false;
  g_snapshots = 0;
  g_blocks_since_snapshot = kManyBlocks;
  g_started = true;
  g_on = !g_replaying;
  return 0;
}

void in_child() {
  g_on = false;
  g_child = true;
}

void stop() {
  g_on = false;
  g_child = false;
  g_started = false;
  g_ring = Ring{};
  ring::g_head = ring::g_block_end = nullptr;
  ring::g_calls = 0;
  ring::g_before_wait = 0;
  ring::g_wait_limit = 0;
}

bool recording() { return g_started; }
const char* path() { return g_path; }
void set_replaying(bool on) { g_replaying = on; }
uint64_t calls() { return ring::g_calls; }
uint64_t kept_first() { return first_after_start(kept()); }
uint64_t pinned() { return kept().pinned_records; }
size_t kept_bytes() { return kept().bytes; }

namespace {

// Ends the block being filled: its records end here.
void close_block() {
  if (ring::g_block_end - ring::g_head >= static_cast<ptrdiff_t>(sizeof(uint32_t))) {
    const uint32_t end = 0;
    std::memcpy(ring::g_head, &end, sizeof end);
  }
}

void enter_block(size_t b) {
  g_ring.head_block = b;
  ring::g_head = g_ring.buf + b * kBlockBytes;
  ring::g_block_end = ring::g_head + kBlockBytes;
  ring::g_wait_limit = 0;
}

}  // namespace

uint8_t* ring::next_block() {
  Ring& g = g_ring;
  close_block();
  const size_t b = g.after(g.head_block);
  if (b == g.tail_block) g.tail_block = g.after(g.tail_block);
  enter_block(b);
  if (g_blocks_since_snapshot < kManyBlocks) ++g_blocks_since_snapshot;
  if (g_hooks.save != nullptr) g_before_wait |= kWantSnapshot;
  return g_head;
}

namespace {

void no_snapshot_wanted() { ring::g_before_wait &= static_cast<uint8_t>(~ring::kWantSnapshot); }

// The start is pinned unless it already lost blocks or would leave the
// ring fewer than two; the ring then begins in the next block.
void end_start() {
  ring::g_before_wait &= static_cast<uint8_t>(~ring::kInStart);
  Ring& g = g_ring;
  if (g.tail_block != 0 || g.blocks - (g.head_block + 1) < 2) return;
  close_block();
  g.pinned = g.head_block + 1;
  g.tail_block = g.pinned;
  enter_block(g.pinned);
}

}  // namespace

void record2(Call c, int64_t result, const Args& args, const void* out1, size_t len1,
             const void* out2, size_t len2) {
  uint8_t flags = 0;
  if (len1 + len2 > kMaxOutBytes) {
    flags = kTruncated;
    if (len1 > kMaxOutBytes) len1 = kMaxOutBytes;
    len2 = kMaxOutBytes - len1;
  }
  uint8_t* out = begin_record(c, result, args, len1 + len2, flags);
  if (len1 > 0) std::memcpy(out, out1, len1);
  if (len2 > 0) std::memcpy(out + len1, out2, len2);
}

void record(Call c, int64_t result, const Args& args, const void* out, size_t out_len) {
  const uint8_t flags = out_len > kMaxOutBytes ? kTruncated : 0;
  if (out_len > kMaxOutBytes) out_len = kMaxOutBytes;
  uint8_t* p = begin_record(c, result, args, out_len, flags);
  if (out_len > 0) std::memcpy(p, out, out_len);
}

void set_snapshot_hooks(const SnapshotHooks& h) { g_hooks = h; }
const SnapshotHooks& snapshot_hooks() { return g_hooks; }
uint64_t snapshots() { return g_snapshots; }

namespace {

void forget_reg(size_t i) { g_regs[i] = g_regs[--g_nregs]; }

}  // namespace

void note_epoll_ctl(int epfd, int op, int fd, uint64_t cookie, int result) {
  if (result < 0) return;
  size_t i = 0;
  while (i < g_nregs && (g_regs[i].epfd != epfd || g_regs[i].fd != fd)) ++i;
  if (op == hal::kEpollCtlDel) {
    if (i < g_nregs) forget_reg(i);
    return;
  }
  if (i == g_nregs) {
    if (g_nregs == kMaxEpollRegs) {
      g_regs_overflow = true;
      return;
    }
    ++g_nregs;
  }
  g_regs[i] = EpollReg{epfd, fd, cookie};
}

// Closing an fd ends its registrations (the loops the daemons run never
// share an fd with another process), and closing an epoll fd ends its own.
void note_close(int fd, int result) {
  if (result < 0) return;
  for (size_t i = g_nregs; i-- > 0;) {
    if (g_regs[i].fd == fd || g_regs[i].epfd == fd) forget_reg(i);
  }
}

namespace {

void take_snapshot() {
  if (g_hooks.save == nullptr || g_regs_overflow) {
    no_snapshot_wanted();
    return;
  }
  const size_t regs_bytes = g_nregs * sizeof(EpollReg);
  std::memcpy(g_snap, g_regs, regs_bytes);
  SnapWriter w(g_snap + regs_bytes, kMaxSnapshotBytes - regs_bytes);
  if (!g_hooks.save(g_hooks.ctx, w) || !w.ok()) return;  // tried again at the next wait
  const size_t total = regs_bytes + w.size();
  no_snapshot_wanted();
  // A small state is recorded at every block's start, so that the oldest
  // whole block kept holds one; a larger one only once three times its size
  // was recorded since the last (snapshots take at most a quarter of the
  // ring); one over half the ring's turning blocks never (it would push
  // the others out and could not be kept whole).
  // (In 64 bits: "many" blocks of 32 KiB overflow a 32-bit size_t.)
  if (total > kBlockBytes / 4 &&
      uint64_t{g_blocks_since_snapshot} * kBlockBytes < uint64_t{3} * total) {
    return;
  }
  if (total > g_ring.turning() * kBlockBytes / 2) return;
  const size_t parts = total == 0 ? 1 : (total + kMaxOutBytes - 1) / kMaxOutBytes;
  for (size_t i = 0; i < parts; ++i) {
    const size_t at = i * kMaxOutBytes;
    const size_t len = total - at < kMaxOutBytes ? total - at : kMaxOutBytes;
    const Args a{{static_cast<int64_t>(g_nregs), static_cast<int64_t>(w.size()),
                  static_cast<int64_t>(i), static_cast<int64_t>(parts)},
                 4};
    record(Call::kSnapshot, 0, a, g_snap + at, len);
  }
  ++g_snapshots;
  // (Again after the records: they may have begun blocks.)
  g_blocks_since_snapshot = 0;
  no_snapshot_wanted();
}

}  // namespace

void before_wait() {
  if (ring::in_start()) end_start();
  if (ring::want_snapshot()) take_snapshot();
}

bool snapshot_part(const int64_t* args, int nargs, const uint8_t* out, uint32_t out_len,
                   SnapshotPart* p) {
  if (nargs != 4 || args[0] < 0 || args[0] > static_cast<int64_t>(kMaxEpollRegs) || args[1] < 0 ||
      args[1] > static_cast<int64_t>(kMaxSnapshotBytes) || args[3] < 1 || args[2] < 0 ||
      args[2] >= args[3]) {
    return false;
  }
  const uint64_t total =
      static_cast<uint64_t>(args[0]) * sizeof(EpollReg) + static_cast<uint64_t>(args[1]);
  const uint64_t at = static_cast<uint64_t>(args[2]) * kMaxOutBytes;
  const uint64_t left = total > at ? total - at : 0;
  const uint64_t want = left < kMaxOutBytes ? left : kMaxOutBytes;
  const uint64_t parts = total == 0 ? 1 : (total + kMaxOutBytes - 1) / kMaxOutBytes;
  if (out_len != want || static_cast<uint64_t>(args[3]) != parts) return false;
  *p = SnapshotPart{static_cast<uint32_t>(args[0]),
                    static_cast<uint64_t>(args[1]),
                    static_cast<uint32_t>(args[2]),
                    static_cast<uint32_t>(args[3]),
                    out,
                    out_len};
  return true;
}

int dump(const char* reason) {
  if (g_replaying) return 0;
  if (!g_started) return -EINVAL;
  const bool was_on = g_on;
  g_on = false;  // the dump's own calls are not part of the recording
  const TmpPath tmp(g_path);
  int r = open_tmp(tmp);
  if (r >= 0) {
    const int fd = r;
    r = write_file(fd, reason);
    const int rc = hal::close(fd);
    if (r == 0) r = rc;
    if (r == 0) r = hal::rename(tmp.s, g_path);
    if (r < 0) (void)hal::unlink(tmp.s);
  }
  g_on = was_on;
  return r < 0 ? r : 0;
}

namespace {

constexpr struct {
  int signo;
  const char* name;
} kCrashes[] = {{hal::kSigSegv, "SIGSEGV"},
                {hal::kSigBus, "SIGBUS"},
                {hal::kSigIll, "SIGILL"},
                {hal::kSigFpe, "SIGFPE"},
                {hal::kSigAbrt, "SIGABRT"}};

// On the alternate stack, the signal's action back to the default: the
// ring goes to the file, then the signal ends the process as it would have.
void crash_dump(int signo) {
  const char* reason = "crash";
  for (const auto& c : kCrashes) {
    if (c.signo == signo) reason = c.name;
  }
  if (!g_child) (void)dump(reason);  // a child's crash is not the recording's
  (void)hal::kill(hal::getpid(), signo);
}

}  // namespace

int dump_on_crash() {
  if (!g_started) return -EINVAL;
  return hal::on_crash(&crash_dump);
}

bool crash_reason(const char* reason) {
  for (const auto& c : kCrashes) {
    if (std::strcmp(reason, c.name) == 0) return true;
  }
  return std::strcmp(reason, "crash") == 0;
}

// Reading.

namespace {

bool fail(char* err, size_t len, const char* what) {
  copy_str(err, len, what);
  return false;
}

// Checks that block holds n NUL-terminated strings within len bytes.
bool strings_ok(const uint8_t* block, size_t len, uint32_t n) {
  size_t pos = 0;
  for (uint32_t i = 0; i < n; ++i) {
    const void* nul = std::memchr(block + pos, 0, len - pos);
    if (nul == nullptr) return false;
    pos = static_cast<size_t>(static_cast<const uint8_t*>(nul) - block) + 1;
  }
  return true;
}

// The i-th NUL-terminated string of block, or nullptr past its end.
const char* nth_string(const uint8_t* block, size_t len, uint32_t i) {
  size_t pos = 0;
  for (uint32_t k = 0; pos < len; ++k) {
    const char* s = reinterpret_cast<const char*>(block + pos);
    if (k == i) return s;
    pos += std::strlen(s) + 1;
  }
  return nullptr;
}

bool records_ok(const uint8_t* p, uint64_t bytes, uint64_t count, char* err, size_t err_len) {
  uint64_t pos = 0;
  for (uint64_t i = 0; i < count; ++i) {
    RecordHead h;
    if (bytes - pos < sizeof h) return fail(err, err_len, "a record runs past the end of the file");
    std::memcpy(&h, p + pos, sizeof h);
    const uint64_t need = sizeof h + sizeof(int64_t) * uint64_t{h.nargs} + h.out_len;
    if (h.size % 8 != 0 || h.size < need || h.size > bytes - pos || h.nargs > kMaxArgs) {
      return fail(err, err_len, "a record's framing is broken");
    }
    if (h.call == 0 || h.call >= static_cast<uint16_t>(Call::kEnd)) {
      return fail(err, err_len, "a record names an unknown call");
    }
    pos += h.size;
  }
  if (pos != bytes) return fail(err, err_len, "the records do not fill the file");
  return true;
}

}  // namespace

int Reader::open(const uint8_t* data, size_t len, char* err, size_t err_len) {
  if (len < kVersion1HeaderBytes || std::memcmp(data, kMagic, sizeof kMagic) != 0) {
    fail(err, err_len, "not a flight recording (bad magic)");
    return -EINVAL;
  }
  hdr_ = FileHeader{};
  std::memcpy(&hdr_, data, kVersion1HeaderBytes);
  const bool v1 = hdr_.version == 1 && hdr_.header_bytes == kVersion1HeaderBytes;
  const bool v2_or_later = hdr_.version >= 2 && hdr_.version <= kVersion;
  if (!v1 && (!v2_or_later || hdr_.header_bytes != sizeof hdr_)) {
    fail(err, err_len, "a flight recording of another format version");
    return -EINVAL;
  }
  if (!v1 && len >= sizeof hdr_) std::memcpy(&hdr_, data, sizeof hdr_);  // v1: nothing pinned
  // The 32-bit sizes cannot overflow 64 bits together; record_bytes is
  // compared with what is left, never added (a sum could wrap to len).
  const uint64_t before_records = uint64_t{hdr_.header_bytes} + hdr_.argv_bytes + hdr_.env_bytes;
  if (before_records > len || hdr_.record_bytes != len - before_records ||
      hdr_.argv_bytes % 8 != 0 || hdr_.env_bytes % 8 != 0) {
    fail(err, err_len, "the file's length does not match its header (cut short?)");
    return -EINVAL;
  }
  argv_ = data + hdr_.header_bytes;
  env_ = argv_ + hdr_.argv_bytes;
  records_ = env_ + hdr_.env_bytes;
  if (!strings_ok(argv_, hdr_.argv_bytes, hdr_.argc)) {
    fail(err, err_len, "the recorded argv is broken");
    return -EINVAL;
  }
  if (hdr_.env_bytes > 0 && env_[hdr_.env_bytes - 1] != '\0') {
    fail(err, err_len, "the recorded environment is broken");
    return -EINVAL;
  }
  if (!records_ok(records_, hdr_.record_bytes, hdr_.records, err, err_len)) return -EINVAL;
  if (hdr_.pinned_records > hdr_.records || hdr_.first_seq < hdr_.pinned_records) {
    fail(err, err_len, "the pinned start does not fit the records");
    return -EINVAL;
  }
  pos_ = 0;
  return 0;
}

const char* Reader::arg(uint32_t i) const {
  return i < hdr_.argc ? nth_string(argv_, hdr_.argv_bytes, i) : nullptr;
}

const char* Reader::env(uint32_t i) const {
  const char* s = nth_string(env_, hdr_.env_bytes, i);
  return s != nullptr && *s != '\0' ? s : nullptr;  // an empty string is the padding
}

bool Reader::next(Record* r) {
  if (pos_ >= hdr_.record_bytes) return false;
  RecordHead h;
  std::memcpy(&h, records_ + pos_, sizeof h);
  r->call = static_cast<Call>(h.call);
  r->flags = h.flags;
  r->seq = h.seq;
  r->result = h.result;
  r->nargs = h.nargs;
  r->args = reinterpret_cast<const int64_t*>(records_ + pos_ + sizeof h);
  r->out = records_ + pos_ + sizeof h + sizeof(int64_t) * h.nargs;
  r->out_len = h.out_len;
  pos_ += h.size;
  return true;
}

}  // namespace flight
