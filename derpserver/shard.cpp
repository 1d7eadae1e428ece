// SPDX-License-Identifier: MIT
#include "derpserver/shard.hpp"

#include <boost/asio/post.hpp>

#include "derpserver/stream.hpp"

namespace derpserver {

Shard::Shard(boost::asio::io_context& io, std::size_t index, base::Clock& clock)
    : io_(io),
      index_(index),
      clock_(clock),
      scratch_(std::make_unique_for_overwrite<std::byte[]>(kScratchSize)),
      timer_(io) {
  coarse_now_ns_.store(clock.now().time_since_epoch().count(), std::memory_order_relaxed);
}

Shard::~Shard() = default;

void Shard::add(Stream* s) noexcept {
  if (s->shard_linked_) return;
  s->shard_linked_ = true;
  s->shard_prev_ = nullptr;
  s->shard_next_ = head_;
  if (head_ != nullptr) head_->shard_prev_ = s;
  head_ = s;
  ++count_;
}

void Shard::remove(Stream* s) noexcept {
  if (!s->shard_linked_) return;
  s->shard_linked_ = false;
  if (s->shard_prev_ != nullptr) s->shard_prev_->shard_next_ = s->shard_next_;
  if (s->shard_next_ != nullptr) s->shard_next_->shard_prev_ = s->shard_prev_;
  if (head_ == s) head_ = s->shard_next_;
  s->shard_prev_ = s->shard_next_ = nullptr;
  --count_;
}

void Shard::housekeep() {
  const base::TimePoint now = clock_.now();
  coarse_now_ns_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
  for (Stream* s = head_; s != nullptr;) {
    // on_tick may close (and unlink) s; keep it alive and remember where to go next.
    Stream* next = s->shard_next_;
    auto keep = s->shared_from_this();
    s->on_tick(now);
    s = next;
  }
  if (tick_hook_) tick_hook_(now);
}

void Shard::close_all(std::string_view reason) {
  while (head_ != nullptr) {
    auto keep = head_->shared_from_this();
    Stream* before = head_;
    head_->close(reason);
    if (head_ == before) remove(before);  // already closed: just unlink it
  }
}

void Shard::start_timer() {
  if (timer_running_.exchange(true)) return;
  boost::asio::post(io_, [this] { arm_timer(); });
}

void Shard::stop_timer() {
  timer_running_.store(false);
  boost::asio::post(io_, [this] { timer_.cancel(); });
}

void Shard::arm_timer() {
  if (!timer_running_.load()) return;
  timer_.expires_after(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(kHousekeepingPeriod));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !timer_running_.load()) return;
    housekeep();
    arm_timer();
  });
}

void Shard::housekeep_now() {
  boost::asio::post(io_, [this] { housekeep(); });
}

std::uint64_t Shard::next_stream_id() noexcept {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace derpserver
