// Sizes of the loop's slots and of a typical loop, as symbols whose sizes the
// size report reads with nm (no need to run an ARM binary).
#include "loop/static_loop.h"

extern "C" {
char evl_sizeof_io_slot[sizeof(evl::IoSlot)];
char evl_sizeof_timer_slot[sizeof(evl::TimerSlot)];
char evl_sizeof_heap_entry[sizeof(evl::HeapEntry)];
char evl_sizeof_signal_slot[sizeof(evl::SignalSlot)];
char evl_sizeof_wake_slot[sizeof(evl::WakeSlot)];
char evl_sizeof_defer_slot[sizeof(evl::DeferSlot)];
// A typical configuration: 64 io watchers, 128 timers, defaults elsewhere.
char evl_sizeof_loop_64_128[sizeof(evl::StaticLoop<64, 128>)];
}
