// SPDX-License-Identifier: MIT
// The sealed handshake messages (protocols/derp.md 4.3 to 4.5).
//
//   sealed   = nonce(24) || crypto_box_easy(msg, nonce, peer_pub, my_priv)   (+40 bytes)
//   ClientInfo payload = client K(32) || sealed(JSON)    client priv -> server pub
//   ServerInfo payload = sealed(JSON)                    server priv -> client pub
//
// ClientInfo JSON, in Go's field order, zero values omitted except CanAckPings:
//   {"meshKey":"<64 hex>","version":2,"CanAckPings":true,"IsProber":true,"AppName":"..."}
// ServerInfo JSON: {"version":2[,"TokenBucketBytesPerSecond":N,"TokenBucketBytesBurst":M]}
// Decoding follows Go's encoding/json: keys match case-insensitively, unknown keys are
// ignored, null leaves a field unset, a wrong type or a malformed mesh key is an error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/keys.hpp"
#include "base/result.hpp"
#include "derp/keys.hpp"

namespace derp {

struct ClientInfo {
  std::optional<MeshKey> mesh_key;  // nullopt (or zero) = none; never sent empty
  std::int64_t version = 0;
  bool can_ack_pings = false;
  bool is_prober = false;
  std::string app_name;  // opaque label; stored, not interpreted
};

struct ServerInfo {
  std::int64_t version = 0;
  std::int64_t token_bucket_bytes_per_second = 0;  // 0 = no client-side send limit
  std::int64_t token_bucket_bytes_burst = 0;
};

// What a Go client sends: {"version":2,"CanAckPings":true}, plus the mesh key if any.
ClientInfo default_client_info();

std::string client_info_json(const ClientInfo& info);
base::Result<ClientInfo> parse_client_info_json(std::string_view json);
std::string server_info_json(const ServerInfo& info);
base::Result<ServerInfo> parse_server_info_json(std::string_view json);

// NaCl box with a random nonce: nonce || box. Appends to `out`.
void seal_to(base::Bytes& out, const base::NodePrivateKey& mine, const base::NodePublicKey& peer,
             base::ConstByteSpan msg);
// Opens nonce || box from `peer` with `mine`; an error when it does not authenticate.
base::Result<base::Bytes> open_from(const base::NodePrivateKey& mine,
                                    const base::NodePublicKey& peer, base::ConstByteSpan sealed);

// The client's side of the handshake: the ClientInfo payload for a server whose key came in
// its ServerKey frame (or from the TLS meta certificate in fast start).
base::Bytes client_info_payload(const base::NodePrivateKey& client,
                                const base::NodePublicKey& server, const ClientInfo& info);

struct OpenedClientInfo {
  base::NodePublicKey client;
  ClientInfo info;
};
// The server's side: proves the client owns the key it claims and decodes its JSON.
// `payload` is the whole ClientInfo payload (length already checked by the frame decoder).
base::Result<OpenedClientInfo> open_client_info(const base::NodePrivateKey& server,
                                                base::ConstByteSpan payload);

base::Bytes server_info_payload(const base::NodePrivateKey& server,
                                const base::NodePublicKey& client, const ServerInfo& info);
base::Result<ServerInfo> open_server_info(const base::NodePrivateKey& client,
                                          const base::NodePublicKey& server,
                                          base::ConstByteSpan payload);

}  // namespace derp
