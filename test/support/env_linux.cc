#include "test/support/kernel_env.h"

namespace testenv {

void setup() {}
void teardown() {}
bool is_fake() { return false; }

}  // namespace testenv
