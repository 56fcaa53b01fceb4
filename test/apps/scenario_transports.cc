// Scenarios "telemetry_mqtt" and "telemetry_http" for //test/fake:simulate:
// telemetry on the seeded fake kernel against the scripted MQTT broker or
// InfluxDB-like server, which the seed takes down, and whose answers it
// varies (lost and duplicated PUBACKs, connections closed after a PUBLISH;
// 400, 401, 413, 500, split, late, garbled answers). Checked after every
// iteration: the store's accounting, the loop's invariants, no spin; at the
// end: no record delivered twice by the client, everything delivered was
// received.
#include <cerrno>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "apps/telemetry/telemetry.h"
#include "loop/static_loop.h"
#include "test/apps/http_server.h"
#include "test/apps/mqtt_broker.h"
#include "test/apps/xdr_line.h"
#include "test/fake/kernel.h"
#include "test/fake/serial.h"
#include "test/fake/simulate.h"

namespace {

using evl::kMs;
using evl::kSec;
using SimLoop = evl::StaticLoop<16, 32, 4, 1, 4>;

struct Sensor {
  fake::SerialDevice* dev;
  int n = 0;
};

void on_sensor(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  auto* s = static_cast<Sensor*>(ctx);
  char line[96];
  (void)testxdr::line((s->n / 100) % 90, s->n % 100, line, sizeof line);
  ++s->n;
  s->dev->emit(line);
}

struct Spin {
  int64_t last = -1;
  uint64_t same = 0;
  bool spinning(int64_t now) {
    same = now == last ? same + 1 : 0;
    last = now;
    return same > 100000;
  }
};

template <class Model>
struct Weather {
  Model* model;
  fake::Rng rng;
  bool down = false;
  void (*vary)(Model*, fake::Rng&) = nullptr;
};

template <class Model>
void on_weather(evl::Loop& loop, evl::TimerHandle h, uint32_t, void* ctx) {
  auto* w = static_cast<Weather<Model>*>(ctx);
  if (w->down) {
    w->model->up();
    w->down = false;
  } else if (w->rng.chance(0.3)) {
    w->model->down();
    w->down = true;
  } else if (w->vary != nullptr) {
    w->vary(w->model, w->rng);
  }
  (void)loop.timer_restart(h, static_cast<int64_t>(1 + w->rng.below(15)) * kSec);
}

void vary_broker(testmqtt::Broker* b, fake::Rng& rng) {
  switch (rng.below(4)) {
    case 0: b->script.drop_pubacks = 1; break;
    case 1: b->script.dup_pubacks = 1; break;
    case 2: b->script.close_after_next_publish = true; break;
    default: b->close_client(); break;
  }
}

void vary_server(testhttp::Server* s, fake::Rng& rng) {
  static const int kStatus[] = {204, 400, 401, 404, 413, 429, 500, 503};
  testhttp::Outcome o;
  o.status = kStatus[rng.below(8)];
  o.body = o.status == 204 ? "" : "{\"error\":\"seeded\"}";
  o.how = static_cast<testhttp::How>(rng.below(5));
  o.close = rng.chance(0.2);
  if ((o.status == 429 || o.status == 503) && rng.chance(0.5)) {  // a pause asked for
    o.retry_after = rng.chance(0.9) ? std::to_string(rng.below(121)) : "soon";
  }
  s->script.push_back(o);
}

telemetry::Config config(fake::Rng& rng, const char* collector) {
  telemetry::Config cfg;
  std::snprintf(cfg.serial, sizeof cfg.serial, "/dev/ttyS1");
  std::snprintf(cfg.collector, sizeof cfg.collector, "%s", collector);
  std::snprintf(cfg.id, sizeof cfg.id, "board-7");
  cfg.batch_max = 1 + static_cast<int64_t>(rng.below(20));
  cfg.batch_delay_ms = 100 + static_cast<int64_t>(rng.below(2000));
  cfg.buffer_records = cfg.batch_max + static_cast<int64_t>(rng.below(100));  // holds a batch
  cfg.health_period_ms = 3600000;
  cfg.http_timeout_ms = 1000;
  cfg.link.backoff_initial_ms = 50;
  cfg.link.backoff_max_ms = 2000;
  return cfg;
}

// Runs telemetry against a model for virtual_seconds; check_end inspects
// the model once the daemon stopped.
template <class Model, class End>
sim::Result run(uint64_t seed, int64_t virtual_seconds, const char* collector, const char* address,
                void (*vary)(Model*, fake::Rng&), End check_end) {
  sim::Result result;
  sim::Checker check(&result);
  fake::Kernel k;
  k.seed(seed);
  fake::SerialDevice& dev = k.add_serial("/dev/ttyS1");
  std::unique_ptr<SimLoop> loop(new SimLoop());
  SIM_CHECK(check, loop->init() == 0, "init");
  Model model(loop.get(), address);
  model.up();
  fake::Rng rng{seed ^ 0x3141ULL};
  const telemetry::Config cfg = config(rng, collector);
  app::Log log("telemetry");
  log.set_level(app::Level::kError);
  std::unique_ptr<telemetry::App> app;
  char err[256] = {};
  int started = -ENOMEM;
  for (int tries = 0; tries < 20 && started == -ENOMEM; ++tries) {
    app.reset(new telemetry::App(cfg, &log));
    started = app->start(*loop, err, sizeof err);
  }
  SIM_CHECK(check, started == 0, std::string("start: ") + err);
  Sensor sensor{&dev};
  evl::TimerSpec every;
  every.period_ns = 250 * kMs;
  evl::TimerHandle sensor_timer, weather_timer;
  (void)loop->timer_start(every, on_sensor, &sensor, &sensor_timer);
  Weather<Model> weather{&model, fake::Rng{seed ^ 0x2718ULL}, false, vary};
  (void)loop->timer_after(kSec, on_weather<Model>, &weather, &weather_timer);
  Spin spin;
  const int64_t end = k.monotonic_ns() + virtual_seconds * kSec;
  while (!check.failed() && k.monotonic_ns() < end) {
    const int r = loop->run_once(-1);
    SIM_CHECK(check, r >= 0 || r == -EINTR || r == -ENOMEM, "run_once: " + std::to_string(r));
    ++result.iterations;
    const telemetry::Store& st = app->store();
    SIM_CHECK(check, st.accepted() == st.delivered() + st.dropped() + st.size(),
              "records unaccounted for");
    SIM_CHECK(check, st.size() <= st.limit(), "the store outgrew its limit");
    SIM_CHECK(check, loop->verify(), "loop.verify() failed");
    SIM_CHECK(check, !spin.spinning(k.monotonic_ns()), "the loop spins in place");
    SIM_CHECK(check, k.would_block() == 0, "a read or write would have blocked");
    SIM_CHECK(check, model.ok(), "the model saw: " + model.failure());
  }
  const uint64_t delivered = app->store().delivered();
  app->stop();
  check_end(check, model, delivered);
  result.trace_hash = k.trace_hash();
  return result;
}

sim::Result run_mqtt(uint64_t seed, int64_t virtual_seconds) {
  return run<testmqtt::Broker>(
      seed, virtual_seconds, "mqtt://127.0.0.1:1883", "127.0.0.1:1883", vary_broker,
      [](sim::Checker& check, testmqtt::Broker& b, uint64_t delivered) {
        std::map<std::string, int> first;
        std::set<std::string> received;
        for (const testmqtt::Message& m : b.published) {
          if (m.topic != "evl/board-7/telemetry") continue;
          size_t pos = 0, nl;
          while ((nl = m.payload.find('\n', pos)) != std::string::npos) {
            const std::string line = m.payload.substr(pos, nl - pos);
            received.insert(line);
            if (!m.dup) ++first[line];
            pos = nl + 1;
          }
        }
        for (const auto& e : first) {
          SIM_CHECK(check, e.second == 1, "a record went out twice without DUP: " + e.first);
        }
        SIM_CHECK(check, received.size() >= delivered,
                  "delivered " + std::to_string(delivered) + " > received " +
                      std::to_string(received.size()));
      });
}

sim::Result run_http(uint64_t seed, int64_t virtual_seconds) {
  return run<testhttp::Server>(seed, virtual_seconds, "http://127.0.0.1:8086/write?db=evl",
                               "127.0.0.1:8086", vary_server,
                               [](sim::Checker& check, testhttp::Server& s, uint64_t delivered) {
                                 SIM_CHECK(check, s.stored_lines() >= delivered,
                                           "delivered " + std::to_string(delivered) + " > stored " +
                                               std::to_string(s.stored_lines()));
                               });
}

}  // namespace

SIM_SCENARIO(telemetry_mqtt, "telemetry_mqtt",
             "telemetry over MQTT; the broker goes down, loses and doubles PUBACKs", run_mqtt);
SIM_SCENARIO(telemetry_http, "telemetry_http",
             "telemetry to InfluxDB over HTTP; the server goes down and answers anything",
             run_http);
