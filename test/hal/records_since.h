// The records a recording seam test made: the ring dumped and read back
// (//test/hal:sys_record_test). Test code.
#pragma once

#include <cstdint>
#include <vector>

#include "CppUTest/TestHarness.h"
#include "hal/flight.h"
#include "hal/sys.h"

namespace hal_test {

// The recording's file (flight::path()), whole.
inline std::vector<uint8_t> recording_bytes() {
  const int fd = hal::open(flight::path(), hal::kRdOnly | hal::kCloexec, 0);
  CHECK(fd >= 0);
  hal::FileStat st{};
  CHECK_EQUAL(0, hal::fstat(fd, &st));
  std::vector<uint8_t> file(static_cast<size_t>(st.size));
  CHECK_EQUAL(st.size, hal::read(fd, file.data(), file.size()));
  CHECK_EQUAL(0, hal::close(fd));
  return file;
}

// The records made since `from` (a dump of the ring, read back).
inline std::vector<flight::Record> records_since(uint64_t from, std::vector<uint8_t>* file) {
  CHECK_EQUAL(0, flight::dump("test"));
  *file = recording_bytes();
  flight::Reader r;
  char err[128];
  CHECK_EQUAL(0, r.open(file->data(), file->size(), err, sizeof err));
  std::vector<flight::Record> out;
  flight::Record rec;
  // The pinned start's records are numbered from 0, the ring's from first_seq.
  const flight::FileHeader& h = r.header();
  for (uint64_t i = 0; r.next(&rec); ++i) {
    const uint64_t seq = i < h.pinned_records ? i : h.first_seq + (i - h.pinned_records);
    if (seq >= from) out.push_back(rec);
  }
  return out;
}

}  // namespace hal_test
