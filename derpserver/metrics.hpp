// SPDX-License-Identifier: MIT
// The relay's counters and their Prometheus text form.
//
// Hot per-packet counters live per shard (one io_context each) and are mostly written by
// that shard's thread, so they rarely bounce between cores; all their updates are relaxed
// atomic adds except the queue-time average, which only the owning thread writes. Everything
// else is a process-wide relaxed atomic. Server::prometheus_text() sums the shards when
// scraped. Names follow Go's derper after its expvar -> Prometheus mapping (derp_ prefix,
// gauge_/counter_ stripped).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace derpserver {

using Counter = std::atomic<std::uint64_t>;
using Gauge = std::atomic<std::int64_t>;

// Why a packet was not delivered (protocols/derp.md 6.3).
enum class DropReason : std::uint8_t {
  unknown_dest,         // no local client and no mesh forwarder for the destination
  unknown_dest_on_fwd,  // the same, for a packet forwarded to us by a mesh peer
  gone_disconnected,    // the destination connection was closing, or closed with it queued
  queue_head,           // evicted from the head of a full queue to make room
  queue_tail,           // the new packet itself did not fit
  write_error,          // the socket write failed
  dup_client,           // the destination key has only disabled duplicate connections
  count_,
};
inline constexpr std::size_t kDropReasons = static_cast<std::size_t>(DropReason::count_);
std::string_view drop_reason_name(DropReason r) noexcept;

enum class PacketKind : std::uint8_t { disco = 0, other = 1 };

// Queue-time histogram bucket upper bounds, in microseconds (last is +Inf).
inline constexpr std::array<std::uint64_t, 7> kQueueTimeBucketsUs = {100,   1000,   5000,   10000,
                                                                     50000, 100000, 1000000};

// Per shard; see the file comment for who writes what.
struct ShardCounters {
  Counter packets_received{0};
  Counter bytes_received{0};
  Counter packets_received_disco{0};
  Counter packets_received_other{0};
  Counter packets_sent{0};
  Counter bytes_sent{0};
  Counter packets_forwarded_out{0};
  Counter packets_forwarded_in{0};
  Counter frames_written{0};
  Counter writes{0};
  std::array<Counter, kQueueTimeBucketsUs.size() + 1> queue_time_buckets{};
  Counter queue_time_sum_us{0};
  std::atomic<double> queue_time_ema_ms{0.0};  // alpha 0.1, like Go's average_queue_duration_ms
  std::array<std::array<Counter, 2>, kDropReasons> drops{};       // [reason][kind]
  std::array<std::array<Counter, 2>, kDropReasons> drop_bytes{};  // [reason][kind]

  void note_queue_time(std::uint64_t us) noexcept;
  void drop(DropReason r, PacketKind k, std::size_t bytes) noexcept {
    drops[static_cast<std::size_t>(r)][static_cast<std::size_t>(k)].fetch_add(
        1, std::memory_order_relaxed);
    drop_bytes[static_cast<std::size_t>(r)][static_cast<std::size_t>(k)].fetch_add(
        bytes, std::memory_order_relaxed);
  }
};

struct ServerCounters {
  Counter accepts{0};
  Gauge current_connections{0};
  Gauge current_home_connections{0};
  Gauge current_notideal_connections{0};
  Gauge watchers{0};
  Gauge clients_local{0};   // keys with a local connection
  Gauge clients_remote{0};  // keys reachable only through a mesh peer
  Gauge dup_client_keys{0};
  Gauge dup_client_conns{0};
  Counter total_dup_client_conns{0};
  Counter home_moves_in{0};
  Counter home_moves_out{0};
  Counter got_ping{0};
  Counter sent_pong{0};
  Counter peer_gone_disconnected_frames{0};
  Counter peer_gone_not_here_frames{0};
  Counter multiforwarder_created{0};
  Counter multiforwarder_deleted{0};
  Counter packet_forwarder_delete_other_value{0};
  Counter write_timeouts{0};
  Counter unknown_frames{0};
  Counter close_peer_requests{0};
  // Connections closed for a protocol violation, by stage (counted, never crash).
  Counter bad_http{0};
  Counter bad_client_info{0};
  Counter handshake_timeouts{0};
  Counter protocol_errors{0};
  Counter tls_handshake_errors{0};
  Counter rate_limited_waits{0};
  // HTTP
  Counter http_requests{0};
  Counter http_upgrade_refused{0};
  // Mesh
  Gauge mesh_peers_configured{0};
  Gauge mesh_peers_connected{0};
  Counter mesh_connects{0};
  Counter mesh_disconnects{0};
  Counter mesh_auth_refused{0};
  // STUN
  Counter stun_success{0};
  Counter stun_not_stun{0};
  Counter stun_write_error{0};
  Counter stun_ipv4{0};
  Counter stun_ipv6{0};
};

// Appends one metric in Prometheus text format (HELP/TYPE lines included).
void prom_metric(std::string& out, std::string_view name, std::string_view type,
                 std::string_view help, double value);
void prom_labeled(std::string& out, std::string_view name, std::string_view labels, double value);
void prom_header(std::string& out, std::string_view name, std::string_view type,
                 std::string_view help);

// Prometheus label value escaping (\, ", newline).
std::string prom_escape(std::string_view s);

}  // namespace derpserver
