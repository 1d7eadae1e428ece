// SPDX-License-Identifier: MIT
#include "wg/replay_window.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <vector>

#include "base/testing/test_seed.hpp"

namespace {

using wg::ReplayWindow;

// REJECT_AFTER_MESSAGES of the whitepaper and wireguard-go: 2^64 - 2^13 - 1.
constexpr std::uint64_t kLimit = std::numeric_limits<std::uint64_t>::max() - 8192;
constexpr std::uint64_t kWindow = ReplayWindow::kWindowSize;

static_assert(ReplayWindow::kRingBits == 8192);
static_assert(ReplayWindow::kWindowSize == 8128);

// The specification the bitmap must implement, written the obvious way.
class NaiveReplay {
 public:
  bool accept(std::uint64_t n, std::uint64_t limit) {
    if (n >= limit) return false;
    if (n <= highest_ && highest_ - n > kWindow) return false;
    if (!seen_.insert(n).second) return false;
    highest_ = std::max(highest_, n);
    return true;
  }

 private:
  std::set<std::uint64_t> seen_;
  std::uint64_t highest_ = 0;
};

struct Step {
  std::uint64_t counter;
  bool accepted;
};

void run_steps(const std::vector<Step>& steps, std::uint64_t limit = kLimit) {
  ReplayWindow w;
  int row = 0;
  for (const Step& s : steps) {
    ++row;
    CAPTURE(row);
    CAPTURE(s.counter);
    CHECK(w.accept(s.counter, limit) == s.accepted);
  }
}

TEST_CASE("replay window: first packet and duplicates") {
  run_steps({
      {0, true},   // 1: a fresh window takes counter 0
      {0, false},  // 2: and only once
      {1, true},   // 3
      {1, false},  // 4
      {3, true},   // 5: a gap
      {2, true},   // 6: fills it late
      {2, false},  // 7
      {3, false},  // 8
  });
}

TEST_CASE("replay window: a fresh window may start above 0") {
  run_steps({
      {5, true},   // 1
      {0, true},   // 2: below the first counter but inside the window
      {4, true},   // 3
      {5, false},  // 4
  });
}

TEST_CASE("replay window: the edge of the window is 8128 behind the top") {
  const std::uint64_t top = 100'000;
  run_steps({
      {top, true},                 // 1
      {top - kWindow, true},       // 2: exactly 8128 behind: inside
      {top - kWindow, false},      // 3: ... and remembered
      {top - kWindow - 1, false},  // 4: 8129 behind: too old
      {top - kWindow + 1, true},   // 5: 8127 behind
      {top - 1, true},             // 6
      {top + 1, true},             // 7: the top moves by one ...
      {top - kWindow, false},      // 8: ... so 8128 behind the old top is now 8129 behind
      {top + 1 - kWindow, false},  // 9: exactly 8128 behind the new top, but seen in 5
      {top + 2 - kWindow, true},   // 10
  });
}

TEST_CASE("replay window: the edge holds for every alignment within a word") {
  for (std::uint64_t top = 9000; top < 9000 + 2 * ReplayWindow::kWordBits; ++top) {
    CAPTURE(top);
    ReplayWindow w;
    REQUIRE(w.accept(top, kLimit));
    CHECK_FALSE(w.accept(top - kWindow - 1, kLimit));
    CHECK(w.accept(top - kWindow, kLimit));
    CHECK_FALSE(w.accept(top - kWindow, kLimit));
    CHECK(w.accept(top - 1, kLimit));
  }
}

TEST_CASE("replay window: jumps larger than the ring forget everything behind") {
  const std::uint64_t a = 50;
  const std::uint64_t jump = 3 * ReplayWindow::kRingBits + 17;  // ring wraps three times
  run_steps({
      {a, true},                   // 1
      {a + 1, true},               // 2
      {a + jump, true},            // 3: far ahead
      {a, false},                  // 4: now far behind the window
      {a + jump - kWindow, true},  // 5: same ring word as old bits: must have been cleared
      {a + jump - 1, true},        // 6
      {a + jump + 1, true},        // 7
      {a + jump, false},           // 8
  });
}

TEST_CASE("replay window: a jump of exactly the ring size clears the reused word") {
  // Counters 65 and 65 + 8192 both live in bit 1 of ring word 1; a stale bit left by the
  // first would reject the second.
  constexpr std::uint64_t kRing = ReplayWindow::kRingBits;
  run_steps({
      {65, true},                 // 1: word 1, bit 1
      {64 + kRing, true},         // 2: 128 blocks ahead: word 1 again, bit 0
      {65 + kRing, true},         // 3: word 1, bit 1: cleared by the slide
      {64 + kRing, false},        // 4
      {65, false},                // 5: 8192 behind: outside the window
      {65 + kRing - 8128, true},  // 6: exactly at the edge (word 2)
  });
}

TEST_CASE("replay window: the limit is exclusive") {
  const std::uint64_t limit = 1000;
  run_steps(
      {
          {limit, false},      // 1: counter == limit
          {limit + 1, false},  // 2
          {limit - 1, true},   // 3: limit - 1 is the last usable counter
          {limit - 1, false},  // 4
          {limit - 2, true},   // 5
          {std::numeric_limits<std::uint64_t>::max(), false},  // 6
      },
      limit);

  // The real limit near 2^64: the window arithmetic must not wrap.
  run_steps({
      {kLimit - 1, true},             // 1
      {kLimit, false},                // 2
      {kLimit - 1 - kWindow, true},   // 3
      {kLimit - 2 - kWindow, false},  // 4
      {0, false},                     // 5
  });
}

TEST_CASE("replay window: a rejected counter leaves the window unchanged") {
  ReplayWindow w;
  CHECK(w.accept(10'000, kLimit));
  CHECK_FALSE(w.accept(20'000, 15'000));  // over the limit: must not slide the window
  CHECK(w.last() == 10'000);
  CHECK(w.accept(10'000 - kWindow, kLimit));
}

TEST_CASE("replay window: reset forgets everything") {
  ReplayWindow w;
  for (std::uint64_t i = 0; i < 20'000; i += 3) REQUIRE(w.accept(i, kLimit));
  w.reset();
  CHECK(w.last() == 0);
  // After reset the window behaves like a new one, for counters in every ring word.
  ReplayWindow fresh;
  for (std::uint64_t i = 0; i < 20'000; i += 7) {
    CAPTURE(i);
    REQUIRE(w.accept(i, kLimit) == fresh.accept(i, kLimit));
  }
}

// A stream that looks like several senders racing: mostly increasing with local reordering,
// plus duplicates, stale counters, counters on both sides of the window edge and jumps, some
// past the whole ring. Counters are start + offset, saturating at 2^64 - 1.
class CounterStream {
 public:
  CounterStream(std::uint64_t seed, std::uint64_t start, bool far_jumps)
      : rng_(seed), start_(start), far_jumps_(far_jumps) {}

  std::uint64_t next() {
    const std::uint64_t kind = pick(99);
    std::uint64_t off = 0;
    if (kind < 55) {
      off = top_ + 1;  // in order
    } else if (kind < 75) {
      const std::uint64_t spread = pick(1) == 0 ? 64 : 2000;  // reordered within the window
      off = (top_ > spread ? top_ - spread : 0) + pick(2 * spread);
    } else if (kind < 83 && !recent_.empty()) {
      off = recent_[pick(recent_.size() - 1)];  // duplicate
    } else if (kind < 90) {
      const std::uint64_t d = kWindow - 2 + pick(4);  // around the window edge
      off = top_ > d ? top_ - d : pick(4);
    } else if (kind < 94) {
      const std::uint64_t d = kWindow + pick(4 * ReplayWindow::kRingBits);  // beyond the window
      off = top_ > d ? top_ - d : 0;
    } else if (kind < 98 || !far_jumps_) {
      off = top_ + pick(3 * ReplayWindow::kRingBits);  // jumps, some past the whole ring
    } else {
      off = top_ + (std::uint64_t{1} << pick(40));  // far jumps
    }
    top_ = std::max(top_, off);
    recent_.push_back(off);
    if (recent_.size() > 256) recent_.erase(recent_.begin());
    const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
    return off > max - start_ ? max - pick(3) : start_ + off;
  }

 private:
  std::uint64_t pick(std::uint64_t n) {
    return std::uniform_int_distribution<std::uint64_t>(0, n)(rng_);
  }

  std::mt19937_64 rng_;
  std::uint64_t start_;
  bool far_jumps_;
  std::uint64_t top_ = 0;
  std::vector<std::uint64_t> recent_;
};

TEST_CASE("replay window: differential test against a set") {
  const std::uint64_t seed = base::testing::test_seed();
  MESSAGE("replay window differential seed=" << seed << " (rerun with MESHTUN_TEST_SEED)");
  INFO("seed=" << seed);

  struct Run {
    std::uint64_t start;
    std::uint64_t limit;
    bool far_jumps;
  };
  // Streams grow by about 10M counters over 20k steps; the last two cross their limit midway.
  const Run kinds[] = {
      {0, kLimit, true},
      {1'000'000, kLimit, true},
      {kLimit - 5'000'000, kLimit, false},
      {0, 5'000'000, false},
  };
  for (int run = 0; run < 64; ++run) {
    CAPTURE(run);
    const Run& k = kinds[run % 4];
    CounterStream stream(seed + static_cast<std::uint64_t>(run), k.start, k.far_jumps);
    ReplayWindow w;
    NaiveReplay ref;
    std::uint64_t accepted = 0;
    for (int i = 0; i < 20'000; ++i) {
      const std::uint64_t n = stream.next();
      const bool want = ref.accept(n, k.limit);
      const bool got = w.accept(n, k.limit);
      if (want != got) {
        FAIL("mismatch at step " << i << " counter=" << n << " want=" << want << " got=" << got);
      }
      accepted += got ? 1 : 0;
    }
    CHECK(accepted > 1000);  // the stream exercised acceptance, not only rejection
  }
}

}  // namespace
