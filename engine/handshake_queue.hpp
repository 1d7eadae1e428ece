// SPDX-License-Identifier: MIT
// Handshake messages (types 1-3) on their way from the workers to the control thread: a
// bounded ring of pooled buffers (wireguard-go's 1024). When it is full the newest message is
// dropped and counted; at 1/8 full the device goes "under load" and answers with cookies.
// Workers push (one lock per message: handshakes are rare next to data); the control thread
// drains.
#pragma once

#include <array>
#include <cstddef>
#include <span>

#include "base/packet.hpp"
#include "base/thread_annotations.hpp"
#include "wg/constants.hpp"
#include "wg/peer.hpp"

namespace engine {

class HandshakeQueue {
 public:
  struct Item {
    base::PacketRef packet;
    wg::PeerEndpoint from;
  };
  static constexpr std::size_t kCapacity = wg::kHandshakeQueueSize;

  // Takes `item` unless the queue is full. `was_empty` says whether the consumer needs waking.
  bool push(Item item, bool& was_empty) EXCLUDES(mu_);
  // Moves up to out.size() items into `out`; returns how many.
  std::size_t pop(std::span<Item> out) EXCLUDES(mu_);
  std::size_t size() const EXCLUDES(mu_);

 private:
  mutable base::Mutex mu_;  // leaf lock
  std::array<Item, kCapacity> ring_ GUARDED_BY(mu_);
  std::size_t head_ GUARDED_BY(mu_) = 0;
  std::size_t count_ GUARDED_BY(mu_) = 0;
};

}  // namespace engine
