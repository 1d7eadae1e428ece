// SPDX-License-Identifier: MIT
#include "disco/envelope.hpp"

#include <sodium.h>

#include "base/random.hpp"

namespace disco {

static_assert(kSharedKeyLen == crypto_box_BEFORENMBYTES);
static_assert(kNonceLen == crypto_box_NONCEBYTES);
static_assert(kBoxTagLen == crypto_box_MACBYTES);
static_assert(kKeyLen == crypto_box_PUBLICKEYBYTES && kKeyLen == crypto_box_SECRETKEYBYTES);

bool looks_like_disco(base::ConstByteSpan packet) noexcept {
  return packet.size() >= kHeaderLen && base::equal_bytes(packet.first(kMagicLen), kMagic);
}

std::optional<base::DiscoPublicKey> sender_key(base::ConstByteSpan packet) noexcept {
  if (!looks_like_disco(packet)) return std::nullopt;
  return base::DiscoPublicKey(packet.subspan(off::kSender).first<kKeyLen>());
}

std::optional<SharedKey> SharedKey::compute(const base::DiscoPrivateKey& mine,
                                            const base::DiscoPublicKey& peer) noexcept {
  base::ensure_sodium();
  base::KeyBytes raw{};
  if (crypto_box_beforenm(base::uc(base::ByteSpan(raw)), base::uc(peer.bytes()),
                          base::uc(mine.bytes())) != 0) {
    base::secure_wipe(raw);
    return std::nullopt;
  }
  SharedKey k;
  k.k_ = base::SecretKey<Tag>(raw);
  base::secure_wipe(raw);
  return k;
}

SharedKeyCache::SharedKeyCache(base::DiscoPrivateKey mine)
    : mine_(std::move(mine)), public_(mine_.public_key()) {}

const SharedKey* SharedKeyCache::get(const base::DiscoPublicKey& peer) {
  if (auto it = keys_.find(peer); it != keys_.end()) return &it->second;
  ++computations_;
  auto k = SharedKey::compute(mine_, peer);
  if (!k) return nullptr;
  return &keys_.emplace(peer, std::move(*k)).first->second;
}

void SharedKeyCache::forget(const base::DiscoPublicKey& peer) noexcept {
  keys_.erase(peer);
}

void seal(base::Bytes& out, const SharedKey& key, const base::DiscoPublicKey& sender,
          const Nonce& nonce, base::ConstByteSpan plaintext) {
  const std::size_t start = out.size();
  out.resize(start + kOverhead + plaintext.size());
  const auto b = base::ByteSpan(out).subspan(start);
  base::copy_into(b.subspan(off::kMagic), kMagic);
  base::copy_into(b.subspan(off::kSender), sender.bytes());
  base::copy_into(b.subspan(off::kNonce), nonce);
  // Cannot fail: it only fails for messages longer than crypto_box_MESSAGEBYTES_MAX.
  crypto_box_easy_afternm(base::uc(b.subspan(off::kBox)), base::uc(plaintext), plaintext.size(),
                          base::uc(base::ConstByteSpan(nonce)), base::uc(key.bytes()));
}

void seal_message(base::Bytes& out, const SharedKey& key, const base::DiscoPublicKey& sender,
                  const Nonce& nonce, const Message& m) {
  base::Bytes plaintext;
  append_message(plaintext, m);
  seal(out, key, sender, nonce, plaintext);
}

Nonce random_nonce() noexcept {
  Nonce n;
  base::random_bytes(n);
  return n;
}

bool open(base::ConstByteSpan packet, const SharedKey& key, base::Bytes& plaintext,
          DropReason& why) {
  plaintext.clear();
  if (!looks_like_disco(packet)) {
    why = DropReason::not_disco;
    return false;
  }
  if (packet.size() < kSealedHeaderLen) {
    why = DropReason::short_nonce;
    return false;
  }
  const auto nonce = packet.subspan(off::kNonce, kNonceLen);
  const auto box = packet.subspan(off::kBox);
  if (box.size() < kBoxTagLen) {
    why = DropReason::bad_box;
    return false;
  }
  plaintext.resize(box.size() - kBoxTagLen);
  if (crypto_box_open_easy_afternm(base::uc(base::ByteSpan(plaintext)), base::uc(box), box.size(),
                                   base::uc(nonce), base::uc(key.bytes())) != 0) {
    plaintext.clear();
    why = DropReason::bad_box;
    return false;
  }
  return true;
}

std::optional<Message> open_message(base::ConstByteSpan packet, const SharedKey& key,
                                    DropReason& why) {
  base::Bytes plaintext;
  if (!open(packet, key, plaintext, why)) return std::nullopt;
  return parse_message(plaintext, why);
}

}  // namespace disco
