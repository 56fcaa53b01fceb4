#include "test/fake/replay.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "hal/flight_calls.h"
#include "hal/sys.h"

namespace replay {
namespace {

Player* g_current = nullptr;

void append(char* out, size_t len, const char* fmt, long long v) {
  const size_t n = std::strlen(out);
  if (n + 1 < len) std::snprintf(out + n, len - n, fmt, v);
}

// A call the program makes: "read(5, 16)" (it has no result yet).
void describe_call(char* out, size_t len, flight::Call c, const flight::Args& a);

}  // namespace

Player* Player::current() {
  if (g_current == nullptr) {
    std::fprintf(stderr, "replay: a hal:: call was made with no recording loaded\n");
    std::abort();
  }
  return g_current;
}

void Player::set_current(Player* p) { g_current = p; }

void describe(char* out, size_t len, flight::Call c, const int64_t* args, int nargs,
              int64_t result) {
  std::snprintf(out, len, "%s(", flight::call_name(c));
  for (int i = 0; i < nargs; ++i) append(out, len, i == 0 ? "%lld" : ", %lld", args[i]);
  append(out, len, ") = %lld", result);
}

namespace {

void describe_call(char* out, size_t len, flight::Call c, const flight::Args& a) {
  describe(out, len, c, a.v, a.n, 0);
  char* eq = std::strrchr(out, '=');
  while (eq > out && eq[-1] == ' ') --eq;
  *eq = '\0';
}

}  // namespace

int Player::load(std::vector<uint8_t> bytes, char* err, size_t err_len) {
  bytes_ = std::move(bytes);
  index_ = 0;
  failure_ = 0;
  ended_ = false;
  cookies_.clear();
  timerfds_.clear();
  absorbing_ = false;
  resumed_at_ = 0;
  snapshots_passed_ = 0;
  return reader_.open(bytes_.data(), bytes_.size(), err, err_len);
}

void Player::stop(int code) {
  std::fflush(stdout);
  std::fprintf(stderr, "%s\n", message_);
  std::fflush(stderr);
  std::_Exit(code);
}

void Player::fail(int code) {
  if (failure_ == 0) failure_ = code;
  if (exit_) stop(code);
}

const flight::Record& Player::expect(flight::Call c, const flight::Args& a, int skip) {
  static const int64_t kNoArgs[1] = {0};
  static const flight::Record kFailed{c, 0, 0, -EIO, 0, kNoArgs, nullptr, 0};
  if (failure_ != 0 || ended_) return kFailed;
  if (absorbing_) return absorb(c, a);
  if (wrapped() && resumed_at_ == 0 && index_ == reader_.header().pinned_records) {
    if (const char* why = resume(); why != nullptr) {
      if (failure_ != 0) return kFailed;  // the restore made a call it cannot make
      if (exit_) print_kept(stdout);
      std::snprintf(message_, sizeof message_,
                    "replay: the program's start (%llu calls, up to its first epoll_wait) was "
                    "replayed as recorded; then the ring lost calls #%llu to #%llu, and with them "
                    "the state the program built, and %s, so it cannot go on (the kept calls are "
                    "printed above)",
                    static_cast<unsigned long long>(index_),
                    static_cast<unsigned long long>(index_),
                    static_cast<unsigned long long>(reader_.header().first_seq - 1), why);
      fail(kWrapped);
      return kFailed;
    }
    if (c == flight::Call::kEpollWait) skip = 2;  // its timeout was computed before the restore
  }
  char made[160];
  describe_call(made, sizeof made, c, a);
  bool more = reader_.next(&rec_);
  while (more && rec_.call == flight::Call::kSnapshot) {  // not a call the program makes
    ++index_;
    ++snapshots_passed_;
    more = reader_.next(&rec_);
  }
  if (!more) {
    const char* reason = reader_.header().reason;
    if (flight::crash_reason(reason)) {
      // The board crashed right after the last recorded call: a replay that
      // reproduces the crash dies of it before asking for another.
      std::snprintf(message_, sizeof message_,
                    "replay: DIVERGED at call #%llu: the board crashed (%s) after the recorded "
                    "calls, the program went on and made %s: the crash did not reproduce (a "
                    "signal sent from outside, or a fault the recorded calls do not explain)",
                    static_cast<unsigned long long>(index_), reason, made);
      fail(kDiverged);
      return kFailed;
    }
    const bool at_stop = std::strcmp(reason, "exit") == 0 || std::strcmp(reason, "error") == 0;
    if (!at_stop || c == flight::Call::kRunInChild) {
      // Written while the daemon ran (SIGUSR2, alarm): its end is the end.
      // Written at the stop: by a child process the daemon made for it
      // (apps/common/daemon.h), whose copy of the ring ends before that
      // child was made.
      std::snprintf(message_, sizeof message_,
                    at_stop ? "replay: OK: the program made %s; the recording ends there (written "
                              "on %s by the process made next)"
                            : "replay: OK: the program made %s; the recording ends there (written "
                              "on %s while the daemon ran)",
                    replayed_text(), reason);
      ended_ = true;
      if (exit_) stop(kOk);
      return kFailed;
    }
    std::snprintf(message_, sizeof message_,
                  "replay: DIVERGED at call #%llu: the recording ends (written on %s) but the "
                  "program made %s",
                  static_cast<unsigned long long>(index_), reason, made);
    fail(kDiverged);
    return kFailed;
  }
  bool same = rec_.call == c && rec_.nargs == a.n;
  for (int i = 0; same && i < a.n; ++i) same = i == skip || rec_.args[i] == a.v[i];
  if (!same) {
    char had[160];
    describe(had, sizeof had, rec_.call, rec_.args, rec_.nargs, rec_.result);
    std::snprintf(message_, sizeof message_,
                  "replay: DIVERGED at call #%llu: the recording has %s, the program made %s",
                  static_cast<unsigned long long>(index_), had, made);
    fail(kDiverged);
    return kFailed;
  }
  if ((rec_.flags & flight::kTruncated) != 0) {
    std::snprintf(message_, sizeof message_,
                  "replay: call #%llu (%s) was recorded cut short (over %u bytes); cannot go on",
                  static_cast<unsigned long long>(index_), flight::call_name(c),
                  flight::kMaxOutBytes);
    fail(kCut);
    return kFailed;
  }
  if (trace_) {
    char line[200];
    describe(line, sizeof line, rec_.call, rec_.args, rec_.nargs, rec_.result);
    std::fprintf(stderr, "replay: #%llu %s\n", static_cast<unsigned long long>(index_), line);
  }
  ++index_;
  return rec_;
}

bool Player::finished() {
  flight::Record r;
  bool more = reader_.next(&r);
  while (more && r.call == flight::Call::kSnapshot) more = reader_.next(&r);
  if (!more) return true;
  char had[160];
  describe(had, sizeof had, r.call, r.args, r.nargs, r.result);
  std::snprintf(message_, sizeof message_,
                "replay: DIVERGED at call #%llu: the program ended, but the recording goes on "
                "with %s",
                static_cast<unsigned long long>(index_), had);
  if (failure_ == 0) failure_ = kDiverged;
  return false;
}

bool Player::wrapped() const {
  return reader_.header().first_seq != reader_.header().pinned_records;
}

void Player::print_kept(std::FILE* out) {
  const flight::FileHeader& h = reader_.header();
  const uint64_t ring_records = h.records - h.pinned_records;
  if (h.pinned_records == 0) {
    std::fprintf(out,
                 "replay: this recording kept the last %llu calls of %llu (the ring of %u bytes "
                 "wrapped), so the program cannot be re-run from its start. The kept calls, "
                 "from the oldest whole loop iteration:\n",
                 static_cast<unsigned long long>(ring_records),
                 static_cast<unsigned long long>(h.first_seq + ring_records), h.ring_bytes);
  } else {
    std::fprintf(out,
                 "replay: the ring of %u bytes wrapped: it kept the program's first %llu calls "
                 "(its start) and the last %llu of %llu. The kept calls after the loss, from "
                 "the oldest whole loop iteration:\n",
                 h.ring_bytes, static_cast<unsigned long long>(h.pinned_records),
                 static_cast<unsigned long long>(ring_records),
                 static_cast<unsigned long long>(h.first_seq + ring_records));
  }
  flight::Reader r = reader_;
  r.rewind();
  flight::Record rec;
  for (uint64_t i = 0; i < h.pinned_records; ++i) (void)r.next(&rec);
  bool started = false;
  for (uint64_t seq = h.first_seq; r.next(&rec); ++seq) {
    started = started || rec.call == flight::Call::kEpollWait;
    if (!started) continue;
    char line[200];
    describe(line, sizeof line, rec.call, rec.args, rec.nargs, rec.result);
    std::fprintf(out, "#%llu %s\n", static_cast<unsigned long long>(seq), line);
  }
}

const char* Player::resume() {
  const flight::SnapshotHooks& hooks = flight::snapshot_hooks();
  if (reader_.header().pinned_records == 0) return "the program's start was not kept";
  if (hooks.restore == nullptr) return "the program has no snapshot of its state to restore";
  // The oldest whole snapshot kept: its parts are consecutive records.
  flight::Reader r = reader_;
  flight::Record rec;
  uint64_t seq = reader_.header().first_seq;
  uint64_t found_at = 0;
  bool found = false;
  bool malformed = false;
  bool more = r.next(&rec);
  while (!found && more) {
    flight::SnapshotPart p{};
    if (rec.call != flight::Call::kSnapshot) {
      more = r.next(&rec);
      ++seq;
      continue;
    }
    const bool head = flight::snapshot_part(rec.args, rec.nargs, rec.out, rec.out_len, &p);
    malformed = malformed || !head;
    found_at = seq;
    more = r.next(&rec);
    ++seq;
    if (!head || p.part != 0) continue;  // a snapshot whose first part the ring lost
    snap_.assign(p.bytes, p.bytes + p.len);
    const flight::SnapshotPart first = p;
    uint32_t next = 1;
    while (next < first.parts && more && rec.call == flight::Call::kSnapshot &&
           flight::snapshot_part(rec.args, rec.nargs, rec.out, rec.out_len, &p) && p.part == next &&
           p.nregs == first.nregs && p.app_bytes == first.app_bytes) {
      snap_.insert(snap_.end(), p.bytes, p.bytes + p.len);
      ++next;
      more = r.next(&rec);
      ++seq;
    }
    found = next == first.parts;
    nregs_ = first.nregs;
  }
  if (!found && malformed) return "its oldest kept snapshot is malformed";
  if (!found) return "the kept calls hold no snapshot of its state";
  regs_ = reinterpret_cast<const flight::EpollReg*>(snap_.data());
  const uint8_t* app = snap_.data() + nregs_ * sizeof(flight::EpollReg);
  const size_t app_len = snap_.size() - nregs_ * sizeof(flight::EpollReg);
  flight::SnapReader in(app, app_len);
  absorbing_ = true;
  const int rc = hooks.restore(hooks.ctx, in);
  absorbing_ = false;
  if (failure_ != 0) return "its restore failed";
  if (rc < 0 || !in.ok() || in.left() != 0) return "the program could not restore its snapshot";
  // The reader goes on from the record after the snapshot's last part.
  reader_.rewind();
  for (uint64_t i = 0; i < reader_.header().pinned_records; ++i) (void)reader_.next(&rec);
  for (uint64_t s = reader_.header().first_seq; s < seq; ++s) (void)reader_.next(&rec);
  std::fprintf(stderr,
               "replay: the ring lost calls #%llu to #%llu; the program's state is restored from "
               "the snapshot at #%llu, and the replay goes on from there\n",
               static_cast<unsigned long long>(index_),
               static_cast<unsigned long long>(reader_.header().first_seq - 1),
               static_cast<unsigned long long>(found_at));
  index_ = seq;
  resumed_at_ = index_;
  return nullptr;
}

// A call the restore hook makes: answered 0 without the recording. An
// epoll registration gets the cookie the recording's loop had for its fd.
const flight::Record& Player::absorb(flight::Call c, const flight::Args& a) {
  static const int64_t kNoArgs[1] = {0};
  static const flight::Record kFailed{c, 0, 0, -EIO, 0, kNoArgs, nullptr, 0};
  char made[160];
  describe_call(made, sizeof made, c, a);
  // The loop reads its realtime timerfd before re-arming it, for a clock
  // step that cancelled it: at the snapshot none was pending.
  const bool timerfd_read = c == flight::Call::kRead && a.n > 0 && timerfds_.count(a.v[0]) != 0;
  if (c != flight::Call::kEpollCtl && c != flight::Call::kClose &&
      c != flight::Call::kTimerfdSettime && !timerfd_read) {
    std::snprintf(message_, sizeof message_,
                  "replay: restoring the snapshot, the program made %s: a restore may make only "
                  "epoll_ctl, close, timerfd_settime and reads of its timerfds",
                  made);
    fail(kWrapped);
    return kFailed;
  }
  std::memcpy(absorbed_args_, a.v, sizeof(int64_t) * static_cast<size_t>(a.n));
  const bool add_or_mod = c == flight::Call::kEpollCtl && a.v[1] != hal::kEpollCtlDel;
  for (size_t i = 0; add_or_mod && i < nregs_; ++i) {
    if (regs_[i].epfd == a.v[0] && regs_[i].fd == a.v[2]) {
      absorbed_args_[flight::args::kEpollCtlCookie] = static_cast<int64_t>(regs_[i].cookie);
    }
  }
  if (trace_) std::fprintf(stderr, "replay: (restore) %s\n", made);
  absorbed_ = flight::Record{c, 0, 0, timerfd_read ? -EAGAIN : 0, a.n, absorbed_args_, nullptr, 0};
  return absorbed_;
}

void Player::describe_replayed(char* out, size_t len) const {
  if (resumed_at_ == 0) {
    std::snprintf(out, len, "the %llu recorded calls",
                  static_cast<unsigned long long>(index_ - snapshots_passed_));
    return;
  }
  std::snprintf(
      out, len, "the recorded calls #0 to #%llu, then #%llu to #%llu from the restored snapshot",
      static_cast<unsigned long long>(reader_.header().pinned_records - 1),
      static_cast<unsigned long long>(resumed_at_), static_cast<unsigned long long>(index_ - 1));
}

const char* Player::replayed_text() {
  describe_replayed(replayed_, sizeof replayed_);
  return replayed_;
}

uint64_t Player::cookie(uint64_t recorded) const {
  const auto it = cookies_.find(recorded);
  return it != cookies_.end() ? it->second : recorded;
}

}  // namespace replay

// The seam, answered from the recording.
namespace hal {
namespace {

using flight::Call;
namespace args = flight::args;

const flight::Record& next(Call c, const flight::Args& a, int skip = -1) {
  return replay::Player::current()->expect(c, a, skip);
}

// Copies a record's output (at most cap bytes) to dst; the bytes consumed.
size_t take(const flight::Record& r, size_t from, void* dst, size_t cap) {
  if (from >= r.out_len || dst == nullptr) return 0;
  size_t n = r.out_len - from;
  if (n > cap) n = cap;
  std::memcpy(dst, r.out + from, n);
  return n;
}

void take_addr(const flight::Record& r, size_t from, SockAddr* a) {
  if (a == nullptr || from + 4 > r.out_len) return;
  uint32_t len = 0;
  std::memcpy(&len, r.out + from, 4);
  a->len = len;
  (void)take(r, from + 4, a->data, sizeof a->data);
}

// The program's own descriptions of its stdout and stderr, by fd (app::Log
// writes a pipe or a terminal through "/proc/self/fd/2", opened anew):
// echoed as fd 1 or 2. 0: not one.
constexpr int kEchoFds = 256;
int g_echo_as[kEchoFds] = {};

void echo(int fd, const void* buf, long n) {
  const int as = fd == 1 || fd == 2 ? fd : (fd >= 0 && fd < kEchoFds ? g_echo_as[fd] : 0);
  if (as != 0 && n > 0) {
    (void)!::write(as, buf, static_cast<size_t>(n));
  }
}

std::atomic<uint64_t> g_claimed{0};

}  // namespace

long read(int fd, void* buf, size_t count) {
  const auto& r = next(Call::kRead, args::read(fd, count));
  (void)take(r, 0, buf, count);
  return static_cast<long>(r.result);
}
long write(int fd, const void* buf, size_t count) {
  const auto& r = next(Call::kWrite, args::write(fd, buf, count));
  echo(fd, buf, static_cast<long>(r.result));
  return static_cast<long>(r.result);
}
int close(int fd) {
  const int r = static_cast<int>(next(Call::kClose, args::fd(fd)).result);
  if (r == 0 && fd >= 0 && fd < kEchoFds) g_echo_as[fd] = 0;
  return r;
}
int pipe2(int fds[2], int flags) {
  const auto& r = next(Call::kPipe2, args::flags(flags));
  (void)take(r, 0, fds, 2 * sizeof(int));
  return static_cast<int>(r.result);
}
int open(const char* path, int flags, unsigned int mode) {
  const int r = static_cast<int>(next(Call::kOpen, args::open(path, flags, mode)).result);
  if (r >= 0 && r < kEchoFds) {
    g_echo_as[r] = std::strcmp(path, "/proc/self/fd/2") == 0   ? 2
                   : std::strcmp(path, "/proc/self/fd/1") == 0 ? 1
                                                               : 0;
  }
  return r;
}
int fsync(int fd) { return static_cast<int>(next(Call::kFsync, args::fd(fd)).result); }
int rename(const char* from, const char* to) {
  return static_cast<int>(next(Call::kRename, args::rename(from, to)).result);
}
int unlink(const char* path) {
  return static_cast<int>(next(Call::kUnlink, args::path(path)).result);
}
int dup(int fd) { return static_cast<int>(next(Call::kDup, args::fd(fd)).result); }
int fstat(int fd, FileStat* out) {
  const auto& r = next(Call::kFstat, args::fd(fd));
  (void)take(r, 0, out, sizeof *out);
  return static_cast<int>(r.result);
}
int get_status_flags(int fd) {
  return static_cast<int>(next(Call::kGetFlags, args::fd(fd)).result);
}
int set_status_flags(int fd, int flags) {
  return static_cast<int>(next(Call::kSetFlags, args::fd_value(fd, flags)).result);
}
int ioctl(int fd, unsigned long request, void* arg) {
  const auto& r = next(Call::kIoctl, args::ioctl(fd, request, arg));
  (void)take(r, 0, arg, args::ioctl_bytes(request));
  return static_cast<int>(r.result);
}
int openpty(int* master, int* slave, char* name, size_t name_len) {
  const auto& r = next(Call::kOpenpty, args::of(static_cast<int64_t>(name_len)));
  int fds[2] = {-1, -1};
  const size_t n = take(r, 0, fds, sizeof fds);
  if (r.result == 0) {
    *master = fds[0];
    *slave = fds[1];
    const size_t m = take(r, n, name, name_len > 0 ? name_len - 1 : 0);
    if (name_len > 0) name[m] = '\0';
  }
  return static_cast<int>(r.result);
}

int socket(int domain, int type, int protocol) {
  return static_cast<int>(next(Call::kSocket, args::socket(domain, type, protocol)).result);
}
int socketpair(int domain, int type, int protocol, int fds[2]) {
  const auto& r = next(Call::kSocketpair, args::socket(domain, type, protocol));
  (void)take(r, 0, fds, 2 * sizeof(int));
  return static_cast<int>(r.result);
}
int bind(int fd, const SockAddr* addr) {
  return static_cast<int>(next(Call::kBind, args::address(fd, addr)).result);
}
int connect(int fd, const SockAddr* addr) {
  return static_cast<int>(next(Call::kConnect, args::address(fd, addr)).result);
}
int listen(int fd, int backlog) {
  return static_cast<int>(next(Call::kListen, args::fd_value(fd, backlog)).result);
}
int accept4(int fd, SockAddr* peer, int flags) {
  const auto& r = next(Call::kAccept4, args::accept4(fd, peer, flags));
  take_addr(r, 0, peer);
  return static_cast<int>(r.result);
}
int getsockopt(int fd, int level, int name, void* value, uint32_t* len) {
  const auto& r = next(Call::kGetsockopt, args::getsockopt(fd, level, name, *len));
  const uint32_t cap = *len;
  if (take(r, 0, len, 4) == 4) (void)take(r, 4, value, cap);
  return static_cast<int>(r.result);
}
int setsockopt(int fd, int level, int name, const void* value, uint32_t len) {
  return static_cast<int>(
      next(Call::kSetsockopt, args::setsockopt(fd, level, name, value, len)).result);
}
int getsockname(int fd, SockAddr* addr) {
  const auto& r = next(Call::kGetsockname, args::fd(fd));
  take_addr(r, 0, addr);
  return static_cast<int>(r.result);
}
int getpeername(int fd, SockAddr* addr) {
  const auto& r = next(Call::kGetpeername, args::fd(fd));
  take_addr(r, 0, addr);
  return static_cast<int>(r.result);
}
long sendto(int fd, const void* buf, size_t len, int flags, const SockAddr* to) {
  const auto& r = next(Call::kSendto, args::sendto(fd, buf, len, flags, to));
  echo(fd, buf, static_cast<long>(r.result));  // a socket stderr (journald's): app::Log sends
  return static_cast<long>(r.result);
}
long recvfrom(int fd, void* buf, size_t len, int flags, SockAddr* from) {
  const auto& r = next(Call::kRecvfrom, args::recvfrom(fd, len, flags, from));
  const size_t got = r.result > 0 ? static_cast<size_t>(r.result) : 0;
  const size_t n = take(r, 0, buf, got < len ? got : len);
  if (r.result >= 0) take_addr(r, n, from);
  return static_cast<long>(r.result);
}
int shutdown(int fd, int how) {
  return static_cast<int>(next(Call::kShutdown, args::fd_value(fd, how)).result);
}

int spawn(const char* path, char* const argv[], int* pid) {
  const auto& r = next(Call::kSpawn, args::spawn(path, argv));
  (void)take(r, 0, pid, sizeof *pid);
  return static_cast<int>(r.result);
}
// The child's work is not run: its effects are the parent's later calls
// (its exit status, the files it left), which the recording answers.
int run_in_child(ChildWork, void*, int* pid) {
  const auto& r = next(Call::kRunInChild, args::of());
  (void)take(r, 0, pid, sizeof *pid);
  return static_cast<int>(r.result);
}
int waitpid(int pid, int* status, int options) {
  const auto& r = next(Call::kWaitpid, args::fd_value(pid, options));
  (void)take(r, 0, status, sizeof *status);
  return static_cast<int>(r.result);
}
int pidfd_open(int pid) { return static_cast<int>(next(Call::kPidfdOpen, args::fd(pid)).result); }

int epoll_create1(int flags) {
  return static_cast<int>(next(Call::kEpollCreate1, args::flags(flags)).result);
}
int epoll_ctl(int epfd, int op, int fd, EpollEvent* event) {
  const auto& r =
      next(Call::kEpollCtl, args::epoll_ctl(epfd, op, fd, event), args::kEpollCtlCookie);
  if (event != nullptr && r.nargs > args::kEpollCtlCookie) {
    replay::Player::current()->map_cookie(static_cast<uint64_t>(r.args[args::kEpollCtlCookie]),
                                          event->data);
  }
  return static_cast<int>(r.result);
}
int epoll_wait(int epfd, EpollEvent* events, int maxevents, int timeout_ms) {
  const auto& r = next(Call::kEpollWait, args::epoll_wait(epfd, maxevents, timeout_ms));
  const size_t n = r.out_len / sizeof(flight::WireEvent);
  for (size_t i = 0; i < n && i < static_cast<size_t>(maxevents); ++i) {
    flight::WireEvent w;
    std::memcpy(&w, r.out + i * sizeof w, sizeof w);
    events[i].events = w.events;
    events[i].data = replay::Player::current()->cookie(w.data);
  }
  return static_cast<int>(r.result);
}

int eventfd(unsigned int initval, int flags) {
  return static_cast<int>(
      next(Call::kEventfd, args::fd_value(static_cast<int>(initval), flags)).result);
}
int signalfd(int fd, uint64_t mask, int flags) {
  return static_cast<int>(next(Call::kSignalfd, args::signalfd(fd, mask, flags)).result);
}
int sigprocmask(int how, const uint64_t* set, uint64_t* old) {
  const auto& r = next(Call::kSigprocmask, args::sigprocmask(how, set, old));
  (void)take(r, 0, old, sizeof *old);
  return static_cast<int>(r.result);
}
int kill(int pid, int signo) {
  return static_cast<int>(next(Call::kKill, args::fd_value(pid, signo)).result);
}
bool signal_claim(uint64_t mask) {
  uint64_t cur = g_claimed.load();
  do {
    if ((cur & mask) != 0) return false;
  } while (!g_claimed.compare_exchange_weak(cur, cur | mask));
  return true;
}
void signal_release(uint64_t mask) { g_claimed.fetch_and(~mask); }
int getpid() { return static_cast<int>(next(Call::kGetpid, args::of()).result); }
long getrandom(void* buf, size_t len, unsigned flags) {
  const auto& r = next(Call::kGetrandom, args::getrandom(len, flags));
  (void)take(r, 0, buf, len);
  return static_cast<long>(r.result);
}
// The replayed program's handler is not installed: a crash in the replay
// stops it where it happens (under a debugger, or with replay_main's note).
int on_crash(CrashFn fn) {
  return static_cast<int>(next(Call::kOnCrash, args::of(fn != nullptr)).result);
}

int clock_gettime(int clock_id, Timespec* ts) {
  const auto& r = next(Call::kClockGettime, args::fd(clock_id));
  (void)take(r, 0, ts, sizeof *ts);
  return static_cast<int>(r.result);
}
int timerfd_create(int clock_id, int flags) {
  const auto r =
      static_cast<int>(next(Call::kTimerfdCreate, args::fd_value(clock_id, flags)).result);
  if (r >= 0) replay::Player::current()->note_timerfd(r);
  return r;
}
int timerfd_settime(int fd, int flags, const Itimerspec* value, Itimerspec* old) {
  const auto& r = next(Call::kTimerfdSettime, args::timerfd_settime(fd, flags, value, old));
  (void)take(r, 0, old, sizeof *old);
  return static_cast<int>(r.result);
}
int timerfd_gettime(int fd, Itimerspec* curr) {
  const auto& r = next(Call::kTimerfdGettime, args::fd(fd));
  (void)take(r, 0, curr, sizeof *curr);
  return static_cast<int>(r.result);
}

}  // namespace hal
