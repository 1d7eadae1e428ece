// SPDX-License-Identifier: MIT
#include "ipc/set_request.hpp"

#include <system_error>

#include "ipc/uapi_text.hpp"

namespace ipc {

namespace {

// Parses one body line after another; the first error ends the request.
class SetParser {
 public:
  base::Status line(std::size_t number, std::string_view text);
  SetRequest take() && { return std::move(request_); }

 private:
  base::Status device_line(std::string_view key, std::string_view value);
  base::Status peer_line(std::string_view key, std::string_view value);
  base::Error invalid(std::string what) const {
    return base::make_error(std::errc::invalid_argument,
                            "line " + std::to_string(number_) + ": " + std::move(what));
  }

  SetRequest request_;
  PeerChange* peer_ = nullptr;  // the section being parsed; null in the interface section
  std::size_t number_ = 0;
};

bool is_true(std::string_view value) {
  return value == "true";
}

template <class Key>
std::optional<Key> parse_key(std::string_view value) {
  auto key = Key::from_hex(value);
  if (!key) return std::nullopt;
  return std::move(key).value();
}

base::Status SetParser::line(std::size_t number, std::string_view text) {
  number_ = number;
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  if (text.empty()) {
    return base::make_error(std::errc::protocol_error,
                            "line " + std::to_string(number) + ": empty line inside the request");
  }
  const auto eq = text.find('=');
  if (eq == std::string_view::npos) {
    // The line is not echoed: it may be key material that lost its '='.
    return base::make_error(std::errc::protocol_error, "line " + std::to_string(number) +
                                                           ": no '=' in a line of " +
                                                           std::to_string(text.size()) + " bytes");
  }
  const std::string_view key = text.substr(0, eq);
  const std::string_view value = text.substr(eq + 1);
  if (key == "public_key") {
    auto pub = parse_key<base::NodePublicKey>(value);
    if (!pub) return invalid("public_key is not 64 hex digits");
    request_.peers.emplace_back();
    peer_ = &request_.peers.back();
    peer_->public_key = *pub;
    return {};
  }
  return peer_ == nullptr ? device_line(key, value) : peer_line(key, value);
}

base::Status SetParser::device_line(std::string_view key, std::string_view value) {
  if (key == "private_key") {
    auto priv = parse_key<base::NodePrivateKey>(value);
    if (!priv) return invalid("private_key is not 64 hex digits");
    // wireguard-go clamps every key but the all-zero one, which means "no key".
    if (!priv->is_zero()) priv->clamp();
    request_.private_key = std::move(priv);
  } else if (key == "listen_port") {
    auto port = parse_decimal(value, 0xffff);
    if (!port) return invalid("listen_port " + quote_for_log(value) + " is not in 0..65535");
    request_.listen_port = static_cast<std::uint16_t>(*port);
  } else if (key == "fwmark") {
    auto mark = parse_decimal(value, 0xffffffff);
    if (!mark) return invalid("fwmark " + quote_for_log(value) + " is not a 32-bit number");
    request_.fwmark = static_cast<std::uint32_t>(*mark);
  } else if (key == "replace_peers") {
    if (!is_true(value)) return invalid("replace_peers must be true, not " + quote_for_log(value));
    request_.replace_peers = true;
  } else {
    return invalid("invalid UAPI device key " + quote_for_log(key));
  }
  return {};
}

base::Status SetParser::peer_line(std::string_view key, std::string_view value) {
  PeerChange& peer = *peer_;
  if (key == "remove") {
    if (!is_true(value)) return invalid("remove must be true, not " + quote_for_log(value));
    peer.remove = true;
  } else if (key == "update_only") {
    if (!is_true(value)) return invalid("update_only must be true, not " + quote_for_log(value));
    peer.update_only = true;
  } else if (key == "preshared_key") {
    auto psk = parse_key<base::PresharedKey>(value);
    if (!psk) return invalid("preshared_key is not 64 hex digits");
    peer.preshared_key = std::move(psk);
  } else if (key == "endpoint") {
    auto endpoint = parse_endpoint(value);
    if (!endpoint) {
      return invalid("endpoint " + quote_for_log(value) + " is not a.b.c.d:port or [v6]:port");
    }
    peer.endpoint = *endpoint;
  } else if (key == "persistent_keepalive_interval") {
    auto secs = parse_decimal(value, 0xffff);
    if (!secs) {
      return invalid("persistent_keepalive_interval " + quote_for_log(value) +
                     " is not in 0..65535");
    }
    peer.persistent_keepalive_interval = static_cast<std::uint16_t>(*secs);
  } else if (key == "replace_allowed_ips") {
    if (!is_true(value)) {
      return invalid("replace_allowed_ips must be true, not " + quote_for_log(value));
    }
    // Earlier allowed_ip lines of this section would be wiped by the replace: drop them.
    peer.replace_allowed_ips = true;
    peer.allowed_ips.clear();
  } else if (key == "allowed_ip") {
    AllowedIpChange change;
    std::string_view text = value;
    if (!text.empty() && text.front() == '-') {
      change.remove = true;
      text.remove_prefix(1);
    }
    auto prefix = parse_prefix(text);
    if (!prefix) return invalid("allowed_ip " + quote_for_log(value) + " is not addr/bits");
    change.prefix = *prefix;
    peer.allowed_ips.push_back(change);
  } else if (key == "protocol_version") {
    if (value != "1") return invalid("protocol_version " + quote_for_log(value) + " is not 1");
    peer.protocol_version = 1;
  } else {
    return invalid("invalid UAPI peer key " + quote_for_log(key));
  }
  return {};
}

void append_line(std::string& out, std::string_view key, std::string_view value) {
  out += key;
  out += '=';
  out += value;
  out += '\n';
}

}  // namespace

base::Result<SetRequest> parse_set_request(std::string_view body) {
  SetParser parser;
  std::size_t number = 0;
  while (!body.empty()) {
    const auto nl = body.find('\n');
    const std::string_view line = body.substr(0, nl);
    body = nl == std::string_view::npos ? std::string_view() : body.substr(nl + 1);
    if (auto status = parser.line(++number, line); !status) return status.error();
  }
  return std::move(parser).take();
}

std::string format_set_request(const SetRequest& request) {
  std::string out = "set=1\n";
  if (request.private_key) append_line(out, "private_key", request.private_key->to_hex());
  if (request.listen_port) append_line(out, "listen_port", std::to_string(*request.listen_port));
  if (request.fwmark) append_line(out, "fwmark", std::to_string(*request.fwmark));
  if (request.replace_peers) append_line(out, "replace_peers", "true");
  for (const PeerChange& peer : request.peers) {
    append_line(out, "public_key", peer.public_key.to_hex());
    if (peer.remove) append_line(out, "remove", "true");
    if (peer.update_only) append_line(out, "update_only", "true");
    if (peer.protocol_version) {
      append_line(out, "protocol_version", std::to_string(*peer.protocol_version));
    }
    if (peer.preshared_key) append_line(out, "preshared_key", peer.preshared_key->to_hex());
    if (peer.endpoint) append_line(out, "endpoint", format_endpoint(*peer.endpoint));
    if (peer.persistent_keepalive_interval) {
      append_line(out, "persistent_keepalive_interval",
                  std::to_string(*peer.persistent_keepalive_interval));
    }
    if (peer.replace_allowed_ips) append_line(out, "replace_allowed_ips", "true");
    for (const AllowedIpChange& change : peer.allowed_ips) {
      append_line(out, "allowed_ip", (change.remove ? "-" : "") + format_prefix(change.prefix));
    }
  }
  out += '\n';
  return out;
}

int uapi_errno(const base::Error& error) noexcept {
  const std::error_code& code = error.code;
  const bool is_errno =
      code.category() == std::generic_category() || code.category() == std::system_category();
  if (is_errno && code.value() > 0) return -code.value();
  return -kErrnoUnknown;
}

}  // namespace ipc
