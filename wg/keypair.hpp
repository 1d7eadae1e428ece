// SPDX-License-Identifier: MIT
// Transport keypairs and a peer's previous/current/next set (fact sheet sections 6 and 7).
//
// A Keypair is immutable after creation except for its send counter (atomic) and its replay
// window (guarded by replay_mu_). Workers hold keypairs by shared_ptr for the length of a
// batch, so a keypair rotated out or wiped stays valid for whoever still uses it.
//
// KeypairSet rotation, as the kernel and wireguard-go:
//   initiator, new keypair:  previous := (next if present, dropping current) else current;
//                            current := new; usable at once
//   responder, new keypair:  next := new; previous dropped; current kept for sending until
//                            the initiator's first packet under `next` confirms it
//   confirmation (receive under next): previous := current; current := next; next := none
// Every operation returns the keypairs it dropped so the caller can free their indices.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "base/atomic_shared_ptr.hpp"
#include "base/clock.hpp"
#include "base/thread_annotations.hpp"
#include "wg/constants.hpp"
#include "wg/crypto.hpp"
#include "wg/replay_window.hpp"

namespace wg {

class Keypair {
 public:
  Keypair(const crypto::Key& send, const crypto::Key& receive, std::uint32_t local_index,
          std::uint32_t remote_index, bool initiator, base::TimePoint created) noexcept;
  ~Keypair();
  Keypair(const Keypair&) = delete;
  Keypair& operator=(const Keypair&) = delete;

  const crypto::Key& send_key() const noexcept { return send_; }
  const crypto::Key& receive_key() const noexcept { return receive_; }
  std::uint32_t local_index() const noexcept { return local_index_; }
  std::uint32_t remote_index() const noexcept { return remote_index_; }
  bool initiator() const noexcept { return initiator_; }
  base::TimePoint created() const noexcept { return created_; }

  // Reserves `n` consecutive send counters (one atomic add per batch); nullopt when the
  // keypair cannot send them (REJECT_AFTER_MESSAGES reached or sending revoked).
  std::optional<std::uint64_t> reserve_counters(std::uint64_t n) noexcept;
  // The next counter to be reserved (for keep-key-fresh checks).
  std::uint64_t send_counter() const noexcept {
    return send_counter_.load(std::memory_order_relaxed);
  }
  // After a private key change the keypair may still receive but never send again.
  void revoke_sending() noexcept {
    send_counter_.store(kRejectAfterMessages, std::memory_order_relaxed);
  }

  // True if the keypair is past REJECT_AFTER_TIME at `now` (unusable for both directions).
  bool expired(base::TimePoint now) const noexcept { return now - created_ >= kRejectAfterTime; }

  // Replay check of already-authenticated counters; one lock for the whole run.
  // accepted[i] = whether counters[i] is fresh (and is now marked seen).
  void accept_counters(std::span<const std::uint64_t> counters, std::span<bool> accepted) noexcept
      EXCLUDES(replay_mu_);
  bool accept_counter(std::uint64_t counter) noexcept EXCLUDES(replay_mu_);

 private:
  crypto::Key send_;
  crypto::Key receive_;
  const std::uint32_t local_index_;
  const std::uint32_t remote_index_;
  const bool initiator_;
  const base::TimePoint created_;
  std::atomic<std::uint64_t> send_counter_{0};  // written by every sending worker
  base::Mutex replay_mu_;                       // leaf lock
  ReplayWindow replay_ GUARDED_BY(replay_mu_);
};

using KeypairPtr = std::shared_ptr<Keypair>;

// Keypairs that left a set; at most three at once.
struct DroppedKeypairs {
  std::array<KeypairPtr, 3> list{};
  std::size_t count = 0;
  void add(KeypairPtr k) {
    if (k) list[count++] = std::move(k);
  }
};

class KeypairSet {
 public:
  // Any thread. The keypair to send with, if any (validity is the caller's check).
  KeypairPtr current() const noexcept { return current_.load(); }
  // Any thread, cheap: whether `k` is the unconfirmed next keypair.
  bool is_next(const Keypair* k) const noexcept {
    return k != nullptr && next_raw_.load(std::memory_order_acquire) == k;
  }

  DroppedKeypairs install_initiator(KeypairPtr fresh) EXCLUDES(mu_);
  DroppedKeypairs install_responder(KeypairPtr fresh) EXCLUDES(mu_);
  // Any thread: rotates if `k` is still `next`. `rotated` says whether it did.
  DroppedKeypairs confirm(const Keypair* k, bool& rotated) EXCLUDES(mu_);
  DroppedKeypairs clear() EXCLUDES(mu_);
  // Private key changed: current and next may never send again.
  void revoke_sending() EXCLUDES(mu_);

  KeypairPtr previous() const EXCLUDES(mu_);
  KeypairPtr next() const EXCLUDES(mu_);

 private:
  mutable base::Mutex mu_;  // guards previous_, next_ and every store to current_; leaf lock
  KeypairPtr previous_ GUARDED_BY(mu_);
  KeypairPtr next_ GUARDED_BY(mu_);
  base::AtomicSharedPtr<Keypair> current_;         // loaded by workers without mu_
  std::atomic<const Keypair*> next_raw_{nullptr};  // mirrors next_ for is_next()
};

}  // namespace wg
