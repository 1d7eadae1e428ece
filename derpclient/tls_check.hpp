// SPDX-License-Identifier: MIT
// Checks a DERP client makes on an established TLS connection (protocols/derp.md 2.2, 2.5).
//
// meta_cert_key(): only on TLS 1.3, the server key from the "meta certificate" (CN
// "derpkey<64 hex>", serial of at most 8 bits giving a non-zero protocol version) that lets
// the client skip waiting for ServerKey (fast start).
// check_pinned(): the "sha256-raw:<hex>" rule: exactly one certificate besides meta
// certificates, its DER's SHA-256 equal to the pin, valid now, and valid for `name` if set.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/keys.hpp"
#include "base/result.hpp"

using SSL = struct ssl_st;

namespace derpclient {

inline constexpr std::string_view kPinPrefix = "sha256-raw:";

std::optional<base::NodePublicKey> meta_cert_key(SSL* ssl);
base::Status check_pinned(SSL* ssl, std::string_view pin_hex, const std::string& name);

}  // namespace derpclient
