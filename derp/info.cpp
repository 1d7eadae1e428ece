// SPDX-License-Identifier: MIT
#include "derp/info.hpp"

#include <sodium.h>

#include "base/random.hpp"
#include "derp/frame.hpp"
#include "derp/json.hpp"

namespace derp {
namespace {

static_assert(crypto_box_NONCEBYTES == kNonceLen);
static_assert(crypto_box_MACBYTES == kBoxTagLen);
static_assert(crypto_box_PUBLICKEYBYTES == kKeyLen);

base::Error type_error(std::string_view key) {
  return base::make_error(std::errc::invalid_argument,
                          "json: wrong type for \"" + std::string(key) + "\"");
}

// Sets an int64 field from a JSON value; null leaves it unchanged.
base::Status set_int(std::int64_t& field, std::string_view key, const JsonValue& v) {
  if (v.kind == JsonValue::Kind::null) return {};
  const auto i = v.as_int();
  if (!i) return type_error(key);
  field = *i;
  return {};
}

base::Status set_bool(bool& field, std::string_view key, const JsonValue& v) {
  if (v.kind == JsonValue::Kind::null) return {};
  if (v.kind != JsonValue::Kind::boolean) return type_error(key);
  field = v.boolean;
  return {};
}

}  // namespace

ClientInfo default_client_info() {
  ClientInfo info;
  info.version = kProtocolVersion;
  info.can_ack_pings = true;
  return info;
}

std::string client_info_json(const ClientInfo& info) {
  std::string out = "{";
  auto sep = [&out] {
    if (out.size() > 1) out.push_back(',');
  };
  if (info.mesh_key && !info.mesh_key->is_zero()) {
    out += "\"meshKey\":\"" + info.mesh_key->to_string() + "\"";
  }
  if (info.version != 0) {
    sep();
    out += "\"version\":" + std::to_string(info.version);
  }
  sep();
  out += info.can_ack_pings ? "\"CanAckPings\":true" : "\"CanAckPings\":false";
  if (info.is_prober) out += ",\"IsProber\":true";
  if (!info.app_name.empty()) {
    out += ",\"AppName\":";
    append_json_string(out, info.app_name);
  }
  out += "}";
  return out;
}

base::Result<ClientInfo> parse_client_info_json(std::string_view json) {
  ClientInfo info;
  auto st =
      parse_json_object(json, [&info](std::string_view key, const JsonValue& v) -> base::Status {
        if (json_key_equal(key, "meshKey")) {
          if (v.kind == JsonValue::Kind::null) return {};
          if (v.kind != JsonValue::Kind::string) return type_error(key);
          auto mk = MeshKey::parse(v.string);
          if (!mk) return mk.error();
          info.mesh_key = *mk;
          return {};
        }
        if (json_key_equal(key, "version")) return set_int(info.version, key, v);
        if (json_key_equal(key, "CanAckPings")) return set_bool(info.can_ack_pings, key, v);
        if (json_key_equal(key, "IsProber")) return set_bool(info.is_prober, key, v);
        if (json_key_equal(key, "AppName")) {
          if (v.kind == JsonValue::Kind::null) return {};
          if (v.kind != JsonValue::Kind::string) return type_error(key);
          info.app_name = v.string;
          return {};
        }
        return {};  // unknown keys are ignored
      });
  if (!st) return st.error();
  return info;
}

std::string server_info_json(const ServerInfo& info) {
  std::string out = "{";
  auto field = [&out](std::string_view name, std::int64_t v) {
    if (v == 0) return;
    if (out.size() > 1) out.push_back(',');
    out += "\"";
    out += name;
    out += "\":" + std::to_string(v);
  };
  field("version", info.version);
  field("TokenBucketBytesPerSecond", info.token_bucket_bytes_per_second);
  field("TokenBucketBytesBurst", info.token_bucket_bytes_burst);
  out += "}";
  return out;
}

base::Result<ServerInfo> parse_server_info_json(std::string_view json) {
  ServerInfo info;
  auto st =
      parse_json_object(json, [&info](std::string_view key, const JsonValue& v) -> base::Status {
        if (json_key_equal(key, "version")) return set_int(info.version, key, v);
        if (json_key_equal(key, "TokenBucketBytesPerSecond")) {
          return set_int(info.token_bucket_bytes_per_second, key, v);
        }
        if (json_key_equal(key, "TokenBucketBytesBurst")) {
          return set_int(info.token_bucket_bytes_burst, key, v);
        }
        return {};
      });
  if (!st) return st.error();
  return info;
}

void seal_to(base::Bytes& out, const base::NodePrivateKey& mine, const base::NodePublicKey& peer,
             base::ConstByteSpan msg) {
  base::ensure_sodium();
  const std::size_t at = out.size();
  out.resize(at + kNonceLen + kBoxTagLen + msg.size());
  const base::ByteSpan nonce(out.data() + at, kNonceLen);
  base::random_bytes(nonce);
  const base::ByteSpan box(out.data() + at + kNonceLen, kBoxTagLen + msg.size());
  // Only fails for a peer key that is a low-order point; the box is then garbage that the
  // peer will refuse, which ends that handshake and nothing else.
  if (crypto_box_easy(base::uc(box), base::uc(msg), msg.size(), base::uc(nonce),
                      base::uc(peer.bytes()), base::uc(mine.bytes())) != 0) {
    std::fill(box.begin(), box.end(), std::byte{0});
  }
}

base::Result<base::Bytes> open_from(const base::NodePrivateKey& mine,
                                    const base::NodePublicKey& peer, base::ConstByteSpan sealed) {
  base::ensure_sodium();
  if (sealed.size() < kNonceLen + kBoxTagLen) {
    return base::make_error(std::errc::protocol_error, "sealed message too short");
  }
  const auto nonce = sealed.first(kNonceLen);
  const auto box = sealed.subspan(kNonceLen);
  base::Bytes msg(box.size() - kBoxTagLen);
  if (crypto_box_open_easy(base::uc(base::ByteSpan(msg)), base::uc(box), box.size(),
                           base::uc(nonce), base::uc(peer.bytes()), base::uc(mine.bytes())) != 0) {
    return base::make_error(std::errc::permission_denied, "sealed message does not open");
  }
  return msg;
}

base::Bytes client_info_payload(const base::NodePrivateKey& client,
                                const base::NodePublicKey& server, const ClientInfo& info) {
  const std::string json = client_info_json(info);
  base::Bytes out;
  out.reserve(kKeyLen + kNonceLen + kBoxTagLen + json.size());
  const auto pub = client.public_key();
  out.insert(out.end(), pub.bytes().begin(), pub.bytes().end());
  seal_to(out, client, server, base::as_bytes(json));
  return out;
}

base::Result<OpenedClientInfo> open_client_info(const base::NodePrivateKey& server,
                                                base::ConstByteSpan payload) {
  if (payload.size() < kMinClientInfoLen) {
    return base::make_error(std::errc::protocol_error, "short client info");
  }
  OpenedClientInfo out;
  out.client = base::NodePublicKey(base::KeySpan(payload.first(kKeyLen)));
  auto msg = open_from(server, out.client, payload.subspan(kKeyLen));
  if (!msg) return msg.error();
  auto info = parse_client_info_json(base::as_chars(*msg));
  if (!info) return info.error();
  out.info = std::move(*info);
  return out;
}

base::Bytes server_info_payload(const base::NodePrivateKey& server,
                                const base::NodePublicKey& client, const ServerInfo& info) {
  const std::string json = server_info_json(info);
  base::Bytes out;
  out.reserve(kNonceLen + kBoxTagLen + json.size());
  seal_to(out, server, client, base::as_bytes(json));
  return out;
}

base::Result<ServerInfo> open_server_info(const base::NodePrivateKey& client,
                                          const base::NodePublicKey& server,
                                          base::ConstByteSpan payload) {
  auto msg = open_from(client, server, payload);
  if (!msg) return msg.error();
  return parse_server_info_json(base::as_chars(*msg));
}

}  // namespace derp
