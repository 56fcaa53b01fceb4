#include "hal/ring.h"

#include <cerrno>
#include <cstring>

#include "hal/sys.h"

namespace hal {

size_t RingCore::push(const void* data, size_t len) {
  const size_t n = len < space() ? len : space();
  const auto* in = static_cast<const uint8_t*>(data);
  const size_t tail = (head_ + size_) % cap_;
  const size_t first = n < cap_ - tail ? n : cap_ - tail;
  std::memcpy(buf_ + tail, in, first);
  std::memcpy(buf_, in + first, n - first);
  size_ += n;
  return n;
}

size_t RingCore::peek(void* out, size_t len) const {
  const size_t n = len < size_ ? len : size_;
  auto* o = static_cast<uint8_t*>(out);
  const size_t first = n < cap_ - head_ ? n : cap_ - head_;
  std::memcpy(o, buf_ + head_, first);
  std::memcpy(o + first, buf_, n - first);
  return n;
}

void RingCore::consume(size_t len) {
  const size_t n = len < size_ ? len : size_;
  head_ = (head_ + n) % cap_;
  size_ -= n;
  if (size_ == 0) head_ = 0;
}

size_t RingCore::pop(void* out, size_t len) {
  const size_t n = peek(out, len);
  consume(n);
  return n;
}

long RingCore::fill_from(int fd) {
  if (space() == 0) return -ENOBUFS;
  long total = 0;
  while (space() > 0) {
    const size_t tail = (head_ + size_) % cap_;
    // Free bytes run from tail to the end of the buffer, or up to head.
    const size_t want = tail >= head_ ? cap_ - tail : head_ - tail;
    const long r = read(fd, buf_ + tail, want);
    if (r == -EINTR) continue;
    if (r < 0) return total > 0 ? total : r;
    if (r == 0) {
      eof_ = true;
      return total;
    }
    size_ += static_cast<size_t>(r);
    total += r;
    if (static_cast<size_t>(r) < want) break;  // short read: the fd is drained
  }
  return total;
}

long RingCore::drain_to(int fd, bool socket, int send_flags) {
  long total = 0;
  while (size_ > 0) {
    const size_t span = size_ < cap_ - head_ ? size_ : cap_ - head_;
    const long r = socket ? sendto(fd, buf_ + head_, span, kMsgNosignal | send_flags, nullptr)
                          : write(fd, buf_ + head_, span);
    if (r == -EINTR) continue;
    if (r < 0) return total > 0 ? total : r;
    consume(static_cast<size_t>(r));
    total += r;
    if (static_cast<size_t>(r) < span) break;  // short write: the fd is full
  }
  return total;
}

}  // namespace hal
