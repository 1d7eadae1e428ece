// SPDX-License-Identifier: MIT
// Counting the global operator new, for the "allocates nothing per packet" tests.
//
// counting_new.cpp replaces the global operator new and delete (plain, array, aligned) with
// versions that count calls made on any thread while a CountAllocations is alive. A binary
// can replace them only once, so every such test is a binary of its own: meshtun_alloc_test()
// in cmake/meshtun.cmake builds one with counting_new.cpp.
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
