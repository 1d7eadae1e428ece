// SPDX-License-Identifier: MIT
#include "wg/keypair.hpp"

namespace wg {

Keypair::Keypair(const crypto::Key& send, const crypto::Key& receive, std::uint32_t local_index,
                 std::uint32_t remote_index, bool initiator, base::TimePoint created) noexcept
    : send_(send),
      receive_(receive),
      local_index_(local_index),
      remote_index_(remote_index),
      initiator_(initiator),
      created_(created) {}

Keypair::~Keypair() {
  base::secure_wipe(send_);
  base::secure_wipe(receive_);
}

std::optional<std::uint64_t> Keypair::reserve_counters(std::uint64_t n) noexcept {
  const std::uint64_t first = send_counter_.fetch_add(n, std::memory_order_relaxed);
  if (first >= kRejectAfterMessages || kRejectAfterMessages - first < n) {
    // Pin the counter so it never wraps, however many workers keep trying.
    send_counter_.store(kRejectAfterMessages, std::memory_order_relaxed);
    return std::nullopt;
  }
  return first;
}

void Keypair::accept_counters(std::span<const std::uint64_t> counters,
                              std::span<bool> accepted) noexcept {
  base::MutexLock lock(replay_mu_);
  for (std::size_t i = 0; i < counters.size(); ++i) {
    accepted[i] = replay_.accept(counters[i], kRejectAfterMessages);
  }
}

bool Keypair::accept_counter(std::uint64_t counter) noexcept {
  base::MutexLock lock(replay_mu_);
  return replay_.accept(counter, kRejectAfterMessages);
}

DroppedKeypairs KeypairSet::install_initiator(KeypairPtr fresh) {
  DroppedKeypairs dropped;
  base::MutexLock lock(mu_);
  KeypairPtr old_current = current_.load();
  dropped.add(std::move(previous_));
  if (next_) {
    previous_ = std::move(next_);
    next_ = nullptr;
    next_raw_.store(nullptr, std::memory_order_release);
    dropped.add(std::move(old_current));
  } else {
    previous_ = std::move(old_current);
  }
  current_.store(std::move(fresh));
  return dropped;
}

DroppedKeypairs KeypairSet::install_responder(KeypairPtr fresh) {
  DroppedKeypairs dropped;
  base::MutexLock lock(mu_);
  dropped.add(std::move(next_));
  dropped.add(std::move(previous_));
  previous_ = nullptr;
  next_raw_.store(fresh.get(), std::memory_order_release);
  next_ = std::move(fresh);
  return dropped;
}

DroppedKeypairs KeypairSet::confirm(const Keypair* k, bool& rotated) {
  DroppedKeypairs dropped;
  rotated = false;
  base::MutexLock lock(mu_);
  if (k == nullptr || next_.get() != k) return dropped;
  dropped.add(std::move(previous_));
  previous_ = current_.load();
  current_.store(std::move(next_));
  next_ = nullptr;
  next_raw_.store(nullptr, std::memory_order_release);
  rotated = true;
  return dropped;
}

DroppedKeypairs KeypairSet::clear() {
  DroppedKeypairs dropped;
  base::MutexLock lock(mu_);
  dropped.add(std::move(previous_));
  dropped.add(current_.exchange(nullptr));
  dropped.add(std::move(next_));
  previous_ = nullptr;
  next_ = nullptr;
  next_raw_.store(nullptr, std::memory_order_release);
  return dropped;
}

void KeypairSet::revoke_sending() {
  base::MutexLock lock(mu_);
  if (auto c = current_.load()) c->revoke_sending();
  if (next_) next_->revoke_sending();
}

KeypairPtr KeypairSet::previous() const {
  base::MutexLock lock(mu_);
  return previous_;
}

KeypairPtr KeypairSet::next() const {
  base::MutexLock lock(mu_);
  return next_;
}

}  // namespace wg
