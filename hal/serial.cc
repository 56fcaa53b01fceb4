#include "hal/serial.h"

#include <asm/termbits.h>

#include <cerrno>

namespace hal {
namespace {

// The termios bits used here, checked against the kernel's headers.
constexpr uint32_t kIgnbrk = 0x001, kBrkint = 0x002, kIgnpar = 0x004, kParmrk = 0x008;
constexpr uint32_t kInpck = 0x010, kIstrip = 0x020, kInlcr = 0x040, kIgncr = 0x080;
constexpr uint32_t kIcrnl = 0x100, kIxon = 0x0400, kIxany = 0x800, kIxoff = 0x1000;
constexpr uint32_t kOpost = 0x01;
constexpr uint32_t kCbaud = 0x0000100f, kBother = 0x00001000, kCibaud = 0x100f0000;
constexpr uint32_t kCsize = 0x30, kCstopb = 0x40, kCread = 0x80, kParenb = 0x100;
constexpr uint32_t kParodd = 0x200, kClocal = 0x800, kCrtscts = 0x80000000u;
constexpr uint32_t kIsig = 0x1, kIcanon = 0x2, kEcho = 0x8, kEchonl = 0x40, kIexten = 0x8000;
constexpr int kVtime = 5, kVmin = 6;

static_assert(kIgnbrk == IGNBRK && kBrkint == BRKINT && kIgnpar == IGNPAR && kParmrk == PARMRK,
              "iflag");
static_assert(kInpck == INPCK && kIstrip == ISTRIP && kInlcr == INLCR && kIgncr == IGNCR, "iflag");
static_assert(kIcrnl == ICRNL && kIxon == IXON && kIxany == IXANY && kIxoff == IXOFF, "iflag");
static_assert(kOpost == OPOST, "oflag");
static_assert(kCbaud == CBAUD && kBother == BOTHER && kCibaud == CIBAUD, "baud");
static_assert(kCsize == CSIZE && kCstopb == CSTOPB && kCread == CREAD && kParenb == PARENB,
              "cflag");
static_assert(kParodd == PARODD && kClocal == CLOCAL && kCrtscts == CRTSCTS, "cflag");
static_assert(kIsig == ISIG && kIcanon == ICANON && kEcho == ECHO && kEchonl == ECHONL &&
                  kIexten == IEXTEN,
              "lflag");
static_assert(kVtime == VTIME && kVmin == VMIN, "cc");

// Standard rates and their CBAUD codes, for the classic termios.
struct BaudCode {
  uint32_t baud;
  uint32_t code;
};
constexpr BaudCode kBauds[] = {
    {50, 1},           {75, 2},           {110, 3},          {134, 4},          {150, 5},
    {200, 6},          {300, 7},          {600, 8},          {1200, 9},         {1800, 10},
    {2400, 11},        {4800, 12},        {9600, 13},        {19200, 14},       {38400, 15},
    {57600, 0x1001},   {115200, 0x1002},  {230400, 0x1003},  {460800, 0x1004},  {500000, 0x1005},
    {576000, 0x1006},  {921600, 0x1007},  {1000000, 0x1008}, {1152000, 0x1009}, {1500000, 0x100a},
    {2000000, 0x100b}, {2500000, 0x100c}, {3000000, 0x100d}, {3500000, 0x100e}, {4000000, 0x100f},
};

uint32_t code_of(uint32_t baud) {
  for (const BaudCode& b : kBauds) {
    if (b.baud == baud) return b.code;
  }
  return 0;
}

uint32_t baud_of(uint32_t code) {
  for (const BaudCode& b : kBauds) {
    if (b.code == code) return b.baud;
  }
  return 0;
}

// Reads the settings as termios2, through the classic ioctl if need be.
int tty_get(int fd, Termios2* t, bool* v2) {
  int r = ioctl(fd, kTcgets2, t);
  if (r != -ENOSYS) {
    *v2 = true;
    return r;
  }
  Termios k{};
  r = ioctl(fd, kTcgets, &k);
  if (r < 0) return r;
  *t = Termios2{k.iflag, k.oflag, k.cflag, k.lflag, k.line, {}, 0, 0};
  for (int i = 0; i < 19; ++i) t->cc[i] = k.cc[i];
  t->ispeed = t->ospeed = baud_of(k.cflag & kCbaud);
  *v2 = false;
  return 0;
}

int tty_set(int fd, const Termios2& t, bool v2) {
  if (v2) return ioctl(fd, kTcsets2, const_cast<Termios2*>(&t));
  Termios k{t.iflag, t.oflag, t.cflag, t.lflag, t.line, {}};
  for (int i = 0; i < 19; ++i) k.cc[i] = t.cc[i];
  if ((t.cflag & kCbaud) == kBother) {
    const uint32_t code = code_of(t.ospeed);
    if (code == 0) return -EOPNOTSUPP;  // only termios2 can set other rates
    k.cflag = (t.cflag & ~(kCbaud | kCibaud)) | code;
  }
  return ioctl(fd, kTcsets, &k);
}

bool speed_close(uint32_t want, uint32_t got) {
  const uint32_t diff = want > got ? want - got : got - want;
  return uint64_t{diff} * 50 <= want;  // within 2 %
}

}  // namespace

int serial_encode(const SerialConfig& cfg, const Termios2& base, Termios2* out) {
  if (cfg.baud == 0 || cfg.data_bits < 5 || cfg.data_bits > 8) return -EINVAL;
  if (cfg.stop_bits < 1 || cfg.stop_bits > 2) return -EINVAL;
  if (static_cast<int>(cfg.parity) > 2 || static_cast<int>(cfg.flow) > 2) return -EINVAL;
  Termios2 t = base;
  t.iflag &= ~(kIgnbrk | kBrkint | kParmrk | kIstrip | kInlcr | kIgncr | kIcrnl | kIxon | kIxoff |
               kIxany | kIgnpar | kInpck);
  if (cfg.parity != Parity::kNone) t.iflag |= kInpck;
  if (cfg.flow == Flow::kSoftware) t.iflag |= kIxon | kIxoff;
  t.oflag &= ~kOpost;
  t.lflag &= ~(kEcho | kEchonl | kIcanon | kIsig | kIexten);
  t.cflag &= ~(kCsize | kParenb | kParodd | kCstopb | kCrtscts | kCbaud | kCibaud);
  t.cflag |= kCread | kClocal | kBother;
  t.cflag |= static_cast<uint32_t>(cfg.data_bits - 5) << 4;
  if (cfg.parity != Parity::kNone) t.cflag |= kParenb;
  if (cfg.parity == Parity::kOdd) t.cflag |= kParodd;
  if (cfg.stop_bits == 2) t.cflag |= kCstopb;
  if (cfg.flow == Flow::kHardware) t.cflag |= kCrtscts;
  t.ispeed = cfg.baud;
  t.ospeed = cfg.baud;
  t.cc[kVmin] = cfg.vmin;
  t.cc[kVtime] = cfg.vtime;
  *out = t;
  return 0;
}

void serial_decode(const Termios2& t, SerialConfig* out) {
  SerialConfig c;
  c.baud = t.ospeed;
  c.data_bits = static_cast<uint8_t>(((t.cflag & kCsize) >> 4) + 5);
  c.parity = (t.cflag & kParenb) == 0   ? Parity::kNone
             : (t.cflag & kParodd) != 0 ? Parity::kOdd
                                        : Parity::kEven;
  c.stop_bits = (t.cflag & kCstopb) != 0 ? 2 : 1;
  c.flow = (t.cflag & kCrtscts) != 0 ? Flow::kHardware
           : (t.iflag & kIxon) != 0  ? Flow::kSoftware
                                     : Flow::kNone;
  c.vmin = t.cc[kVmin];
  c.vtime = t.cc[kVtime];
  *out = c;
}

bool serial_is_raw(const Termios2& t) {
  return (t.lflag & (kEcho | kIcanon | kIsig | kIexten)) == 0 && (t.oflag & kOpost) == 0 &&
         (t.iflag & (kIcrnl | kInlcr | kIgncr | kIstrip)) == 0;
}

uint32_t serial_bits_per_byte(const SerialConfig& cfg) {
  return 1u + cfg.data_bits + (cfg.parity != Parity::kNone ? 1u : 0u) + cfg.stop_bits;
}

int serial_configure(int fd, const SerialConfig& cfg) {
  Termios2 t{};
  bool v2 = true;
  int r = tty_get(fd, &t, &v2);
  if (r < 0) return r;
  Termios2 want{};
  r = serial_encode(cfg, t, &want);
  if (r < 0) return r;
  return tty_set(fd, want, v2);
}

int serial_read_config(int fd, SerialConfig* out, bool* raw) {
  Termios2 t{};
  bool v2 = true;
  const int r = tty_get(fd, &t, &v2);
  if (r < 0) return r;
  serial_decode(t, out);
  if (raw != nullptr) *raw = serial_is_raw(t);
  return 0;
}

int SerialPort::open(const char* path, const SerialConfig& cfg) {
  if (fd_ >= 0 || path == nullptr) return -EINVAL;
  Termios2 probe{};
  if (serial_encode(cfg, probe, &probe) < 0) return -EINVAL;
  const int fd = hal::open(path, kRdWr | kNoCtty | kNonblock | kCloexec, 0);
  if (fd < 0) return fd == -EPERM ? -EACCES : fd;
  Termios2 saved{};
  bool v2 = true;
  int r = tty_get(fd, &saved, &v2);
  if (r < 0) {
    (void)hal::close(fd);
    return (r == -ENOTTY || r == -EINVAL) ? -ENOTTY : r;
  }
  int excl = 0;
  if (ioctl(fd, kTiocgexcl, &excl) == 0 && excl != 0) {
    (void)hal::close(fd);
    return -EBUSY;
  }
  r = ioctl(fd, kTiocexcl, nullptr);
  Termios2 want{};
  Termios2 got{};
  if (r == 0) r = serial_encode(cfg, saved, &want);
  if (r == 0) r = tty_set(fd, want, v2);
  if (r == 0) r = tty_get(fd, &got, &v2);
  if (r == 0 && !speed_close(cfg.baud, got.ospeed)) r = -EOPNOTSUPP;
  if (r == -EINVAL) r = -EOPNOTSUPP;  // the driver refused the settings
  if (r < 0) {
    (void)tty_set(fd, saved, v2);
    (void)ioctl(fd, kTiocnxcl, nullptr);
    (void)hal::close(fd);
    return r;
  }
  fd_ = fd;
  saved_ = saved;
  termios2_ = v2;
  return 0;
}

int SerialPort::close() {
  if (fd_ < 0) return 0;
  int first = tty_set(fd_, saved_, termios2_);
  const int r2 = ioctl(fd_, kTiocnxcl, nullptr);
  if (first == 0) first = r2;
  const int r3 = hal::close(fd_);
  if (first == 0) first = r3;
  fd_ = -1;
  return first;
}

void SerialPort::save(flight::SnapWriter& w) const {
  w.put(static_cast<int32_t>(fd_));
  w.put(saved_);
  w.put(static_cast<uint8_t>(termios2_ ? 1 : 0));
}

bool SerialPort::restore(flight::SnapReader& r) {
  int32_t fd = -1;
  uint8_t t2 = 0;
  if (!r.get(&fd) || !r.get(&saved_) || !r.get(&t2) || t2 > 1 || fd < -1) return false;
  fd_ = fd;
  termios2_ = t2 != 0;
  return true;
}

}  // namespace hal
