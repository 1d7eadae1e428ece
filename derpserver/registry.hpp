// SPDX-License-Identifier: MIT
// Registry: who is connected where. Local client sets (every connection of one key on this
// server, with the duplicate-client policy), mesh forwarders (keys on other servers of the
// region), mesh watchers, and who has received packets from whom (for PeerGone).
// protocols/derp.md 6.2, 6.4, 6.7, 6.8, 6.9.
//
// Locking: one mutex (the "global lock"), taken on connect, disconnect, mesh updates and
// route misses; never per packet for a hot flow. Routes are handed out as snapshots
// (Route) that the sender caches; each carries the generation it was valid for:
//   - local and dup-disabled routes: ClientSet::gen, bumped whenever the set's active
//     connection changes or the set dies;
//   - forwarded and unknown routes: Registry::route_gen(), bumped whenever a forwarder is
//     added or removed or a key becomes local.
// A cached route whose generation still matches is used without any lock. The race this
// tolerates: a connection closing between the check and the enqueue; the enqueue then fails
// and the packet counts as gone_disconnected, as in Go.
//
// Lock order: Registry::mu_ before any Stream queue lock (watchers and PeerGone frames are
// queued while holding it).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/bytes.hpp"
#include "base/ip.hpp"
#include "base/keys.hpp"
#include "base/thread_annotations.hpp"
#include "derp/frame.hpp"
#include "derpserver/metrics.hpp"

namespace derpserver {

class ClientConn;

enum class DupPolicy : std::uint8_t {
  last_writer_is_active,  // production: whichever connection of a key spoke last gets traffic
  disable_fighters,       // tests: connections that take turns get all of them disabled
};

// Something that carries packets to keys on another server of the region (a mesh link).
// forward() may be called from any thread and must not block.
class Forwarder {
 public:
  virtual ~Forwarder() = default;
  // Returns false when the packet was dropped.
  virtual bool forward(const base::NodePublicKey& src, const base::NodePublicKey& dst,
                       base::ConstByteSpan data) = 0;
  virtual std::string name() const = 0;
};

struct ClientSet {
  explicit ClientSet(const base::NodePublicKey& k) : key(k) {}
  const base::NodePublicKey key;
  std::atomic<std::uint64_t> gen{1};  // see the file comment

  // Guarded by Registry::mu_ (not annotated: the lock lives in another object).
  std::vector<std::shared_ptr<ClientConn>> conns;  // registration order
  std::shared_ptr<ClientConn> active;              // null: all disabled or none has spoken
  std::shared_ptr<ClientConn> last;                // Go's dup.last
  std::vector<ClientConn*> send_history;           // dup sets: most recent sender last
  bool dup = false;
};

struct Route {
  enum class Kind : std::uint8_t { local, forward, unknown, dup_disabled };
  Kind kind = Kind::unknown;
  std::shared_ptr<ClientSet> set;    // local, dup_disabled
  std::shared_ptr<ClientConn> conn;  // local: the active connection
  std::shared_ptr<Forwarder> fwd;    // forward
  std::uint64_t gen = 0;             // generation this route was valid for
};

struct ClientSnapshot {
  base::NodePublicKey key;
  std::vector<std::shared_ptr<ClientConn>> conns;
  bool dup = false;
  std::size_t forwarders = 0;
  std::vector<std::string> forwarder_names;
};

class Registry {
 public:
  Registry(const base::NodePublicKey& server_key, DupPolicy policy, ServerCounters& counters)
      : server_key_(server_key), policy_(policy), counters_(counters) {}
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // A connection finished its handshake. Tells the watchers (PeerPresent).
  void register_conn(const std::shared_ptr<ClientConn>& c) EXCLUDES(mu_);
  // A registered connection closed. When it was the key's last one: PeerGone to watchers
  // and, if no mesh peer has the key either, PeerGone(Disconnected) to its receivers.
  void unregister_conn(ClientConn* c) EXCLUDES(mu_);
  // c sent a frame: duplicate-client bookkeeping (only for connections in a dup set).
  void note_activity(ClientConn* c) EXCLUDES(mu_);

  // Where a packet from `src` (sent on connection `via`, or forwarded in when `forwarded`)
  // to `dst` goes. Records that dst's connection receives from src, for PeerGone. Forwarded
  // packets are never routed to a forwarder again (one hop).
  Route lookup(const base::NodePublicKey& src, const base::NodePublicKey& dst, bool forwarded)
      EXCLUDES(mu_);
  bool still_valid(const Route& r) const noexcept {
    switch (r.kind) {
      case Route::Kind::local:
      case Route::Kind::dup_disabled:
        return r.set->gen.load(std::memory_order_acquire) == r.gen;
      case Route::Kind::forward:
      case Route::Kind::unknown:
        return route_gen_.load(std::memory_order_acquire) == r.gen;
    }
    return false;
  }
  std::uint64_t route_gen() const noexcept { return route_gen_.load(std::memory_order_acquire); }

  // Mesh watchers (mesh-authenticated connections that sent WatchConns): queues PeerPresent
  // for every key with an active connection, then keeps them informed. A watcher with the
  // server's own key (self-connect) is ignored.
  void add_watcher(const std::shared_ptr<ClientConn>& w) EXCLUDES(mu_);

  // A mesh peer reports `key` connected there (PeerPresent) / gone (PeerGone).
  void add_forwarder(const base::NodePublicKey& key, const std::shared_ptr<Forwarder>& f)
      EXCLUDES(mu_);
  void remove_forwarder(const base::NodePublicKey& key, const Forwarder* f) EXCLUDES(mu_);

  // ClosePeer: closes every connection of `key`; returns how many.
  std::size_t close_peer(const base::NodePublicKey& key) EXCLUDES(mu_);

  std::vector<ClientSnapshot> snapshot() const EXCLUDES(mu_);
  std::size_t local_keys() const EXCLUDES(mu_);
  bool has_local(const base::NodePublicKey& key) const EXCLUDES(mu_);
  bool has_forwarder(const base::NodePublicKey& key) const EXCLUDES(mu_);

 private:
  struct Entry {
    std::shared_ptr<ClientSet> local;
    std::vector<std::shared_ptr<Forwarder>> forwarders;  // first = preferred
  };
  struct SentTo {
    base::NodePublicKey dst;
    std::uint64_t conn_id;
  };

  void broadcast_locked(base::ConstByteSpan frame) REQUIRES(mu_);
  void peer_gone_from_region_locked(const base::NodePublicKey& key) REQUIRES(mu_);
  void note_sent_locked(const base::NodePublicKey& src, const base::NodePublicKey& dst,
                        std::uint64_t conn_id) REQUIRES(mu_);
  void bump_set_locked(ClientSet& set) REQUIRES(mu_);
  void update_key_gauges_locked() REQUIRES(mu_);

  const base::NodePublicKey server_key_;
  const DupPolicy policy_;
  ServerCounters& counters_;
  std::atomic<std::uint64_t> route_gen_{1};

  mutable base::Mutex mu_;
  std::unordered_map<base::NodePublicKey, Entry> entries_ GUARDED_BY(mu_);
  std::unordered_map<base::NodePublicKey, std::vector<SentTo>> sent_to_ GUARDED_BY(mu_);
  std::vector<std::shared_ptr<ClientConn>> watchers_ GUARDED_BY(mu_);
  std::size_t local_keys_ GUARDED_BY(mu_) = 0;
};

}  // namespace derpserver
