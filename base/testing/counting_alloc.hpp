// SPDX-License-Identifier: MIT
// Counting heap allocations, for the "allocates nothing per packet" tests.
//
// counting_alloc.cpp counts every heap allocation made on any thread while a CountAllocations
// is alive: malloc, calloc, realloc and the aligned forms (which OpenSSL and libsodium use)
// as well as operator new (which calls malloc). In plain builds it replaces glibc's malloc
// family with versions that count and forward to glibc's own (__libc_malloc, ...); under a
// sanitizer, which owns malloc, it installs the sanitizer's allocation hook instead. A binary
// can replace malloc only once, so every such test is a binary of its own:
// meshtun_alloc_test() in cmake/meshtun.cmake builds one with counting_alloc.cpp.
#pragma once

#include <cstdint>

namespace base::testing {

// Counts allocations on every thread from construction to destruction. Not nestable.
class CountAllocations {
 public:
  CountAllocations() noexcept;
  ~CountAllocations();
  CountAllocations(const CountAllocations&) = delete;
  CountAllocations& operator=(const CountAllocations&) = delete;

  std::uint64_t count() const noexcept;
};

}  // namespace base::testing
