// A fixed-capacity byte ring, and helpers that fill it from an fd and drain
// it to one, handling EAGAIN and short reads and writes. Ring<N> holds its
// storage; RingCore is the size-independent code.
//
// fill_from(): reads until the ring is full or the fd has nothing more.
//   Returns the bytes added (> 0), 0 at end of file (eof() turns true),
//   -EAGAIN if nothing was available, -ENOBUFS if the ring is full, or the
//   read error. Data read before an error stays in the ring.
// drain_to(): writes until the ring is empty or the fd would block.
//   Returns the bytes written (>= 0; 0 only if the ring was empty), -EAGAIN if
//   nothing could be written, or the write error (-EPIPE, -ECONNRESET...).
//   With socket = true it sends with MSG_NOSIGNAL, so no SIGPIPE, and with
//   send_flags besides (MSG_DONTWAIT: a send that does not wait on a
//   blocking socket).
#pragma once

#include <cstddef>
#include <cstdint>

namespace hal {

class RingCore {
 public:
  RingCore(uint8_t* buf, size_t capacity) : buf_(buf), cap_(capacity) {}
  RingCore(const RingCore&) = delete;
  RingCore& operator=(const RingCore&) = delete;

  size_t size() const { return size_; }
  size_t space() const { return cap_ - size_; }
  size_t capacity() const { return cap_; }
  bool empty() const { return size_ == 0; }
  bool eof() const { return eof_; }
  void clear() {
    head_ = 0;
    size_ = 0;
    eof_ = false;
  }

  // Copies in as much as fits; returns the count.
  size_t push(const void* data, size_t len);
  // Copies out up to len bytes and removes them; returns the count.
  size_t pop(void* out, size_t len);
  // Copies out without removing.
  size_t peek(void* out, size_t len) const;
  void consume(size_t len);
  // The byte at offset i from the front (i < size()).
  uint8_t at(size_t i) const { return buf_[(head_ + i) % cap_]; }

  [[nodiscard]] long fill_from(int fd);
  [[nodiscard]] long drain_to(int fd, bool socket, int send_flags = 0);

 private:
  uint8_t* buf_;
  size_t cap_;
  size_t head_ = 0;
  size_t size_ = 0;
  bool eof_ = false;
};

template <size_t N>
class Ring : public RingCore {
  static_assert(N > 0, "capacity");

 public:
  Ring() : RingCore(storage_, N) {}

 private:
  uint8_t storage_[N];
};

}  // namespace hal
