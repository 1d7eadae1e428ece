// SPDX-License-Identifier: MIT
#include "wg/index_table.hpp"

#include <mutex>

#include "base/random.hpp"

namespace wg {

std::uint32_t IndexTable::insert_handshake(std::shared_ptr<Peer> peer) {
  std::unique_lock lock(mu_);
  for (;;) {
    const std::uint32_t index = base::random_u32();
    if (index == 0) continue;
    if (map_.try_emplace(index, Entry{std::move(peer), nullptr}).second) return index;
  }
}

void IndexTable::bind_keypair(std::uint32_t index, KeypairPtr keypair) {
  std::unique_lock lock(mu_);
  if (auto it = map_.find(index); it != map_.end()) it->second.keypair = std::move(keypair);
}

void IndexTable::remove(std::uint32_t index) {
  std::unique_lock lock(mu_);
  map_.erase(index);
}

void IndexTable::remove(const DroppedKeypairs& dropped) {
  if (dropped.count == 0) return;
  std::unique_lock lock(mu_);
  for (std::size_t i = 0; i < dropped.count; ++i) {
    auto it = map_.find(dropped.list[i]->local_index());
    // Only if the index still names this keypair (it could have been reused since).
    if (it != map_.end() && it->second.keypair == dropped.list[i]) map_.erase(it);
  }
}

std::optional<IndexTable::Entry> IndexTable::lookup(std::uint32_t index) const {
  std::shared_lock lock(mu_);
  auto it = map_.find(index);
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

std::size_t IndexTable::size() const {
  std::shared_lock lock(mu_);
  return map_.size();
}

}  // namespace wg
