// Moves one object's state into another through a snapshot
// (apps/common/snapshot.h), on the fake kernel, as a replay restores a
// recorded state into the objects its start built: `to` must be started
// (and dropped) by the caller. The connection goes along: its fd is kept
// open across from.drop() by a dup and comes back under its own number.
#pragma once

#include <cstddef>
#include <cstdint>

#include "CppUTest/TestHarness.h"
#include "apps/common/snapshot.h"
#include "hal/sys.h"
#include "loop/loop.h"

namespace testsnap {

// save(w) writes from's state into bytes; returns the snapshot's size.
template <class From, class To, class Save>
size_t move_by_snapshot(evl::Loop& loop, From& from, To& to, Save save, uint8_t* bytes,
                        size_t cap) {
  flight::SnapWriter w(bytes, cap);
  save(w);
  CHECK(w.ok());
  const int fd = from.link().fd();
  const int keep = hal::dup(fd);
  from.drop();
  CHECK_EQUAL(fd, hal::dup(keep));  // the same number again
  CHECK_EQUAL(0, hal::close(keep));
  flight::SnapReader in(bytes, w.size());
  app::Restore r(loop, in);
  to.restore(r);
  CHECK_EQUAL(0, r.finish());
  CHECK_EQUAL(0u, in.left());
  return w.size();
}

}  // namespace testsnap
