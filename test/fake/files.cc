#include "test/fake/files.h"

#include <cerrno>
#include <cstring>

namespace fake {

void PipeEnd::touch() { ++buf_->seq; }

uint32_t PipeEnd::poll() const {
  uint32_t r = 0;
  if (reader_) {
    if (!buf_->data.empty()) r |= hal::kEpollIn;
    if (!buf_->writer_open) r |= hal::kEpollHup;
  } else {
    if (!buf_->reader_open) r |= hal::kEpollErr;
    if (buf_->data.size() < buf_->capacity) r |= hal::kEpollOut;
  }
  return r;
}

long PipeEnd::read(void* buf, size_t count) {
  if (!reader_) return -EBADF;
  if (buf_->data.empty()) {
    if (!buf_->writer_open) return 0;
    return nonblock ? -EAGAIN : -EDEADLK;
  }
  const size_t n = count < buf_->data.size() ? count : buf_->data.size();
  auto* out = static_cast<uint8_t*>(buf);
  for (size_t i = 0; i < n; ++i) {
    out[i] = buf_->data.front();
    buf_->data.pop_front();
  }
  touch();
  return static_cast<long>(n);
}

long PipeEnd::write(const void* buf, size_t count) {
  if (reader_) return -EBADF;
  if (!buf_->reader_open) return -EPIPE;
  const size_t space = buf_->capacity - buf_->data.size();
  if (space == 0) return nonblock ? -EAGAIN : -EDEADLK;
  const size_t n = count < space ? count : space;
  const auto* in = static_cast<const uint8_t*>(buf);
  buf_->data.insert(buf_->data.end(), in, in + n);
  touch();
  return static_cast<long>(n);
}

void PipeEnd::last_close() {
  if (reader_) {
    buf_->reader_open = false;
  } else {
    buf_->writer_open = false;
  }
  touch();
}

constexpr uint64_t kEventFdMax = 0xfffffffffffffffeULL;

uint32_t EventFd::poll() const {
  uint32_t r = 0;
  if (value_ > 0) r |= hal::kEpollIn;
  if (value_ < kEventFdMax) r |= hal::kEpollOut;
  return r;
}

long EventFd::read(void* buf, size_t count) {
  if (count < 8) return -EINVAL;
  if (value_ == 0) return nonblock ? -EAGAIN : -EDEADLK;
  const uint64_t v = semaphore_ ? 1 : value_;
  value_ -= v;
  std::memcpy(buf, &v, 8);
  ++seq;
  return 8;
}

long EventFd::write(const void* buf, size_t count) {
  if (count < 8) return -EINVAL;
  uint64_t v = 0;
  std::memcpy(&v, buf, 8);
  if (v == ~uint64_t{0}) return -EINVAL;
  if (v > kEventFdMax - value_) return nonblock ? -EAGAIN : -EDEADLK;
  value_ += v;
  ++seq;
  return 8;
}

uint32_t SignalFd::poll() const { return (kernel->pending_mask() & mask) != 0 ? hal::kEpollIn : 0; }

long SignalFd::read(void* buf, size_t count) {
  if (count < sizeof(hal::SignalfdSiginfo)) return -EINVAL;
  const uint64_t bit = kernel->take_signal(mask);
  if (bit == 0) return nonblock ? -EAGAIN : -EDEADLK;
  hal::SignalfdSiginfo si{};
  si.signo = static_cast<uint32_t>(__builtin_ctzll(bit) + 1);
  si.pid = static_cast<uint32_t>(Kernel::kPid);
  std::memcpy(buf, &si, sizeof si);
  return static_cast<long>(sizeof si);
}

uint32_t readiness(const File& f, uint32_t interest) {
  return f.poll() & (interest | hal::kEpollErr | hal::kEpollHup);
}

long SpecialFile::read(void* buf, size_t count) {
  switch (kind_) {
    case Kernel::Special::kDirectory: return -EISDIR;
    case Kernel::Special::kZero: std::memset(buf, 0, count); return static_cast<long>(count);
    case Kernel::Special::kFifo: return nonblock ? -EAGAIN : -EDEADLK;
    case Kernel::Special::kExecutable: return 0;
    case Kernel::Special::kWatchdog: return -EINVAL;
  }
  return -EINVAL;
}

uint32_t SpecialFile::mode() const {
  switch (kind_) {
    case Kernel::Special::kDirectory: return hal::kSIfdir | 0755;
    case Kernel::Special::kZero: return hal::kSIfchr | 0666;
    case Kernel::Special::kFifo: return hal::kSIfifo | 0644;
    case Kernel::Special::kExecutable: return hal::kSIfreg | 0755;
    case Kernel::Special::kWatchdog: return hal::kSIfchr | 0600;
  }
  return 0;
}

int Kernel::sys_fstat(int fd, hal::FileStat* out) {
  int err = 0;
  if (fault(Call::kFstat, &err)) return -err;
  File* f = file(fd);
  if (f == nullptr) return -EBADF;
  out->mode = f->mode();
  out->size = f->size();
  return 0;
}

int Kernel::sys_get_status_flags(int fd) {
  int err = 0;
  if (fault(Call::kFcntl, &err)) return -err;
  File* f = file(fd);
  if (f == nullptr) return -EBADF;
  return hal::kRdWr | (f->nonblock ? hal::kNonblock : 0) | (f->append ? hal::kAppend : 0);
}

int Kernel::sys_set_status_flags(int fd, int flags) {
  int err = 0;
  if (fault(Call::kFcntl, &err)) return -err;
  File* f = file(fd);
  if (f == nullptr) return -EBADF;
  f->nonblock = (flags & hal::kNonblock) != 0;
  f->append = (flags & hal::kAppend) != 0;
  return 0;
}

}  // namespace fake
