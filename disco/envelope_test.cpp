// SPDX-License-Identifier: MIT
#include "disco/envelope.hpp"

#include <doctest/doctest.h>

#include <sodium.h>
#include <string>

#include "base/random.hpp"

namespace {

using base::Bytes;
using disco::DropReason;

base::DiscoPrivateKey private_key(std::uint8_t fill) {
  base::KeyBytes k;
  k.fill(std::byte{fill});
  auto key = base::DiscoPrivateKey(k);
  key.clamp();
  return key;
}

disco::Nonce counting_nonce() {
  disco::Nonce n;
  for (std::size_t i = 0; i < n.size(); ++i) n[i] = static_cast<std::byte>(0x80 + i);
  return n;
}

disco::Ping ping() {
  disco::Ping p;
  for (std::size_t i = 0; i < p.tx_id.size(); ++i) p.tx_id[i] = static_cast<std::byte>(i);
  base::KeyBytes nk;
  nk.fill(std::byte{0x11});
  p.node_key = base::NodePublicKey(nk);
  return p;
}

struct Pair {
  disco::SharedKeyCache alice{private_key(0xa1)};
  disco::SharedKeyCache bob{private_key(0xb0)};
  const disco::SharedKey& a_to_b() { return *alice.get(bob.public_key()); }
  const disco::SharedKey& b_to_a() { return *bob.get(alice.public_key()); }
};

TEST_CASE("a sealed ping has the layout of the fact sheet and is a standard NaCl box") {
  Pair p;
  Bytes packet;
  disco::seal_message(packet, p.a_to_b(), p.alice.public_key(), counting_nonce(), ping());
  REQUIRE(packet.size() == 124);  // fact sheet 2.5: an unpadded ping is 124 bytes on the wire
  const base::ConstByteSpan b(packet);
  CHECK(base::to_hex(b.first(6)) == "5453f09f92ac");
  CHECK(base::equal_bytes(b.subspan(6, 32), p.alice.public_key().bytes()));
  CHECK(base::equal_bytes(b.subspan(38, 24), counting_nonce()));
  // What crypto_box_easy (no precomputation) makes of the same plaintext, nonce and keys.
  Bytes plain;
  append_message(plain, ping());
  Bytes box(plain.size() + crypto_box_MACBYTES);
  const auto alice_priv = private_key(0xa1);
  REQUIRE(crypto_box_easy(base::uc(base::ByteSpan(box)), base::uc(base::ConstByteSpan(plain)),
                          plain.size(), base::uc(base::ConstByteSpan(counting_nonce())),
                          base::uc(p.bob.public_key().bytes()), base::uc(alice_priv.bytes())) == 0);
  CHECK(base::to_hex(b.subspan(62)) == base::to_hex(box));
}

TEST_CASE("round trip of every message type through seal and open") {
  Pair p;
  disco::UdpRelayEndpoint relay;
  relay.addr_ports = {base::Endpoint::parse("192.0.2.1:7").value()};
  const std::vector<disco::Message> messages = {
      ping(),
      disco::Ping{{}, std::nullopt, 0},
      disco::Ping{{}, ping().node_key, 1200},
      disco::Pong{{}, base::Endpoint::parse("[2001:db8::1]:41641").value()},
      disco::CallMeMaybe{},
      disco::CallMeMaybe{{base::Endpoint::parse("203.0.113.9:41641").value()}},
      disco::BindUdpRelayEndpoint{disco::MessageType::bind_udp_relay_endpoint_answer, 7, 9, {}, {}},
      disco::CallMeMaybeVia{0, relay},
      disco::AllocateUdpRelayEndpointRequest{0, {}, 3},
      disco::AllocateUdpRelayEndpointResponse{0, 3, relay},
  };
  for (std::size_t i = 0; i < messages.size(); ++i) {
    CAPTURE(i);
    Bytes packet;
    disco::seal_message(packet, p.a_to_b(), p.alice.public_key(), disco::random_nonce(),
                        messages[i]);
    CHECK(packet.size() == disco::kOverhead + disco::encoded_size(messages[i]));
    CHECK(disco::sender_key(packet) == p.alice.public_key());
    DropReason why = DropReason::none;
    const auto got = disco::open_message(packet, p.b_to_a(), why);
    REQUIRE_MESSAGE(got.has_value(), to_string(why));
    CHECK(*got == messages[i]);
  }
}

TEST_CASE("random nonces differ between messages") {
  Pair p;
  Bytes one, two;
  disco::seal_message(one, p.a_to_b(), p.alice.public_key(), disco::random_nonce(), ping());
  disco::seal_message(two, p.a_to_b(), p.alice.public_key(), disco::random_nonce(), ping());
  CHECK_FALSE(base::equal_bytes(base::ConstByteSpan(one).subspan(38, 24),
                                base::ConstByteSpan(two).subspan(38, 24)));
}

TEST_CASE("malformed and foreign envelopes are rejected with their reason") {
  Pair p;
  disco::SharedKeyCache carol{private_key(0xc0)};
  Bytes good;
  disco::seal_message(good, p.a_to_b(), p.alice.public_key(), counting_nonce(), ping());

  struct Row {
    int row;
    const char* what;
    Bytes packet;
    DropReason want;
  };
  auto flipped = [&](std::size_t at) {
    Bytes b = good;
    b[at] ^= std::byte{0x01};
    return b;
  };
  auto first = [&](std::size_t n) {
    return Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
  };
  const std::vector<Row> rows = {
      {1, "empty", Bytes{}, DropReason::not_disco},
      {2, "37 bytes", first(37), DropReason::not_disco},
      {3, "wrong magic", flipped(0), DropReason::not_disco},
      {4, "38 bytes: no nonce", first(38), DropReason::short_nonce},
      {5, "61 bytes: nonce cut short", first(61), DropReason::short_nonce},
      {6, "62 bytes: nonce, no tag", first(62), DropReason::bad_box},
      {7, "77 bytes: tag cut short", first(77), DropReason::bad_box},
      {8, "ciphertext cut short", first(good.size() - 1), DropReason::bad_box},
      {9, "nonce changed", flipped(40), DropReason::bad_box},
      {10, "tag changed", flipped(62), DropReason::bad_box},
      {11, "ciphertext changed", flipped(100), DropReason::bad_box},
      {12, "trailing byte",
       [&] {
         Bytes b = good;
         b.push_back(std::byte{0});
         return b;
       }(),
       DropReason::bad_box},
  };
  for (const auto& r : rows) {
    CAPTURE(r.row);
    CAPTURE(r.what);
    DropReason why = DropReason::none;
    Bytes plain{std::byte{1}};
    CHECK_FALSE(disco::open(r.packet, p.b_to_a(), plain, why));
    CHECK(why == r.want);
    CHECK(plain.empty());
    why = DropReason::none;
    CHECK_FALSE(disco::open_message(r.packet, p.b_to_a(), why).has_value());
    CHECK(why == r.want);
  }
  SUBCASE("a message for someone else (peer restarted with a new key)") {
    DropReason why = DropReason::none;
    CHECK_FALSE(disco::open_message(good, *carol.get(p.alice.public_key()), why).has_value());
    CHECK(why == DropReason::bad_box);
  }
  SUBCASE("a box that opens to a malformed message") {
    Bytes packet;
    const Bytes short_pong = base::hex_bytes("0200").value();
    disco::seal(packet, p.a_to_b(), p.alice.public_key(), counting_nonce(), short_pong);
    DropReason why = DropReason::none;
    CHECK_FALSE(disco::open_message(packet, p.b_to_a(), why).has_value());
    CHECK(why == DropReason::short_pong);
    Bytes empty_box;
    disco::seal(empty_box, p.a_to_b(), p.alice.public_key(), counting_nonce(), {});
    CHECK(empty_box.size() == disco::kOverhead);
    CHECK_FALSE(disco::open_message(empty_box, p.b_to_a(), why).has_value());
    CHECK(why == DropReason::short_message);
  }
}

TEST_CASE("the shared key is computed once per peer and reused") {
  Pair p;
  disco::SharedKeyCache carol{private_key(0xc0)};
  const auto* k1 = p.alice.get(p.bob.public_key());
  const auto* k2 = p.alice.get(p.bob.public_key());
  REQUIRE(k1 != nullptr);
  CHECK(k1 == k2);
  CHECK(p.alice.computations() == 1);
  CHECK(p.alice.size() == 1);
  // Both ends derive the same key.
  CHECK(base::equal_bytes(k1->bytes(), p.b_to_a().bytes()));
  p.alice.get(carol.public_key());
  CHECK(p.alice.computations() == 2);
  CHECK(p.alice.size() == 2);
  CHECK(k1 == p.alice.get(p.bob.public_key()));  // still valid after another insert
  p.alice.retain_if([&](const base::DiscoPublicKey& k) { return k == carol.public_key(); });
  CHECK(p.alice.size() == 1);
  p.alice.get(p.bob.public_key());
  CHECK(p.alice.computations() == 3);
  p.alice.forget(p.bob.public_key());
  p.alice.forget(p.bob.public_key());
  CHECK(p.alice.size() == 1);
}

TEST_CASE("a low-order peer key gives no shared key and is not cached") {
  disco::SharedKeyCache alice{private_key(0xa1)};
  const base::DiscoPublicKey zero{};
  CHECK(alice.get(zero) == nullptr);
  CHECK(alice.get(zero) == nullptr);
  CHECK(alice.size() == 0);
  CHECK(alice.computations() == 2);
  // 1 (the point of order 1 in Montgomery u-coordinates) is low order too.
  base::KeyBytes one{};
  one[0] = std::byte{1};
  CHECK(alice.get(base::DiscoPublicKey(one)) == nullptr);
  CHECK_FALSE(disco::SharedKey::compute(private_key(0xa1), zero).has_value());
}

TEST_CASE("looks_like_disco and sender_key need magic and a whole sender key") {
  Bytes b(38, std::byte{0x33});
  std::copy(disco::kMagic.begin(), disco::kMagic.end(), b.begin());
  CHECK(disco::looks_like_disco(b));
  base::KeyBytes k;
  k.fill(std::byte{0x33});
  CHECK(disco::sender_key(b) == base::DiscoPublicKey(k));
  b.pop_back();
  CHECK_FALSE(disco::looks_like_disco(b));
  CHECK_FALSE(disco::sender_key(b).has_value());
}

}  // namespace
