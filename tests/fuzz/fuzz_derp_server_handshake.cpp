// SPDX-License-Identifier: MIT
// libFuzzer target: the server's side of a DERP connection before it carries packets.
//
// Byte 0 picks the mode:
//   even: the rest is a client's byte stream, fed in chunks of (byte 1 + 1) bytes to the
//         HTTP phase; after an upgrade, the leftover and later bytes go through the frame
//         reader, and the first frame is checked as a ClientInfo (box, JSON, mesh key).
//   odd:  the rest is ClientInfo JSON; it is sealed with a fixed client key and opened by
//         the server, and the decoded ClientInfo must survive write -> parse unchanged. The
//         same text is also tried as ServerInfo JSON, with the same round trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "derp/frame.hpp"
#include "derp/frame_reader.hpp"
#include "derp/info.hpp"
#include "derpserver/server_handshake.hpp"

namespace {

const base::NodePrivateKey& server_key() {
  static const base::NodePrivateKey k = base::NodePrivateKey::generate();
  return k;
}
const base::NodePrivateKey& client_key() {
  static const base::NodePrivateKey k = base::NodePrivateKey::generate();
  return k;
}
const derp::MeshKey& mesh_key() {
  static const derp::MeshKey k = derp::MeshKey::generate();
  return k;
}

bool same(const derp::ClientInfo& a, const derp::ClientInfo& b) {
  const bool mesh_a = a.mesh_key && !a.mesh_key->is_zero();
  const bool mesh_b = b.mesh_key && !b.mesh_key->is_zero();
  if (mesh_a != mesh_b) return false;
  if (mesh_a && !(*a.mesh_key == *b.mesh_key)) return false;
  return a.version == b.version && a.can_ack_pings == b.can_ack_pings &&
         a.is_prober == b.is_prober && a.app_name == b.app_name;
}

void stream_mode(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return;
  const std::size_t chunk = 1 + data[0];
  const auto* p = reinterpret_cast<const std::byte*>(data + 1);
  std::size_t left = size - 1;
  derpserver::HttpPhase http(
      true, derpserver::Site::main,
      [](derpserver::HttpRoute, const derpserver::HttpRequest&) { return std::string("page"); });
  derp::FrameReader reader(&derp::server_read_limit);
  bool upgraded = false;
  bool failed = false;
  auto on_frame = [&](std::uint8_t type, base::ConstByteSpan payload) {
    if (!reader.handshake_done()) {
      if (type != static_cast<std::uint8_t>(derp::FrameType::client_info)) std::abort();
      auto d = derp::decode_from_client(type, payload);
      if (!d) return false;
      auto a = derpserver::accept_client_info(server_key(), mesh_key(), payload);
      if (!a) return false;
      reader.set_handshake_done(true);
      return true;
    }
    return derp::decode_from_client(type, payload).ok();
  };
  while (left > 0 && !failed) {
    const std::size_t n = left < chunk ? left : chunk;
    const base::ConstByteSpan in(p, n);
    if (!upgraded) {
      auto step = http.feed(in);
      if (!step) return;
      if (step->close) return;
      if (step->upgrade) {
        upgraded = true;
        if (!reader.feed(step->leftover, on_frame)) failed = true;
      }
    } else if (!reader.feed(in, on_frame)) {
      failed = true;
    }
    p += n;
    left -= n;
  }
}

void json_mode(const std::uint8_t* data, std::size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  base::Bytes payload;
  const auto pub = client_key().public_key();
  payload.insert(payload.end(), pub.bytes().begin(), pub.bytes().end());
  derp::seal_to(payload, client_key(), server_key().public_key(), base::as_bytes(json));
  auto a = derpserver::accept_client_info(server_key(), mesh_key(), payload);
  auto direct = derp::parse_client_info_json(json);
  if (a.ok() != direct.ok()) std::abort();
  if (direct) {
    auto again = derp::parse_client_info_json(derp::client_info_json(*direct));
    if (!again || !same(*direct, *again)) std::abort();
    if (a->key != pub) std::abort();
  }
  auto si = derp::parse_server_info_json(json);
  if (si) {
    auto again = derp::parse_server_info_json(derp::server_info_json(*si));
    if (!again || again->version != si->version ||
        again->token_bucket_bytes_per_second != si->token_bucket_bytes_per_second ||
        again->token_bucket_bytes_burst != si->token_bucket_bytes_burst) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  if ((data[0] & 1) == 0) {
    stream_mode(data + 1, size - 1);
  } else {
    json_mode(data + 1, size - 1);
  }
  return 0;
}
