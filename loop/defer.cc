// Deferred calls: a FIFO of pool slots, run at the start of each iteration.
#include <cerrno>

#include "loop/loop.h"

namespace evl {

int Loop::defer(DeferFn fn, void* ctx, DeferHandle* out) {
  if (fn == nullptr) return -EINVAL;
  parts_.close_defers = [](Loop& l) { l.close_defers(); };
  parts_.run_defers = [](Loop& l) { l.run_defers(); };
  parts_.kick = [](Loop& l) { return l.kick(); };
  uint32_t i = 0;
  DeferSlot* s = defers_.alloc(&i);
  if (s == nullptr) return -ENOSPC;
  s->fn = fn;
  s->ctx = ctx;
  s->seq = defer_seq_++;
  s->next = kNoSlot;
  s->prev = defer_tail_;
  if (defer_tail_ == kNoSlot) {
    defer_head_ = i;
  } else {
    defers_.at(defer_tail_).next = i;
  }
  defer_tail_ = i;
  before_.defers = true;
  if (out != nullptr) out->raw = handle::pack(salt_, Kind::kDefer, meta::gen(s->meta), i);
  if (after_.embedded && !dispatching_) (void)kick();  // the parent's poll must see it
  return 0;
}

int Loop::defer_cancel(DeferHandle h) {
  DeferSlot* s = lookup(defers_, h);
  if (s == nullptr) return -ESTALE;
  const uint32_t i = handle::index(h.raw);
  if (s->prev == kNoSlot) {
    defer_head_ = s->next;
    before_.defers = defer_head_ != kNoSlot;
  } else {
    defers_.at(s->prev).next = s->next;
  }
  if (s->next == kNoSlot) {
    defer_tail_ = s->prev;
  } else {
    defers_.at(s->next).prev = s->prev;
  }
  defers_.release(i);
  return 0;
}

void Loop::close_defers() {
  while (defer_head_ != kNoSlot) {
    const uint32_t i = defer_head_;
    (void)defer_cancel(DeferHandle{handle::pack(salt_, Kind::kDefer, defers_.gen_of(i), i)});
  }
}

// Runs the calls queued before this iteration began; calls they queue have
// a later sequence number and wait for the next iteration.
void Loop::run_defers() {
  const uint32_t end_seq = defer_seq_;
  while (defer_head_ != kNoSlot) {
    const uint32_t i = defer_head_;
    DeferSlot& s = defers_.at(i);
    if (static_cast<int32_t>(s.seq - end_seq) >= 0) return;
    const DeferFn fn = s.fn;
    void* const ctx = s.ctx;
    (void)defer_cancel(DeferHandle{handle::pack(salt_, Kind::kDefer, meta::gen(s.meta), i)});
    fn(*this, ctx);
    timed_end();
  }
}

}  // namespace evl
