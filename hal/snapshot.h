// The bytes of a snapshot of an app's state (hal/flight.h, "Snapshots"):
// what save hooks write and restore hooks read. Header-only, apart from the
// flight recorder, so that the parts of an app can describe their state
// without linking the recorder's ring.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace flight {

// Bytes an app's save hook writes, in a fixed buffer: a write past its end
// marks the snapshot failed (ok() false) instead of writing, and nothing is
// written after it.
class SnapWriter {
 public:
  SnapWriter(uint8_t* buf, size_t cap) : buf_(buf), cap_(cap) {}
  void put(const void* p, size_t n) {
    if (failed_ || n > cap_ - len_) {
      failed_ = true;
      return;
    }
    std::memcpy(buf_ + len_, p, n);
    len_ += n;
  }
  template <class T>
  void put(const T& v) {
    put(&v, sizeof v);
  }
  bool ok() const { return !failed_; }
  // A part that cannot be saved now: the snapshot is not taken.
  void fail() { failed_ = true; }
  size_t size() const { return len_; }

 private:
  uint8_t* buf_;
  size_t cap_;
  size_t len_ = 0;
  bool failed_ = false;
};

// Reads what a SnapWriter wrote: a read past the end fails (false, and
// ok() false from then on) and leaves the destination zeroed.
class SnapReader {
 public:
  SnapReader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  [[nodiscard]] bool get(void* dst, size_t n) {
    if (failed_ || n > n_ - pos_) {
      failed_ = true;
      std::memset(dst, 0, n);
      return false;
    }
    std::memcpy(dst, p_ + pos_, n);
    pos_ += n;
    return true;
  }
  template <class T>
  [[nodiscard]] bool get(T* v) {
    return get(v, sizeof *v);
  }
  bool ok() const { return !failed_; }
  size_t left() const { return n_ - pos_; }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  bool failed_ = false;
};

}  // namespace flight
