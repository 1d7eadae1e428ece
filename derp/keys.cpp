// SPDX-License-Identifier: MIT
#include "derp/keys.hpp"

namespace derp {
namespace {

template <class K>
base::Result<K> parse_prefixed(std::string_view text, std::string_view prefix) {
  if (!text.starts_with(prefix)) {
    return base::make_error(std::errc::invalid_argument,
                            "key does not start with \"" + std::string(prefix) + "\"");
  }
  return K::from_hex(text.substr(prefix.size()));
}

bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

}  // namespace

std::string node_key_text(const base::NodePublicKey& k) {
  return std::string(kNodeKeyPrefix) + k.to_hex();
}
std::string private_key_text(const base::NodePrivateKey& k) {
  return std::string(kPrivateKeyPrefix) + k.to_hex();
}
std::string disco_key_text(const base::DiscoPublicKey& k) {
  return std::string(kDiscoKeyPrefix) + k.to_hex();
}

base::Result<base::NodePublicKey> parse_node_key_text(std::string_view text) {
  return parse_prefixed<base::NodePublicKey>(text, kNodeKeyPrefix);
}
base::Result<base::NodePrivateKey> parse_private_key_text(std::string_view text) {
  return parse_prefixed<base::NodePrivateKey>(text, kPrivateKeyPrefix);
}
base::Result<base::DiscoPublicKey> parse_disco_key_text(std::string_view text) {
  return parse_prefixed<base::DiscoPublicKey>(text, kDiscoKeyPrefix);
}

base::Result<MeshKey> MeshKey::parse(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  if (text.size() != 2 * base::kKeySize) {
    return base::make_error(
        std::errc::invalid_argument,
        "invalid mesh key: want 64 hex digits, got " + std::to_string(text.size()) + " characters");
  }
  auto k = base::SecretKey<Tag>::from_hex(text);
  if (!k) return base::make_error(std::errc::invalid_argument, "invalid mesh key: not hex");
  MeshKey m;
  m.k_ = *k;
  return m;
}

MeshKey MeshKey::generate() noexcept {
  MeshKey m;
  m.k_ = base::SecretKey<Tag>::generate();
  return m;
}

}  // namespace derp
