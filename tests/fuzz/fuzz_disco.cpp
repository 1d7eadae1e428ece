// SPDX-License-Identifier: MIT
// libFuzzer target: disco/. The input is read three ways:
//   - as a datagram: classify_udp() and classify_derp() must agree, and opening it with a
//     fixed key must fail cleanly or give a message;
//   - as a plaintext: whatever parse_message() accepts must survive write -> parse with the
//     same value, and a second write must give the same bytes;
//   - sealed and opened again with fixed keys and nonce: open_message() must give exactly
//     what parse_message() gives on the bare plaintext (same value, or same reason).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "base/keys.hpp"
#include "disco/classify.hpp"
#include "disco/envelope.hpp"
#include "disco/message.hpp"

namespace {

base::DiscoPrivateKey fixed_key(std::uint8_t fill) {
  base::KeyBytes k;
  k.fill(std::byte{fill});
  base::DiscoPrivateKey key(k);
  key.clamp();
  return key;
}

struct Keys {
  disco::SharedKeyCache alice{fixed_key(0xa1)};
  disco::SharedKeyCache bob{fixed_key(0xb0)};
  const disco::SharedKey* a_to_b = alice.get(bob.public_key());
  const disco::SharedKey* b_to_a = bob.get(alice.public_key());
};

void check_datagram(base::ConstByteSpan in, const Keys& keys) {
  const auto c = disco::classify_udp(in);
  const auto derp = disco::classify_derp(in);
  if (derp == disco::PacketKind::disco && !disco::looks_like_disco(in)) std::abort();
  if (c.kind == disco::PacketKind::disco && !c.geneve && derp != disco::PacketKind::disco) {
    std::abort();
  }
  disco::DropReason why = disco::DropReason::none;
  if (!disco::open_message(in, *keys.b_to_a, why) && why == disco::DropReason::none) std::abort();
}

void check_plaintext(base::ConstByteSpan in, const Keys& keys) {
  disco::DropReason why = disco::DropReason::none;
  const auto m = disco::parse_message(in, why);
  if (!m && why == disco::DropReason::none) std::abort();
  if (m) {
    base::Bytes once;
    append_message(once, *m);
    if (once.size() != disco::encoded_size(*m)) std::abort();
    disco::DropReason why2 = disco::DropReason::none;
    const auto again = disco::parse_message(once, why2);
    if (!again || !(*again == *m)) std::abort();
    base::Bytes twice;
    append_message(twice, *again);
    if (once != twice) std::abort();
  }

  disco::Nonce nonce{};
  base::Bytes packet;
  disco::seal(packet, *keys.a_to_b, keys.alice.public_key(), nonce, in);
  if (packet.size() != disco::kOverhead + in.size()) std::abort();
  if (disco::classify_udp(packet).kind != disco::PacketKind::disco) std::abort();
  if (disco::sender_key(packet) != keys.alice.public_key()) std::abort();
  disco::DropReason why_opened = disco::DropReason::none;
  const auto opened = disco::open_message(packet, *keys.b_to_a, why_opened);
  if (opened.has_value() != m.has_value()) std::abort();
  if (m && !(*opened == *m)) std::abort();
  if (!m && why_opened != why) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Keys keys;
  if (keys.a_to_b == nullptr || keys.b_to_a == nullptr) std::abort();
  const base::ConstByteSpan in(reinterpret_cast<const std::byte*>(data), size);
  check_datagram(in, keys);
  check_plaintext(in, keys);
  return 0;
}
