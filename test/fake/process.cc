// Processes of the fake kernel: spawn, exit (timed, explicit or by a
// signal), waitpid, and pidfds that become readable at the exit.
#include <cerrno>
#include <memory>

#include "test/fake/kernel.h"

namespace fake {
namespace {

class PidFd : public File {
 public:
  PidFd(Kernel* k, int pid) : k_(k), pid_(pid) {}
  uint32_t poll() const override { return exited() ? hal::kEpollIn : 0; }
  long read(void*, size_t) override { return -EINVAL; }
  long write(const void*, size_t) override { return -EINVAL; }
  int64_t wake_time() const override {
    const Kernel::Process* p = k_->process(pid_);
    return p != nullptr && !exited() && p->exit_at >= 0 ? p->exit_at : -1;
  }
  uint64_t changes() const override { return seq + (exited() ? 1 : 0); }
  const char* type() const override { return "pidfd"; }

 private:
  bool exited() const {
    const Kernel::Process* p = k_->process(pid_);
    return p == nullptr || (p->exit_at >= 0 && p->exit_at <= k_->monotonic_ns());
  }
  Kernel* k_;
  int pid_;
};

}  // namespace

void Kernel::spawn_behaviour(int64_t exit_after_ns, int status) {
  spawn_exit_after_ns_ = exit_after_ns;
  spawn_status_ = status;
}

Kernel::Process* Kernel::process(int pid) {
  for (Process& p : procs_) {
    if (p.pid == pid) return &p;
  }
  return nullptr;
}

void Kernel::exit_process(int pid, int status) {
  Process* p = process(pid);
  if (p == nullptr || (p->exit_at >= 0 && p->exit_at <= mono_ns_)) return;
  p->exit_at = mono_ns_;
  p->status = status;
  p->chld_raised = true;
  raise(hal::kSigChld);
}

int Kernel::running_processes() const {
  int n = 0;
  for (const Process& p : procs_) n += (p.exit_at < 0 || p.exit_at > mono_ns_) ? 1 : 0;
  return n;
}

int Kernel::sys_spawn(const char* path, char* const argv[], int* pid) {
  int err = 0;
  if (fault(Call::kSpawn, &err)) return -err;
  std::vector<std::string> args;
  args.emplace_back(path);
  for (int i = 1; argv[i] != nullptr; ++i) args.emplace_back(argv[i]);
  spawned_.push_back(args);
  *pid = next_pid_++;
  const int64_t at = spawn_exit_after_ns_ < 0 ? -1 : mono_ns_ + spawn_exit_after_ns_;
  procs_.push_back(Process{*pid, at, spawn_status_, false, false});
  return 0;
}

void Kernel::child_work_behaviour(int64_t exit_after_ns) { child_work_after_ns_ = exit_after_ns; }

int Kernel::sys_run_in_child(hal::ChildWork fn, void* ctx, int* pid) {
  int err = 0;
  if (fault(Call::kRunInChild, &err)) return -err;
  ++children_run_;
  const int r = fn(ctx);
  const int code = r == 0 ? 0 : (r < 0 && r > -256 ? -r : 255);
  *pid = next_pid_++;
  const int64_t at = child_work_after_ns_ < 0 ? -1 : mono_ns_ + child_work_after_ns_;
  procs_.push_back(Process{*pid, at, code << 8, false, false});
  return 0;
}

int Kernel::sys_waitpid(int pid, int* status, int options) {
  int err = 0;
  if (fault(Call::kWaitpid, &err)) return -err;
  for (Process& p : procs_) {
    if (p.reaped || (pid != -1 && p.pid != pid)) continue;
    if (p.exit_at < 0 || p.exit_at > mono_ns_) {
      if (pid == -1) continue;
      return (options & hal::kWnohang) != 0 ? 0 : -EDEADLK;
    }
    p.reaped = true;
    if (status != nullptr) *status = p.status;
    return p.pid;
  }
  if (pid == -1) {
    for (const Process& p : procs_) {
      if (!p.reaped) return (options & hal::kWnohang) != 0 ? 0 : -EDEADLK;
    }
  }
  return -ECHILD;
}

int Kernel::sys_pidfd_open(int pid) {
  int err = 0;
  if (fault(Call::kPidfdOpen, &err)) return -err;
  Process* p = process(pid);
  if (p == nullptr || p->reaped) return -ESRCH;
  auto f = std::make_shared<PidFd>(this, pid);
  f->nonblock = true;
  return install(f);
}

}  // namespace fake
