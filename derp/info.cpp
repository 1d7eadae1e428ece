// SPDX-License-Identifier: MIT
#include "derp/info.hpp"

#include <algorithm>
#include <sodium.h>

#include <boost/json.hpp>

#include "base/random.hpp"
#include "derp/frame.hpp"
#include "derp/go_json.hpp"

namespace derp {
namespace {

namespace json = boost::json;

static_assert(crypto_box_NONCEBYTES == kNonceLen);
static_assert(crypto_box_MACBYTES == kBoxTagLen);
static_assert(crypto_box_PUBLICKEYBYTES == kKeyLen);

base::Error type_error(std::string_view key) {
  return base::make_error(std::errc::invalid_argument,
                          "json: wrong type for \"" + std::string(key) + "\"");
}

bool key_is(std::string_view key, std::string_view field) noexcept {
  return go_key_is(key, field);
}

// Sets an int64 field; null leaves it unchanged. As for a Go int field, only an integer
// literal fits: 2.0 and 2e0 (parsed as doubles) are refused, as are values out of range.
base::Status set_int(std::int64_t& field, std::string_view key, const json::value& v) {
  if (v.is_null()) return {};
  if (!v.is_int64()) return type_error(key);
  field = v.get_int64();
  return {};
}

base::Status set_bool(bool& field, std::string_view key, const json::value& v) {
  if (v.is_null()) return {};
  if (!v.is_bool()) return type_error(key);
  field = v.get_bool();
  return {};
}

base::Status set_string(std::string& field, std::string_view key, const json::value& v) {
  if (v.is_null()) return {};
  if (!v.is_string()) return type_error(key);
  field = std::string(v.get_string());
  return {};
}

// Parses `text` as one JSON object and hands each member to `on_member`, in order (so a
// repeated key's last value wins, as in Go).
template <class Fn>
base::Status for_each_member(std::string_view text, Fn&& on_member) {
  json::parse_options opt;
  opt.max_depth = 64;
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec, {}, opt);
  if (ec) return base::make_error(std::errc::invalid_argument, "json: " + ec.message());
  if (!v.is_object()) return base::make_error(std::errc::invalid_argument, "json: not an object");
  for (const auto& member : v.get_object()) {
    if (auto st = on_member(std::string_view(member.key()), member.value()); !st) return st;
  }
  return {};
}

}  // namespace

ClientInfo default_client_info() {
  ClientInfo info;
  info.version = kProtocolVersion;
  info.can_ack_pings = true;
  return info;
}

// Fields in Go's struct order, zero values omitted where Go's tags say omitempty.
std::string client_info_json(const ClientInfo& info) {
  json::object o;
  if (info.mesh_key && !info.mesh_key->is_zero()) o["meshKey"] = info.mesh_key->to_string();
  if (info.version != 0) o["version"] = info.version;
  o["CanAckPings"] = info.can_ack_pings;
  if (info.is_prober) o["IsProber"] = true;
  if (!info.app_name.empty()) o["AppName"] = info.app_name;
  return json::serialize(o);
}

base::Result<ClientInfo> parse_client_info_json(std::string_view text) {
  ClientInfo info;
  auto st =
      for_each_member(text, [&info](std::string_view key, const json::value& v) -> base::Status {
        if (key_is(key, "meshKey")) {
          if (v.is_null()) return {};
          if (!v.is_string()) return type_error(key);
          auto mk = MeshKey::parse(std::string_view(v.get_string()));
          if (!mk) return mk.error();
          info.mesh_key = *mk;
          return {};
        }
        if (key_is(key, "version")) return set_int(info.version, key, v);
        if (key_is(key, "CanAckPings")) return set_bool(info.can_ack_pings, key, v);
        if (key_is(key, "IsProber")) return set_bool(info.is_prober, key, v);
        if (key_is(key, "AppName")) return set_string(info.app_name, key, v);
        return {};  // unknown keys are ignored
      });
  if (!st) return st.error();
  return info;
}

std::string server_info_json(const ServerInfo& info) {
  json::object o;
  if (info.version != 0) o["version"] = info.version;
  if (info.token_bucket_bytes_per_second != 0)
    o["TokenBucketBytesPerSecond"] = info.token_bucket_bytes_per_second;
  if (info.token_bucket_bytes_burst != 0)
    o["TokenBucketBytesBurst"] = info.token_bucket_bytes_burst;
  return json::serialize(o);
}

base::Result<ServerInfo> parse_server_info_json(std::string_view text) {
  ServerInfo info;
  auto st =
      for_each_member(text, [&info](std::string_view key, const json::value& v) -> base::Status {
        if (key_is(key, "version")) return set_int(info.version, key, v);
        if (key_is(key, "TokenBucketBytesPerSecond"))
          return set_int(info.token_bucket_bytes_per_second, key, v);
        if (key_is(key, "TokenBucketBytesBurst"))
          return set_int(info.token_bucket_bytes_burst, key, v);
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
