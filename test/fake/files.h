// File kinds of the fake kernel.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "test/fake/kernel.h"

namespace fake {

struct PipeBuffer {
  std::deque<uint8_t> data;
  size_t capacity = 65536;
  bool reader_open = true;
  bool writer_open = true;
  uint64_t seq = 1;
};

class PipeEnd : public File {
 public:
  PipeEnd(std::shared_ptr<PipeBuffer> b, bool reader) : buf_(std::move(b)), reader_(reader) {}
  uint32_t poll() const override;
  long read(void* buf, size_t count) override;
  long write(const void* buf, size_t count) override;
  void last_close() override;
  uint64_t changes() const override { return buf_->seq; }
  bool stream_like() const override { return true; }
  const char* type() const override { return reader_ ? "pipe-r" : "pipe-w"; }
  uint32_t mode() const override { return hal::kSIfifo | 0600; }

 private:
  void touch();
  std::shared_ptr<PipeBuffer> buf_;
  bool reader_;
};

class EventFd : public File {
 public:
  EventFd(uint64_t v, bool semaphore) : value_(v), semaphore_(semaphore) {}
  uint32_t poll() const override;
  long read(void* buf, size_t count) override;
  long write(const void* buf, size_t count) override;
  const char* type() const override { return "eventfd"; }

 private:
  uint64_t value_;
  bool semaphore_;
};

class SignalFd : public File {
 public:
  explicit SignalFd(uint64_t m) : mask(m) {}
  uint32_t poll() const override;
  long read(void* buf, size_t count) override;
  long write(const void*, size_t) override { return -22; }
  uint64_t changes() const override { return seq + kernel->signal_seq(); }
  const char* type() const override { return "signalfd"; }
  uint64_t mask;
};

class TimerFd : public File {
 public:
  explicit TimerFd(int clock_id) : clock_id_(clock_id) {}
  uint32_t poll() const override;
  long read(void* buf, size_t count) override;
  long write(const void*, size_t) override { return -22; }
  void last_close() override;
  uint64_t changes() const override;
  const char* type() const override { return "timerfd"; }

  int settime(int flags, const hal::Itimerspec& value, hal::Itimerspec* old);
  void gettime(hal::Itimerspec* curr) const;
  // The next expiry in monotonic-clock terms, or -1 when disarmed.
  int64_t next_mono() const;
  int64_t wake_time() const override { return next_mono(); }
  void clock_stepped();

 private:
  uint64_t due() const;  // expirations not yet read, as of now
  int64_t upcoming(int64_t now) const;
  int clock_id_;
  int64_t deadline_ns_ = 0;  // on clock_id_; 0 = disarmed
  int64_t interval_ns_ = 0;
  uint64_t unread_ = 0;  // expirations already counted past deadline_ns_
  bool cancel_on_set_ = false;
  bool canceled_ = false;
};

class RegularFile : public File {
 public:
  RegularFile() = default;
  explicit RegularFile(std::string content, uint32_t perms = 0644)
      : content_(std::move(content)), perms_(perms) {}
  uint32_t poll() const override { return hal::kEpollIn | hal::kEpollOut; }
  long read(void* buf, size_t count) override {
    const size_t n = count < content_.size() - pos_ ? count : content_.size() - pos_;
    content_.copy(static_cast<char*>(buf), n, pos_);
    pos_ += n;
    return static_cast<long>(n);
  }
  // Kept apart from what reads see (stdout and stderr are these: tests
  // read what a program printed with Kernel::written()).
  long write(const void* buf, size_t count) override {
    written_.append(static_cast<const char*>(buf), count);
    return static_cast<long>(count);
  }
  bool pollable() const override { return false; }
  const char* type() const override { return "regular"; }
  uint32_t mode() const override { return hal::kSIfreg | perms_; }
  int64_t size() const override { return static_cast<int64_t>(content_.size()); }
  const std::string& written() const { return written_; }

 private:
  std::string content_;
  uint32_t perms_ = 0644;
  size_t pos_ = 0;
  std::string written_;
};

// A file made by open(O_CREAT): writes append to its content, which the
// kernel keeps by path (renames move it) for tests to read. Opened again
// read-only (readable), it reads that content from its start.
class CreatedFile : public File {
 public:
  explicit CreatedFile(std::shared_ptr<std::string> content, bool readable = false)
      : content_(std::move(content)), readable_(readable) {}
  uint32_t poll() const override { return hal::kEpollIn | hal::kEpollOut; }
  long read(void* buf, size_t count) override {
    if (!readable_) return -9;  // opened write-only: EBADF
    const size_t left = content_->size() - pos_;
    const size_t n = count < left ? count : left;
    content_->copy(static_cast<char*>(buf), n, pos_);
    pos_ += n;
    return static_cast<long>(n);
  }
  long write(const void* buf, size_t count) override {
    if (readable_) return -9;  // opened read-only: EBADF
    content_->append(static_cast<const char*>(buf), count);
    return static_cast<long>(count);
  }
  bool pollable() const override { return false; }
  const char* type() const override { return "created"; }
  uint32_t mode() const override { return hal::kSIfreg | 0644; }
  int64_t size() const override { return static_cast<int64_t>(content_->size()); }

 private:
  std::shared_ptr<std::string> content_;
  bool readable_;
  size_t pos_ = 0;
};

// A directory (reads fail with EISDIR), /dev/zero (endless zeros) or a
// FIFO with no writer ever (reads would block).
class SpecialFile : public File {
 public:
  explicit SpecialFile(Kernel::Special k) : kind_(k) {}
  uint32_t poll() const override { return kind_ == Kernel::Special::kZero ? hal::kEpollIn : 0; }
  long read(void* buf, size_t count) override;
  long write(const void*, size_t count) override { return static_cast<long>(count); }
  bool pollable() const override { return kind_ == Kernel::Special::kFifo; }
  const char* type() const override { return "special"; }
  uint32_t mode() const override;
  Kernel::Special kind() const { return kind_; }

 private:
  Kernel::Special kind_;
};

class Epoll : public File {
 public:
  struct Item {
    int fd;
    File* file;
    uint32_t events;
    uint64_t data;
    uint64_t seen_seq;
    bool disabled;
  };
  static constexpr uint64_t kUnseen = ~uint64_t{0};

  uint32_t poll() const override;
  long read(void*, size_t) override { return -22; }
  long write(const void*, size_t) override { return -22; }
  void last_close() override;
  uint64_t changes() const override;
  const char* type() const override { return "epoll"; }

  int ctl(int op, int fd, File* f, const hal::EpollEvent* ev);
  int collect(hal::EpollEvent* out, int max);
  void forget(File* f);
  bool owns(const File* f) const;
  // The earliest wake_time() of the files it watches (-1 if none).
  int64_t earliest_wake() const;

 private:
  uint32_t ready_bits(const Item& it) const;
  std::vector<Item> items_;
  size_t cursor_ = 0;
};

// Nonzero readiness bits of a file for an epoll item, ignoring seq.
uint32_t readiness(const File& f, uint32_t interest);

}  // namespace fake
