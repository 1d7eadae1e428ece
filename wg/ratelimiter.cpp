// SPDX-License-Identifier: MIT
#include "wg/ratelimiter.hpp"

#include <sodium.h>

#include "base/bytes.hpp"
#include "base/random.hpp"

namespace wg {

static_assert(crypto_shorthash_KEYBYTES == 16);
static_assert(crypto_shorthash_BYTES == 8);

std::size_t RateLimiter::KeyHash::operator()(const Key& k) const noexcept {
  std::byte in[9];
  base::store_le64(in, k.bits);
  in[8] = std::byte{k.v6 ? std::uint8_t{6} : std::uint8_t{4}};
  std::byte out[crypto_shorthash_BYTES];
  crypto_shorthash(base::uc(base::ByteSpan(out)), base::uc(base::ConstByteSpan(in)), sizeof in,
                   secret.data());
  return static_cast<std::size_t>(base::load_le64(out));
}

namespace {
std::array<unsigned char, 16> random_secret() noexcept {
  std::array<unsigned char, 16> secret;
  base::random_bytes(std::as_writable_bytes(std::span(secret)));
  return secret;
}
}  // namespace

RateLimiter::RateLimiter(std::size_t max_entries)
    : max_entries_(max_entries), table_(0, KeyHash{random_secret()}) {}

bool RateLimiter::make_key(const base::IpAddr& source, Key& out) noexcept {
  const base::IpAddr a = source.unmap();
  if (a.is_v4()) {
    out = Key{a.v4_host_order(), false};
    return true;
  }
  if (a.is_v6()) {
    out = Key{base::load_be64(a.bytes()), true};  // the /64
    return true;
  }
  return false;
}

bool RateLimiter::allow(const base::IpAddr& source, base::TimePoint now) {
  Key key;
  if (!make_key(source, key)) return false;

  base::MutexLock lock(mu_);
  const auto it = table_.find(key);
  if (it == table_.end()) {
    if (table_.size() >= max_entries_) {
      ++stats_.table_full;
      return false;
    }
    table_.emplace(key, Entry{now, kMaxTokens - kPacketCost});
    ++stats_.allowed;
    return true;
  }

  // Signed on purpose, as in wireguard-go: if callers on different threads pass `now` slightly
  // out of order, the credit dips and comes back with the next call instead of being lost.
  Entry& e = it->second;
  e.tokens += now - e.last;
  e.last = now;
  if (e.tokens > kMaxTokens) e.tokens = kMaxTokens;
  if (e.tokens > kPacketCost) {
    e.tokens -= kPacketCost;
    ++stats_.allowed;
    return true;
  }
  ++stats_.limited;
  return false;
}

void RateLimiter::collect(base::TimePoint now) {
  base::MutexLock lock(mu_);
  std::erase_if(table_,
                [now](const auto& kv) { return now - kv.second.last > kGarbageCollectTime; });
}

std::size_t RateLimiter::size() const noexcept {
  base::MutexLock lock(mu_);
  return table_.size();
}

RateLimiter::Stats RateLimiter::stats() const noexcept {
  base::MutexLock lock(mu_);
  return stats_;
}

}  // namespace wg
