// Prepare and check hooks: callbacks around the wait, for libraries with
// their own sockets and timeouts (a resolver, a D-Bus connection) that need
// a turn before the loop sleeps and after it wakes.
#include <cerrno>

#include "loop/loop.h"

namespace evl {
namespace {

constexpr uint32_t kCheckBit = 1;

}  // namespace

int Loop::hook_start(bool check, HookFn fn, void* ctx, uint64_t* raw) {
  if (raw == nullptr || fn == nullptr) return -EINVAL;
  if (epfd_ < 0) return -EINVAL;
  parts_.close_hooks = [](Loop& l) { l.close_hooks(); };
  parts_.run_hooks = [](Loop& l, bool after_wait) { l.run_hooks(after_wait); };
  uint32_t i = 0;
  HookSlot* s = hooks_.alloc(&i);
  if (s == nullptr) return -ENOSPC;
  s->fn = fn;
  s->ctx = ctx;
  s->seq = hook_seq_++;
  if (check) s->meta |= kCheckBit;
  hooks_changed();
  *raw = handle::pack(salt_, check ? Kind::kCheck : Kind::kPrepare, meta::gen(s->meta), i);
  return 0;
}

int Loop::prepare_start(HookFn fn, void* ctx, PrepareHandle* out) {
  return hook_start(false, fn, ctx, out != nullptr ? &out->raw : nullptr);
}

int Loop::check_start(HookFn fn, void* ctx, CheckHandle* out) {
  return hook_start(true, fn, ctx, out != nullptr ? &out->raw : nullptr);
}

int Loop::prepare_stop(PrepareHandle h) {
  if (lookup(hooks_, h) == nullptr) return -ESTALE;
  hooks_.release(handle::index(h.raw));
  hooks_changed();
  return 0;
}

int Loop::check_stop(CheckHandle h) {
  if (lookup(hooks_, h) == nullptr) return -ESTALE;
  hooks_.release(handle::index(h.raw));
  hooks_changed();
  return 0;
}

void Loop::close_hooks() {
  for (uint32_t i = 0; i < hooks_.capacity(); ++i) {
    if (hooks_.live(i)) hooks_.release(i);
  }
  hooks_changed();
}

// In start order; a hook started by another's callback waits for the next
// iteration, one stopped by it is not called.
void Loop::run_hooks(bool check) {
  const uint32_t want = check ? kCheckBit : 0;
  const uint32_t batch = hook_seq_;
  const bool outer = dispatching_;
  if (!outer) begin_dispatch();
  for (uint32_t after = 0;;) {
    uint32_t idx = kNoSlot;
    for (uint32_t i = 0; i < hooks_.capacity(); ++i) {
      const HookSlot& s = hooks_.at(i);
      if (!meta::live(s.meta) || (s.meta & kCheckBit) != want) continue;
      if (s.seq < after || s.seq >= batch) continue;
      if (idx == kNoSlot || s.seq < hooks_.at(idx).seq) idx = i;
    }
    if (idx == kNoSlot) break;
    HookSlot& s = hooks_.at(idx);
    after = s.seq + 1;
    s.fn(*this, s.ctx);
    timed_end();
  }
  if (!outer) dispatching_ = false;
}

}  // namespace evl
