// SPDX-License-Identifier: MIT
// The server's human-readable /debug/ pages and its Prometheus exposition.
#include <cstdio>
#include <ctime>

#include "derp/keys.hpp"
#include "derpserver/client_conn.hpp"
#include "derpserver/mesh.hpp"
#include "derpserver/server.hpp"

namespace derpserver {
namespace {

std::string wall_text(base::WallTime t) {
  const std::time_t secs =
      std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string flags_text(std::uint8_t f) {
  std::string out;
  if ((f & derp::peer_flags::kIsRegular) != 0) out += "regular ";
  if ((f & derp::peer_flags::kIsMeshPeer) != 0) out += "mesh ";
  if ((f & derp::peer_flags::kIsProber) != 0) out += "prober ";
  if ((f & derp::peer_flags::kNotIdeal) != 0) out += "not-ideal ";
  if (!out.empty()) out.pop_back();
  return out;
}

double load(const Counter& c) {
  return static_cast<double>(c.load(std::memory_order_relaxed));
}
double load(const Gauge& g) {
  return static_cast<double>(g.load(std::memory_order_relaxed));
}

}  // namespace

std::string Server::debug_text() const {
  std::string out;
  char line[512];
  out += "meshtun-derper\n";
  out += "server key: " + derp::node_key_text(public_key_) + "\n";
  if (!config_.hostname.empty()) out += "hostname: " + config_.hostname + "\n";
  std::snprintf(line, sizeof line,
                "connections: %lld  local keys: %lld  remote keys: %lld  home: %lld  "
                "watchers: %lld\n",
                static_cast<long long>(counters_.current_connections.load()),
                static_cast<long long>(counters_.clients_local.load()),
                static_cast<long long>(counters_.clients_remote.load()),
                static_cast<long long>(counters_.current_home_connections.load()),
                static_cast<long long>(counters_.watchers.load()));
  out += line;
  std::snprintf(line, sizeof line, "packets received: %llu  sent: %llu\n",
                static_cast<unsigned long long>(packets_received()),
                static_cast<unsigned long long>(packets_sent()));
  out += line;
  out += "drops:";
  for (std::size_t r = 0; r < kDropReasons; ++r) {
    const auto reason = static_cast<DropReason>(r);
    out += " " + std::string(drop_reason_name(reason)) + "=" + std::to_string(drops(reason));
  }
  out += "\n\n";

  out += "mesh peers (" + std::to_string(mesh_links_.size()) + "):\n";
  for (const auto& l : mesh_links_) {
    std::snprintf(line, sizeof line, "  %-30s %s  port %u  %s  attempts %llu\n",
                  l->peer().host.c_str(),
                  l->is_self() ? "self" : (l->connected() ? "connected" : "down"),
                  static_cast<unsigned>(l->peer().port), l->peer().tls ? "tls" : "plain",
                  static_cast<unsigned long long>(l->attempts()));
    out += line;
  }
  out += "\nclients:\n";
  const auto snap = registry_.snapshot();
  for (const auto& s : snap) {
    if (s.conns.empty()) {
      out += "  " + derp::node_key_text(s.key) + "  remote via";
      for (const auto& n : s.forwarder_names) out += " " + n;
      out += "\n";
      continue;
    }
    for (const auto& c : s.conns) {
      std::snprintf(line, sizeof line, "  %s  %-22s %-10s %s%s%s since %s  pkts-from %llu\n",
                    derp::node_key_text(s.key).c_str(), c->remote().to_string().c_str(),
                    flags_text(c->present_flags()).c_str(), c->preferred() ? "home " : "",
                    s.dup ? (c->is_disabled.load() ? "dup-disabled " : "dup ") : "",
                    c->watcher() ? "watcher " : "", wall_text(c->connected_at()).c_str(),
                    static_cast<unsigned long long>(c->packets_from()));
      out += line;
    }
    if (s.forwarders > 0) out += "    also via mesh: " + std::to_string(s.forwarders) + "\n";
  }
  out += "\n";
  out += flows_text();
  return out;
}

std::string Server::flows_text() const {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line,
                "flows: %zu (created %llu, evicted %llu, refused %llu, refused per source "
                "%llu)\n",
                flows_.size(), static_cast<unsigned long long>(flows_.created()),
                static_cast<unsigned long long>(flows_.evicted()),
                static_cast<unsigned long long>(flows_.refused()),
                static_cast<unsigned long long>(flows_.refused_per_source()));
  out += line;
  out +=
      "  src -> dst  local pkts/bytes  forwarded pkts/bytes  drops unknown/gone  created  idle\n";
  for (const auto& f : flows_.top(200)) {
    std::snprintf(line, sizeof line, "  %s -> %s  %llu/%llu  %llu/%llu  %llu/%llu  %s  %.0fs\n",
                  f.src.short_string().c_str(), f.dst.short_string().c_str(),
                  static_cast<unsigned long long>(f.packets_local),
                  static_cast<unsigned long long>(f.bytes_local),
                  static_cast<unsigned long long>(f.packets_forwarded),
                  static_cast<unsigned long long>(f.bytes_forwarded),
                  static_cast<unsigned long long>(f.drops_unknown_dest),
                  static_cast<unsigned long long>(f.drops_gone), wall_text(f.created).c_str(),
                  base::to_seconds(f.idle));
    out += line;
  }
  return out;
}

std::string Server::prometheus_text() const {
  std::string out;
  out.reserve(16 * 1024);
  const ServerCounters& c = counters_;
  auto gauge = [&out](std::string_view n, std::string_view help, double v) {
    prom_metric(out, n, "gauge", help, v);
  };
  auto counter = [&out](std::string_view n, std::string_view help, double v) {
    prom_metric(out, n, "counter", help, v);
  };
  auto sum = [this](auto member) {
    double v = 0;
    for (const auto& s : shards_) v += load(s->counters().*member);
    return v;
  };

  gauge("derp_current_connections", "Registered DERP client connections.",
        load(c.current_connections));
  gauge("derp_current_home_connections", "Connections marked home (NotePreferred).",
        load(c.current_home_connections));
  gauge("derp_current_notideal_connections", "Connections that sent Ideal-Node.",
        load(c.current_notideal_connections));
  gauge("derp_clients_local", "Keys connected to this server.", load(c.clients_local));
  gauge("derp_clients_remote", "Keys reachable only through a mesh peer.", load(c.clients_remote));
  gauge("derp_clients_total", "Keys known in the region.",
        load(c.clients_local) + load(c.clients_remote));
  gauge("derp_watchers", "Mesh watchers.", load(c.watchers));
  gauge("derp_current_dup_client_keys", "Keys with more than one connection.",
        load(c.dup_client_keys));
  gauge("derp_current_dup_client_conns", "Connections of keys with duplicates.",
        load(c.dup_client_conns));
  counter("derp_total_dup_client_conns", "Duplicate connections ever registered.",
          load(c.total_dup_client_conns));
  counter("derp_accepts", "TCP connections accepted.", load(c.accepts));
  counter("derp_packets_received", "Packets received from clients (SendPacket).",
          sum(&ShardCounters::packets_received));
  counter("derp_bytes_received", "Packet bytes received from clients.",
          sum(&ShardCounters::bytes_received));
  prom_header(out, "derp_packets_received_kind", "counter", "Packets received by kind.");
  prom_labeled(out, "derp_packets_received_kind", "kind=\"disco\"",
               sum(&ShardCounters::packets_received_disco));
  prom_labeled(out, "derp_packets_received_kind", "kind=\"other\"",
               sum(&ShardCounters::packets_received_other));
  counter("derp_packets_sent", "Packets written to clients (RecvPacket, ForwardPacket).",
          sum(&ShardCounters::packets_sent));
  counter("derp_bytes_sent", "Frame bytes of packets written.", sum(&ShardCounters::bytes_sent));
  counter("derp_packets_forwarded_out", "Packets forwarded to a mesh peer.",
          sum(&ShardCounters::packets_forwarded_out));
  counter("derp_packets_forwarded_in", "Packets forwarded to us by a mesh peer.",
          sum(&ShardCounters::packets_forwarded_in));
  counter("derp_buffered_write_frames", "Frames written.", sum(&ShardCounters::frames_written));
  counter("derp_writes", "Socket writes (a write carries several frames).",
          sum(&ShardCounters::writes));

  prom_header(out, "derp_packets_dropped", "counter", "Packets dropped, by reason and kind.");
  std::string drop_bytes_lines;
  for (std::size_t r = 0; r < kDropReasons; ++r) {
    for (std::size_t k = 0; k < 2; ++k) {
      double n = 0;
      double b = 0;
      for (const auto& s : shards_) {
        n += load(s->counters().drops[r][k]);
        b += load(s->counters().drop_bytes[r][k]);
      }
      const std::string labels = "reason=\"" +
                                 std::string(drop_reason_name(static_cast<DropReason>(r))) +
                                 "\",kind=\"" + (k == 0 ? "disco" : "other") + "\"";
      prom_labeled(out, "derp_packets_dropped", labels, n);
      prom_labeled(drop_bytes_lines, "derp_bytes_dropped", labels, b);
    }
  }
  prom_header(out, "derp_bytes_dropped", "counter", "Bytes dropped, by reason and kind.");
  out += drop_bytes_lines;

  // Queue time histogram, summed over shards.
  prom_header(out, "derp_queue_duration_seconds", "histogram",
              "Time packets spent queued before being written.");
  double cumulative = 0;
  for (std::size_t i = 0; i <= kQueueTimeBucketsUs.size(); ++i) {
    for (const auto& s : shards_) cumulative += load(s->counters().queue_time_buckets[i]);
    const std::string le = i < kQueueTimeBucketsUs.size()
                               ? std::to_string(static_cast<double>(kQueueTimeBucketsUs[i]) / 1e6)
                               : std::string("+Inf");
    prom_labeled(out, "derp_queue_duration_seconds_bucket", "le=\"" + le + "\"", cumulative);
  }
  prom_labeled(out, "derp_queue_duration_seconds_sum", {},
               sum(&ShardCounters::queue_time_sum_us) / 1e6);
  prom_labeled(out, "derp_queue_duration_seconds_count", {}, cumulative);
  double ema = 0;
  for (const auto& s : shards_) ema += s->counters().queue_time_ema_ms.load();
  gauge("derp_average_queue_duration_ms", "Moving average of queue time (alpha 0.1).",
        shards_.empty() ? 0 : ema / static_cast<double>(shards_.size()));

  counter("derp_home_moves_in", "Connections that became home after their first seconds.",
          load(c.home_moves_in));
  counter("derp_home_moves_out", "Connections that stopped being home.", load(c.home_moves_out));
  counter("derp_got_ping", "Ping frames received.", load(c.got_ping));
  counter("derp_sent_pong", "Pong frames queued.", load(c.sent_pong));
  counter("derp_peer_gone_disconnected_frames", "PeerGone(Disconnected) frames queued.",
          load(c.peer_gone_disconnected_frames));
  counter("derp_peer_gone_not_here_frames", "PeerGone(NotHere) frames queued.",
          load(c.peer_gone_not_here_frames));
  counter("derp_multiforwarder_created", "Keys reported by a second mesh peer.",
          load(c.multiforwarder_created));
  counter("derp_multiforwarder_deleted", "Keys back to a single mesh peer.",
          load(c.multiforwarder_deleted));
  counter("derp_packet_forwarder_delete_other_value",
          "Removals of a forwarder that was not registered.",
          load(c.packet_forwarder_delete_other_value));
  counter("derp_sclient_write_timeouts", "Connections closed by the write timeout.",
          load(c.write_timeouts));
  counter("derp_unknown_frames", "Unknown frames (skipped).", load(c.unknown_frames));
  counter("derp_close_peer_requests", "ClosePeer frames from mesh peers.",
          load(c.close_peer_requests));
  prom_header(out, "derp_closed_connections", "counter",
              "Connections closed for misbehaviour, by cause.");
  prom_labeled(out, "derp_closed_connections", "cause=\"bad_http\"", load(c.bad_http));
  prom_labeled(out, "derp_closed_connections", "cause=\"bad_client_info\"",
               load(c.bad_client_info));
  prom_labeled(out, "derp_closed_connections", "cause=\"handshake_timeout\"",
               load(c.handshake_timeouts));
  prom_labeled(out, "derp_closed_connections", "cause=\"protocol_error\"", load(c.protocol_errors));
  counter("derp_rate_limit_per_client_waited", "Times a client's reads were paused.",
          load(c.rate_limited_waits));
  if (config_.rate_limit_bytes_per_sec > 0) {
    gauge("derp_rate_limit_per_client_bytes_per_second", "Per-client receive rate.",
          static_cast<double>(config_.rate_limit_bytes_per_sec));
    gauge("derp_rate_limit_per_client_burst_bytes", "Per-client receive burst.",
          static_cast<double>(std::max(config_.rate_limit_burst_bytes, kMinRateLimitBurst)));
  }
  counter("derp_http_requests", "HTTP requests answered.", load(c.http_requests));
  counter("derp_mesh_auth_refused", "Clients that presented a wrong mesh key.",
          load(c.mesh_auth_refused));

  // Mesh state.
  gauge("derp_mesh_peers_configured", "Mesh peers configured.", load(c.mesh_peers_configured));
  gauge("derp_mesh_peers_connected", "Mesh peers logged in and watched.",
        load(c.mesh_peers_connected));
  counter("derp_mesh_connects", "Mesh logins.", load(c.mesh_connects));
  counter("derp_mesh_disconnects", "Mesh connections lost.", load(c.mesh_disconnects));
  prom_header(out, "derp_mesh_peer_up", "gauge", "1 when the mesh link to a peer is up.");
  for (const auto& l : mesh_links_) {
    prom_labeled(out, "derp_mesh_peer_up", "peer=\"" + prom_escape(l->peer().host) + "\"",
                 l->connected() ? 1 : 0);
  }

  // STUN.
  prom_header(out, "stun_counter_requests", "counter", "STUN requests by disposition.");
  prom_labeled(out, "stun_counter_requests", "disposition=\"success\"", load(c.stun_success));
  prom_labeled(out, "stun_counter_requests", "disposition=\"not_stun\"", load(c.stun_not_stun));
  prom_labeled(out, "stun_counter_requests", "disposition=\"write_error\"",
               load(c.stun_write_error));
  prom_header(out, "stun_counter_addrfamily", "counter", "STUN requests by address family.");
  prom_labeled(out, "stun_counter_addrfamily", "family=\"ipv4\"", load(c.stun_ipv4));
  prom_labeled(out, "stun_counter_addrfamily", "family=\"ipv6\"", load(c.stun_ipv6));

  // Flows: table state, then the busiest flows with labels (bounded cardinality).
  gauge("derp_flows", "Flow records held.", static_cast<double>(flows_.size()));
  counter("derp_flows_created", "Flow records created.", static_cast<double>(flows_.created()));
  counter("derp_flows_evicted", "Flow records evicted after an idle hour.",
          static_cast<double>(flows_.evicted()));
  counter("derp_flows_refused", "Flows not tracked because the table was full.",
          static_cast<double>(flows_.refused()));
  counter("derp_flows_refused_per_source",
          "Flows not tracked because their source held the most records one source may hold.",
          static_cast<double>(flows_.refused_per_source()));
  const auto top = flows_.top(config_.flow_metrics_limit);
  const char* kFlowMetrics[] = {"derp_flow_packets", "derp_flow_bytes", "derp_flow_drops"};
  const char* kFlowHelp[] = {"Packets of the busiest flows, by path.",
                             "Bytes of the busiest flows, by path.",
                             "Drops of the busiest flows, by reason."};
  for (int m = 0; m < 3; ++m) {
    prom_header(out, kFlowMetrics[m], "counter", kFlowHelp[m]);
    for (const auto& f : top) {
      const std::string base_labels =
          "src=\"" + f.src.to_hex() + "\",dst=\"" + f.dst.to_hex() + "\",";
      if (m == 0) {
        prom_labeled(out, kFlowMetrics[m], base_labels + "path=\"local\"",
                     static_cast<double>(f.packets_local));
        prom_labeled(out, kFlowMetrics[m], base_labels + "path=\"forwarded\"",
                     static_cast<double>(f.packets_forwarded));
      } else if (m == 1) {
        prom_labeled(out, kFlowMetrics[m], base_labels + "path=\"local\"",
                     static_cast<double>(f.bytes_local));
        prom_labeled(out, kFlowMetrics[m], base_labels + "path=\"forwarded\"",
                     static_cast<double>(f.bytes_forwarded));
      } else {
        prom_labeled(out, kFlowMetrics[m], base_labels + "reason=\"unknown_dest\"",
                     static_cast<double>(f.drops_unknown_dest));
        prom_labeled(out, kFlowMetrics[m], base_labels + "reason=\"gone\"",
                     static_cast<double>(f.drops_gone));
      }
    }
  }
  return out;
}

}  // namespace derpserver
