// The README's pipe echo runs on the fake kernel, with short reads and an
// interrupted read on the way, and the README quotes its source verbatim.
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "CppUTest/TestHarness.h"
#include "apps/examples/pipe_echo.h"
#include "test/fake/kernel.h"

namespace {

std::string slurp(const std::string& rel) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  const std::string path =
      (srcdir != nullptr && ws != nullptr) ? std::string(srcdir) + "/" + ws + "/" + rel : rel;
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string between(const std::string& text, const std::string& a, const std::string& b) {
  const size_t from = text.find(a);
  const size_t to = text.find(b);
  if (from == std::string::npos || to == std::string::npos || to < from) return "";
  return text.substr(from + a.size(), to - from - a.size());
}

}  // namespace

TEST_GROUP(Example){};

TEST(Example, pipe_echo_copies_everything_through_short_and_interrupted_reads) {
  fake::Kernel k;
  int in[2];
  int out[2];
  CHECK_EQUAL(0, hal::pipe2(in, hal::kNonblock));
  CHECK_EQUAL(0, hal::pipe2(out, hal::kNonblock));
  const std::string text(1000, 'z');
  CHECK_EQUAL(1000, hal::write(in[1], text.data(), text.size()));
  CHECK_EQUAL(0, hal::close(in[1]));
  k.short_next(fake::Call::kRead, 7);
  examples::Echo echo{out[1]};
  k.fail_next(fake::Call::kRead, EINTR);
  CHECK_EQUAL(0, examples::pipe_echo(in[0], &echo));
  CHECK_EQUAL(1000u, echo.bytes);
  char buf[2000];
  CHECK_EQUAL(1000, hal::read(out[0], buf, sizeof buf));
  CHECK_EQUAL(-EBADF, hal::close(in[0]));  // io_close closed it
}

TEST(Example, pipe_echo_reports_a_read_error) {
  fake::Kernel k;
  int in[2];
  CHECK_EQUAL(0, hal::pipe2(in, hal::kNonblock));
  CHECK_EQUAL(1, hal::write(in[1], "x", 1));
  examples::Echo echo{in[1]};
  k.fail_next(fake::Call::kRead, EIO);
  CHECK_EQUAL(-EIO, examples::pipe_echo(in[0], &echo));
}

TEST(Example, readme_quotes_the_example_verbatim) {
  const std::string code =
      between(slurp("apps/examples/pipe_echo.cc"), "// [readme-begin]\n", "// [readme-end]");
  CHECK(code.size() > 200);
  const std::string readme = slurp("README.md");
  CHECK(readme.find(code) != std::string::npos);
}
