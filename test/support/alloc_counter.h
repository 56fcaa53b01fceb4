// Counts every heap allocation the process makes (malloc, calloc, realloc,
// aligned allocations, and operator new, which goes through malloc) while an
// AllocCounter is alive. Without sanitizers it interposes malloc & co. over
// glibc's; under ASan it uses the sanitizer's allocation hook.
#pragma once

#include <cstdint>

namespace testsupport {

class AllocCounter {
 public:
  AllocCounter();
  ~AllocCounter();
  uint64_t count() const;
  // Allocates once on purpose and checks that the count moved, so that a
  // zero count means "nothing allocated" and not "not counting".
  bool working() const;
};

}  // namespace testsupport
