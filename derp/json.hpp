// SPDX-License-Identifier: MIT
// A small strict JSON reader for the two DERP handshake messages (ClientInfo, ServerInfo),
// which are flat objects of strings, integers and booleans. derp/ links only base/ and
// libsodium, so it carries this instead of a JSON library.
//
// parse_json_object() validates the whole text as one JSON object (RFC 8259; trailing
// whitespace only) and hands each top-level member to a callback: the key with escapes
// decoded, and the value as a JsonValue. Nested objects and arrays are validated and
// reported only by kind. Nesting deeper than kMaxJsonDepth is refused. Strings are decoded
// (escapes, surrogate pairs) but invalid UTF-8 is passed through as bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace derp {

inline constexpr int kMaxJsonDepth = 64;

struct JsonValue {
  enum class Kind : std::uint8_t { null, boolean, number, string, object, array };
  Kind kind = Kind::null;
  bool boolean = false;
  std::string_view number;  // the literal text, for Kind::number
  std::string string;       // decoded, for Kind::string

  // An integer in int64 range written without fraction or exponent, as Go's encoding/json
  // requires for an int field.
  std::optional<std::int64_t> as_int() const noexcept;
};

using JsonMemberFn = std::function<base::Status(std::string_view key, const JsonValue& value)>;
base::Status parse_json_object(std::string_view text, const JsonMemberFn& on_member);

// Appends `s` as a JSON string literal with Go's escaping (", \, control characters, and
// <, >, & as \u00XX).
void append_json_string(std::string& out, std::string_view s);

// ASCII case-insensitive comparison, as Go matches JSON keys to struct fields.
bool json_key_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace derp
