// SPDX-License-Identifier: MIT
// Published vectors for every primitive (fact sheet section 11.2).
#include "wg/crypto.hpp"

#include <doctest/doctest.h>

#include <string>

namespace {

using base::to_hex;
namespace crypto = wg::crypto;

base::Bytes hx(std::string_view s) {
  return base::hex_bytes(s).value();
}

base::Bytes seq(int from, int n) {
  base::Bytes b;
  for (int i = 0; i < n; ++i) b.push_back(static_cast<std::byte>(from + i));
  return b;
}

template <std::size_t N>
std::array<std::byte, N> arr(const base::Bytes& b) {
  std::array<std::byte, N> a{};
  REQUIRE(b.size() == N);
  std::copy(b.begin(), b.end(), a.begin());
  return a;
}

const std::string_view kLadies =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
    "future, sunscreen would be it.";

TEST_CASE("ChaCha20-Poly1305: RFC 8439 section 2.8.2") {
  const auto key = seq(0x80, 32);
  const auto nonce = arr<12>(hx("070000004041424344454647"));
  const auto ad = hx("50515253c0c1c2c3c4c5c6c7");
  const auto plain = base::as_bytes(kLadies);
  REQUIRE(plain.size() == 114);
  base::Bytes out(plain.size() + 16);
  crypto::aead_seal_nonce(out, key, nonce, plain, ad);
  CHECK(to_hex(std::span(out).first(16)) == "d31a8d34648e60db7b86afbc53ef7ec2");
  CHECK(to_hex(std::span(out).last(16)) == "1ae10b594f09e26a7e902ecbd0600691");
}

TEST_CASE("XChaCha20-Poly1305: draft-irtf-cfrg-xchacha-03 A.3.1") {
  const auto key = seq(0x80, 32);
  const auto nonce = arr<24>(seq(0x40, 24));
  const auto ad = hx("50515253c0c1c2c3c4c5c6c7");
  const auto plain = base::as_bytes(kLadies);
  base::Bytes out(plain.size() + 16);
  crypto::xaead_seal(out, key, nonce, plain, ad);
  CHECK(to_hex(std::span(out).first(16)) == "bd6d179d3e83d43b9576579493c0e939");
  CHECK(to_hex(std::span(out).last(16)) == "c0875924c1c7987947deafd8780acf49");
  base::Bytes back(plain.size());
  CHECK(crypto::xaead_open(back, key, nonce, out, ad));
  CHECK(base::equal_bytes(back, plain));
  out[5] ^= std::byte{0x20};
  CHECK_FALSE(crypto::xaead_open(back, key, nonce, out, ad));
}

TEST_CASE("X25519: RFC 7748 sections 5.2 and 6.1") {
  std::array<std::byte, 32> out;
  // 5.2, first vector.
  const auto scalar =
      arr<32>(hx("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"));
  const auto u = arr<32>(hx("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"));
  REQUIRE(crypto::dh(out, scalar, u));
  CHECK(to_hex(out) == "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
  // 6.1: both sides reach the same shared secret.
  const auto alice =
      arr<32>(hx("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  const auto bob = arr<32>(hx("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
  const auto alice_pub =
      arr<32>(hx("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
  const auto bob_pub =
      arr<32>(hx("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
  REQUIRE(crypto::dh(out, alice, bob_pub));
  CHECK(to_hex(out) == "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  REQUIRE(crypto::dh(out, bob, alice_pub));
  CHECK(to_hex(out) == "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  // The all-zero public key gives the all-zero secret: reported as failure.
  CHECK_FALSE(crypto::dh(out, alice, std::array<std::byte, 32>{}));
}

TEST_CASE("BLAKE2s: RFC 7693 and the reference keyed vectors") {
  crypto::Hash h;
  crypto::hash(h, {base::as_bytes("abc")});
  CHECK(to_hex(h) == "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
  crypto::hash(
      h, {base::as_bytes("a"), base::as_bytes(""), base::as_bytes("bc")});  // parts concatenate
  CHECK(to_hex(h) == "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
  crypto::hash(h, {});
  CHECK(to_hex(h) == "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9");
  // 16-byte keyed digest: the MAC shape used by mac1, mac2 and cookies.
  crypto::Mac m;
  crypto::mac(m, seq(0, 32), {});
  CHECK(to_hex(m) == "9536f9b267655743dee97b8a670f9f53");
}

TEST_CASE("KDF1..3 and HMAC-BLAKE2s: wireguard-go kdf_test.go vectors") {
  struct Row {
    const char* key;
    const char* input;
    const char* t1;
    const char* t2;
    const char* t3;
  };
  const Row rows[] = {
      // 1
      {"746573742d6b6579", "746573742d696e707574",
       "6f0e5ad38daba1bea8a0d213688736f19763239305e0f58aba697f9ffc41c633",
       "df1194df20802a4fe594cde27e92991c8cae66c366e8106aaa937a55fa371e8a",
       "fac6e2745a325f5dc5d11a5b165aad08b0ada28e7b4e666b7c077934a4d76c24"},
      // 2
      {"776972656775617264", "776972656775617264",
       "491d43bbfdaa8750aaf535e334ecbfe5129967cd64635101c566d4caefda96e8",
       "1e71a379baefd8a79aa4662212fcafe19a23e2b609a3db7d6bcba8f560e3d25f",
       "31e1ae48bddfbe5de38f295e5452b1909a1b4e38e183926af3780b0c1e1f0160"},
      // 3
      {"", "", "8387b46bf43eccfcf349552a095d8315c4055beb90208fb1be23b894bc2ed5d0",
       "58a0e5f6faefccf4807bff1f05fa8a9217945762040bcec2f4b4a62bdfe0e86e",
       "0ce6ea98ec548f8e281e93e32db65621c45eb18dc6f0a7ad94178610a2f7338e"},
  };
  for (const Row& r : rows) {
    CAPTURE(r.key);
    crypto::Hash t1, t2, t3;
    crypto::kdf(t1, t2, t3, hx(r.key), hx(r.input));
    CHECK(to_hex(t1) == r.t1);
    CHECK(to_hex(t2) == r.t2);
    CHECK(to_hex(t3) == r.t3);
    crypto::Hash only1;
    crypto::kdf(only1, {}, {}, hx(r.key), hx(r.input));  // KDF1 is a prefix of KDF3
    CHECK(to_hex(only1) == r.t1);
  }
  crypto::Hash prk;
  crypto::hmac(prk, hx("746573742d6b6579"), {hx("746573742d696e707574")});
  CHECK(to_hex(prk) == "ed378e02e152b574e0d9e01fb029a7066c3cc687917c28bf9dfe5b042769fa46");
  // A key longer than the 64-byte block is hashed first (RFC 2104).
  crypto::Hash long_key_mac, hashed_key_mac, hashed_key;
  const auto long_key = seq(1, 100);
  crypto::hash(hashed_key, {long_key});
  crypto::hmac(long_key_mac, long_key, {base::as_bytes("x")});
  crypto::hmac(hashed_key_mac, hashed_key, {base::as_bytes("x")});
  CHECK(to_hex(long_key_mac) == to_hex(hashed_key_mac));
}

TEST_CASE("transport backends agree and authenticate in place") {
  crypto::Key key = arr<32>(seq(0x80, 32));
  crypto::OpenSslAead ossl;
  crypto::SodiumAead sod;
  // Rows: counters at the edges of the nonce space and lengths around block sizes.
  for (std::uint64_t counter : {0ull, 1ull, 0x4746454443424140ull, ~0ull - 8192}) {
    for (std::size_t len : {0u, 1u, 15u, 16u, 64u, 114u, 1420u, 8192u}) {
      CAPTURE(counter);
      CAPTURE(len);
      base::Bytes a(len), b(len);
      for (std::size_t i = 0; i < len; ++i) a[i] = b[i] = static_cast<std::byte>(i * 7);
      std::array<std::byte, 16> ta, tb;
      REQUIRE(ossl.seal(key, counter, a, ta));
      REQUIRE(sod.seal(key, counter, b, tb));
      CHECK(to_hex(a) == to_hex(b));
      CHECK(to_hex(ta) == to_hex(tb));
      // The one-shot handshake AEAD uses the same nonce layout.
      base::Bytes plain(len), oneshot(len + 16);
      for (std::size_t i = 0; i < len; ++i) plain[i] = static_cast<std::byte>(i * 7);
      crypto::aead_seal(oneshot, key, counter, plain, {});
      CHECK(to_hex(std::span(oneshot).first(len)) == to_hex(a));
      CHECK(to_hex(std::span(oneshot).last(16)) == to_hex(ta));
      // Each backend opens what the other sealed; a flipped tag bit is refused.
      CHECK(sod.open(key, counter, a, ta));
      CHECK(ossl.open(key, counter, b, tb));
      CHECK(to_hex(a) == to_hex(plain));
      CHECK(to_hex(b) == to_hex(plain));
      REQUIRE(ossl.seal(key, counter, a, ta));
      ta[3] ^= std::byte{1};
      CHECK_FALSE(ossl.open(key, counter, a, ta));
      REQUIRE(sod.seal(key, counter, b, tb));
      tb[0] ^= std::byte{0x80};
      CHECK_FALSE(sod.open(key, counter, b, tb));
    }
  }
}

}  // namespace

namespace {

TEST_CASE("the size-split default gives the same bytes on both sides of its threshold") {
  crypto::Key key = arr<32>(seq(0x20, 32));
  crypto::SizeSplitAead split;
  crypto::OpenSslAead ossl;
  constexpr std::size_t kT = crypto::SizeSplitAead::kSmallMax;
  for (std::size_t len : {std::size_t{0}, kT - 1, kT, kT + 1, std::size_t{1420}}) {
    CAPTURE(len);
    base::Bytes a(len, std::byte{0x33}), b(len, std::byte{0x33});
    std::array<std::byte, 16> ta, tb;
    REQUIRE(split.seal(key, 99, a, ta));
    REQUIRE(ossl.seal(key, 99, b, tb));
    CHECK(to_hex(a) == to_hex(b));
    CHECK(to_hex(ta) == to_hex(tb));
    CHECK(split.open(key, 99, b, tb));
    CHECK(to_hex(b) == to_hex(base::Bytes(len, std::byte{0x33})));
  }
}

}  // namespace
