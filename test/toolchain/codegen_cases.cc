#include "test/toolchain/codegen_cases.h"

namespace codegen {

// Out of line (a separate translation unit), so that the compiler cannot
// fold the case away at the call.
int nonzero_or(const int* p) { return *p != 0 ? *p : -4003; }

int nonzero_or_far(const Far& f) { return f.value != 0 ? f.value : -4003; }

}  // namespace codegen
