// Serial ports (termios) over the seam.
//
// SerialPort::open() opens a tty non-blocking, close-on-exec and without
// becoming its controlling terminal, takes it exclusively (TIOCEXCL), and
// sets raw mode with the given line settings through termios2, so any baud
// rate the driver accepts works (BOTHER). close() restores the settings it
// found, releases exclusivity and closes. Where TCGETS2 is missing (qemu-user
// emulates only the classic ioctls) it falls back to struct termios and the
// standard rates; other rates then give -EOPNOTSUPP. Errors, each distinct:
//   -ENOENT      no such device
//   -EACCES      permission denied (EPERM from the kernel is mapped here too)
//   -ENOTTY      the path is not a terminal
//   -EBUSY       another process holds the device exclusively
//   -EOPNOTSUPP  the driver does not accept the baud rate
//   -EINVAL      a malformed SerialConfig (baud 0, data bits outside 5..8,
//                stop bits outside 1..2, unknown parity or flow control)
// Reads: with vmin = vtime = 0 (the default) a read with nothing waiting
// returns 0, not -EAGAIN (Linux's non-canonical "polling read"); it is not end
// of file. A hang-up (unplugged adapter, closed pty master) shows as
// EPOLLHUP and -EIO.
// Line errors: with parity on, a byte with a parity or framing error arrives
// as a NUL byte (INPCK without PARMRK/IGNPAR), as Linux delivers it.
#pragma once

#include <cstdint>

#include "hal/snapshot.h"
#include "hal/sys.h"

namespace hal {

enum class Parity : uint8_t { kNone = 0, kEven = 1, kOdd = 2 };
enum class Flow : uint8_t { kNone = 0, kHardware = 1, kSoftware = 2 };

struct SerialConfig {
  uint32_t baud = 9600;
  uint8_t data_bits = 8;
  Parity parity = Parity::kNone;
  uint8_t stop_bits = 1;
  Flow flow = Flow::kNone;
  uint8_t vmin = 0;  // non-blocking reads: both 0
  uint8_t vtime = 0;
};

// Line settings -> termios2 (raw mode), applied on top of `base`.
[[nodiscard]] int serial_encode(const SerialConfig& cfg, const Termios2& base, Termios2* out);
// termios2 -> line settings (for tests and the fake kernel).
void serial_decode(const Termios2& t, SerialConfig* out);
// True if t is raw: no canonical mode, echo, signals, or output processing.
bool serial_is_raw(const Termios2& t);
// Sets raw mode and line settings on an open tty without taking it
// exclusively (the pseudo-terminal a simulator hands out, say).
[[nodiscard]] int serial_configure(int fd, const SerialConfig& cfg);
// The line settings a tty has now (termios2 or the classic ioctl).
[[nodiscard]] int serial_read_config(int fd, SerialConfig* out, bool* raw);
// Bits on the wire per byte: start + data + parity + stop.
uint32_t serial_bits_per_byte(const SerialConfig& cfg);

class SerialPort {
 public:
  SerialPort() = default;
  SerialPort(const SerialPort&) = delete;
  SerialPort& operator=(const SerialPort&) = delete;
  ~SerialPort() { (void)close(); }

  [[nodiscard]] int open(const char* path, const SerialConfig& cfg);
  // Restores the original settings; returns the first error but always
  // closes. 0 if not open.
  [[nodiscard]] int close();
  int fd() const { return fd_; }
  // Snapshots (hal/flight.h): the fd and the settings close() restores.
  // restore() takes them without a system call, forgetting (not closing)
  // the port it had; false for bytes it cannot use.
  void save(flight::SnapWriter& w) const;
  [[nodiscard]] bool restore(flight::SnapReader& r);

 private:
  int fd_ = -1;
  Termios2 saved_{};
  bool termios2_ = true;  // false: the kernel (or qemu-user) lacks TCGETS2
};

}  // namespace hal
