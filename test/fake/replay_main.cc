// bazel run //test/fake:replay -- [--trace] PATH
//
// Replays a flight recording (hal/flight.h) written by heartbeat or
// telemetry: the same app code runs on the replay kernel (replay.h), which
// answers every system call from the recording. The daemon's log lines come
// out as they did on the board; the last line says whether the program made
// exactly the recorded calls. Exit codes: replay.h.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "apps/heartbeat/main.h"
#include "apps/telemetry/main.h"
#include "loop/version.h"
#include "test/fake/replay.h"

namespace {

bool read_file(const char* path, std::vector<uint8_t>* out) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  uint8_t buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return n == 0;
    }
    out->insert(out->end(), buf, buf + n);
  }
}

// A crash of the replayed program: said, then the process dies of it as
// the board's did (a debugger stops at the faulting line before this).
void on_replay_crash(int signo) {
  replay::Player* p = replay::Player::current();
  char line[256];
  const int n = std::snprintf(
      line, sizeof line,
      "replay: the program crashed (signal %d) after replaying %llu of the %llu recorded calls "
      "(the board's recording was written on %s)\n",
      signo, static_cast<unsigned long long>(p->replayed()),
      static_cast<unsigned long long>(p->reader().header().records), p->reader().header().reason);
  if (n > 0) (void)!::write(2, line, static_cast<size_t>(n) < sizeof line ? n : sizeof line - 1);
  ::signal(signo, SIG_DFL);
  ::raise(signo);
}

}  // namespace

int main(int argc, char** argv) {
  bool trace = std::getenv("SIM_TRACE") != nullptr;
  int i = 1;
  if (i < argc && std::strcmp(argv[i], "--trace") == 0) {
    trace = true;
    ++i;
  }
  if (i + 1 != argc) {
    std::fprintf(stderr, "usage: replay [--trace] RECORDING\n");
    return 2;
  }
  std::string path = argv[i];
  const char* wd = std::getenv("BUILD_WORKING_DIRECTORY");  // bazel run
  if (!path.empty() && path[0] != '/' && wd != nullptr) path = std::string(wd) + "/" + path;
  std::vector<uint8_t> bytes;
  if (!read_file(path.c_str(), &bytes)) {
    std::fprintf(stderr, "replay: cannot read %s: %s\n", path.c_str(), std::strerror(errno));
    return replay::kBadFile;
  }
  static replay::Player player;
  char err[160];
  if (player.load(std::move(bytes), err, sizeof err) < 0) {
    std::fprintf(stderr, "replay: %s: %s\n", path.c_str(), err);
    return replay::kBadFile;
  }
  player.set_trace(trace);
  replay::Player::set_current(&player);
  const flight::FileHeader& h = player.reader().header();
  std::fprintf(stderr, "replay: %s recorded by %s (evl %s, %s, %s), written on %s, %llu calls\n",
               path.c_str(), h.program, h.evl_version, h.arch, h.build, h.reason,
               static_cast<unsigned long long>(h.records));
  if (std::strcmp(h.evl_version, EVL_VERSION_STRING) != 0) {
    std::fprintf(stderr,
                 "replay: warning: recorded by evl %s, replayed by evl %s: a divergence may be "
                 "that difference\n",
                 h.evl_version, EVL_VERSION_STRING);
  }
  char src[sizeof h.build];
  if (flight::source_id_of(h.build, src, sizeof src)[0] != '\0' &&
      std::strcmp(src, flight::kSourceId) != 0) {
    std::fprintf(stderr,
                 "replay: warning: recorded by a build of other sources (src=%s; this replay: "
                 "src=%s): a divergence may be that difference\n",
                 src, flight::kSourceId);
  }
  if (player.wrapped() && h.pinned_records == 0) {  // not even the start to run
    player.print_kept(stdout);
    return replay::kWrapped;
  }
  int (*entry)(int, char**) = nullptr;
  if (std::strcmp(h.program, "heartbeat") == 0) entry = heartbeat_main;
  if (std::strcmp(h.program, "telemetry") == 0) entry = telemetry_main;
  if (entry == nullptr) {
    std::fprintf(stderr, "replay: this replay does not know the program '%s'\n", h.program);
    return replay::kBadFile;
  }
  // The recorded process's environment (what the daemons read of it) and argv.
  for (const char* name : flight::kRecordedEnv) ::unsetenv(name);
  for (uint32_t k = 0; player.reader().env(k) != nullptr; ++k) {
    ::putenv(const_cast<char*>(player.reader().env(k)));
  }
  std::vector<char*> args;
  for (uint32_t k = 0; k < h.argc; ++k) args.push_back(const_cast<char*>(player.reader().arg(k)));
  args.push_back(nullptr);
  flight::set_replaying();
  for (const int s : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) ::signal(s, on_replay_crash);
  const int rc = entry(static_cast<int>(h.argc), args.data());
  std::fflush(stdout);
  if (!player.finished()) {
    std::fprintf(stderr, "%s\n", player.message());
    std::_Exit(replay::kDiverged);
  }
  char made[128];
  player.describe_replayed(made, sizeof made);
  std::fprintf(stderr, "replay: OK: the program made %s (its exit code %d)\n", made, rc);
  std::fflush(stderr);
  std::_Exit(replay::kOk);  // the daemon's static destructors would make calls not recorded
}
