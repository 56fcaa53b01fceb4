// Fuzz target: a flight recording's bytes, from a file the replay is given.
// The input is read as a recording (flight::Reader), and its bytes are also
// given to every part's snapshot restore (the store, the NMEA reader, the
// serial port, a ring) as a replay would. What must hold: a recording the
// reader accepts has every record, argument and output inside the file and
// every snapshot part inside its record; a restored store is consistent
// and within its limit; nothing reads or writes outside its buffers (ASan).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "apps/nmea/nmea.h"
#include "apps/telemetry/store.h"
#include "hal/flight.h"
#include "hal/ring.h"
#include "hal/serial.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

telemetry::Store g_store(64);  // 4096 records: not on the stack

void on_sentence(const char*, size_t, void*) {}
void on_bad(nmea::Bad, void*) {}

bool inside(const uint8_t* p, size_t n, const uint8_t* begin, const uint8_t* end) {
  return p >= begin && p <= end && n <= static_cast<size_t>(end - p);
}

void read_recording(const uint8_t* data, size_t size) {
  flight::Reader r;
  char err[128];
  if (r.open(data, size, err, sizeof err) != 0) {
    check(std::memchr(err, '\0', sizeof err) != nullptr && err[0] != '\0');
    return;
  }
  const flight::FileHeader& h = r.header();
  check(h.pinned_records <= h.records && h.first_seq >= h.pinned_records);
  for (uint32_t i = 0; i < h.argc; ++i) {
    const char* a = r.arg(i);
    check(a != nullptr &&
          inside(reinterpret_cast<const uint8_t*>(a), std::strlen(a) + 1, data, data + size));
  }
  flight::Record rec;
  uint64_t n = 0;
  while (r.next(&rec)) {
    ++n;
    check(rec.nargs <= flight::kMaxArgs);
    check(inside(reinterpret_cast<const uint8_t*>(rec.args), 8 * static_cast<size_t>(rec.nargs),
                 data, data + size));
    check(inside(rec.out, rec.out_len, data, data + size));
    flight::SnapshotPart p{};
    if (rec.call == flight::Call::kSnapshot &&
        flight::snapshot_part(rec.args, rec.nargs, rec.out, rec.out_len, &p)) {
      check(p.part < p.parts && inside(p.bytes, p.len, rec.out, rec.out + rec.out_len));
      check(p.len <= flight::kMaxOutBytes);
    }
  }
  check(n == h.records);
}

void restore_parts(const uint8_t* data, size_t size) {
  {
    flight::SnapReader in(data, size);
    if (g_store.restore(in)) {
      check(g_store.consistent() && g_store.size() <= g_store.limit());
      check(g_store.in_flight() <= g_store.size());
    }
  }
  {
    flight::SnapReader in(data, size);
    nmea::NmeaReader reader(on_sentence, on_bad, nullptr);
    if (reader.restore(in)) {
      static const uint8_t kTail[] = "*00\r\n$GPGGA,1*00\r\n";
      reader.feed(kTail, sizeof kTail - 1);  // goes on from the restored sentence
    }
  }
  {
    flight::SnapReader in(data, size);
    hal::SerialPort port;
    if (port.restore(in)) check(port.fd() >= -1);
    // Its fd is the input's: the port forgets it (a restore of no port)
    // instead of closing it, as the replay's ports never close a real fd.
    uint8_t no_port[sizeof(int32_t) + sizeof(hal::Termios2) + 1] = {};
    const int32_t none = -1;
    std::memcpy(no_port, &none, sizeof none);
    flight::SnapReader forget(no_port, sizeof no_port);
    check(port.restore(forget) && port.fd() == -1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  read_recording(data, size);
  restore_parts(data, size);
  return 0;
}
