#include "apps/sensor_sim/sim.h"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "apps/nmea/nmea.h"

namespace sim {

uint64_t SentenceSource::next() {
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  return rng_;
}

size_t SentenceSource::sentence(const char* body, char* out, size_t len) {
  uint8_t sum = nmea::nmea_checksum(body, std::strlen(body));
  if (cfg_.corrupt_pct > 0 && static_cast<int64_t>(next() % 100) < cfg_.corrupt_pct) {
    sum ^= 0x5a;
    ++corrupted_;
  }
  const int n = std::snprintf(out, len, "$%s*%02X\r\n", body, sum);
  if (n < 0 || static_cast<size_t>(n) >= len) return 0;
  if (cfg_.truncate_pct > 0 && static_cast<int64_t>(next() % 100) < cfg_.truncate_pct) {
    ++corrupted_;
    return static_cast<size_t>(n) / 2;  // cut: no checksum, no line end
  }
  return static_cast<size_t>(n);
}

size_t SentenceSource::report(int64_t t_s, char* buf, size_t len) {
  // A walk around Munich, a day-long temperature swing, drifting humidity.
  const double t = static_cast<double>(t_s);
  const double lat = 48.1173 + 0.001 * std::sin(t / 600);
  const double lon = 11.5167 + 0.001 * std::cos(t / 600);
  const double temp = 18 + 6 * std::sin(t / 86400 * 2 * M_PI);
  const double hum = 45 + 10 * std::sin(t / 3600);
  const double press = 1.0132 + 0.002 * std::sin(t / 7200);
  const int hh = static_cast<int>(t_s / 3600 % 24), mm = static_cast<int>(t_s / 60 % 60),
            ss = static_cast<int>(t_s % 60);
  const double lat_min = (lat - std::floor(lat)) * 60, lon_min = (lon - std::floor(lon)) * 60;
  char body[128];
  size_t used = 0;
  auto add = [&](size_t n) {
    if (n == 0) return false;
    used += n;
    return true;
  };
  std::snprintf(body, sizeof body,
                "GPGGA,%02d%02d%02d.00,%02d%07.4f,N,%03d%07.4f,E,1,%02d,0.9,%.1f,M,46.9,M,,", hh,
                mm, ss, static_cast<int>(lat), lat_min, static_cast<int>(lon), lon_min,
                7 + static_cast<int>(next() % 5), 520 + 5 * std::sin(t / 300));
  if (!add(sentence(body, buf + used, len - used))) return 0;
  std::snprintf(body, sizeof body,
                "GPRMC,%02d%02d%02d.00,A,%02d%07.4f,N,%03d%07.4f,E,%.2f,84.4,271126,,,A", hh, mm,
                ss, static_cast<int>(lat), lat_min, static_cast<int>(lon), lon_min,
                2.0 + std::fabs(std::sin(t / 60)));
  if (!add(sentence(body, buf + used, len - used))) return 0;
  std::snprintf(body, sizeof body, "IIXDR,C,%.2f,C,TEMP,H,%.1f,P,HUM,P,%.4f,B,PRESS", temp, hum,
                press);
  if (!add(sentence(body, buf + used, len - used))) return 0;
  if (cfg_.noise_pct > 0 && static_cast<int64_t>(next() % 100) < cfg_.noise_pct &&
      len - used > 16) {
    for (int i = 0; i < 12; ++i) buf[used++] = static_cast<char>(0x80 | (next() & 0x7f));
    ++corrupted_;
  }
  return used;
}

}  // namespace sim
