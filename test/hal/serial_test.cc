// Serial ports on the fake kernel: termios state, errors, pacing.
#include <cerrno>
#include <cstring>
#include <string>

#include "CppUTest/TestHarness.h"
#include "hal/serial.h"
#include "loop/static_loop.h"
#include "test/fake/kernel.h"
#include "test/fake/serial.h"

using fake::Call;
using hal::Flow;
using hal::Parity;
using hal::SerialConfig;

TEST_GROUP(Serial) {
  fake::Kernel* k = nullptr;
  fake::SerialDevice* dev = nullptr;
  void setup() override {
    k = new fake::Kernel();
    dev = &k->add_serial("/dev/ttyS1");
  }
  void teardown() override { delete k; }
};

TEST(Serial, open_sets_raw_mode_line_settings_and_exclusivity) {
  const hal::Termios2 before = dev->termios();
  CHECK_FALSE(hal::serial_is_raw(before));
  hal::SerialPort port;
  SerialConfig cfg;
  cfg.baud = 57600;
  cfg.data_bits = 7;
  cfg.parity = Parity::kEven;
  cfg.stop_bits = 2;
  cfg.flow = Flow::kHardware;
  CHECK_EQUAL(0, port.open("/dev/ttyS1", cfg));
  CHECK(port.fd() >= 0);
  CHECK(hal::serial_is_raw(dev->termios()));
  const SerialConfig got = dev->config();
  CHECK_EQUAL(57600u, got.baud);
  CHECK_EQUAL(7, got.data_bits);
  CHECK(got.parity == Parity::kEven);
  CHECK_EQUAL(2, got.stop_bits);
  CHECK(got.flow == Flow::kHardware);
  CHECK(dev->exclusive());
  CHECK_EQUAL(0, port.close());
  CHECK_FALSE(dev->exclusive());
  MEMCMP_EQUAL(&before, &dev->termios(), sizeof before);  // restored
  CHECK_EQUAL(0, port.close());
}

TEST(Serial, arbitrary_baud_and_software_flow_and_odd_parity) {
  hal::SerialPort port;
  SerialConfig cfg;
  cfg.baud = 250000;
  cfg.parity = Parity::kOdd;
  cfg.flow = Flow::kSoftware;
  cfg.vmin = 1;
  cfg.vtime = 5;
  CHECK_EQUAL(0, port.open("/dev/ttyS1", cfg));
  const SerialConfig got = dev->config();
  CHECK_EQUAL(250000u, got.baud);
  CHECK(got.parity == Parity::kOdd);
  CHECK(got.flow == Flow::kSoftware);
  CHECK_EQUAL(1, got.vmin);
  CHECK_EQUAL(5, got.vtime);
}

TEST(Serial, each_failure_has_its_own_error_and_leaves_nothing_open) {
  const int before = k->open_fd_count();
  hal::SerialPort port;
  SerialConfig cfg;
  CHECK_EQUAL(-ENOENT, port.open("/dev/ttyUSB9", cfg));
  k->add_regular_path("/etc/hostname");
  CHECK_EQUAL(-ENOTTY, port.open("/etc/hostname", cfg));
  k->deny_path("/dev/ttyS2");
  CHECK_EQUAL(-EACCES, port.open("/dev/ttyS2", cfg));
  dev->max_baud = 115200;
  cfg.baud = 921600;
  CHECK_EQUAL(-EOPNOTSUPP, port.open("/dev/ttyS1", cfg));
  CHECK_FALSE(dev->exclusive());
  cfg.baud = 0;
  CHECK_EQUAL(-EINVAL, port.open("/dev/ttyS1", cfg));
  cfg.baud = 9600;
  cfg.data_bits = 9;
  CHECK_EQUAL(-EINVAL, port.open("/dev/ttyS1", cfg));
  cfg.data_bits = 8;
  cfg.stop_bits = 3;
  CHECK_EQUAL(-EINVAL, port.open("/dev/ttyS1", cfg));
  CHECK_EQUAL(before, k->open_fd_count());
  cfg.stop_bits = 1;
  hal::SerialPort first;
  CHECK_EQUAL(0, first.open("/dev/ttyS1", cfg));
  CHECK_EQUAL(-EBUSY, port.open("/dev/ttyS1", cfg));
  CHECK_EQUAL(-EINVAL, first.open("/dev/ttyS1", cfg));  // already open
}

TEST(Serial, ioctl_failure_during_setup_restores_and_closes) {
  hal::SerialPort port;
  SerialConfig cfg;
  const hal::Termios2 before = dev->termios();
  k->fail_next(Call::kIoctl, EIO);
  CHECK_EQUAL(-EIO, port.open("/dev/ttyS1", cfg));
  MEMCMP_EQUAL(&before, &dev->termios(), sizeof before);
  CHECK_EQUAL(0, k->open_fd_count());
}

TEST(Serial, every_setup_step_that_fails_closes_and_restores) {
  SerialConfig cfg;
  const hal::Termios2 before = dev->termios();
  // ioctls in order: TCGETS2, TIOCGEXCL, TIOCEXCL, TCSETS2, TCGETS2.
  const int after[] = {2, 3, 3, 4};
  const int injected[] = {EIO, EIO, EINVAL, EIO};
  const int errors[] = {-EIO, -EIO, -EOPNOTSUPP, -EIO};  // TCSETS2's EINVAL: refused
  for (int step = 0; step < 4; ++step) {
    hal::SerialPort port;
    k->fail_next(Call::kIoctl, injected[step], 1, after[step]);
    CHECK_EQUAL_TEXT(errors[step], port.open("/dev/ttyS1", cfg), std::to_string(step).c_str());
    MEMCMP_EQUAL(&before, &dev->termios(), sizeof before);
    CHECK_FALSE(dev->exclusive());
    CHECK_EQUAL(0, k->open_fd_count());
  }
  hal::SerialPort port;
  k->fail_next(Call::kIoctl, EINVAL);  // TCGETS2 refused: not a tty
  CHECK_EQUAL(-ENOTTY, port.open("/dev/ttyS1", cfg));
  k->fail_next(Call::kOpen, EPERM);
  CHECK_EQUAL(-EACCES, port.open("/dev/ttyS1", cfg));
  k->fail_next(Call::kOpen, EMFILE);
  CHECK_EQUAL(-EMFILE, port.open("/dev/ttyS1", cfg));
  CHECK_EQUAL(-EINVAL, port.open(nullptr, cfg));
  cfg.data_bits = 4;
  CHECK_EQUAL(-EINVAL, port.open("/dev/ttyS1", cfg));
  cfg.data_bits = 8;
  cfg.stop_bits = 0;
  CHECK_EQUAL(-EINVAL, port.open("/dev/ttyS1", cfg));
  cfg.stop_bits = 1;
  cfg.parity = static_cast<Parity>(3);  // e.g. read from a corrupted config
  CHECK_EQUAL(-EINVAL, port.open("/dev/ttyS1", cfg));
  cfg.parity = Parity::kNone;
  cfg.flow = static_cast<Flow>(7);
  CHECK_EQUAL(-EINVAL, port.open("/dev/ttyS1", cfg));
  CHECK_EQUAL(0, k->open_fd_count());
  // A TIOCGEXCL the driver does not know is not a reason to refuse.
  k->fail_next(Call::kIoctl, ENOTTY, 1, 1);
  cfg.flow = Flow::kNone;
  CHECK_EQUAL(0, port.open("/dev/ttyS1", cfg));
  CHECK(dev->exclusive());
}

TEST(Serial, closing_reports_the_first_failure_and_still_closes) {
  hal::SerialPort port;
  SerialConfig cfg;
  CHECK_EQUAL(0, port.open("/dev/ttyS1", cfg));
  k->fail_next(Call::kIoctl, EIO);  // restoring the settings
  CHECK_EQUAL(-EIO, port.close());
  CHECK_EQUAL(0, k->open_fd_count());
  CHECK_EQUAL(0, port.open("/dev/ttyS1", cfg));
  k->fail_next(Call::kIoctl, EIO, 1, 1);  // TIOCNXCL
  CHECK_EQUAL(-EIO, port.close());
  CHECK_EQUAL(0, port.open("/dev/ttyS1", cfg));
  k->fail_next(Call::kClose, EIO);
  CHECK_EQUAL(-EIO, port.close());
  CHECK_EQUAL(-1, port.fd());
}

TEST(Serial, classic_termios_where_termios2_is_missing) {
  dev->termios2 = false;  // qemu-user: TCGETS2 is ENOSYS
  hal::SerialPort port;
  SerialConfig cfg;
  cfg.baud = 115200;
  cfg.parity = Parity::kEven;
  CHECK_EQUAL(0, port.open("/dev/ttyS1", cfg));
  CHECK_EQUAL(115200u, dev->config().baud);
  CHECK(dev->config().parity == Parity::kEven);
  CHECK(hal::serial_is_raw(dev->termios()));
  SerialConfig got;
  bool raw = false;
  CHECK_EQUAL(0, hal::serial_read_config(port.fd(), &got, &raw));
  CHECK(raw);
  CHECK_EQUAL(115200u, got.baud);
  cfg.baud = 9600;
  CHECK_EQUAL(0, hal::serial_configure(port.fd(), cfg));
  CHECK_EQUAL(9600u, dev->config().baud);
  CHECK_EQUAL(0, port.close());
  // Restored (the rate now as its code in cflag, as Linux keeps it).
  CHECK_FALSE(hal::serial_is_raw(dev->termios()));
  CHECK_EQUAL(9600u, dev->config().baud);
  CHECK(dev->config().parity == Parity::kNone);
  // Only termios2 can set a rate without a code.
  const hal::Termios2 restored = dev->termios();
  cfg.baud = 250000;
  CHECK_EQUAL(-EOPNOTSUPP, port.open("/dev/ttyS1", cfg));
  MEMCMP_EQUAL(&restored, &dev->termios(), sizeof restored);
  k->fail_next(Call::kIoctl, EIO, 1, 1);  // the TCGETS after TCGETS2's ENOSYS
  CHECK_EQUAL(-EIO, port.open("/dev/ttyS1", cfg));
  CHECK_EQUAL(0, k->open_fd_count());
}

TEST(Serial, a_rate_the_classic_termios_cannot_name_reads_as_zero) {
  hal::SerialPort port;
  SerialConfig cfg;
  cfg.baud = 250000;
  CHECK_EQUAL(0, port.open("/dev/ttyS1", cfg));  // through termios2
  dev->termios2 = false;                         // now read it the classic way
  SerialConfig got;
  CHECK_EQUAL(0, hal::serial_read_config(port.fd(), &got, nullptr));
  CHECK_EQUAL(0u, got.baud);  // unknown, not a wrong rate
}

TEST(Serial, configure_and_read_config_report_errors) {
  SerialConfig cfg;
  SerialConfig got;
  CHECK_EQUAL(-EBADF, hal::serial_configure(99, cfg));
  CHECK_EQUAL(-EBADF, hal::serial_read_config(99, &got, nullptr));
  hal::SerialPort port;
  CHECK_EQUAL(0, port.open("/dev/ttyS1", cfg));
  cfg.baud = 0;
  CHECK_EQUAL(-EINVAL, hal::serial_configure(port.fd(), cfg));
  CHECK_EQUAL(0, hal::serial_read_config(port.fd(), &got, nullptr));
  CHECK_EQUAL(9600u, got.baud);
}

TEST(Serial, bytes_arrive_at_the_pace_of_the_baud_rate) {
  hal::SerialPort port;
  SerialConfig cfg;
  cfg.baud = 9600;  // 8N1: 10 bits a byte, 960 bytes a second
  CHECK_EQUAL(0, port.open("/dev/ttyS1", cfg));
  dev->emit(std::string(960, 'a'));
  evl::StaticLoop<2> loop;
  CHECK_EQUAL(0, loop.init());
  struct Rx {
    size_t bytes = 0;
    int64_t last_ns = 0;
  } rx;
  evl::IoHandle h;
  CHECK_EQUAL(0, loop.io_start(
                     port.fd(), evl::kIn,
                     [](evl::Loop& lp, evl::IoHandle ih, uint32_t, void* ctx) {
                       auto* r = static_cast<Rx*>(ctx);
                       char buf[64];
                       const long n = hal::read(lp.io_fd(ih), buf, sizeof buf);
                       if (n > 0) r->bytes += static_cast<size_t>(n);
                       r->last_ns = lp.now(evl::Clock::kMonotonic);
                       if (r->bytes == 960) lp.stop();
                     },
                     &rx, &h));
  const int64_t t0 = k->monotonic_ns();
  CHECK_EQUAL(0, loop.run());
  CHECK_EQUAL(960u, rx.bytes);
  CHECK_EQUAL(1000000000LL, rx.last_ns - t0);  // exactly one virtual second
  CHECK_EQUAL(0, loop.io_stop(h));
}

TEST(Serial, framing_error_arrives_as_nul_and_writes_reach_the_device) {
  hal::SerialPort port;
  CHECK_EQUAL(0, port.open("/dev/ttyS1", SerialConfig{}));
  dev->emit("A");
  dev->emit_error();
  dev->emit("B");
  k->advance(1000000000);
  char buf[8];
  CHECK_EQUAL(3, hal::read(port.fd(), buf, sizeof buf));
  CHECK_EQUAL('\0', buf[1]);
  CHECK_EQUAL(4, hal::write(port.fd(), "$CMD", 4));
  STRCMP_EQUAL("$CMD", dev->take_written().c_str());
}

TEST(Serial, fake_pty_master_feeds_the_slave_at_line_pace) {
  int m = -1, s = -1;
  char name[32];
  CHECK_EQUAL(0, hal::openpty(&m, &s, name, sizeof name));
  STRCMP_EQUAL("/dev/pts/0", name);
  hal::SerialPort port;
  SerialConfig cfg;
  cfg.baud = 115200;
  CHECK_EQUAL(0, port.open(name, cfg));
  CHECK_EQUAL(5, hal::write(m, "$GPGG", 5));
  char buf[8];
  CHECK_EQUAL(0, hal::read(port.fd(), buf, sizeof buf));  // raw, VMIN=VTIME=0: polling read
  k->advance(1000000);
  CHECK_EQUAL(5, hal::read(port.fd(), buf, sizeof buf));
  CHECK_EQUAL(2, hal::write(port.fd(), "ok", 2));
  CHECK_EQUAL(2, hal::read(m, buf, sizeof buf));
  CHECK_EQUAL(0, hal::close(m));
  CHECK_EQUAL(0, hal::read(port.fd(), buf, sizeof buf));  // hung up: Linux reads 0
}

// Snapshots: a port rebuilt from another's saved state holds its fd and
// puts back the first one's settings when it closes; nothing is called.
TEST(Serial, a_restored_port_takes_the_saved_fd_and_settings_without_a_call) {
  const hal::Termios2 before = dev->termios();
  hal::SerialPort port;
  CHECK_EQUAL(0, port.open("/dev/ttyS1", SerialConfig{}));
  uint8_t bytes[128];
  flight::SnapWriter w(bytes, sizeof bytes);
  port.save(w);
  CHECK(w.ok());
  k->reset_calls();
  hal::SerialPort restored;
  flight::SnapReader r(bytes, w.size());
  CHECK(restored.restore(r));
  CHECK_EQUAL(0u, r.left());
  CHECK_EQUAL(port.fd(), restored.fd());
  CHECK_EQUAL(0u, k->calls(Call::kIoctl) + k->calls(Call::kOpen));
  CHECK_EQUAL(0, restored.close());
  MEMCMP_EQUAL(&before, &dev->termios(), sizeof before);
  // A writer without room for it is marked failed, not overrun.
  uint8_t small[6] = {};  // room for the fd only
  flight::SnapWriter full(small, sizeof small);
  port.save(full);
  CHECK_FALSE(full.ok());
  CHECK_EQUAL(4u, full.size());  // the fd went in, the 44-byte settings did not
  // Cut short, or a flag out of range: refused.
  flight::SnapReader cut(bytes, w.size() - 1);
  CHECK_FALSE(hal::SerialPort().restore(cut));
  bytes[w.size() - 1] = 2;
  flight::SnapReader bad(bytes, w.size());
  CHECK_FALSE(hal::SerialPort().restore(bad));
  bytes[w.size() - 1] = 0;
  const int32_t minus_two = -2;
  std::memcpy(bytes, &minus_two, sizeof minus_two);
  flight::SnapReader negative(bytes, w.size());
  CHECK_FALSE(hal::SerialPort().restore(negative));
}
