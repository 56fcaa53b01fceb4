#include "test/apps/real_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace realsrv {

TempDir::TempDir() {
  char tmpl[] = "/tmp/evl-real.XXXXXX";
  if (mkdtemp(tmpl) != nullptr) path_ = tmpl;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  // The tests' servers write below here; no shell, no rm: a small walk.
  std::vector<char*> argv;
  std::string rm = "/bin/rm", flag = "-rf";
  argv.push_back(&rm[0]);
  argv.push_back(&flag[0]);
  argv.push_back(&path_[0]);
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, rm.c_str(), nullptr, nullptr, argv.data(), environ) == 0) {
    int status = 0;
    (void)waitpid(pid, &status, 0);
  }
}

bool Process::start(const std::vector<std::string>& args, const std::string& log) {
  std::vector<char*> argv;
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(&a[0]);
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  const char* out = log.empty() ? "/dev/null" : log.c_str();
  posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  // Its own process group: a test that dies cannot leave it in ours.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = 0;
  const int r = posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (r != 0) return false;
  pid_ = pid;
  return true;
}

void Process::signal(int signo) {
  if (pid_ > 0) (void)::kill(pid_, signo);
}

void Process::kill_hard() {
  if (pid_ <= 0) return;
  (void)::kill(pid_, SIGKILL);
  int status = 0;
  (void)waitpid(pid_, &status, 0);
  pid_ = -1;
}

int Process::wait_exit(int timeout_s) {
  if (pid_ <= 0) return -1;
  for (int i = 0; i < timeout_s * 20; ++i) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    sleep_ms(50);
  }
  return -1;
}

bool Process::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

std::string runfile(const char* rel) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  return (srcdir != nullptr && ws != nullptr) ? std::string(srcdir) + "/" + ws + "/" + rel : rel;
}

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

bool wait_port(int port, int timeout_s) {
  return wait_until(
      [port] {
        const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<uint16_t>(port));
        const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        close(fd);
        return ok;
      },
      timeout_s);
}

std::string read_file(const std::string& path) {
  std::string out;
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

bool write_file(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  return std::fclose(f) == 0 && ok;
}

bool make_certificate(const TempDir& dir) {
  const std::string openssl = which("openssl");
  if (openssl.empty()) return false;
  Process p;
  if (!p.start(
          {openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
           "-nodes", "-keyout", dir.file("key.pem"), "-out", dir.file("cert.pem"), "-days", "2",
           "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"},
          dir.file("openssl.log"))) {
    return false;
  }
  return p.wait_exit(60) == 0;
}

std::string which(const char* name) {
  for (const char* dir : {"/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
    const std::string p = std::string(dir) + "/" + name;
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

void sleep_ms(int ms) { (void)poll(nullptr, 0, ms); }

long recv_into(int* conn, std::string* in) {
  char buf[4096];
  const ssize_t n = recv(*conn, buf, sizeof buf, MSG_DONTWAIT);
  if (n > 0) {
    in->append(buf, static_cast<size_t>(n));
    return static_cast<long>(n);
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return -EAGAIN;
  (void)close(*conn);
  *conn = -1;
  in->clear();
  return 0;
}

bool take_http_request(std::string* in, std::string* body) {
  const size_t head_end = in->find("\r\n\r\n");
  const size_t cl = in->find("Content-Length: ");
  if (head_end == std::string::npos || cl == std::string::npos) return false;
  const size_t len = std::strtoul(in->c_str() + cl + 16, nullptr, 10);
  if (in->size() < head_end + 4 + len) return false;
  *body = in->substr(head_end + 4, len);
  in->erase(0, head_end + 4 + len);
  return true;
}

}  // namespace realsrv
