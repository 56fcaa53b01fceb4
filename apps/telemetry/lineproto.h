// InfluxDB line protocol:  measurement,tag=v field=1.5,n=3i timestamp_ns
//   gps,device=ID fix=1i,sats=8i,lat=48.117300,lon=11.516667,alt_m=545.4,speed_kn=22.4 TS
//   env,device=ID temp_c=22.50,humidity_pct=45.1,pressure_bar=1.0132 TS
// Returns the length written (with the trailing newline), or 0 if it does not
// fit in len.
#pragma once

#include <cstddef>

#include "apps/nmea/record.h"

namespace telemetry {

size_t format_record(const nmea::Record& r, const char* device, char* buf, size_t len);

}  // namespace telemetry
