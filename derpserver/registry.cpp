// SPDX-License-Identifier: MIT
#include "derpserver/registry.hpp"

#include <algorithm>

#include "base/log.hpp"
#include "derpserver/client_conn.hpp"

namespace derpserver {
namespace {

base::Logger& log() {
  static base::Logger l = base::logger("derpserver");
  return l;
}

base::Bytes peer_present_frame(const ClientConn& c) {
  base::Bytes f;
  derp::encode_peer_present(f, c.key(), c.remote(), c.present_flags());
  return f;
}

// PeerPresent floods are batched into buffers of about this size.
constexpr std::size_t kFloodBatchBytes = 32 * 1024;

}  // namespace

void Registry::bump_set_locked(ClientSet& set) {
  set.gen.fetch_add(1, std::memory_order_acq_rel);
}

void Registry::update_key_gauges_locked() {
  std::int64_t remote = 0;
  for (const auto& [k, e] : entries_) {
    if (!e.local && !e.forwarders.empty()) ++remote;
  }
  counters_.clients_local.store(static_cast<std::int64_t>(local_keys_), std::memory_order_relaxed);
  counters_.clients_remote.store(remote, std::memory_order_relaxed);
}

void Registry::broadcast_locked(base::ConstByteSpan frame) {
  for (const auto& w : watchers_) w->enqueue_control(make_out_buf(frame));
}

void Registry::register_conn(const std::shared_ptr<ClientConn>& c) {
  base::MutexLock lock(mu_);
  Entry& e = entries_[c->key()];
  if (!e.local) {
    e.local = std::make_shared<ClientSet>(c->key());
    ++local_keys_;
    // A key becoming local overrides any forwarder: invalidate cached remote routes.
    route_gen_.fetch_add(1, std::memory_order_acq_rel);
    update_key_gauges_locked();
  }
  ClientSet& set = *e.local;
  auto was = set.active;
  if (!set.conns.empty()) {
    // Duplicate connections of one key (protocols/derp.md 6.7).
    for (const auto& other : set.conns) other->is_dup.store(true, std::memory_order_relaxed);
    c->is_dup.store(true, std::memory_order_relaxed);
    if (!set.dup) {
      set.dup = true;
      counters_.dup_client_keys.fetch_add(1, std::memory_order_relaxed);
      counters_.dup_client_conns.fetch_add(2, std::memory_order_relaxed);
      set.send_history.clear();
      if (was) set.send_history.push_back(was.get());
    } else {
      counters_.dup_client_conns.fetch_add(1, std::memory_order_relaxed);
      set.send_history.push_back(c.get());
    }
    counters_.total_dup_client_conns.fetch_add(1, std::memory_order_relaxed);
  }
  set.conns.push_back(c);
  set.last = c;
  set.active = c;  // the newest connection gets the traffic
  bump_set_locked(set);
  broadcast_locked(peer_present_frame(*c));
}

void Registry::unregister_conn(ClientConn* c) {
  base::MutexLock lock(mu_);
  std::erase_if(watchers_, [c](const auto& w) { return w.get() == c; });
  counters_.watchers.store(static_cast<std::int64_t>(watchers_.size()), std::memory_order_relaxed);
  auto it = entries_.find(c->key());
  if (it == entries_.end() || !it->second.local) return;
  ClientSet& set = *it->second.local;
  const auto pos =
      std::find_if(set.conns.begin(), set.conns.end(), [c](const auto& p) { return p.get() == c; });
  if (pos == set.conns.end()) return;
  // Keep the connection alive until we are done with it.
  const std::shared_ptr<ClientConn> self = *pos;
  set.conns.erase(pos);

  if (set.conns.empty()) {
    set.active.reset();
    set.last.reset();
    set.send_history.clear();
    bump_set_locked(set);
    it->second.local.reset();
    --local_keys_;
    const base::NodePublicKey key = c->key();
    if (it->second.forwarders.empty()) {
      entries_.erase(it);
      peer_gone_from_region_locked(key);
    } else {
      route_gen_.fetch_add(1, std::memory_order_acq_rel);  // now reachable via the mesh
    }
    update_key_gauges_locked();
    base::Bytes gone;
    derp::encode_peer_gone(gone, key, derp::PeerGoneReason::disconnected);
    broadcast_locked(gone);
    return;
  }

  // Still connected through other connections: no PeerGone, pick who gets traffic.
  counters_.dup_client_conns.fetch_sub(1, std::memory_order_relaxed);
  std::erase(set.send_history, c);
  // Collapse consecutive repeats left by the removal.
  set.send_history.erase(std::unique(set.send_history.begin(), set.send_history.end()),
                         set.send_history.end());
  if (set.last.get() == c) {
    set.last.reset();
    if (!set.send_history.empty()) {
      ClientConn* recent = set.send_history.back();
      for (const auto& p : set.conns) {
        if (p.get() == recent) set.last = p;
      }
    }
  }
  if (set.conns.size() == 1) {
    set.dup = false;
    counters_.dup_client_conns.fetch_sub(1, std::memory_order_relaxed);
    counters_.dup_client_keys.fetch_sub(1, std::memory_order_relaxed);
    auto& remain = set.conns.front();
    remain->is_disabled.store(false, std::memory_order_relaxed);
    remain->is_dup.store(false, std::memory_order_relaxed);
    set.active = remain;
    set.last = remain;
    set.send_history.clear();
  } else if (set.last && !set.last->is_disabled.load(std::memory_order_relaxed)) {
    set.active = set.last;
  } else {
    set.active.reset();
  }
  bump_set_locked(set);
}

void Registry::note_activity(ClientConn* c) {
  if (!c->is_dup.load(std::memory_order_relaxed)) return;
  if (c->is_disabled.load(std::memory_order_relaxed)) return;
  base::MutexLock lock(mu_);
  auto it = entries_.find(c->key());
  if (it == entries_.end() || !it->second.local) return;
  ClientSet& set = *it->second.local;
  if (!set.dup) return;
  std::shared_ptr<ClientConn> cp;
  for (const auto& p : set.conns) {
    if (p.get() == c) cp = p;
  }
  if (!cp) return;
  if (policy_ == DupPolicy::last_writer_is_active) {
    if (set.active != cp) {
      set.last = cp;
      set.active = cp;
      bump_set_locked(set);
    }
  } else if (!set.last) {
    set.last = cp;
    set.active = cp;
    bump_set_locked(set);
  }
  if (!set.send_history.empty() && set.send_history.back() == c) return;
  if (policy_ == DupPolicy::disable_fighters &&
      std::find(set.send_history.begin(), set.send_history.end(), c) != set.send_history.end()) {
    for (const auto& p : set.conns) p->is_disabled.store(true, std::memory_order_relaxed);
    set.active.reset();
    bump_set_locked(set);
  }
  std::erase(set.send_history, c);
  set.send_history.push_back(c);
}

Route Registry::lookup(const base::NodePublicKey& src, const base::NodePublicKey& dst,
                       bool forwarded) {
  base::MutexLock lock(mu_);
  Route r;
  auto it = entries_.find(dst);
  if (it != entries_.end() && it->second.local) {
    r.set = it->second.local;
    r.gen = r.set->gen.load(std::memory_order_acquire);
    if (r.set->active) {
      r.kind = Route::Kind::local;
      r.conn = r.set->active;
      note_sent_locked(src, dst, r.conn->id());
      return r;
    }
    if (r.set->conns.size() > 1) {
      r.kind = Route::Kind::dup_disabled;
      return r;
    }
  }
  r.set.reset();
  r.gen = route_gen_.load(std::memory_order_acquire);
  if (!forwarded && it != entries_.end() && !it->second.forwarders.empty()) {
    r.kind = Route::Kind::forward;
    r.fwd = it->second.forwarders.front();
    return r;
  }
  r.kind = Route::Kind::unknown;
  return r;
}

void Registry::note_sent_locked(const base::NodePublicKey& src, const base::NodePublicKey& dst,
                                std::uint64_t conn_id) {
  auto& v = sent_to_[src];
  for (auto& s : v) {
    if (s.dst == dst) {
      s.conn_id = conn_id;
      return;
    }
  }
  v.push_back(SentTo{dst, conn_id});
}

void Registry::peer_gone_from_region_locked(const base::NodePublicKey& key) {
  auto it = sent_to_.find(key);
  if (it == sent_to_.end()) return;
  base::Bytes frame;
  derp::encode_peer_gone(frame, key, derp::PeerGoneReason::disconnected);
  for (const SentTo& s : it->second) {
    auto e = entries_.find(s.dst);
    if (e == entries_.end() || !e->second.local) continue;
    for (const auto& conn : e->second.local->conns) {
      if (conn->id() != s.conn_id) continue;
      conn->enqueue_control(make_out_buf(frame));
      counters_.peer_gone_disconnected_frames.fetch_add(1, std::memory_order_relaxed);
    }
  }
  sent_to_.erase(it);
}

void Registry::add_watcher(const std::shared_ptr<ClientConn>& w) {
  if (w->key() == server_key_) return;  // connected to ourselves
  base::MutexLock lock(mu_);
  if (std::find(watchers_.begin(), watchers_.end(), w) != watchers_.end()) return;
  OutBufPtr batch;
  for (const auto& [key, e] : entries_) {
    if (!e.local || !e.local->active) continue;
    if (batch && batch->size + derp::kPeerPresentFrameLen > batch->cap) {
      w->enqueue_control(std::move(batch));
    }
    if (!batch) batch = make_out_buf(kFloodBatchBytes);
    const auto& a = *e.local->active;
    derp::write_peer_present(
        std::span<std::byte, derp::kPeerPresentFrameLen>(batch->grow(derp::kPeerPresentFrameLen)),
        key, a.remote(), a.present_flags());
  }
  if (batch) w->enqueue_control(std::move(batch));
  watchers_.push_back(w);
  counters_.watchers.store(static_cast<std::int64_t>(watchers_.size()), std::memory_order_relaxed);
}

void Registry::add_forwarder(const base::NodePublicKey& key, const std::shared_ptr<Forwarder>& f) {
  base::MutexLock lock(mu_);
  Entry& e = entries_[key];
  if (std::find(e.forwarders.begin(), e.forwarders.end(), f) != e.forwarders.end()) return;
  e.forwarders.push_back(f);
  if (e.forwarders.size() == 2) {
    counters_.multiforwarder_created.fetch_add(1, std::memory_order_relaxed);
  }
  route_gen_.fetch_add(1, std::memory_order_acq_rel);
  update_key_gauges_locked();
}

void Registry::remove_forwarder(const base::NodePublicKey& key, const Forwarder* f) {
  base::MutexLock lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    counters_.packet_forwarder_delete_other_value.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  auto& fw = it->second.forwarders;
  const auto pos = std::find_if(fw.begin(), fw.end(), [f](const auto& p) { return p.get() == f; });
  if (pos == fw.end()) {
    counters_.packet_forwarder_delete_other_value.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  fw.erase(pos);
  if (fw.size() == 1) counters_.multiforwarder_deleted.fetch_add(1, std::memory_order_relaxed);
  route_gen_.fetch_add(1, std::memory_order_acq_rel);
  if (fw.empty() && !it->second.local) {
    entries_.erase(it);
    peer_gone_from_region_locked(key);
  }
  update_key_gauges_locked();
}

std::size_t Registry::close_peer(const base::NodePublicKey& key) {
  base::MutexLock lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || !it->second.local) {
    log()->info("close_peer: no connection for key={}", key.short_string());
    return 0;
  }
  const auto& conns = it->second.local->conns;
  log()->info("close_peer: closing key={} connections={}", key.short_string(), conns.size());
  for (const auto& c : conns) c->close_async("closed by ClosePeer");
  return conns.size();
}

std::vector<ClientSnapshot> Registry::snapshot() const {
  base::MutexLock lock(mu_);
  std::vector<ClientSnapshot> out;
  out.reserve(entries_.size());
  for (const auto& [key, e] : entries_) {
    ClientSnapshot s;
    s.key = key;
    if (e.local) {
      s.conns = e.local->conns;
      s.dup = e.local->dup;
    }
    s.forwarders = e.forwarders.size();
    for (const auto& f : e.forwarders) s.forwarder_names.push_back(f->name());
    out.push_back(std::move(s));
  }
  return out;
}

std::size_t Registry::local_keys() const {
  base::MutexLock lock(mu_);
  return local_keys_;
}

bool Registry::has_local(const base::NodePublicKey& key) const {
  base::MutexLock lock(mu_);
  auto it = entries_.find(key);
  return it != entries_.end() && it->second.local != nullptr;
}

bool Registry::has_forwarder(const base::NodePublicKey& key) const {
  base::MutexLock lock(mu_);
  auto it = entries_.find(key);
  return it != entries_.end() && !it->second.forwarders.empty();
}

}  // namespace derpserver
