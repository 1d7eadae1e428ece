// SPDX-License-Identifier: MIT
#include "wg/crypto.hpp"

#include <cstdlib>
#include <sodium.h>

#include <blake2.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "base/bug.hpp"
#include "base/random.hpp"

namespace wg::crypto {

using base::ByteSpan;
using base::ConstByteSpan;
using base::uc;

namespace {

constexpr std::size_t kBlake2sBlock = BLAKE2S_BLOCKBYTES;

// libsodium declares its buffer arguments non-null even when their length is zero (a
// keepalive's payload): give it a valid address for empty spans.
unsigned char* nonnull(ByteSpan s) noexcept {
  static unsigned char empty;
  return s.empty() ? &empty : uc(s);
}

void nonce12(std::uint64_t counter, unsigned char out[12]) noexcept {
  std::byte b[12] = {};
  base::store_le64(std::span(b).subspan(4), counter);
  std::memcpy(out, b, 12);
}

}  // namespace

void hash(std::span<std::byte, kHashSize> out,
          std::initializer_list<ConstByteSpan> parts) noexcept {
  blake2s_state s;
  blake2s_init(&s, kHashSize);
  for (ConstByteSpan p : parts) blake2s_update(&s, uc(p), p.size());
  blake2s_final(&s, uc(ByteSpan(out)), kHashSize);
}

void mac(std::span<std::byte, kMacSize> out, ConstByteSpan key, ConstByteSpan data) noexcept {
  blake2s(uc(ByteSpan(out)), uc(data), uc(key), kMacSize, data.size(), key.size());
}

void hmac(std::span<std::byte, kHashSize> out, ConstByteSpan key,
          std::initializer_list<ConstByteSpan> parts) noexcept {
  std::array<std::byte, kBlake2sBlock> k{};
  if (key.size() > kBlake2sBlock) {
    hash(std::span<std::byte, kHashSize>(k.data(), kHashSize), {key});
  } else {
    base::copy_into(k, key);
  }
  std::array<std::byte, kBlake2sBlock> pad;
  for (std::size_t i = 0; i < kBlake2sBlock; ++i) pad[i] = k[i] ^ std::byte{0x36};
  blake2s_state s;
  Hash inner;
  blake2s_init(&s, kHashSize);
  blake2s_update(&s, uc(ConstByteSpan(pad)), pad.size());
  for (ConstByteSpan p : parts) blake2s_update(&s, uc(p), p.size());
  blake2s_final(&s, uc(ByteSpan(inner)), kHashSize);
  for (std::size_t i = 0; i < kBlake2sBlock; ++i) pad[i] = k[i] ^ std::byte{0x5c};
  blake2s_init(&s, kHashSize);
  blake2s_update(&s, uc(ConstByteSpan(pad)), pad.size());
  blake2s_update(&s, uc(ConstByteSpan(inner)), inner.size());
  blake2s_final(&s, uc(ByteSpan(out)), kHashSize);
  base::secure_wipe(k);
  base::secure_wipe(pad);
  base::secure_wipe(inner);
}

void kdf(std::span<std::byte, kHashSize> t1, std::span<std::byte> t2, std::span<std::byte> t3,
         ConstByteSpan chaining_key, ConstByteSpan input) noexcept {
  Hash prk;
  Hash t;
  const std::byte one{1}, two{2}, three{3};
  hmac(prk, chaining_key, {input});
  hmac(t, prk, {std::span(&one, 1)});
  base::copy_into(t1, t);
  if (!t2.empty()) {
    hmac(t, prk, {t, std::span(&two, 1)});
    base::copy_into(t2, t);
  }
  if (!t3.empty()) {
    hmac(t, prk, {t, std::span(&three, 1)});
    base::copy_into(t3, t);
  }
  base::secure_wipe(prk);
  base::secure_wipe(t);
}

bool dh(std::span<std::byte, kKeySize> out, base::KeySpan private_key,
        base::KeySpan public_key) noexcept {
  base::ensure_sodium();
  // libsodium returns -1 when the shared secret is all zero.
  return crypto_scalarmult_curve25519(uc(ByteSpan(out)), uc(private_key), uc(public_key)) == 0;
}

void aead_seal_nonce(ByteSpan out, ConstByteSpan key, std::span<const std::byte, 12> nonce,
                     ConstByteSpan plaintext, ConstByteSpan ad) noexcept {
  unsigned long long len = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(uc(out), &len, uc(plaintext), plaintext.size(), uc(ad),
                                            ad.size(), nullptr, uc(ConstByteSpan(nonce)), uc(key));
}

void aead_seal(ByteSpan out, ConstByteSpan key, std::uint64_t counter, ConstByteSpan plaintext,
               ConstByteSpan ad) noexcept {
  std::array<std::byte, 12> n{};
  base::store_le64(std::span(n).subspan(4), counter);
  aead_seal_nonce(out, key, n, plaintext, ad);
}

bool aead_open(ByteSpan out, ConstByteSpan key, std::uint64_t counter, ConstByteSpan ciphertext,
               ConstByteSpan ad) noexcept {
  if (ciphertext.size() < kTagSize || out.size() + kTagSize != ciphertext.size()) return false;
  unsigned char n[12];
  nonce12(counter, n);
  unsigned long long len = 0;
  return crypto_aead_chacha20poly1305_ietf_decrypt(uc(out), &len, nullptr, uc(ciphertext),
                                                   ciphertext.size(), uc(ad), ad.size(), n,
                                                   uc(key)) == 0;
}

void xaead_seal(ByteSpan out, ConstByteSpan key, std::span<const std::byte, kXNonceSize> nonce,
                ConstByteSpan plaintext, ConstByteSpan ad) noexcept {
  unsigned long long len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(uc(out), &len, uc(plaintext), plaintext.size(), uc(ad),
                                             ad.size(), nullptr, uc(ConstByteSpan(nonce)), uc(key));
}

bool xaead_open(ByteSpan out, ConstByteSpan key, std::span<const std::byte, kXNonceSize> nonce,
                ConstByteSpan ciphertext, ConstByteSpan ad) noexcept {
  if (ciphertext.size() < kTagSize || out.size() + kTagSize != ciphertext.size()) return false;
  unsigned long long len = 0;
  return crypto_aead_xchacha20poly1305_ietf_decrypt(uc(out), &len, nullptr, uc(ciphertext),
                                                    ciphertext.size(), uc(ad), ad.size(),
                                                    uc(ConstByteSpan(nonce)), uc(key)) == 0;
}

// One encrypt and one decrypt context, each initialised with the cipher once. Per packet the
// nonce is set (the key only when it differs from the last one used) and the tag moves
// through a prebuilt OSSL_PARAM instead of EVP_CIPHER_CTX_ctrl, whose translation to params
// costs string compares: together about 20% of a 1420-byte packet with OpenSSL 3.0.
// (EVP_Cipher() cannot replace EncryptFinal here: OpenSSL 3.0's ChaCha20-Poly1305 returns
// from a zero-length EVP_Cipher() call without computing the tag.)
struct OpenSslAead::Contexts {
  EVP_CIPHER_CTX* enc = nullptr;
  EVP_CIPHER_CTX* dec = nullptr;
  Key enc_key{};  // the key each context holds now, to skip setting it again
  Key dec_key{};
  bool enc_keyed = false;
  bool dec_keyed = false;
  ~Contexts() {
    base::secure_wipe(enc_key);
    base::secure_wipe(dec_key);
  }
};

namespace {

// Sets the nonce, and the key if it changed. False if OpenSSL refuses.
bool start_packet(EVP_CIPHER_CTX* c, bool encrypt, Key& held, bool& keyed, const Key& key,
                  const unsigned char nonce[12]) noexcept {
  const bool new_key = !keyed || std::memcmp(held.data(), key.data(), key.size()) != 0;
  const unsigned char* k = new_key ? uc(ConstByteSpan(key)) : nullptr;
  const int ok = encrypt ? EVP_EncryptInit_ex(c, nullptr, nullptr, k, nonce)
                         : EVP_DecryptInit_ex(c, nullptr, nullptr, k, nonce);
  if (ok != 1) return false;
  if (new_key) {
    held = key;
    keyed = true;
  }
  return true;
}

}  // namespace

OpenSslAead::OpenSslAead() : ctx_(std::make_unique<Contexts>()) {
  ctx_->enc = EVP_CIPHER_CTX_new();
  ctx_->dec = EVP_CIPHER_CTX_new();
  if (ctx_->enc == nullptr || ctx_->dec == nullptr ||
      EVP_EncryptInit_ex(ctx_->enc, EVP_chacha20_poly1305(), nullptr, nullptr, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx_->dec, EVP_chacha20_poly1305(), nullptr, nullptr, nullptr) != 1) {
    std::abort();  // libcrypto without ChaCha20-Poly1305: cannot carry traffic at all
  }
}

OpenSslAead::~OpenSslAead() {
  EVP_CIPHER_CTX_free(ctx_->enc);
  EVP_CIPHER_CTX_free(ctx_->dec);
}

bool OpenSslAead::seal(const Key& key, std::uint64_t counter, ByteSpan data,
                       std::span<std::byte, kTagSize> tag) noexcept {
  unsigned char n[12];
  nonce12(counter, n);
  EVP_CIPHER_CTX* c = ctx_->enc;
  OSSL_PARAM params[2] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag.data(), kTagSize),
      OSSL_PARAM_END};
  int len = 0;
  bool ok = start_packet(c, true, ctx_->enc_key, ctx_->enc_keyed, key, n);
  if (ok && !data.empty()) {
    ok = EVP_EncryptUpdate(c, uc(data), &len, uc(data), static_cast<int>(data.size())) == 1;
  }
  ok = ok && EVP_EncryptFinal_ex(c, uc(data) + len, &len) == 1;
  ok = ok && EVP_CIPHER_CTX_get_params(c, params) == 1;
  if (!ok) {
    // Fail closed: whatever is in `data` now (plaintext, or part of it) must never leave.
    sodium_memzero(data.data(), data.size());
    sodium_memzero(tag.data(), tag.size());
    ctx_->enc_keyed = false;  // the context's state is unknown: set the key again next time
  }
  return ok;
}

bool OpenSslAead::open(const Key& key, std::uint64_t counter, ByteSpan data,
                       std::span<const std::byte, kTagSize> tag) noexcept {
  unsigned char n[12];
  nonce12(counter, n);
  unsigned char t[kTagSize];
  std::memcpy(t, tag.data(), kTagSize);
  EVP_CIPHER_CTX* c = ctx_->dec;
  OSSL_PARAM params[2] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, t, kTagSize), OSSL_PARAM_END};
  int len = 0;
  if (!start_packet(c, false, ctx_->dec_key, ctx_->dec_keyed, key, n)) return false;
  if (!data.empty() &&
      EVP_DecryptUpdate(c, uc(data), &len, uc(data), static_cast<int>(data.size())) != 1) {
    return false;
  }
  if (EVP_CIPHER_CTX_set_params(c, params) != 1) return false;
  return EVP_DecryptFinal_ex(c, uc(data) + len, &len) == 1;  // compares the tag
}

bool SodiumAead::seal(const Key& key, std::uint64_t counter, ByteSpan data,
                      std::span<std::byte, kTagSize> tag) noexcept {
  unsigned char n[12];
  nonce12(counter, n);
  unsigned long long tag_len = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(nonnull(data), uc(ByteSpan(tag)), &tag_len,
                                                     nonnull(data), data.size(), nullptr, 0,
                                                     nullptr, n, uc(ConstByteSpan(key)));
  return true;  // libsodium's encryption cannot fail
}

bool SodiumAead::open(const Key& key, std::uint64_t counter, ByteSpan data,
                      std::span<const std::byte, kTagSize> tag) noexcept {
  unsigned char n[12];
  nonce12(counter, n);
  return crypto_aead_chacha20poly1305_ietf_decrypt_detached(
             nonnull(data), nullptr, nonnull(data), data.size(), uc(ConstByteSpan(tag)), nullptr, 0,
             n, uc(ConstByteSpan(key))) == 0;
}

}  // namespace wg::crypto
