// The compilers of every configuration (host, armv7, aarch64, sanitizers)
// compile these cases right with the project's flags. toolchains/BUILD.bazel
// gives armv7 -fno-if-conversion for the first: without it this test fails
// under qemu-arm in the fastbuild (-O1) configuration.
#include "CppUTest/TestHarness.h"
#include "test/toolchain/codegen_cases.h"

TEST_GROUP(Codegen){};

TEST(Codegen, a_negative_constant_chosen_by_a_condition_keeps_its_upper_half) {
  const int zero = 0, seven = 7;
  CHECK_EQUAL(-4003, codegen::nonzero_or(&zero));
  CHECK_EQUAL(7, codegen::nonzero_or(&seven));
  static codegen::Far far{};
  CHECK_EQUAL(-4003, codegen::nonzero_or_far(far));
  far.value = -1;
  CHECK_EQUAL(-1, codegen::nonzero_or_far(far));
}
