#include "test/fake/kernel.h"
#include "test/support/kernel_env.h"

namespace testenv {
namespace {
fake::Kernel* g_kernel = nullptr;
}

void setup() { g_kernel = new fake::Kernel(); }
void teardown() {
  delete g_kernel;
  g_kernel = nullptr;
}
bool is_fake() { return true; }

}  // namespace testenv
