// SPDX-License-Identifier: MIT
// DERP's key text forms and the mesh key (protocols/derp.md section 1).
//
//   node public   "nodekey:"  + 64 lowercase hex
//   node private  "privkey:"  + 64 lowercase hex
//   disco public  "discokey:" + 64 lowercase hex
//   untyped       64 lowercase hex (Derp-Public-Key header, meta-cert CN)
//   mesh key      exactly 64 hex digits; parsing trims surrounding whitespace, accepts either
//                 case, prints lowercase; all zero means "no mesh key"
//
// Parsers accept upper- or lowercase hex and nothing else (no whitespace, except around a
// mesh key).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/keys.hpp"
#include "base/result.hpp"

namespace derp {

inline constexpr std::string_view kNodeKeyPrefix = "nodekey:";
inline constexpr std::string_view kPrivateKeyPrefix = "privkey:";
inline constexpr std::string_view kDiscoKeyPrefix = "discokey:";

std::string node_key_text(const base::NodePublicKey& k);
std::string private_key_text(const base::NodePrivateKey& k);
std::string disco_key_text(const base::DiscoPublicKey& k);
base::Result<base::NodePublicKey> parse_node_key_text(std::string_view text);
base::Result<base::NodePrivateKey> parse_private_key_text(std::string_view text);
base::Result<base::DiscoPublicKey> parse_disco_key_text(std::string_view text);

// The pre-shared secret that grants mesh privileges (ForwardPacket, WatchConns, ClosePeer).
// Wiped on destruction; compared in constant time.
class MeshKey {
 public:
  MeshKey() = default;
  explicit MeshKey(base::KeySpan raw) noexcept : k_(raw) {}

  // Trims surrounding whitespace; requires exactly 64 hex digits.
  static base::Result<MeshKey> parse(std::string_view text);
  static MeshKey generate() noexcept;

  bool is_zero() const noexcept { return k_.is_zero(); }
  std::string to_string() const { return k_.to_hex(); }  // 64 lowercase hex
  base::KeySpan bytes() const noexcept { return k_.bytes(); }

  friend bool operator==(const MeshKey& a, const MeshKey& b) noexcept { return a.k_ == b.k_; }

 private:
  struct Tag {
    static constexpr bool kCurve25519 = false;
  };
  base::SecretKey<Tag> k_;
};

}  // namespace derp
