#include "test/fake/serial.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "test/fake/files.h"
#include "test/fake/net.h"

namespace fake {

SerialDevice::SerialDevice(Kernel* k) : k_(k) {
  // A fresh tty: 9600 8N1, cooked, as a kernel leaves it.
  hal::SerialConfig c;
  (void)hal::serial_encode(c, termios_, &termios_);
  termios_.lflag = 0x8a3b;  // ISIG ICANON ECHO ... (not raw)
  termios_.oflag = 0x5;     // OPOST ONLCR
}

hal::SerialConfig SerialDevice::config() const {
  hal::SerialConfig c;
  hal::serial_decode(termios_, &c);
  return c;
}

void SerialDevice::emit(const std::string& bytes) {
  const hal::SerialConfig c = config();
  const int64_t baud = c.baud == 0 ? 9600 : c.baud;
  const int64_t bits = hal::serial_bits_per_byte(c);
  const int64_t busy_until = line_base_ns_ + line_bytes_ * bits * 1000000000LL / baud;
  if (busy_until <= k_->monotonic_ns()) {  // the line is idle: start afresh
    line_base_ns_ = k_->monotonic_ns();
    line_bytes_ = 0;
  }
  // A UART hands bytes over a receive FIFO at a time, not one by one: each
  // chunk of up to kFifoBytes becomes readable when its last byte is in.
  const size_t first = rx_.size();
  for (char ch : bytes) {
    ++line_bytes_;
    rx_.emplace_back(line_base_ns_ + line_bytes_ * bits * 1000000000LL / baud,
                     static_cast<uint8_t>(ch));
  }
  for (size_t i = first; i < rx_.size(); i += kFifoBytes) {
    const size_t last = std::min(i + kFifoBytes, rx_.size()) - 1;
    for (size_t j = i; j < last; ++j) rx_[j].first = rx_[last].first;
  }
  ++seq;
}

void SerialDevice::emit_error() { emit(std::string(1, '\0')); }

std::string SerialDevice::take_written() {
  std::string out;
  out.swap(tx_);
  return out;
}

int64_t SerialDevice::next_arrival() const {
  for (const auto& b : rx_) {
    if (b.first > k_->monotonic_ns()) return b.first;
  }
  return -1;
}

size_t SerialDevice::available() const {
  size_t n = 0;
  for (const auto& b : rx_) {
    if (b.first > k_->monotonic_ns()) break;
    ++n;
  }
  return n;
}

size_t SerialDevice::read(uint8_t* out, size_t len) {
  size_t n = 0;
  while (n < len && !rx_.empty() && rx_.front().first <= k_->monotonic_ns()) {
    out[n++] = rx_.front().second;
    rx_.pop_front();
  }
  if (n > 0) ++seq;
  return n;
}

namespace {

// A few standard rates and their CBAUD codes, for the classic termios.
constexpr uint32_t kCbaudMask = 0x100f;
constexpr uint32_t kClassicRates[][2] = {{13, 9600},      {14, 19200},      {15, 38400},
                                         {0x1001, 57600}, {0x1002, 115200}, {0x1003, 230400}};

}  // namespace

void SerialDevice::apply(hal::Termios2 t) {
  if (t.ospeed > max_baud) t.ispeed = t.ospeed = 9600;  // what a UART driver would do
  termios_ = t;
  ++seq;
}

int SerialDevice::ioctl(unsigned long request, void* arg) {
  switch (request) {
    case hal::kTcgets2:
    case hal::kTcsets2:
    case hal::kTcsetsw2:
      if (!termios2) return -ENOSYS;  // as under qemu-user
      if (request == hal::kTcgets2) {
        std::memcpy(arg, &termios_, sizeof termios_);
      } else {
        hal::Termios2 t{};
        std::memcpy(&t, arg, sizeof t);
        apply(t);
      }
      return 0;
    case hal::kTcgets: {
      hal::Termios k{termios_.iflag, termios_.oflag, termios_.cflag,
                     termios_.lflag, termios_.line,  {}};
      std::memcpy(k.cc, termios_.cc, sizeof k.cc);
      for (const auto& r : kClassicRates) {
        if (r[1] == termios_.ospeed) k.cflag = (k.cflag & ~kCbaudMask) | r[0];
      }
      std::memcpy(arg, &k, sizeof k);
      return 0;
    }
    case hal::kTcsets: {
      hal::Termios k{};
      std::memcpy(&k, arg, sizeof k);
      hal::Termios2 t{k.iflag, k.oflag, k.cflag, k.lflag, k.line, {}, 0, 0};
      std::memcpy(t.cc, k.cc, sizeof k.cc);
      for (const auto& r : kClassicRates) {
        if (r[0] == (k.cflag & kCbaudMask)) t.ispeed = t.ospeed = r[1];
      }
      if (t.ospeed == 0) return -EINVAL;  // a code this fake does not know
      apply(t);
      return 0;
    }
    case hal::kTiocexcl: exclusive_ = true; return 0;
    case hal::kTiocnxcl: exclusive_ = false; return 0;
    case hal::kTiocgexcl: {
      const int v = exclusive_ ? 1 : 0;
      std::memcpy(arg, &v, sizeof v);
      return 0;
    }
    case hal::kFionread: {
      const int v = static_cast<int>(available());
      std::memcpy(arg, &v, sizeof v);
      return 0;
    }
    case hal::kTcflsh: return 0;
    default: return -ENOTTY;
  }
}

uint32_t SerialFile::poll() const {
  uint32_t r = hal::kEpollOut;
  if (dev->available() > 0) r |= hal::kEpollIn;
  // A hung-up tty polls IN|ERR|HUP (and OUT) for ever, as Linux's
  // hung_up_tty_poll does.
  if (dev->hung_up) r |= hal::kEpollHup | hal::kEpollErr | hal::kEpollIn;
  return r;
}

long SerialFile::read(void* buf, size_t count) {
  const size_t n = dev->read(static_cast<uint8_t*>(buf), count);
  if (n > 0) return static_cast<long>(n);
  if (dev->hung_up) return 0;  // Linux's hung_up_tty_read: end of file, for ever
  // Raw mode with VMIN = VTIME = 0 is a polling read: 0, not EAGAIN (Linux).
  const hal::SerialConfig c = dev->config();
  if (hal::serial_is_raw(dev->termios()) && c.vmin == 0 && c.vtime == 0) return 0;
  return nonblock ? -EAGAIN : -EDEADLK;
}

long SerialFile::write(const void* buf, size_t count) {
  if (dev->hung_up) return -EIO;
  dev->written(static_cast<const uint8_t*>(buf), count);
  ++dev->seq;
  return static_cast<long>(count);
}

void SerialFile::last_close() { dev->file_closed(); }

uint32_t PtyMaster::poll() const { return hal::kEpollOut; }

long PtyMaster::read(void* buf, size_t count) {
  const std::string w = dev->take_written();
  if (w.empty()) return nonblock ? -EAGAIN : -EDEADLK;
  const size_t n = std::min(count, w.size());
  std::memcpy(buf, w.data(), n);
  return static_cast<long>(n);
}

long PtyMaster::write(const void* buf, size_t count) {
  dev->emit(std::string(static_cast<const char*>(buf), count));
  return static_cast<long>(count);
}

void PtyMaster::last_close() {
  dev->hung_up = true;
  ++dev->seq;
}

SerialDevice& Kernel::add_serial(const char* path) {
  auto d = std::make_shared<SerialDevice>(this);
  d->path = path;
  serials_.emplace_back(path, d);
  return *d;
}

void Kernel::unplug_serial(const char* path) {
  for (auto it = serials_.begin(); it != serials_.end(); ++it) {
    if (it->first != path) continue;
    it->second->hung_up = true;
    ++it->second->seq;
    serials_.erase(it);
    return;
  }
}

SerialDevice* Kernel::serial(const char* path) {
  for (auto& e : serials_) {
    if (e.first == path) return e.second.get();
  }
  return nullptr;
}

void Kernel::add_regular_path(const char* path, const std::string& content) {
  regular_paths_.emplace_back(path, content);
}
void Kernel::deny_path(const char* path) { denied_paths_.emplace_back(path); }

void Kernel::add_special_path(const char* path, Special kind) {
  special_paths_.emplace_back(path, kind);
}

int Kernel::sys_open(const char* path, int flags, unsigned int) {
  int err = 0;
  if (fault(Call::kOpen, &err)) return -err;
  const std::string p = path;
  if (std::find(denied_paths_.begin(), denied_paths_.end(), p) != denied_paths_.end()) {
    return -EACCES;
  }
  const bool exclusive = (flags & (hal::kCreat | hal::kExcl)) == (hal::kCreat | hal::kExcl);
  for (const auto& rp : regular_paths_) {
    if (rp.first != p) continue;
    if (exclusive) return -EEXIST;
    uint32_t perms = 0644;
    for (const auto& pm : path_modes_) perms = pm.first == p ? pm.second : perms;
    auto f = std::make_shared<RegularFile>(rp.second, perms);
    f->nonblock = (flags & hal::kNonblock) != 0;
    return install(f);
  }
  for (const auto& sp : special_paths_) {
    if (sp.first != p) continue;
    if (exclusive) return -EEXIST;
    auto f = std::make_shared<SpecialFile>(sp.second);
    f->nonblock = (flags & hal::kNonblock) != 0;
    return install(f);
  }
  for (auto& c : created_) {
    if (c.first != p) continue;
    if (exclusive) return -EEXIST;
    if ((flags & hal::kTrunc) != 0) c.second->clear();
    return install(std::make_shared<CreatedFile>(c.second, (flags & 3) == hal::kRdOnly));
  }
  if ((flags & hal::kCreat) != 0 && serial(path) == nullptr) {
    created_.emplace_back(p, std::make_shared<std::string>());
    return install(std::make_shared<CreatedFile>(created_.back().second));
  }
  for (auto& e : serials_) {
    if (e.first != p) continue;
    if (e.second->exclusive()) return -EBUSY;  // TIOCEXCL, as seen by a non-root user
    auto f = std::make_shared<SerialFile>(e.second);
    f->nonblock = (flags & hal::kNonblock) != 0;
    ++e.second->opens_;
    return install(f);
  }
  return -ENOENT;
}

int Kernel::sys_fsync(int fd) {
  int err = 0;
  if (fault(Call::kFsync, &err)) return -err;
  return file(fd) == nullptr ? -EBADF : 0;
}

int Kernel::sys_rename(const char* from, const char* to) {
  int err = 0;
  if (fault(Call::kRename, &err)) return -err;
  auto it = std::find_if(created_.begin(), created_.end(),
                         [&](const auto& c) { return c.first == from; });
  if (it == created_.end()) return -ENOENT;
  std::shared_ptr<std::string> content = it->second;
  created_.erase(it);
  // The old `to` goes as part of this call (not an unlink of the caller's:
  // a fault injected into the next unlink is not this one).
  created_.erase(std::remove_if(created_.begin(), created_.end(),
                                [&](const auto& c) { return c.first == to; }),
                 created_.end());
  created_.emplace_back(to, std::move(content));
  return 0;
}

int Kernel::sys_unlink(const char* path) {
  int err = 0;
  if (fault(Call::kUnlink, &err)) return -err;
  auto it = std::find_if(created_.begin(), created_.end(),
                         [&](const auto& c) { return c.first == path; });
  if (it == created_.end()) return -ENOENT;
  created_.erase(it);
  return 0;
}

const std::string* Kernel::created_file(const char* path) const {
  for (const auto& c : created_) {
    if (c.first == path) return c.second.get();
  }
  return nullptr;
}

int Kernel::sys_ioctl(int fd, unsigned long request, void* arg) {
  int err = 0;
  if (fault(Call::kIoctl, &err)) return -err;
  File* f = file(fd);
  if (f == nullptr) return -EBADF;
  if (auto* s = dynamic_cast<SerialFile*>(f)) return s->dev->ioctl(request, arg);
  if (auto* w = dynamic_cast<SpecialFile*>(f); w != nullptr && w->kind() == Special::kWatchdog) {
    switch (request) {
      case hal::kWdiocKeepalive: ++watchdog_pets_; return 0;
      case hal::kWdiocGettimeout:
        if (watchdog_timeout_s_ == 0) return -EOPNOTSUPP;
        *static_cast<int*>(arg) = watchdog_timeout_s_;
        return 0;
      case hal::kWdiocGetsupport: {
        hal::WatchdogInfo info{};
        info.options = 0x8180;  // WDIOF_KEEPALIVEPING | WDIOF_MAGICCLOSE | WDIOF_SETTIMEOUT
        std::memcpy(info.identity, "fake watchdog", 13);
        std::memcpy(arg, &info, sizeof info);
        return 0;
      }
      default: return -ENOTTY;
    }
  }
  if (auto* so = dynamic_cast<Socket*>(f); so != nullptr && request == hal::kSiocOutq) {
    return so->unacked(static_cast<int*>(arg));
  }
  return -ENOTTY;
}

int Kernel::sys_openpty(int* master, int* slave, char* name, size_t name_len) {
  char path[32];
  std::snprintf(path, sizeof path, "/dev/pts/%d", pty_count_++);
  SerialDevice& d = add_serial(path);
  std::shared_ptr<SerialDevice> dev = serials_.back().second;
  auto m = std::make_shared<PtyMaster>(dev);
  m->nonblock = true;
  const int mfd = install(m);
  if (mfd < 0) return mfd;
  auto sf = std::make_shared<SerialFile>(dev);
  const int sfd = install(sf);
  if (sfd < 0) {
    (void)sys_close(mfd);
    return sfd;
  }
  (void)d;
  *master = mfd;
  *slave = sfd;
  std::snprintf(name, name_len, "%s", path);
  return 0;
}

}  // namespace fake
