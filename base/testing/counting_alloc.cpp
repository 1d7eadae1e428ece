// SPDX-License-Identifier: MIT
#include "base/testing/counting_alloc.hpp"

#include <atomic>
#include <cstddef>
#include <cstdlib>

namespace {

std::atomic<bool> g_counting{false};
std::atomic<std::uint64_t> g_allocations{0};

void note_allocation() noexcept {
  if (g_counting.load(std::memory_order_relaxed))
    g_allocations.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

#if defined(MESHTUN_SANITIZED)

// The sanitizer runtime owns malloc; it calls this hook for every allocation it makes,
// operator new included.
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*,
                                                                             std::size_t),
                                                         void (*free_hook)(const volatile void*));

namespace {
void on_malloc(const volatile void*, std::size_t) {
  note_allocation();
}
void on_free(const volatile void*) {}
[[maybe_unused]] const int g_hooks_installed =
    __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
}  // namespace

#else

// glibc lets a program replace its malloc family (the manual's "Replacing malloc"); these
// count and hand over to glibc's own allocator, so memory from either side frees correctly.
extern "C" {
void* __libc_malloc(std::size_t n) noexcept;
void* __libc_calloc(std::size_t count, std::size_t n) noexcept;
void* __libc_realloc(void* p, std::size_t n) noexcept;
void* __libc_memalign(std::size_t align, std::size_t n) noexcept;
void __libc_free(void* p) noexcept;

void* malloc(std::size_t n) noexcept {
  note_allocation();
  return __libc_malloc(n);
}
void* calloc(std::size_t count, std::size_t n) noexcept {
  note_allocation();
  return __libc_calloc(count, n);
}
void* realloc(void* p, std::size_t n) noexcept {
  note_allocation();
  return __libc_realloc(p, n);
}
void* memalign(std::size_t align, std::size_t n) noexcept {
  note_allocation();
  return __libc_memalign(align, n);
}
void* aligned_alloc(std::size_t align, std::size_t n) noexcept {
  note_allocation();
  return __libc_memalign(align, n);
}
int posix_memalign(void** out, std::size_t align, std::size_t n) noexcept {
  note_allocation();
  void* p = __libc_memalign(align, n);
  if (p == nullptr) return 12;  // ENOMEM
  *out = p;
  return 0;
}
void free(void* p) noexcept {
  __libc_free(p);
}
}  // extern "C"

#endif

namespace base::testing {

CountAllocations::CountAllocations() noexcept {
  g_allocations.store(0, std::memory_order_relaxed);
  g_counting.store(true, std::memory_order_seq_cst);
}

CountAllocations::~CountAllocations() {
  g_counting.store(false, std::memory_order_seq_cst);
}

std::uint64_t CountAllocations::count() const noexcept {
  return g_allocations.load(std::memory_order_seq_cst);
}

}  // namespace base::testing
