// SPDX-License-Identifier: MIT
#include "wg/transport.hpp"

#include <cstring>

#include "wg/messages.hpp"

namespace wg {

std::size_t padding_size(std::size_t length, unsigned mtu) noexcept {
  auto round_up = [](std::size_t n) {
    return (n + kPaddingMultiple - 1) & ~(kPaddingMultiple - 1);
  };
  if (mtu == 0) return round_up(length) - length;
  std::size_t last = length;
  if (last > mtu) last %= mtu;
  const std::size_t padded = std::min<std::size_t>(round_up(last), mtu);
  return padded - last;
}

bool seal_transport(base::PacketBuf& p, const crypto::Key& send_key, std::uint32_t receiver,
                    std::uint64_t counter, unsigned mtu, crypto::TransportAead& aead) noexcept {
  const std::size_t pad = padding_size(p.size(), mtu);
  if (pad > 0) {
    auto zeros = p.push_back(pad);
    std::memset(zeros.data(), 0, zeros.size());
  }
  auto body = p.data();
  auto tag = p.push_back(crypto::kTagSize);
  if (!aead.seal(send_key, counter, body, std::span<std::byte, crypto::kTagSize>(tag)))
    return false;
  auto hdr = p.push_front(kTransportHeaderSize);
  write_transport_header({receiver, counter}, std::span<std::byte, kTransportHeaderSize>(
                                                  hdr.data(), kTransportHeaderSize));
  return true;
}

bool open_transport(base::PacketBuf& p, const crypto::Key& receive_key, std::uint64_t counter,
                    crypto::TransportAead& aead) noexcept {
  if (p.size() < kTransportMinSize) return false;
  p.pull_front(kTransportHeaderSize);
  const std::size_t body_len = p.size() - crypto::kTagSize;
  auto body = p.data().first(body_len);
  const auto tag = std::span<const std::byte, crypto::kTagSize>(p.data().subspan(body_len).data(),
                                                                crypto::kTagSize);
  if (!aead.open(receive_key, counter, body, tag)) return false;
  p.trim(body_len);
  return true;
}

std::optional<std::size_t> inner_packet_length(base::ConstByteSpan plaintext) noexcept {
  if (plaintext.empty()) return std::nullopt;
  const unsigned version = static_cast<unsigned>(plaintext[0]) >> 4;
  if (version == 4) {
    constexpr std::size_t kMinV4 = 20;
    if (plaintext.size() < kMinV4) return std::nullopt;
    const std::size_t total = base::load_be16(plaintext.subspan(2));
    const std::size_t ihl = (static_cast<unsigned>(plaintext[0]) & 0x0fu) * 4u;
    if (ihl < kMinV4 || total < ihl || total > plaintext.size()) return std::nullopt;
    return total;
  }
  if (version == 6) {
    constexpr std::size_t kV6Header = 40;
    if (plaintext.size() < kV6Header) return std::nullopt;
    const std::size_t total = base::load_be16(plaintext.subspan(4)) + kV6Header;
    if (total > plaintext.size()) return std::nullopt;
    return total;
  }
  return std::nullopt;
}

}  // namespace wg
