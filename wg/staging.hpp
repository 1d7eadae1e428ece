// SPDX-License-Identifier: MIT
// Packets waiting for a peer's keypair: a fixed ring of kMaxStagedPackets buffers that
// drops the oldest when full (the kernel's policy). Staging is the slow path (no keypair
// yet), so a mutex guards it; nothing here allocates.
#pragma once

#include <array>
#include <cstddef>
#include <span>

#include "base/packet.hpp"
#include "base/thread_annotations.hpp"
#include "wg/constants.hpp"

namespace wg {

class StagingQueue {
 public:
  // Takes `p`; returns true if the oldest staged packet was dropped to make room.
  bool push(base::PacketRef p) EXCLUDES(mu_);
  // Moves up to out.size() packets, oldest first, into `out`; returns how many.
  std::size_t take(std::span<base::PacketRef> out) EXCLUDES(mu_);
  std::size_t clear() EXCLUDES(mu_);
  std::size_t size() const EXCLUDES(mu_);

 private:
  mutable base::Mutex mu_;  // leaf lock
  std::array<base::PacketRef, kMaxStagedPackets> ring_ GUARDED_BY(mu_);
  std::size_t head_ GUARDED_BY(mu_) = 0;
  std::size_t count_ GUARDED_BY(mu_) = 0;
};

}  // namespace wg
