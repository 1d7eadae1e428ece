// SPDX-License-Identifier: MIT
#include "derpserver/server.hpp"

#include <charconv>

#include <boost/asio/post.hpp>

#include "base/log.hpp"
#include "derp/keys.hpp"
#include "derpserver/client_conn.hpp"
#include "derpserver/listen_addr.hpp"
#include "derpserver/listener.hpp"
#include "derpserver/mesh.hpp"
#include "derpserver/stun_server.hpp"

namespace derpserver {
namespace {

base::Logger& log() {
  static base::Logger l = base::logger("derpserver");
  return l;
}

constexpr std::size_t kFlowSweepPerTick = 64;

}  // namespace

base::Result<MeshPeerConfig> MeshPeerConfig::parse(std::string_view entry, bool dev) {
  MeshPeerConfig p;
  p.tls = !dev;
  p.port = dev ? 3340 : 443;
  std::string_view host_port = entry;
  std::string_view dial;
  if (const auto slash = entry.find('/'); slash != std::string_view::npos) {
    host_port = entry.substr(0, slash);
    dial = entry.substr(slash + 1);
  }
  if (host_port.empty()) {
    return base::make_error(std::errc::invalid_argument, "empty --mesh-with entry");
  }
  // "host", "host:port", "[v6]", "[v6]:port"
  std::string_view host = host_port;
  std::string_view port;
  if (host_port.front() == '[') {
    const auto close = host_port.find(']');
    if (close == std::string_view::npos) {
      return base::make_error(std::errc::invalid_argument, "bad --mesh-with entry");
    }
    host = host_port.substr(1, close - 1);
    if (close + 1 < host_port.size()) {
      if (host_port[close + 1] != ':') {
        return base::make_error(std::errc::invalid_argument, "bad --mesh-with entry");
      }
      port = host_port.substr(close + 2);
    }
  } else if (const auto colon = host_port.rfind(':');
             colon != std::string_view::npos && host_port.find(':') == colon) {
    host = host_port.substr(0, colon);
    port = host_port.substr(colon + 1);
  }
  if (!port.empty()) {
    unsigned v = 0;
    const auto r = std::from_chars(port.data(), port.data() + port.size(), v);
    if (r.ec != std::errc() || r.ptr != port.data() + port.size() || v == 0 || v > 65535) {
      return base::make_error(std::errc::invalid_argument, "bad port in --mesh-with entry");
    }
    p.port = static_cast<std::uint16_t>(v);
  }
  p.host = std::string(host);
  p.dial_host = dial.empty() ? p.host : std::string(dial);
  return p;
}

Server::Server(ServerConfig config, std::vector<boost::asio::io_context*> ios, base::Clock& clock)
    : config_(std::move(config)),
      public_key_(config_.private_key.public_key()),
      clock_(clock),
      registry_(public_key_, config_.dup_policy, counters_),
      flows_(clock, config_.max_flows) {
  for (std::size_t i = 0; i < ios.size(); ++i) {
    shards_.push_back(std::make_unique<Shard>(*ios[i], i, clock));
  }
  counters_.mesh_peers_configured.store(0, std::memory_order_relaxed);
}

Server::~Server() = default;

Shard& Server::next_shard() noexcept {
  const std::size_t i = next_shard_.fetch_add(1, std::memory_order_relaxed) % shards_.size();
  return *shards_[i];
}

base::Result<std::uint16_t> Server::listen(std::string_view addr, const TlsContext* tls) {
  auto l = std::make_unique<Listener>(*this, shards_.front()->io(), Site::main,
                                      tls != nullptr ? tls->get() : nullptr);
  auto port = l->listen(addr);
  if (!port) return port.error();
  listeners_.push_back(std::move(l));
  log()->info("listening on {} ({}) server key {}", addr, tls != nullptr ? "TLS" : "plain HTTP",
              derp::node_key_text(public_key_));
  return port;
}

base::Result<std::uint16_t> Server::listen_metrics(std::string_view addr) {
  auto ep = parse_listen_addr(addr);
  if (!ep) return ep.error();
  if (!ep->address().is_loopback()) {
    return base::make_error(
        std::errc::permission_denied,
        "metrics listener must be on a loopback address, not " + std::string(addr));
  }
  auto l = std::make_unique<Listener>(*this, shards_.front()->io(), Site::metrics, nullptr);
  auto port = l->listen(addr);
  if (!port) return port.error();
  listeners_.push_back(std::move(l));
  log()->info("metrics on http://{}/metrics", addr);
  return port;
}

base::Result<std::uint16_t> Server::listen_redirect(std::string_view addr) {
  auto l = std::make_unique<Listener>(*this, shards_.front()->io(), Site::redirect, nullptr);
  auto port = l->listen(addr);
  if (!port) return port.error();
  listeners_.push_back(std::move(l));
  return port;
}

base::Result<std::uint16_t> Server::listen_stun(std::string_view addr) {
  stun_ = std::make_unique<StunServer>(shards_.back()->io(), counters_);
  return stun_->listen(addr);
}

void Server::add_mesh_peer(const MeshPeerConfig& peer) {
  SSL_CTX* tls = nullptr;
  if (peer.tls) {
    if (!mesh_tls_) {
      auto ctx = TlsContext::client(config_.mesh_ca_file, config_.mesh_insecure_tls);
      if (!ctx) {
        log()->error("mesh TLS: {}", ctx.error().to_string());
        return;
      }
      mesh_tls_ = std::make_unique<TlsContext>(std::move(*ctx));
    }
    tls = mesh_tls_->get();
  } else if (!config_.mesh_allow_plain_http) {
    log()->error("mesh peer {}: plain HTTP meshing is only allowed in --dev mode", peer.host);
    return;
  }
  Shard& shard = *shards_[mesh_links_.size() % shards_.size()];
  mesh_links_.push_back(std::make_shared<MeshLink>(*this, shard, peer, tls));
  counters_.mesh_peers_configured.fetch_add(1, std::memory_order_relaxed);
}

void Server::start() {
  if (started_) return;
  started_ = true;
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    Shard& shard = *shards_[i];
    std::vector<std::shared_ptr<MeshLink>> links;
    for (const auto& l : mesh_links_) {
      if (&l->shard() == &shard) links.push_back(l);
    }
    const bool sweeps = i == 0;
    shard.set_tick_hook([this, links, sweeps](base::TimePoint now) {
      for (const auto& l : links) l->on_tick(now);
      if (sweeps) flows_.sweep(kFlowSweepPerTick);
    });
    if (config_.housekeeping_timer) shard.start_timer();
    for (const auto& l : links) boost::asio::post(shard.io(), [l] { l->start(); });
  }
  for (const auto& l : listeners_) l->start();
  if (stun_) stun_->start();
}

void Server::stop() {
  if (stopping_.exchange(true)) return;
  for (const auto& l : listeners_) l->stop();
  if (stun_) stun_->stop();
  for (const auto& l : mesh_links_) {
    boost::asio::post(l->shard().io(), [l] { l->stop(); });
  }
  for (const auto& s : shards_) {
    Shard* shard = s.get();
    shard->stop_timer();
    boost::asio::post(shard->io(), [shard] { shard->close_all("server stopping"); });
  }
}

void Server::housekeep_now() {
  for (const auto& s : shards_) s->housekeep_now();
}

std::uint64_t Server::packets_received() const noexcept {
  std::uint64_t n = 0;
  for (const auto& s : shards_) n += s->counters().packets_received.load(std::memory_order_relaxed);
  return n;
}

std::uint64_t Server::packets_sent() const noexcept {
  std::uint64_t n = 0;
  for (const auto& s : shards_) n += s->counters().packets_sent.load(std::memory_order_relaxed);
  return n;
}

std::uint64_t Server::drops(DropReason r) const noexcept {
  std::uint64_t n = 0;
  for (const auto& s : shards_) {
    for (const auto& k : s->counters().drops[static_cast<std::size_t>(r)]) {
      n += k.load(std::memory_order_relaxed);
    }
  }
  return n;
}

std::size_t Server::mesh_links_connected() const noexcept {
  std::size_t n = 0;
  for (const auto& l : mesh_links_) n += l->connected() ? 1U : 0U;
  return n;
}

std::string Server::page(HttpRoute route, const HttpRequest&) const {
  switch (route) {
    case HttpRoute::debug_index:
      return debug_text();
    case HttpRoute::debug_flows:
      return flows_text();
    case HttpRoute::debug_varz:
    case HttpRoute::metrics:
      return prometheus_text();
    default:
      return {};
  }
}

}  // namespace derpserver
