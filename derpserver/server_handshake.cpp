// SPDX-License-Identifier: MIT
#include "derpserver/server_handshake.hpp"

#include "derp/frame.hpp"

namespace derpserver {

base::Result<HttpPhase::Step> HttpPhase::feed(base::ConstByteSpan in) {
  pending_.append(base::as_chars(in));
  Step step;
  for (;;) {
    auto used = reader_.feed(pending_);
    if (!used) return used.error();
    pending_.erase(0, *used);
    if (!reader_.done()) {
      // The parser keeps nothing of a partial head: it wants the same bytes again with more.
      if (pending_.size() > kMaxRequestHeadLen + kMaxRequestBodyLen) {
        return base::make_error(std::errc::protocol_error, "http: request too long");
      }
      return step;
    }
    const HttpRequest req = reader_.request();
    ++requests_;
    const HttpRoute route = route_request(req, from_loopback_, site_);
    if (route == HttpRoute::derp_upgrade) {
      step.upgrade = true;
      step.fast_start = req.fast_start;
      step.ideal_node = req.ideal_node;
      const auto rest = base::as_bytes(pending_);
      step.leftover.assign(rest.begin(), rest.end());
      pending_.clear();
      return step;
    }
    std::string body;
    if (page_ && (route == HttpRoute::debug_index || route == HttpRoute::debug_varz ||
                  route == HttpRoute::debug_flows || route == HttpRoute::metrics)) {
      body = page_(route, req);
    }
    step.out += simple_route_response(route, req, body);
    if (!req.keep_alive || requests_ >= kMaxRequestsPerConnection ||
        route == HttpRoute::websocket_unsupported) {
      step.close = true;
      return step;
    }
    reader_.reset();
    if (pending_.empty()) return step;
  }
}

base::Bytes server_greeting(const base::NodePublicKey& server, bool fast_start) {
  base::Bytes out;
  if (!fast_start) {
    const std::string head = upgrade_response(server.to_hex());
    const auto b = base::as_bytes(head);
    out.assign(b.begin(), b.end());
  }
  derp::encode_server_key(out, server);
  return out;
}

base::Result<AcceptedClient> accept_client_info(const base::NodePrivateKey& server,
                                                const std::optional<derp::MeshKey>& mesh_key,
                                                base::ConstByteSpan payload) {
  auto opened = derp::open_client_info(server, payload);
  if (!opened) return opened.error();
  AcceptedClient a;
  a.key = opened->client;
  a.info = std::move(opened->info);
  a.can_mesh = mesh_key && !mesh_key->is_zero() && a.info.mesh_key && *a.info.mesh_key == *mesh_key;
  return a;
}

base::Bytes server_info_frame(const base::NodePrivateKey& server,
                              const base::NodePublicKey& client) {
  derp::ServerInfo si;
  si.version = derp::kProtocolVersion;
  base::Bytes out;
  derp::encode_server_info(out, derp::server_info_payload(server, client, si));
  return out;
}

}  // namespace derpserver
