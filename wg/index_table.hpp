// SPDX-License-Identifier: MIT
// The interface-wide receiver-index table (fact sheet 7): every in-flight handshake and every
// keypair owns one random 32-bit local index, which peers echo in receiver_index fields.
// An entry names its peer and, once the handshake became a keypair, that keypair.
//
// Thread safety: insert/bind/remove on the control thread (and a worker rotating keypairs);
// lookup from any thread. A shared mutex guards the map; workers look up once per run of
// packets with the same index, not per packet.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <unordered_map>

#include "wg/keypair.hpp"

namespace wg {

class Peer;

class IndexTable {
 public:
  struct Entry {
    std::shared_ptr<Peer> peer;
    KeypairPtr keypair;  // null while the index belongs to a handshake
  };

  // A fresh random index, not zero and not in use, bound to a handshake of `peer`.
  std::uint32_t insert_handshake(std::shared_ptr<Peer> peer);
  // The handshake's index now names `keypair` (same value, as the protocol requires).
  void bind_keypair(std::uint32_t index, KeypairPtr keypair);
  void remove(std::uint32_t index);
  void remove(const DroppedKeypairs& dropped);
  std::optional<Entry> lookup(std::uint32_t index) const;
  std::size_t size() const;

 private:
  mutable std::shared_mutex mu_;  // guards map_; leaf lock
  std::unordered_map<std::uint32_t, Entry> map_;
};

}  // namespace wg
