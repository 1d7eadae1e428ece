// SPDX-License-Identifier: MIT
#include "wg/replay_window.hpp"

#include <algorithm>

namespace wg {

namespace {
constexpr unsigned kWordShift = 6;  // log2(kWordBits)
static_assert((1u << kWordShift) == ReplayWindow::kWordBits);
}  // namespace

bool ReplayWindow::accept(std::uint64_t counter, std::uint64_t limit) noexcept {
  if (counter >= limit) return false;

  const std::uint64_t block = counter >> kWordShift;
  if (counter > last_) {
    // Slide forward: the blocks after the old top up to the new one start empty. A jump of
    // more than the ring clears every word once; clearing more would be the same work again.
    const std::uint64_t top = last_ >> kWordShift;
    const std::uint64_t steps = std::min<std::uint64_t>(block - top, kRingWords);
    for (std::uint64_t i = 1; i <= steps; ++i) ring_[(top + i) & (kRingWords - 1)] = 0;
    last_ = counter;
  } else if (last_ - counter > kWindowSize) {
    return false;  // behind the window: its block may already hold newer counters' bits
  }

  std::uint64_t& word = ring_[block & (kRingWords - 1)];
  const std::uint64_t bit = std::uint64_t{1} << (counter & (kWordBits - 1));
  if ((word & bit) != 0) return false;  // replayed
  word |= bit;
  return true;
}

void ReplayWindow::reset() noexcept {
  last_ = 0;
  ring_.fill(0);
}

}  // namespace wg
