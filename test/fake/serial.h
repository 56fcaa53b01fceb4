// Serial devices and pseudo-terminals of the fake kernel.
//
// A SerialDevice is the line between the app's tty (the fd it opens) and the
// far end the test drives. Bytes sent from the far end arrive at the pace of
// the tty's configured baud rate and framing (start + data + parity + stop
// bits per byte), so a 9600-baud line delivers 960 bytes per virtual second
// at 8N1, handed over in chunks of kFifoBytes as a UART's receive FIFO does
// (each chunk when its last byte is in). A byte with a framing or parity error arrives as NUL, as
// Linux delivers it without PARMRK.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "hal/serial.h"
#include "test/fake/kernel.h"

namespace fake {

class SerialDevice {
 public:
  static constexpr size_t kFifoBytes = 16;
  explicit SerialDevice(Kernel* k);
  // The far end sends bytes; they arrive one by one at the line's pace.
  void emit(const std::string& bytes);
  void emit_error();  // one byte with a framing error
  // What the app wrote to the tty, taken out.
  std::string take_written();
  const hal::Termios2& termios() const { return termios_; }
  hal::SerialConfig config() const;
  bool exclusive() const { return exclusive_; }
  int opens() const { return opens_; }
  // Baud rates above this are refused (the driver falls back to 9600).
  uint32_t max_baud = 4000000;
  // false: TCGETS2/TCSETS2 fail with ENOSYS, as under qemu-user; the classic
  // TCGETS/TCSETS (rate codes in cflag) still work.
  bool termios2 = true;
  std::string path;

  // For the files.
  int64_t next_arrival() const;  // -1 if nothing queued
  size_t available() const;      // bytes already arrived
  size_t read(uint8_t* out, size_t len);
  void written(const uint8_t* in, size_t len) {
    tx_.append(reinterpret_cast<const char*>(in), len);
  }
  int ioctl(unsigned long request, void* arg);
  void apply(hal::Termios2 t);  // a TCSETS2 or TCSETS
  // Open files of this tty: the last close ends the exclusivity (Linux frees
  // the tty, and TTY_EXCLUSIVE with it).
  void file_opened() { ++open_files_; }
  void file_closed() {
    if (--open_files_ == 0) exclusive_ = false;
    ++seq;
  }
  uint64_t seq = 1;
  int opens_ = 0;
  bool hung_up = false;  // the master side of a pty closed, or the device unplugged

 private:
  Kernel* k_;
  hal::Termios2 termios_{};
  bool exclusive_ = false;
  int open_files_ = 0;
  std::deque<std::pair<int64_t, uint8_t>> rx_;  // (arrival time, byte)
  // Arrival times are base + n * bits * 1e9 / baud, exact over long runs.
  int64_t line_base_ns_ = 0;
  int64_t line_bytes_ = 0;
  std::string tx_;
};

// The app's end of a serial device (a tty fd).
class SerialFile : public File {
 public:
  explicit SerialFile(std::shared_ptr<SerialDevice> d) : dev(std::move(d)) { dev->file_opened(); }
  uint32_t poll() const override;
  long read(void* buf, size_t count) override;
  long write(const void* buf, size_t count) override;
  int64_t wake_time() const override { return dev->next_arrival(); }
  uint64_t changes() const override { return seq + dev->seq + dev->available(); }
  void last_close() override;
  bool stream_like() const override { return true; }
  const char* type() const override { return "tty"; }
  uint32_t mode() const override { return hal::kSIfchr | 0660; }
  std::shared_ptr<SerialDevice> dev;
};

// The master end of a fake pseudo-terminal: writes go to the line.
class PtyMaster : public File {
 public:
  explicit PtyMaster(std::shared_ptr<SerialDevice> d) : dev(std::move(d)) {}
  uint32_t poll() const override;
  long read(void* buf, size_t count) override;
  long write(const void* buf, size_t count) override;
  void last_close() override;
  const char* type() const override { return "pty-master"; }
  uint32_t mode() const override { return hal::kSIfchr | 0620; }
  std::shared_ptr<SerialDevice> dev;
};

}  // namespace fake
