// Code the cross compilers have been seen to get wrong, each out of line.
#pragma once

namespace codegen {

// *p, or -4003 when it is 0. Debian 12's arm-linux-gnueabihf-g++ 12.2.0-14
// at -O1 (and -marm) if-converts this into "movw r0, #0xf05d; cmp; it ne;
// movne": the constant's upper half (movt #0xffff) is lost and 0 gives
// 61533. Seen as app::Resolver::server_miss() returning 61533 for
// dns::kErrServer under qemu-arm.
int nonzero_or(const int* p);

struct Far {
  int pad[559];
  int value;
};
int nonzero_or_far(const Far& f);  // the same at a large offset

}  // namespace codegen
