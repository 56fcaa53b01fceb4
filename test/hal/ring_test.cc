// The byte ring and its fd helpers, on the fake kernel.
#include <cerrno>
#include <string>

#include "CppUTest/TestHarness.h"
#include "hal/ring.h"
#include "test/fake/kernel.h"

using fake::Call;

TEST_GROUP(Ring) {
  fake::Kernel* k = nullptr;
  int p[2] = {-1, -1};
  void setup() override {
    k = new fake::Kernel();
    CHECK_EQUAL(0, hal::pipe2(p, hal::kNonblock));
  }
  void teardown() override { delete k; }
};

TEST(Ring, push_pop_wrap_and_peek) {
  hal::Ring<8> r;
  CHECK_EQUAL(6u, r.push("abcdef", 6));
  char out[8] = {};
  CHECK_EQUAL(4u, r.pop(out, 4));
  CHECK_EQUAL(6u, r.push("ghijkl", 6));  // wraps
  CHECK_EQUAL(0u, r.push("x", 1));       // full
  CHECK_EQUAL(0u, r.space());
  CHECK_EQUAL('e', r.at(0));
  CHECK_EQUAL(8u, r.peek(out, 8));
  CHECK_EQUAL(std::string("efghijkl"), std::string(out, 8));
  r.consume(3);
  CHECK_EQUAL(5u, r.size());
  r.clear();
  CHECK(r.empty());
}

TEST(Ring, fill_reads_until_eagain_and_keeps_data_across_a_wrap) {
  hal::Ring<8> r;
  CHECK_EQUAL(-EAGAIN, r.fill_from(p[0]));
  CHECK_EQUAL(6, hal::write(p[1], "abcdef", 6));
  CHECK_EQUAL(6, r.fill_from(p[0]));
  char out[8];
  CHECK_EQUAL(5u, r.pop(out, 5));
  CHECK_EQUAL(7, hal::write(p[1], "ghijklm", 7));
  CHECK_EQUAL(7, r.fill_from(p[0]));  // two reads: to the end, then from 0
  CHECK_EQUAL(8u, r.pop(out, 8));
  CHECK_EQUAL(std::string("fghijklm"), std::string(out, 8));
}

TEST(Ring, fill_stops_when_full_and_reports_it) {
  hal::Ring<4> r;
  CHECK_EQUAL(6, hal::write(p[1], "abcdef", 6));
  CHECK_EQUAL(4, r.fill_from(p[0]));
  CHECK_EQUAL(-ENOBUFS, r.fill_from(p[0]));
}

TEST(Ring, fill_handles_short_reads_eintr_and_eof) {
  hal::Ring<16> r;
  CHECK_EQUAL(5, hal::write(p[1], "hello", 5));
  k->fail_next(Call::kRead, EINTR);
  k->short_next(Call::kRead, 2);
  CHECK_EQUAL(2, r.fill_from(p[0]));  // a short read means "drained for now"
  CHECK_EQUAL(3, r.fill_from(p[0]));
  CHECK_EQUAL(0, hal::close(p[1]));
  CHECK_EQUAL(0, r.fill_from(p[0]));
  CHECK(r.eof());
  CHECK_EQUAL(5u, r.size());
}

TEST(Ring, fill_error_keeps_what_was_read) {
  hal::Ring<16> r;
  CHECK_EQUAL(3, hal::write(p[1], "abc", 3));
  k->fail_next(Call::kRead, EIO);
  CHECK_EQUAL(-EIO, r.fill_from(p[0]));
  CHECK_EQUAL(3, r.fill_from(p[0]));
}

TEST(Ring, drain_handles_short_writes_eagain_and_errors) {
  hal::Ring<16> r;
  CHECK_EQUAL(0, r.drain_to(p[1], false));  // empty
  CHECK_EQUAL(10u, r.push("0123456789", 10));
  k->short_next(Call::kWrite, 4);
  CHECK_EQUAL(4, r.drain_to(p[1], false));
  CHECK_EQUAL(6u, r.size());
  k->fail_next(Call::kWrite, EAGAIN);
  CHECK_EQUAL(-EAGAIN, r.drain_to(p[1], false));
  k->fail_next(Call::kWrite, EINTR);
  CHECK_EQUAL(6, r.drain_to(p[1], false));
  char out[16];
  CHECK_EQUAL(10, hal::read(p[0], out, sizeof out));
  CHECK_EQUAL(std::string("0123456789"), std::string(out, 10));
  CHECK_EQUAL(3u, r.push("xyz", 3));
  CHECK_EQUAL(0, hal::close(p[0]));
  CHECK_EQUAL(-EPIPE, r.drain_to(p[1], false));
  CHECK_EQUAL(3u, r.size());  // nothing lost
}

TEST(Ring, drain_to_socket_never_raises_sigpipe) {
  int sv[2];
  CHECK_EQUAL(0, hal::socketpair(hal::kAfUnix, hal::kSockStream | hal::kNonblock, 0, sv));
  hal::Ring<8> r;
  CHECK_EQUAL(2u, r.push("hi", 2));
  CHECK_EQUAL(0, hal::shutdown(sv[0], hal::kShutWr));
  CHECK_EQUAL(-EPIPE, r.drain_to(sv[0], true));
  CHECK_EQUAL(0u, k->pending_mask());
  CHECK_EQUAL(0u, k->delivered_unblocked(13));
}
