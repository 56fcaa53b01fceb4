// A sensor record as telemetry keeps it: fixed size, no heap.
#pragma once

#include <cstdint>

namespace nmea {

enum class Kind : uint8_t { kGps = 0, kEnv = 1, kHealth = 2 };

struct Record {
  Kind kind = Kind::kGps;
  uint8_t fix = 0;  // GGA fix quality 0..8; RMC: 1 if status A
  uint8_t satellites = 0;
  uint8_t has = 0;      // bits: which optional fields are set (kHas*)
  int64_t wall_ns = 0;  // CLOCK_REALTIME when the record was accepted
  double lat = 0;       // degrees, + north
  double lon = 0;       // degrees, + east
  double alt_m = 0;
  double speed_kn = 0;
  double temp_c = 0;
  double humidity_pct = 0;
  double pressure_bar = 0;
};

constexpr uint8_t kHasPosition = 1;
constexpr uint8_t kHasAltitude = 2;
constexpr uint8_t kHasSpeed = 4;
constexpr uint8_t kHasTemp = 8;
constexpr uint8_t kHasHumidity = 16;
constexpr uint8_t kHasPressure = 32;
constexpr uint8_t kHasSatellites = 64;

}  // namespace nmea
