// NMEA parsing, resynchronisation and the line protocol.
#include <cctype>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "CppUTest/TestHarness.h"
#include "apps/nmea/nmea.h"
#include "apps/telemetry/lineproto.h"

using nmea::Bad;
using nmea::Record;

namespace {

std::string with_checksum(const char* body) {
  char out[160];
  std::snprintf(out, sizeof out, "$%s*%02X", body, nmea::nmea_checksum(body, std::strlen(body)));
  return out;
}

int parse(const std::string& s, nmea::Record* r, nmea::Bad* why) {
  return nmea::parse_sentence(s.data(), s.size(), r, why);
}

struct Collected {
  std::vector<std::string> sentences;
  int bad[static_cast<int>(nmea::Bad::kCount)] = {};
};

void on_sentence(const char* s, size_t len, void* ctx) {
  static_cast<Collected*>(ctx)->sentences.emplace_back(s, len);
}
void on_bad(nmea::Bad why, void* ctx) {
  ++static_cast<Collected*>(ctx)->bad[static_cast<int>(why)];
}

}  // namespace

TEST_GROUP(Nmea){};

TEST(Nmea, gga_gives_fix_satellites_position_and_altitude) {
  nmea::Record r;
  nmea::Bad why = nmea::Bad::kCount;
  CHECK_EQUAL(
      0, parse(with_checksum("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"), &r,
               &why));
  CHECK(r.kind == nmea::Kind::kGps);
  CHECK_EQUAL(1, r.fix);
  CHECK_EQUAL(8, r.satellites);
  DOUBLES_EQUAL(48.1173, r.lat, 1e-6);
  DOUBLES_EQUAL(11.516667, r.lon, 1e-6);
  DOUBLES_EQUAL(545.4, r.alt_m, 1e-9);
}

TEST(Nmea, rmc_southern_western_hemisphere_and_speed) {
  nmea::Record r;
  nmea::Bad why = nmea::Bad::kCount;
  CHECK_EQUAL(
      0, parse(with_checksum("GNRMC,123519,A,3351.000,S,07040.500,W,022.4,084.4,230394,003.1,W"),
               &r, &why));
  DOUBLES_EQUAL(-33.85, r.lat, 1e-9);
  DOUBLES_EQUAL(-70.675, r.lon, 1e-9);
  DOUBLES_EQUAL(22.4, r.speed_kn, 1e-9);
  CHECK_EQUAL(0, parse(with_checksum("GPRMC,123519,V,,,,,,,230394,,"), &r, &why));
  CHECK_EQUAL(0, r.fix);  // no fix: a record without a position
}

TEST(Nmea, xdr_temperature_humidity_pressure) {
  nmea::Record r;
  nmea::Bad why = nmea::Bad::kCount;
  CHECK_EQUAL(0,
              parse(with_checksum("IIXDR,C,22.5,C,TEMP,H,45.1,P,HUM,P,1.0132,B,PRESS"), &r, &why));
  CHECK(r.kind == nmea::Kind::kEnv);
  DOUBLES_EQUAL(22.5, r.temp_c, 1e-9);
  DOUBLES_EQUAL(45.1, r.humidity_pct, 1e-9);
  DOUBLES_EQUAL(1.0132, r.pressure_bar, 1e-9);
}

TEST(Nmea, each_kind_of_bad_sentence_has_its_reason) {
  nmea::Record r;
  nmea::Bad why = nmea::Bad::kCount;
  std::string good = with_checksum("IIXDR,C,22.5,C,TEMP");
  std::string wrong = good;
  wrong[wrong.size() - 1] = wrong[wrong.size() - 1] == '0' ? '1' : '0';
  CHECK(parse(wrong, &r, &why) < 0);
  CHECK(why == nmea::Bad::kChecksum);
  CHECK(parse("$IIXDR,C,22.5,C,TEMP", &r, &why) < 0);  // cut before its *hh
  CHECK(why == nmea::Bad::kSyntax);
  CHECK(parse(with_checksum("IIXDR,C,abc,C,TEMP"), &r, &why) < 0);
  CHECK(why == nmea::Bad::kSyntax);
  CHECK(parse(with_checksum("IIXDR,C,150.0,C,TEMP"), &r, &why) < 0);
  CHECK(why == nmea::Bad::kRange);
  CHECK(parse(with_checksum("IIXDR,H,101,P,HUM"), &r, &why) < 0);
  CHECK(why == nmea::Bad::kRange);
  CHECK(parse(with_checksum("GPGGA,123519,9107.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"), &r,
              &why) < 0);
  CHECK(why == nmea::Bad::kRange);
  CHECK(parse(with_checksum("GPGGA,123519,4807.038,N,01131.000,E,9,08,0.9,545.4,M,46.9,M,,"), &r,
              &why) < 0);
  CHECK(why == nmea::Bad::kRange);
  CHECK(parse(with_checksum("GPGGA,123519,4807.038,X,01131.000,E,1,08,0.9,545.4,M"), &r, &why) < 0);
  CHECK(why == nmea::Bad::kSyntax);
  CHECK(parse(with_checksum("GPGGA,1,2"), &r, &why) < 0);
  CHECK(why == nmea::Bad::kSyntax);
  CHECK(parse(with_checksum("GPGSV,3,1,11,03,03,111,00"), &r, &why) < 0);
  CHECK(why == nmea::Bad::kUnknown);
}

TEST(Nmea, reader_resynchronises_after_garbage_overlong_lines_and_binary_noise) {
  Collected c;
  nmea::NmeaReader reader(on_sentence, on_bad, &c);
  const std::string a = with_checksum("IIXDR,C,1.0,C,T");
  std::string input = "garbage before " + a + "\r\n";
  input += "$" + std::string(200, 'x') + "\r\n";  // over-long
  input +=
      "$GPGGA,12\x01\x80\xff"
      "3*00\r\n";               // binary inside a sentence
  input += "\xde\xad\xbe\xef";  // noise between sentences
  input += "$GPRMC,cut short";  // cut by the next '$'
  input += a + "\n" + a + "\r\n";
  reader.feed(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  CHECK_EQUAL(3u, c.sentences.size());
  for (const auto& s : c.sentences) CHECK(s == a);
  CHECK_EQUAL(1, c.bad[static_cast<int>(nmea::Bad::kTooLong)]);
  CHECK_EQUAL(3, c.bad[static_cast<int>(nmea::Bad::kNoise)]);  // leading text, binary, dead beef
  CHECK_EQUAL(1, c.bad[static_cast<int>(nmea::Bad::kSyntax)]);
}

TEST(Nmea, sentence_split_across_reads_is_reassembled) {
  Collected c;
  nmea::NmeaReader reader(on_sentence, on_bad, &c);
  const std::string a = with_checksum("IIXDR,C,1.0,C,T") + "\r\n";
  for (char ch : a) reader.feed(reinterpret_cast<const uint8_t*>(&ch), 1);
  CHECK_EQUAL(1u, c.sentences.size());
}

TEST(Nmea, line_protocol_for_each_kind) {
  nmea::Record g;
  g.kind = nmea::Kind::kGps;
  g.fix = 1;
  g.satellites = 8;
  g.has = nmea::kHasSatellites | nmea::kHasPosition | nmea::kHasAltitude;
  g.lat = 48.1173;
  g.lon = -11.5;
  g.alt_m = 545.4;
  g.wall_ns = 1700000000000000000LL;
  char buf[256];
  const size_t n = telemetry::format_record(g, "b1", buf, sizeof buf);
  STRCMP_EQUAL(
      "gps,device=b1 fix=1i,sats=8i,lat=48.117300,lon=-11.500000,alt_m=545.4 1700000000000000000\n",
      buf);
  CHECK_EQUAL(std::strlen(buf), n);
  nmea::Record e;
  e.kind = nmea::Kind::kEnv;
  e.has = nmea::kHasTemp;
  e.temp_c = -3.25;
  e.wall_ns = 5;
  telemetry::format_record(e, "b1", buf, sizeof buf);
  STRCMP_EQUAL("env,device=b1 temp_c=-3.25 5\n", buf);
  CHECK_EQUAL(0u, telemetry::format_record(g, "b1", buf, 20));  // too small: nothing
}

// The field fault: 304 valid GGA sentences from real receivers were counted
// as bad_syntax because of empty optional fields (and the position was lost).
TEST(Nmea, gga_from_real_receivers_with_empty_optional_fields_is_accepted) {
  nmea::Record r;
  nmea::Bad why = nmea::Bad::kCount;
  CHECK_EQUAL(0, parse("$GPGGA,,,,,,0,,,,M,,M,,*66", &r, &why));
  CHECK_EQUAL(0, r.fix);
  CHECK_EQUAL(0, r.has & (nmea::kHasSatellites | nmea::kHasPosition));
  CHECK_EQUAL(0, parse("$GPGGA,000040.00,,,,,0,,,,,,,,*4C", &r, &why));
  CHECK_EQUAL(0, r.fix);
  CHECK_EQUAL(0, parse("$GPGGA,130711,5012.790800,N,00806.879600,W,2,,,,,,,*6A", &r, &why));
  CHECK_EQUAL(2, r.fix);
  CHECK(r.has & nmea::kHasPosition);  // the position is kept
  DOUBLES_EQUAL(50.21318, r.lat, 1e-5);
  DOUBLES_EQUAL(-8.11466, r.lon, 1e-5);
  CHECK_EQUAL(0, r.has & (nmea::kHasSatellites | nmea::kHasAltitude));
  // An empty quality field is no fix, as "0" is.
  CHECK_EQUAL(
      0, parse("$GPGGA,105025.80,5612.9999,N,00306.7096,W,,2,60.000,160.002,M,,M,,*56", &r, &why));
  CHECK_EQUAL(0, r.fix);
  CHECK_EQUAL(2, r.satellites);
  CHECK(r.has & nmea::kHasSatellites);
  // "00" satellites, accepted before, still is.
  CHECK_EQUAL(0, parse(with_checksum("GPGGA,1,,,,,0,00,,,M,,M,,"), &r, &why));
  CHECK_EQUAL(0, r.satellites);
}

TEST(Nmea, a_sentence_cut_by_the_next_one_is_syntax_not_checksum) {
  Collected c;
  nmea::NmeaReader reader(on_sentence, on_bad, &c);
  const std::string a = with_checksum("IIXDR,C,1.0,C,T");
  const std::string input = "$GPGGA,123519,4807.0" + a + "\r\n" + "$GPGGA,1*4" + a + "\r\n";
  reader.feed(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  CHECK_EQUAL(2u, c.sentences.size());
  CHECK_EQUAL(2, c.bad[static_cast<int>(nmea::Bad::kSyntax)]);
  CHECK_EQUAL(0, c.bad[static_cast<int>(nmea::Bad::kChecksum)]);
}

// Snapshots: a reader rebuilt from another's saved state finishes the
// sentence the first was reading.
TEST(Nmea, a_restored_reader_finishes_the_sentence_being_read) {
  Collected first, second;
  nmea::NmeaReader a(on_sentence, on_bad, &first);
  const std::string s = with_checksum("GPGGA,1,2") + "\r\n";
  a.feed(reinterpret_cast<const uint8_t*>(s.data()), 6);
  uint8_t bytes[256];
  flight::SnapWriter w(bytes, sizeof bytes);
  a.save(w);
  nmea::NmeaReader b(on_sentence, on_bad, &second);
  flight::SnapReader in(bytes, w.size());
  CHECK(b.restore(in));
  b.feed(reinterpret_cast<const uint8_t*>(s.data()) + 6, s.size() - 6);
  CHECK_EQUAL(1u, second.sentences.size());
  CHECK_EQUAL(s.substr(0, s.size() - 2), second.sentences[0]);
  flight::SnapReader cut(bytes, w.size() - 1);
  CHECK_FALSE(b.restore(cut));
  bytes[w.size() - 1] = 8;  // an unknown flag
  flight::SnapReader bad(bytes, w.size());
  CHECK_FALSE(b.restore(bad));
  const uint32_t too_long = 100000;
  std::memcpy(bytes, &too_long, 4);
  flight::SnapReader long_one(bytes, w.size());
  CHECK_FALSE(b.restore(long_one));
}

// Edges of what receivers and weather stations send: a checksum in lower
// case (seen from some receivers) is read; a transducer telemetry does not
// know (an angle, a voltage) is skipped beside known ones, and a sentence of
// only such is unknown, not an error in the line; a quality or satellite
// count that is no number is a syntax error.
TEST(Nmea, lower_case_checksums_unknown_transducers_and_non_numeric_counts) {
  nmea::Record r;
  nmea::Bad why = nmea::Bad::kCount;
  const std::string upper = with_checksum("IIXDR,C,21.5,C,TEMP");  // *5A: a letter in it
  std::string lower = upper;
  for (size_t i = lower.size() - 2; i < lower.size(); ++i) {
    lower[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(lower[i])));
  }
  CHECK(lower != upper);
  CHECK_EQUAL(0, parse(lower, &r, &why));
  DOUBLES_EQUAL(21.5, r.temp_c, 1e-9);
  std::string not_hex = upper;
  not_hex[not_hex.size() - 1] = 'G';
  CHECK(parse(not_hex, &r, &why) < 0);
  CHECK(why == nmea::Bad::kChecksum);  // not hex: no checksum it could match
  nmea::Record both;
  CHECK_EQUAL(
      0, parse(with_checksum("IIXDR,A,-1.5,D,PITCH,C,21.0,C,TEMP,U,12.1,V,BATT"), &both, &why));
  CHECK_EQUAL(nmea::kHasTemp, both.has);
  DOUBLES_EQUAL(21.0, both.temp_c, 1e-9);
  CHECK(parse(with_checksum("IIXDR,A,-1.5,D,PITCH"), &r, &why) < 0);
  CHECK(why == nmea::Bad::kUnknown);
  CHECK(parse(with_checksum("GPGGA,123519,4807.038,N,01131.000,E,x,08,0.9,545.4,M,46.9,M,,"), &r,
              &why) < 0);
  CHECK(why == nmea::Bad::kSyntax);
  CHECK(parse(with_checksum("GPGGA,123519,4807.038,N,01131.000,E,1,many,0.9,545.4,M,46.9,M,,"), &r,
              &why) < 0);
  CHECK(why == nmea::Bad::kSyntax);
}
