// SPDX-License-Identifier: MIT
#include "daemon/metrics.hpp"

#include <fmt/format.h>

namespace meshtund {

namespace {
void family(std::string& out, const char* name, const char* type, const char* help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}
}  // namespace

std::string render_metrics(engine::Engine& eng, const std::string& interface) {
  std::string out;
  auto it = std::back_inserter(out);
  const std::string iface = fmt::format("interface=\"{}\"", interface);

  family(out, "meshtun_drops_total", "counter", "Packets and messages dropped, by reason.");
  for (std::size_t r = 1; r < wg::kDropReasonCount; ++r) {
    const auto reason = static_cast<wg::DropReason>(r);
    std::uint64_t n = eng.drops().get(reason);
    // Datagrams too long for a buffer are dropped by the sockets, before the engine.
    if (reason == wg::DropReason::too_big) n += eng.bind().datagrams_dropped();
    fmt::format_to(it, "meshtun_drops_total{{{},reason=\"{}\"}} {}\n", iface, wg::to_string(reason),
                   n);
  }
  const engine::Stats s = eng.stats();
  const struct {
    const char* name;
    const char* help;
    std::uint64_t value;
  } counters[] = {
      {"meshtun_tun_packets_read_total", "Packets read from the TUN interface.",
       s.tun_packets_read},
      {"meshtun_tun_packets_written_total", "Packets written to the TUN interface.",
       s.tun_packets_written},
      {"meshtun_datagrams_received_total", "UDP datagrams received.", s.datagrams_received},
      {"meshtun_datagrams_sent_total", "Transport messages sent.", s.datagrams_sent},
      {"meshtun_handshake_messages_total", "Handshake messages queued for the control thread.",
       s.handshakes_queued},
      {"meshtun_pool_exhausted_total",
       "Batches and keepalives cut short because every packet buffer was in use.",
       s.pool_exhausted},
  };
  for (const auto& c : counters) {
    family(out, c.name, "counter", c.help);
    fmt::format_to(it, "{}{{{}}} {}\n", c.name, iface, c.value);
  }

  family(out, "meshtun_staged_packets", "gauge",
         "Packets waiting for a handshake, all peers together (bounded; see staging_full).");
  fmt::format_to(it, "meshtun_staged_packets{{{}}} {}\n", iface, s.staged);

  const auto peers = eng.device().peers();
  family(out, "meshtun_peers", "gauge", "Configured peers.");
  fmt::format_to(it, "meshtun_peers{{{}}} {}\n", iface, peers.size());
  family(out, "meshtun_peer_rx_bytes_total", "counter",
         "Bytes of authenticated messages received from a peer.");
  for (const auto& p : peers) {
    fmt::format_to(it, "meshtun_peer_rx_bytes_total{{{},peer=\"{}\"}} {}\n", iface,
                   p->public_key().to_base64(), p->rx_bytes());
  }
  family(out, "meshtun_peer_tx_bytes_total", "counter", "Bytes of messages sent to a peer.");
  for (const auto& p : peers) {
    fmt::format_to(it, "meshtun_peer_tx_bytes_total{{{},peer=\"{}\"}} {}\n", iface,
                   p->public_key().to_base64(), p->tx_bytes());
  }
  family(out, "meshtun_peer_last_handshake_seconds", "gauge",
         "Unix time of the last completed handshake (0: never).");
  for (const auto& p : peers) {
    const auto t = p->last_handshake();
    fmt::format_to(
        it, "meshtun_peer_last_handshake_seconds{{{},peer=\"{}\"}} {}\n", iface,
        p->public_key().to_base64(),
        t ? std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count() : 0);
  }
  return out;
}

}  // namespace meshtund
