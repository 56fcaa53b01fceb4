// The replay kernel: an implementation of hal/sys.h that answers every call
// from a flight recording (hal/flight.h), in order, and stops the process
// at the first call that differs from the recording: another call, or the
// same call with other arguments (written bytes, paths, deadlines, ...).
//
// What it gives back is what the board's kernel gave: results, errno, the
// bytes read and received, epoll events, clock values. Writes to fds 1 and
// 2 (and to an fd the program opened as "/proc/self/fd/1" or "/2": its
// log's own description of a pipe or a terminal) are also copied to this
// process's stdout and stderr, so the replay prints the daemon's log
// lines. SIM_TRACE=1 in the environment prints each
// call as it is replayed.
//
// The epoll cookie a loop registers carries bits of its address, so it is
// not compared: the replay maps the recorded cookie to the one the replayed
// loop registered, and epoll_wait hands back the replayed one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <set>
#include <vector>

#include "hal/flight.h"

namespace replay {

// Exit codes of a replay.
constexpr int kOk = 0;        // the program made every recorded call
constexpr int kDiverged = 3;  // it made another call, or ran past the end
constexpr int kCut = 4;       // a record's output was cut by the recorder
constexpr int kBadFile = 5;   // not a recording this replay can read
constexpr int kWrapped = 6;   // the ring lost calls and kept no usable snapshot: a trace

class Player {
 public:
  // Takes a recording's bytes. 0, or -EINVAL with the reason in err.
  [[nodiscard]] int load(std::vector<uint8_t> bytes, char* err, size_t err_len);
  const flight::Reader& reader() const { return reader_; }
  flight::Reader& reader() { return reader_; }
  // The next record, which must be call c with these arguments (skip: an
  // argument index not compared, -1 for none). Reports and exits otherwise.
  const flight::Record& expect(flight::Call c, const flight::Args& a, int skip = -1);
  uint64_t replayed() const { return index_; }
  // Whether every record was replayed; if not, reports what the program
  // left out.
  bool finished();
  // The ring lost calls after the program's start (first_seq >
  // pinned_records). The program runs its pinned start as recorded; at its
  // next call (its first epoll_wait) the app's restore hook rebuilds the
  // state of the oldest kept snapshot (hal/flight.h), the calls it makes
  // answered without the recording (only epoll_ctl, close, timerfd_settime
  // and reads of the program's timerfds, -EAGAIN, may be made there), and
  // the replay compares again from
  // the epoll_wait after the snapshot. Without a pinned start (a version 1
  // file, or a start too big), a snapshot or an app that can restore it,
  // that call ends the replay (kWrapped) with the kept calls printed as a
  // trace.
  bool wrapped() const;
  // The call the replay went on from after a restored snapshot (0: none).
  uint64_t resumed_at() const { return resumed_at_; }
  // The calls replayed, for the OK line: "the 935 recorded calls", or with
  // a restored snapshot "the recorded calls #0 to #27, then #2871 to #3139
  // from the restored snapshot".
  void describe_replayed(char* out, size_t len) const;
  // Writes the kept calls after the loss to out, from the oldest whole loop
  // iteration (the first kept epoll_wait), under a line saying what was lost.
  void print_kept(std::FILE* out);
  void set_trace(bool on) { trace_ = on; }
  // The epoll cookie map.
  void map_cookie(uint64_t recorded, uint64_t replayed) { cookies_[recorded] = replayed; }
  uint64_t cookie(uint64_t recorded) const;
  // The timerfds the program created (a restore may read them: -EAGAIN).
  void note_timerfd(int fd) { timerfds_.insert(fd); }
  // Instead of exiting, a divergence is remembered here (tests).
  void set_exit_on_divergence(bool on) { exit_ = on; }
  int failure() const { return failure_; }
  // The recording ended where a dump made while running ends (not a failure).
  bool ended() const { return ended_; }
  const char* message() const { return message_; }

  static Player* current();
  static void set_current(Player* p);

 private:
  [[noreturn]] void stop(int code);
  void fail(int code);
  // Restores the oldest kept snapshot; nullptr, or why it cannot.
  const char* resume();
  const flight::Record& absorb(flight::Call c, const flight::Args& a);
  const char* replayed_text();
  std::vector<uint8_t> bytes_;
  flight::Reader reader_;
  flight::Record rec_{};
  uint64_t index_ = 0;
  bool trace_ = false;
  bool exit_ = true;
  int failure_ = 0;
  bool ended_ = false;
  char message_[512] = {};
  std::map<uint64_t, uint64_t> cookies_;
  std::set<int64_t> timerfds_;
  bool absorbing_ = false;     // inside the app's restore hook
  std::vector<uint8_t> snap_;  // the restored snapshot, its parts put together
  const flight::EpollReg* regs_ = nullptr;
  size_t nregs_ = 0;
  int64_t absorbed_args_[flight::kMaxArgs] = {};
  flight::Record absorbed_{};
  uint64_t resumed_at_ = 0;
  uint64_t snapshots_passed_ = 0;  // snapshot records the program went past
  char replayed_[128] = {};
};

// Writes a record as text: "epoll_wait(3, 64, 1000) = 1".
void describe(char* out, size_t len, flight::Call c, const int64_t* args, int nargs,
              int64_t result);

}  // namespace replay
