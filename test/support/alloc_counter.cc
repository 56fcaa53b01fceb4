#include "test/support/alloc_counter.h"

#include <atomic>
#include <cstddef>
#include <cstdlib>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define EVL_SANITIZED 1
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*,
                                                                             size_t),
                                                         void (*free_hook)(const volatile void*));
#endif

namespace {

std::atomic<bool> g_on{false};
std::atomic<uint64_t> g_count{0};

inline void note() {
  if (g_on.load(std::memory_order_relaxed)) g_count.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

#ifdef EVL_SANITIZED

namespace {
void on_malloc(const volatile void*, size_t) { note(); }
void on_free(const volatile void*) {}
struct Install {
  Install() { __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free); }
} g_install;
}  // namespace

#else

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void __libc_free(void*);

void* malloc(size_t n) {
  note();
  return __libc_malloc(n);
}
void* calloc(size_t n, size_t m) {
  note();
  return __libc_calloc(n, m);
}
void* realloc(void* p, size_t n) {
  note();
  return __libc_realloc(p, n);
}
void* memalign(size_t a, size_t n) {
  note();
  return __libc_memalign(a, n);
}
void* aligned_alloc(size_t a, size_t n) {
  note();
  return __libc_memalign(a, n);
}
int posix_memalign(void** out, size_t a, size_t n) {
  note();
  void* p = __libc_memalign(a, n);
  if (p == nullptr) return 12;  // ENOMEM
  *out = p;
  return 0;
}
void free(void* p) { __libc_free(p); }
}

#endif

namespace testsupport {

AllocCounter::AllocCounter() {
  g_count.store(0);
  g_on.store(true);
}

AllocCounter::~AllocCounter() { g_on.store(false); }

uint64_t AllocCounter::count() const { return g_count.load(); }

bool AllocCounter::working() const {
  const uint64_t before = g_count.load();
  void* volatile p = std::malloc(24);
  std::free(p);
  const uint64_t after = g_count.load();
  g_count.store(before);
  return after > before;
}

}  // namespace testsupport
