#include "apps/telemetry/lineproto.h"

#include <cstdarg>
#include <cstdio>

namespace telemetry {
namespace {

struct Out {
  char* buf;
  size_t len;
  size_t pos = 0;
  bool ok = true;
  bool first_field = true;
  void add(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    if (!ok) return;
    va_list ap;
    va_start(ap, fmt);
    const int n = std::vsnprintf(buf + pos, len - pos, fmt, ap);
    va_end(ap);
    if (n < 0 || static_cast<size_t>(n) >= len - pos) {
      ok = false;
      return;
    }
    pos += static_cast<size_t>(n);
  }
  void field(const char* name, const char* fmt, double v) {
    add("%s%s=", first_field ? " " : ",", name);
    add(fmt, v);
    first_field = false;
  }
};

}  // namespace

size_t format_record(const nmea::Record& r, const char* device, char* buf, size_t len) {
  if (len == 0) return 0;
  Out o{buf, len};
  o.add("%s,device=%s", r.kind == nmea::Kind::kEnv ? "env" : "gps", device);
  if (r.kind == nmea::Kind::kGps) {
    o.add(" fix=%ui", r.fix);
    o.first_field = false;
    if (r.has & nmea::kHasSatellites) o.add(",sats=%ui", r.satellites);
    if (r.has & nmea::kHasPosition) {
      o.field("lat", "%.6f", r.lat);
      o.field("lon", "%.6f", r.lon);
    }
    if (r.has & nmea::kHasAltitude) o.field("alt_m", "%.1f", r.alt_m);
    if (r.has & nmea::kHasSpeed) o.field("speed_kn", "%.2f", r.speed_kn);
  } else {
    if (r.has & nmea::kHasTemp) o.field("temp_c", "%.2f", r.temp_c);
    if (r.has & nmea::kHasHumidity) o.field("humidity_pct", "%.1f", r.humidity_pct);
    if (r.has & nmea::kHasPressure) o.field("pressure_bar", "%.4f", r.pressure_bar);
  }
  o.add(" %lld\n", static_cast<long long>(r.wall_ns));
  return o.ok ? o.pos : 0;
}

}  // namespace telemetry
