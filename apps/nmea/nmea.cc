#include "apps/nmea/nmea.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace nmea {
namespace {

constexpr int kMaxFields = 24;

struct Fields {
  const char* f[kMaxFields];
  size_t len[kMaxFields];
  int n = 0;
};

// Splits "GPGGA,a,b,...,z" (between '$' and '*') at commas.
bool split(const char* s, size_t len, Fields* out) {
  size_t start = 0;
  for (size_t i = 0; i <= len; ++i) {
    if (i == len || s[i] == ',') {
      if (out->n == kMaxFields) return false;
      out->f[out->n] = s + start;
      out->len[out->n] = i - start;
      ++out->n;
      start = i + 1;
    }
  }
  return true;
}

bool number(const char* s, size_t len, double* out) {
  if (len == 0 || len > 31) return false;
  char buf[32];
  std::memcpy(buf, s, len);
  buf[len] = '\0';
  char* end = nullptr;
  const double v = std::strtod(buf, &end);
  if (end != buf + len || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

bool field_is(const Fields& f, int i, const char* text) {
  return i < f.n && f.len[i] == std::strlen(text) && std::memcmp(f.f[i], text, f.len[i]) == 0;
}

// ddmm.mmmm (lat) or dddmm.mmmm (lon) plus hemisphere to signed degrees.
int coordinate(const Fields& f, int i, bool lat, double* out) {
  double raw = 0;
  if (i + 1 >= f.n || !number(f.f[i], f.len[i], &raw) || f.len[i + 1] != 1) return -1;
  const char h = f.f[i + 1][0];
  const bool ok_h = lat ? (h == 'N' || h == 'S') : (h == 'E' || h == 'W');
  if (!ok_h) return -1;
  const double deg = std::floor(raw / 100);
  const double min = raw - deg * 100;
  if (raw < 0 || min >= 60 || deg > (lat ? 90 : 180)) return 1;
  double v = deg + min / 60;
  if (v > (lat ? 90.0 : 180.0)) return 1;
  if (h == 'S' || h == 'W') v = -v;
  *out = v;
  return 0;
}

// An empty field is an absent value (NMEA's "null field"), not an error.
bool empty(const Fields& f, int i) { return i >= f.n || f.len[i] == 0; }

int parse_gga(const Fields& f, Record* r, Bad* why) {
  // GGA,time,lat,N,lon,E,fix,sats,hdop,alt,M,...
  if (f.n < 11) return (*why = Bad::kSyntax, -EINVAL);
  r->kind = Kind::kGps;
  double fix = 0, sats = 0;
  // An empty quality field is "no fix"; empty satellites are unknown.
  if ((!empty(f, 6) && !number(f.f[6], f.len[6], &fix)) ||
      (!empty(f, 7) && !number(f.f[7], f.len[7], &sats))) {
    return (*why = Bad::kSyntax, -EINVAL);
  }
  if (fix < 0 || fix > 8 || fix != std::floor(fix) || sats < 0 || sats > 99 ||
      sats != std::floor(sats)) {
    return (*why = Bad::kRange, -ERANGE);
  }
  r->fix = static_cast<uint8_t>(fix);
  if (!empty(f, 7)) {
    r->satellites = static_cast<uint8_t>(sats);
    r->has |= kHasSatellites;
  }
  if (r->fix == 0) return 0;  // no fix: a position field holds nothing current
  const int a = coordinate(f, 2, true, &r->lat);
  const int b = coordinate(f, 4, false, &r->lon);
  if (a < 0 || b < 0) return (*why = Bad::kSyntax, -EINVAL);
  if (a > 0 || b > 0) return (*why = Bad::kRange, -ERANGE);
  r->has |= kHasPosition;
  if (!empty(f, 9)) {
    if (!number(f.f[9], f.len[9], &r->alt_m)) return (*why = Bad::kSyntax, -EINVAL);
    if (r->alt_m < -1000 || r->alt_m > 20000) return (*why = Bad::kRange, -ERANGE);
    r->has |= kHasAltitude;
  }
  return 0;
}

int parse_rmc(const Fields& f, Record* r, Bad* why) {
  // RMC,time,status,lat,N,lon,E,speed,course,date,...
  if (f.n < 10) return (*why = Bad::kSyntax, -EINVAL);
  r->kind = Kind::kGps;
  if (!field_is(f, 2, "A") && !field_is(f, 2, "V")) return (*why = Bad::kSyntax, -EINVAL);
  r->fix = field_is(f, 2, "A") ? 1 : 0;
  if (r->fix == 0) return 0;
  const int a = coordinate(f, 3, true, &r->lat);
  const int b = coordinate(f, 5, false, &r->lon);
  if (a < 0 || b < 0) return (*why = Bad::kSyntax, -EINVAL);
  if (a > 0 || b > 0) return (*why = Bad::kRange, -ERANGE);
  r->has |= kHasPosition;
  if (f.len[7] > 0) {
    if (!number(f.f[7], f.len[7], &r->speed_kn)) return (*why = Bad::kSyntax, -EINVAL);
    if (r->speed_kn < 0 || r->speed_kn > 1000) return (*why = Bad::kRange, -ERANGE);
    r->has |= kHasSpeed;
  }
  return 0;
}

int parse_xdr(const Fields& f, Record* r, Bad* why) {
  // XDR,type,value,unit,name[,type,value,unit,name...]
  if (f.n < 5 || (f.n - 1) % 4 != 0) return (*why = Bad::kSyntax, -EINVAL);
  r->kind = Kind::kEnv;
  for (int i = 1; i + 3 < f.n; i += 4) {
    double v = 0;
    if (f.len[i] != 1 || !number(f.f[i + 1], f.len[i + 1], &v)) {
      return (*why = Bad::kSyntax, -EINVAL);
    }
    switch (f.f[i][0]) {
      case 'C':  // temperature, degrees C
        if (!field_is(f, i + 2, "C")) return (*why = Bad::kSyntax, -EINVAL);
        if (v < -60 || v > 100) return (*why = Bad::kRange, -ERANGE);
        r->temp_c = v;
        r->has |= kHasTemp;
        break;
      case 'H':  // relative humidity, percent
        if (!field_is(f, i + 2, "P")) return (*why = Bad::kSyntax, -EINVAL);
        if (v < 0 || v > 100) return (*why = Bad::kRange, -ERANGE);
        r->humidity_pct = v;
        r->has |= kHasHumidity;
        break;
      case 'P':  // pressure, bar
        if (!field_is(f, i + 2, "B")) return (*why = Bad::kSyntax, -EINVAL);
        if (v < 0.3 || v > 1.2) return (*why = Bad::kRange, -ERANGE);
        r->pressure_bar = v;
        r->has |= kHasPressure;
        break;
      default: break;  // other transducers are ignored
    }
  }
  if ((r->has & (kHasTemp | kHasHumidity | kHasPressure)) == 0) {
    return (*why = Bad::kUnknown, -EINVAL);
  }
  return 0;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

const char* bad_name(Bad b) {
  static const char* const kNames[] = {"checksum", "syntax", "range",
                                       "too_long", "noise",  "unknown"};
  return b < Bad::kCount ? kNames[static_cast<int>(b)] : "?";
}

uint8_t nmea_checksum(const char* body, size_t len) {
  uint8_t c = 0;
  for (size_t i = 0; i < len; ++i) c ^= static_cast<uint8_t>(body[i]);
  return c;
}

int parse_sentence(const char* s, size_t len, Record* out, Bad* why) {
  // No "*hh" at the end: a sentence cut short (a checksum that is there but
  // wrong is kChecksum, below).
  if (len < 9 || s[0] != '$' || s[len - 3] != '*') return (*why = Bad::kSyntax, -EINVAL);
  const int hi = hex(s[len - 2]);
  const int lo = hex(s[len - 1]);
  const size_t body_len = len - 4;
  if (hi < 0 || lo < 0 || nmea_checksum(s + 1, body_len) != (hi << 4 | lo)) {
    return (*why = Bad::kChecksum, -EINVAL);
  }
  Fields f;
  if (!split(s + 1, body_len, &f) || f.len[0] != 5) return (*why = Bad::kSyntax, -EINVAL);
  Record r;
  const char* type = f.f[0] + 2;  // skip the talker ("GP", "GN", "II", ...)
  int res = 0;
  if (std::memcmp(type, "GGA", 3) == 0) {
    res = parse_gga(f, &r, why);
  } else if (std::memcmp(type, "RMC", 3) == 0) {
    res = parse_rmc(f, &r, why);
  } else if (std::memcmp(type, "XDR", 3) == 0) {
    res = parse_xdr(f, &r, why);
  } else {
    *why = Bad::kUnknown;
    return -EINVAL;
  }
  if (res < 0) return res;
  *out = r;
  return 0;
}

void NmeaReader::feed(const uint8_t* data, size_t len) {
  for (size_t i = 0; i < len; ++i) byte(data[i]);
}

void NmeaReader::byte(uint8_t b) {
  if (b == '$') {
    if (in_sentence_ && !dropping_) on_bad_(Bad::kSyntax, ctx_);  // cut short by a new one
    in_sentence_ = true;
    dropping_ = false;
    noise_run_ = false;
    len_ = 0;
    buf_[len_++] = '$';
    return;
  }
  if (b == '\r' || b == '\n') {
    if (in_sentence_ && !dropping_) on_sentence_(buf_, len_, ctx_);
    in_sentence_ = false;
    dropping_ = false;
    noise_run_ = false;
    return;
  }
  if (!in_sentence_) {
    if (!noise_run_) on_bad_(Bad::kNoise, ctx_);
    noise_run_ = true;
    return;
  }
  if (dropping_) return;
  if (b < 0x20 || b > 0x7e) {
    on_bad_(Bad::kNoise, ctx_);
    dropping_ = true;
    return;
  }
  if (len_ == kMaxSentence) {
    on_bad_(Bad::kTooLong, ctx_);
    dropping_ = true;
    return;
  }
  buf_[len_++] = static_cast<char>(b);
}

void NmeaReader::save(flight::SnapWriter& w) const {
  w.put(static_cast<uint32_t>(len_));
  w.put(buf_, len_);
  const uint8_t flags =
      static_cast<uint8_t>((in_sentence_ ? 1 : 0) | (dropping_ ? 2 : 0) | (noise_run_ ? 4 : 0));
  w.put(flags);
}

bool NmeaReader::restore(flight::SnapReader& r) {
  uint32_t len = 0;
  uint8_t flags = 0;
  if (!r.get(&len) || len > sizeof buf_ || !r.get(buf_, len) || !r.get(&flags) || flags > 7) {
    return false;
  }
  len_ = len;
  in_sentence_ = (flags & 1) != 0;
  dropping_ = (flags & 2) != 0;
  noise_run_ = (flags & 4) != 0;
  return true;
}

}  // namespace nmea
