/* The /init of the board images (test/board/board.sh): mounts what tests
 * need, brings up lo (and eth0 when present), runs every test binary listed
 * in /tests.list from /work with its output on the console, prints one
 * summary line, and powers the board off. With evl.shell on the kernel
 * command line it starts /bin/sh on the console instead of powering off.
 * Plain C, linked statically by the cross compiler: it is the whole
 * userland besides busybox and the tests. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

static char board[64] = "unknown";
static int shell;

static void say(const char* fmt, const char* a) {
  printf(fmt, a);
  fflush(stdout);
}

static void read_cmdline(void) {
  char line[1024] = {0};
  FILE* f = fopen("/proc/cmdline", "r");
  if (f == NULL) return;
  if (fgets(line, sizeof line, f) == NULL) line[0] = '\0';
  fclose(f);
  const char* b = strstr(line, "evl.board=");
  if (b != NULL) sscanf(b + 10, "%63s", board);
  shell = strstr(line, "evl.shell") != NULL;
}

static int ifup(const char* name, const char* addr, const char* mask) {
  const int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  int r = 0;
  if (addr != NULL) {
    struct sockaddr_in* sin = (struct sockaddr_in*)&ifr.ifr_addr;
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, addr, &sin->sin_addr);
    r |= ioctl(s, SIOCSIFADDR, &ifr);
    inet_pton(AF_INET, mask, &sin->sin_addr);
    r |= ioctl(s, SIOCSIFNETMASK, &ifr);
  }
  r |= ioctl(s, SIOCGIFFLAGS, &ifr);
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  r |= ioctl(s, SIOCSIFFLAGS, &ifr);
  close(s);
  return r;
}

/* Modules named in /modules.list, in order (each names its dependencies
 * before it: the kernel package has no modules.dep); a line is the path,
 * then optionally a space and the module's parameters. */
static void load_modules(void) {
  FILE* f = fopen("/modules.list", "r");
  if (f == NULL) return;
  char path[256];
  while (fgets(path, sizeof path, f) != NULL) {
    path[strcspn(path, "\n")] = '\0';
    if (path[0] == '\0') continue;
    char* params = strchr(path, ' ');
    if (params != NULL) *params++ = '\0';
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || syscall(SYS_finit_module, fd, params != NULL ? params : "", 0) != 0) {
      if (errno != EEXIST) printf("EVL-INIT: cannot load %s: %s\n", path, strerror(errno));
    }
    if (fd >= 0) close(fd);
  }
  fclose(f);
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Starts one command line (space-separated, no quoting); its pid. */
static pid_t start(char* cmdline) {
  char* argv[32];
  int argc = 0;
  for (char* t = strtok(cmdline, " "); t != NULL && argc < 31; t = strtok(NULL, " ")) argv[argc++] = t;
  argv[argc] = NULL;
  if (argc == 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    execv(argv[0], argv);
    printf("EVL-INIT: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  return pid;
}

/* The CPU time (user + system) of the last command finish() reaped. */
static double last_cpu_s;

/* Its exit status, 128 + signal for a death. */
static int finish(pid_t pid) {
  int status = 0;
  struct rusage ru;
  last_cpu_s = 0;
  if (pid < 0) return 127;
  while (wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) return 127;
  }
  last_cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int passed, failed;

static void result(const char* name, int rc, double t0) {
  printf("EVL-TEST %s %s (exit %d, %.1f s, cpu %.2f s)\n", name, rc == 0 ? "PASS" : "FAIL", rc,
         now_s() - t0, last_cpu_s);
  fflush(stdout);
  if (rc == 0) {
    ++passed;
  } else {
    ++failed;
  }
}

int main(void) {
  mkdir("/dev", 0755);
  mkdir("/proc", 0755);
  mkdir("/sys", 0755);
  mkdir("/tmp", 01777);
  mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
  mount("proc", "/proc", "proc", 0, NULL);
  mount("sysfs", "/sys", "sysfs", 0, NULL);
  mount("tmpfs", "/tmp", "tmpfs", 0, NULL);
  mkdir("/dev/pts", 0755);
  mount("devpts", "/dev/pts", "devpts", 0, "ptmxmode=0666");
  read_cmdline();
  say("EVL-INIT: board %s\n", board);
  load_modules();
  if (ifup("lo", NULL, NULL) != 0) say("EVL-INIT: %s\n", "cannot bring lo up");
  if (access("/sys/class/net/eth0", F_OK) == 0) ifup("eth0", "10.0.2.15", "255.255.255.0");
  setenv("PATH", "/bin:/tests", 1);
  setenv("HOME", "/tmp", 1);
  chdir("/work");
  const double t_start = now_s();
  /* A line is a command; "& command" starts it in the background, "wait"
   * waits for those (each is a result when it ends). */
  struct {
    pid_t pid;
    char name[512];
    double t0;
  } bg[8];
  int nbg = 0;
  FILE* list = fopen("/tests.list", "r");
  char line[512];
  while (list != NULL && fgets(line, sizeof line, list) != NULL) {
    line[strcspn(line, "\n")] = '\0';
    if (line[0] == '\0' || line[0] == '#') continue;
    if (strcmp(line, "wait") == 0) {
      for (int i = 0; i < nbg; ++i) result(bg[i].name, finish(bg[i].pid), bg[i].t0);
      nbg = 0;
      continue;
    }
    const int background = line[0] == '&' && line[1] == ' ';
    char* cmd = background ? line + 2 : line;
    char name[512];
    snprintf(name, sizeof name, "%s", cmd);
    const double t0 = now_s();
    printf("EVL-RUN %s\n", name);
    fflush(stdout);
    const pid_t pid = start(cmd);
    if (background && nbg < 8) {
      bg[nbg].pid = pid;
      bg[nbg].t0 = t0;
      snprintf(bg[nbg].name, sizeof bg[nbg].name, "%s", name);
      ++nbg;
      continue;
    }
    result(name, finish(pid), t0);
  }
  for (int i = 0; i < nbg; ++i) result(bg[i].name, finish(bg[i].pid), bg[i].t0);
  if (list != NULL) fclose(list);
  printf("EVL-BOARD %s: %d passed, %d failed in %.1f s\n", board, passed, failed, now_s() - t_start);
  fflush(stdout);
  if (shell) {
    char* sh[] = {"/bin/sh", NULL};
    execv(sh[0], sh);
  }
  sync();
  reboot(RB_POWER_OFF);
  return 0;
}
