// Fuzz target: the store and the byte ring against models, driven by the
// input as a list of operations. What must hold: the same records in the
// same order as a plain deque, accepted = delivered + dropped + buffered,
// a ring that gives back exactly what it took.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>

#include "apps/telemetry/store.h"
#include "hal/ring.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

telemetry::Store g_store(1);  // 4096 records: not on the stack
hal::Ring<64> g_ring;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t limit = 1 + data[0] % 50;
  g_store = telemetry::Store(limit);
  g_ring.clear();
  std::deque<int64_t> model;
  std::deque<uint8_t> bytes;
  size_t flight = 0;
  uint64_t delivered = 0, dropped = 0;
  int64_t next = 0;
  for (size_t i = 1; i < size; ++i) {
    const uint8_t op = data[i];
    switch (op % 6) {
      case 0:
      case 1: {
        nmea::Record r;
        r.wall_ns = next++;
        const bool d = g_store.push(r);
        if (model.size() == limit) {
          ++dropped;
          check(d);
          if (flight == model.size()) break;
          model.erase(model.begin() + static_cast<long>(flight));
        }
        model.push_back(r.wall_ns);
        break;
      }
      case 2: {
        const size_t n = 1 + op / 6 % 8;
        const int r = g_store.begin_batch(n);
        if (flight == 0 && n <= model.size()) {
          check(r == 0);
          flight = n;
        } else {
          check(r < 0);
        }
        break;
      }
      case 3:
        g_store.commit();
        delivered += flight;
        model.erase(model.begin(), model.begin() + static_cast<long>(flight));
        flight = 0;
        break;
      case 4:
        g_store.abandon();
        flight = 0;
        break;
      case 5: {  // the ring: push op/6 bytes, then pop a few
        uint8_t in[48];
        const size_t n = op / 6 % sizeof in;
        for (size_t j = 0; j < n; ++j) in[j] = static_cast<uint8_t>(next + static_cast<int64_t>(j));
        const size_t took = g_ring.push(in, n);
        check(took == (n < 64 - bytes.size() ? n : 64 - bytes.size()));
        for (size_t j = 0; j < took; ++j) bytes.push_back(in[j]);
        uint8_t out[16];
        const size_t got = g_ring.pop(out, sizeof out);
        for (size_t j = 0; j < got; ++j) {
          check(!bytes.empty() && bytes.front() == out[j]);
          bytes.pop_front();
        }
        check(g_ring.size() == bytes.size());
        break;
      }
    }
    check(g_store.consistent());
    check(g_store.dropped_after_send() <= g_store.dropped());
    check(g_store.size() == model.size() && g_store.in_flight() == flight);
    check(g_store.delivered() == delivered && g_store.dropped() == dropped);
    for (size_t j = 0; j < model.size(); ++j) check(g_store.at(j).wall_ns == model[j]);
  }
  return 0;
}
