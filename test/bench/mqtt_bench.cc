// MQTT QoS 1 publishing, ours against Debian's libmosquitto, through the
// same local mosquitto (started here on a free loopback port), the same
// workload: N telemetry-sized messages (three line-protocol records, 255
// bytes) to one topic, with at most 4 unacknowledged at a time (our
// client's window; libmosquitto is set to the same), both clients driven
// from one thread. Reported per backend: acknowledged records per second
// (median of the repetitions), heap allocations during the measured part,
// and, with --instr, user-space instructions per message (callgrind,
// collection on only around the measured part).
//
//   bazel run -c opt //test/bench:mqtt_bench -- [--messages N] [--reps R] [--instr]
#include <mosquitto.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "apps/mqtt/client.h"
#include "hal/address.h"
#include "loop/static_loop.h"
#include "test/apps/real_server.h"
#include "test/support/alloc_counter.h"

namespace {

constexpr size_t kWindow = 4;
const char kTopic[] = "bench/board-7/telemetry";

std::string payload() {
  std::string p;
  for (int i = 0; i < 3; ++i) {
    p += "gps,device=board-7 fix=1i,sats=8i,lat=48.117300,lon=11.516667,alt_m=545.4 "
         "1764239000000000000\n";
  }
  return p.substr(0, 255);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Result {
  double per_second = 0;
  uint64_t allocations = 0;
  bool ok = false;
};

// Ours: the loop and mqtt::Client, refilling the window from acked().
struct Ours {
  evl::StaticLoop<4, 8, 2, 1, 2> loop;
  mqtt::Client client;
  std::string body = payload();
  int total = 0;
  int sent = 0;
  int acked = 0;
  bool up = false;
  void fill() {
    while (sent < total && client.publish1(kTopic, body.data(), body.size(), false,
                                           static_cast<uint32_t>(sent)) == 0) {
      ++sent;
    }
  }
};

void ours_up(void* ctx) { static_cast<Ours*>(ctx)->up = true; }
void ours_acked(void* ctx, uint32_t) {
  auto* o = static_cast<Ours*>(ctx);
  ++o->acked;
  o->fill();
}

Result run_ours(int port, int messages, bool instr) {
  static Ours o;  // the client's buffers are large: static storage
  Result r;
  if (o.loop.init() < 0) return r;
  app::Url url;
  const std::string text = "mqtt://127.0.0.1:" + std::to_string(port);
  if (app::parse_url(text.c_str(), &url) < 0) return r;
  mqtt::ClientConfig cc;
  std::snprintf(cc.client_id, sizeof cc.client_id, "evl-bench");
  cc.keepalive_s = 60;
  mqtt::ClientEvents ev;
  ev.up = ours_up;
  ev.acked = ours_acked;
  ev.ctx = &o;
  app::LinkConfig lc;
  lc.stable_ms = 100;
  o.total = messages;
  o.sent = o.acked = 0;
  o.up = false;
  if (o.client.start(o.loop, url, lc, cc, ev) < 0) return r;
  for (int i = 0; i < 1000 && !o.up; ++i) (void)o.loop.run_once(10);
  if (!o.up) return r;
  testsupport::AllocCounter counter;
  const auto t0 = std::chrono::steady_clock::now();
  if (instr) CALLGRIND_TOGGLE_COLLECT;
  o.fill();
  while (o.acked < messages) {
    if (o.loop.run_once(1000) < 0) break;
  }
  if (instr) CALLGRIND_TOGGLE_COLLECT;
  r.per_second = messages / seconds_since(t0);
  r.allocations = counter.count();
  r.ok = o.acked == messages;
  o.client.stop();
  o.loop.close();
  return r;
}

// libmosquitto: its own loop function in the same thread, the window kept
// by counting on_publish (its QoS 1 acknowledgement).
struct Theirs {
  std::string body = payload();
  int total = 0;
  int sent = 0;
  int acked = 0;
  bool up = false;
  mosquitto* m = nullptr;
  void fill() {
    while (sent < total && sent - acked < static_cast<int>(kWindow) &&
           mosquitto_publish(m, nullptr, kTopic, static_cast<int>(body.size()), body.data(), 1,
                             false) == MOSQ_ERR_SUCCESS) {
      ++sent;
    }
  }
};

Result run_theirs(int port, int messages, bool instr) {
  Result r;
  Theirs t;
  t.total = messages;
  mosquitto_lib_init();
  t.m = mosquitto_new("mosq-bench", false, &t);
  if (t.m == nullptr) return r;
  mosquitto_int_option(t.m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  (void)mosquitto_max_inflight_messages_set(t.m, kWindow);
  mosquitto_connect_callback_set(t.m, [](mosquitto*, void* ctx, int rc) {
    if (rc == 0) static_cast<Theirs*>(ctx)->up = true;
  });
  mosquitto_publish_callback_set(t.m, [](mosquitto*, void* ctx, int) {
    auto* x = static_cast<Theirs*>(ctx);
    ++x->acked;
    x->fill();
  });
  if (mosquitto_connect(t.m, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS) return r;
  for (int i = 0; i < 1000 && !t.up; ++i) (void)mosquitto_loop(t.m, 10, 1);
  if (!t.up) return r;
  testsupport::AllocCounter counter;
  const auto t0 = std::chrono::steady_clock::now();
  if (instr) CALLGRIND_TOGGLE_COLLECT;
  t.fill();
  while (t.acked < messages) {
    if (mosquitto_loop(t.m, 1000, 1) != MOSQ_ERR_SUCCESS) break;
  }
  if (instr) CALLGRIND_TOGGLE_COLLECT;
  r.per_second = messages / seconds_since(t0);
  r.allocations = counter.count();
  r.ok = t.acked == messages;
  mosquitto_disconnect(t.m);
  mosquitto_destroy(t.m);
  mosquitto_lib_cleanup();
  return r;
}

// One phase in a child under callgrind: instructions per message.
double instructions(const char* self, const char* backend, int port, int messages) {
  char out[] = "/tmp/evl-mqtt-cg.XXXXXX";
  const int fd = mkstemp(out);
  if (fd < 0) return -1;
  close(fd);
  char cmd[512];
  std::snprintf(cmd, sizeof cmd,
                "valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file=%s %s "
                "--phase %s %d %d >/dev/null 2>&1",
                out, self, backend, port, messages);
  if (std::system(cmd) != 0) return -1;
  double per = -1;
  if (FILE* f = std::fopen(out, "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f) != nullptr) {
      unsigned long long total = 0;
      if (std::sscanf(line, "totals: %llu", &total) == 1 ||
          std::sscanf(line, "summary: %llu", &total) == 1) {
        per = static_cast<double>(total) / messages;
      }
    }
    std::fclose(f);
  }
  std::remove(out);
  return per;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::strcmp(argv[1], "--phase") == 0) {
    const int port = std::atoi(argv[3]);
    const int n = std::atoi(argv[4]);
    const Result r =
        std::strcmp(argv[2], "ours") == 0 ? run_ours(port, n, true) : run_theirs(port, n, true);
    return r.ok ? 0 : 1;
  }
  int messages = 20000, reps = 3;
  bool instr = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--messages") == 0 && i + 1 < argc) messages = std::atoi(argv[++i]);
    if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = std::atoi(argv[++i]);
    if (std::strcmp(argv[i], "--instr") == 0) instr = true;
  }
  realsrv::TempDir dir;
  realsrv::Process broker;
  const int port = realsrv::free_port();
  const std::string conf = dir.file("mosquitto.conf");
  realsrv::write_file(conf,
                      "listener " + std::to_string(port) +
                          " 127.0.0.1\nallow_anonymous true\nuser root\nmax_inflight_messages 0\n");
  if (!broker.start({realsrv::which("mosquitto"), "-c", conf}, dir.file("log")) ||
      !realsrv::wait_port(port, 20)) {
    std::fprintf(stderr, "mqtt_bench: cannot start mosquitto\n");
    return 1;
  }
  std::vector<double> ours, theirs;
  uint64_t ours_alloc = 0, theirs_alloc = 0;
  for (int r = 0; r < reps; ++r) {  // interleaved, so that load hits both alike
    const Result a = run_ours(port, messages, false);
    const Result b = run_theirs(port, messages, false);
    if (!a.ok || !b.ok) {
      std::fprintf(stderr, "mqtt_bench: a run did not finish (ours %d, libmosquitto %d)\n", a.ok,
                   b.ok);
      return 1;
    }
    ours.push_back(a.per_second);
    theirs.push_back(b.per_second);
    ours_alloc = a.allocations;
    theirs_alloc = b.allocations;
  }
  std::sort(ours.begin(), ours.end());
  std::sort(theirs.begin(), theirs.end());
  double ours_instr = -1, theirs_instr = -1;
  if (instr) {
    ours_instr = instructions(argv[0], "ours", port, messages / 4);
    theirs_instr = instructions(argv[0], "theirs", port, messages / 4);
  }
  std::printf(
      "| QoS 1, %d messages of %zu bytes, window %zu | acked/s (median of %d) | min-max | "
      "allocations | instr/message |\n|---|---|---|---|---|\n",
      messages, payload().size(), kWindow, reps);
  std::printf("| ours (mqtt::Client) | %.0f | %.0f-%.0f | %llu | %.0f |\n", ours[ours.size() / 2],
              ours.front(), ours.back(), static_cast<unsigned long long>(ours_alloc), ours_instr);
  std::printf("| libmosquitto %d.%d | %.0f | %.0f-%.0f | %llu | %.0f |\n", LIBMOSQUITTO_MAJOR,
              LIBMOSQUITTO_MINOR, theirs[theirs.size() / 2], theirs.front(), theirs.back(),
              static_cast<unsigned long long>(theirs_alloc), theirs_instr);
  return 0;
}
