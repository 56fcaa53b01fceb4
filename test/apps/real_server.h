// Helpers for the tests against real servers (mosquitto, influxd): child
// processes with their output in files, free loopback ports, bounded
// waits. Test code on the real kernel: it uses libc directly.
#pragma once

#include <string>
#include <vector>

namespace realsrv {

// A scratch folder, removed (with its files) by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const char* name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A child process with stdout and stderr into files (or /dev/null).
class Process {
 public:
  Process() = default;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process() { kill_hard(); }
  // Starts argv[0] (an absolute path) with its output in `log` (empty:
  // /dev/null). False if it could not be started.
  bool start(const std::vector<std::string>& argv, const std::string& log);
  void signal(int signo);
  void kill_hard();              // SIGKILL and reap
  int wait_exit(int timeout_s);  // exit status, 128 + signal, or -1 on timeout
  bool running();
  int pid() const { return pid_; }

 private:
  int pid_ = -1;
};

// A file of the test's runfiles (a binary it depends on), by its path in
// the workspace.
std::string runfile(const char* rel);
// A loopback port nobody listens on right now.
int free_port();
// Waits until 127.0.0.1:port accepts a TCP connection (bounded).
bool wait_port(int port, int timeout_s);
std::string read_file(const std::string& path);
bool write_file(const std::string& path, const std::string& text);
// Waits (bounded) until pred() is true, polling every 50 ms.
template <class Pred>
bool wait_until(Pred pred, int timeout_s);
// The path of a program, or empty when it is not installed.
std::string which(const char* name);
// A self-signed certificate for localhost and its key (openssl), as
// dir/cert.pem and dir/key.pem: false when openssl is missing or fails.
bool make_certificate(const TempDir& dir);
void sleep_ms(int ms);
// Takes one whole HTTP request (its head and a Content-Length body) from
// the front of `in`: true with its body in *body; false while it is not
// all there.
bool take_http_request(std::string* in, std::string* body);
// Appends what the stream connection *conn has to *in: the bytes read,
// -EAGAIN when none wait, or 0 when it ended or failed (then it is
// closed, *conn is -1 and *in emptied).
long recv_into(int* conn, std::string* in);

template <class Pred>
bool wait_until(Pred pred, int timeout_s) {
  for (int i = 0; i < timeout_s * 20; ++i) {
    if (pred()) return true;
    sleep_ms(50);
  }
  return pred();
}

}  // namespace realsrv
