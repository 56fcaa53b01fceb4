// A test's stderr made a pipe, to read what a replay printed there.
#pragma once

#include <unistd.h>

#include <string>

// After the standard containers: CppUTest redefines new.
#include "CppUTest/TestHarness.h"

// The process's stderr is a pipe from construction to end(), which gives
// stderr back and returns what went there.
struct StderrCapture {
  int p[2] = {-1, -1};
  int saved = -1;
  StderrCapture() {
    CHECK_EQUAL(0, ::pipe(p));
    saved = ::dup(2);
    CHECK_EQUAL(2, ::dup2(p[1], 2));
  }
  std::string end() {
    CHECK_EQUAL(2, ::dup2(saved, 2));
    (void)::close(saved);
    (void)::close(p[1]);
    std::string out;
    char buf[256];
    ssize_t n = 0;
    while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    (void)::close(p[0]);
    return out;
  }
};
