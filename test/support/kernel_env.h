// Tests that run on both kernels: the same source is linked once with the
// fake kernel (env_fake.cc) and once with the real one (env_linux.cc).
#pragma once

namespace testenv {

void setup();  // creates the fake kernel, or does nothing on Linux
void teardown();
bool is_fake();

}  // namespace testenv
