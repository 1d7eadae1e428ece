// SPDX-License-Identifier: MIT
#include "engine/engine.hpp"

#include <array>
#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <unistd.h>

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "base/log.hpp"
#include "tun/queue.hpp"
#include "wg/messages.hpp"
#include "wg/transport.hpp"

namespace engine {

namespace {

const base::Logger& log() {
  static const base::Logger lg = base::logger("engine");
  return lg;
}

int make_eventfd() {
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  return fd;
}

void signal_fd(int fd) noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(fd, &one, sizeof one);
}

void drain_fd(int fd) noexcept {
  std::uint64_t v;
  [[maybe_unused]] const auto n = ::read(fd, &v, sizeof v);
}

std::uint64_t bytes_of(std::span<const base::PacketRef> packets, std::size_t n) noexcept {
  std::uint64_t b = 0;
  for (std::size_t i = 0; i < n && i < packets.size(); ++i) b += packets[i]->size();
  return b;
}

}  // namespace

// One worker: its TUN queue, its pool, its cipher context and its scratch arrays, all
// allocated once here so the loop allocates nothing.
struct Engine::Worker {
  Worker(std::size_t queue, int tun_fd, const Options& o)
      : q(queue),
        tun(tun_fd, o.tun_offloads),
        pool(o.buffers_per_queue, o.buffer_size),
        wake_fd(make_eventfd()) {}
  ~Worker() {
    if (epoll_fd >= 0) ::close(epoll_fd);
    ::close(wake_fd);
  }

  const std::size_t q;
  tun::Queue tun;
  base::PacketPool pool;
  wg::crypto::DefaultTransportAead aead;
  std::uint64_t tun_too_big_seen = 0;  // the queue's read_dropped already counted as too_big
  const int wake_fd;
  int epoll_fd = -1;
  std::uint64_t bind_generation = ~0ull;
  std::thread thread;

  std::array<base::PacketRef, kBatch> bufs;
  std::array<base::PacketRef, kBatch> group;
  std::array<wg::PeerEndpoint, kBatch> sources;
  std::array<base::PacketBuf*, kBatch> opening;
  std::array<wg::PeerEndpoint, kBatch> opening_sources;
  std::array<std::size_t, kBatch> opening_slot;
  std::array<wg::OpenResult, kBatch> results;
  std::array<wg::Peer*, kBatch> peer_of;
  std::array<wg::Peer*, kBatch> distinct;
  wg::OpenBatch open_batch;

  base::Counter tun_read, tun_written, udp_received, udp_sent, handshakes, pool_exhausted;
};

Engine::Engine(const Options& options, std::span<const int> tun_fds, wg::Bind& bind,
               base::Clock& clock)
    : options_(options),
      bind_(bind),
      clock_(clock),
      device_(wg::DeviceOptions{options.staged_packets, options.buffer_size}),
      mtu_(std::min(options.mtu, max_mtu_for(options.buffer_size))) {
  if (tun_fds.size() != options.queues || options.queues == 0) {
    throw std::invalid_argument("engine: one TUN fd per queue is required");
  }
  control_wake_fd_ = make_eventfd();
  for (std::size_t q = 0; q < options.queues; ++q) {
    workers_.push_back(std::make_unique<Worker>(q, tun_fds[q], options));
  }
}

Engine::~Engine() {
  stop();
  // Handshake messages nobody will handle now: their buffers go back to the workers' pools
  // while those still exist.
  std::array<HandshakeQueue::Item, 64> items;
  while (handshakes_.pop(items) > 0) {
    for (auto& item : items) item.packet.reset();
  }
  device_.remove_all_peers();
  ::close(control_wake_fd_);
}

unsigned Engine::max_mtu_for(std::size_t buffer_size) noexcept {
  // A TUN read must be shorter than the read area (a read that fills it may be cut short);
  // the datagram it becomes (header, padding up to the MTU, tag) must fit a receive buffer's
  // read area as well.
  const std::size_t area = buffer_size - base::PacketBuf::kHeadroom - base::PacketBuf::kTailroom;
  const std::size_t overhead = wg::kTransportHeaderSize + wg::crypto::kTagSize;
  return area > overhead + 1 ? static_cast<unsigned>(area - overhead - 1) : 0;
}

unsigned Engine::set_mtu(unsigned mtu) noexcept {
  const unsigned applied = std::min(mtu, max_mtu());
  mtu_.store(applied, std::memory_order_relaxed);
  return applied;
}

void Engine::start() {
  if (started_) return;
  started_ = true;
  publish_routing();
  for (auto& w : workers_) {
    Worker* worker = w.get();
    worker->thread = std::thread([this, worker] { run_worker(*worker); });
  }
}

void Engine::stop() {
  if (!started_ || stopping_.exchange(true)) return;
  for (auto& w : workers_) signal_fd(w->wake_fd);
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

void Engine::wake_control() noexcept {
  signal_fd(control_wake_fd_);
}

void Engine::wake_workers() {
  for (auto& w : workers_) signal_fd(w->wake_fd);
}

// --- workers ---

void Engine::run_worker(Worker& w) {
  w.epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (w.epoll_fd < 0) {
    log()->error("worker={} epoll_create1 failed: {}", w.q, std::strerror(errno));
    return;
  }
  // Tags: 0 = TUN, 1 = wake, 2 = bind.
  auto add = [&](int fd, std::uint64_t tag) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    ::epoll_ctl(w.epoll_fd, EPOLL_CTL_ADD, fd, &ev);
  };
  add(w.tun.fd(), 0);
  add(w.wake_fd, 1);
  std::array<int, wg::Bind::kMaxWaitFds> bind_fds{};
  std::size_t bind_fd_count = 0;
  auto refresh_bind = [&] {
    for (std::size_t i = 0; i < bind_fd_count; ++i)
      ::epoll_ctl(w.epoll_fd, EPOLL_CTL_DEL, bind_fds[i], nullptr);
    w.bind_generation = bind_.generation();
    bind_fd_count = bind_.wait_fds(w.q, bind_fds);
    for (std::size_t i = 0; i < bind_fd_count; ++i) add(bind_fds[i], 2);
  };
  refresh_bind();

  bool tun_ok = true;
  std::array<epoll_event, 8> events;
  while (!stopping_.load(std::memory_order_relaxed)) {
    // Segments of a split super-packet or of a GRO buffer already in user space are work too:
    // do not sleep on the fds while they wait.
    const bool tun_pending = tun_ok && w.tun.has_pending();
    const bool bind_pending = bind_.has_pending(w.q);
    const int timeout = tun_pending || bind_pending ? 0 : 1000;
    const int n = ::epoll_wait(w.epoll_fd, events.data(), static_cast<int>(events.size()), timeout);
    if (n < 0 && errno != EINTR) {
      log()->error("worker={} epoll_wait failed: {}", w.q, std::strerror(errno));
      break;
    }
    bool tun_ready = tun_pending, bind_ready = bind_pending;
    for (int i = 0; i < n; ++i) {
      switch (events[static_cast<std::size_t>(i)].data.u64) {
        case 0:
          tun_ready = true;
          break;
        case 1:
          drain_fd(w.wake_fd);
          break;
        default:
          bind_ready = true;
      }
    }
    if (bind_.generation() != w.bind_generation) refresh_bind();
    if (bind_ready) worker_inbound(w);
    if (tun_ready && tun_ok) {
      worker_outbound(w);
      if (tun_gone_.load(std::memory_order_relaxed)) {
        // The interface is gone: stop reading it, keep nothing else busy.
        ::epoll_ctl(w.epoll_fd, EPOLL_CTL_DEL, w.tun.fd(), nullptr);
        tun_ok = false;
      }
    }
  }
  ::close(w.epoll_fd);
  w.epoll_fd = -1;
}

void Engine::worker_outbound(Worker& w) {
  const std::size_t got = w.pool.get_batch(w.bufs);
  if (got == 0) {
    w.pool_exhausted.add();
    return;
  }
  std::error_code ec;
  const std::size_t n = w.tun.read_batch(std::span(w.bufs).first(got), ec);
  if (ec && tun::is_fatal(ec)) {
    if (!tun_gone_.exchange(true)) log()->warn("worker={} TUN queue failed: {}", w.q, ec.message());
    wake_control();
  }
  // Packets longer than a buffer (an MTU above max_mtu()) never reach us whole: count them.
  if (const std::uint64_t too_big = w.tun.stats().read_dropped.get();
      too_big != w.tun_too_big_seen) {
    device_.drops().add(wg::DropReason::too_big, too_big - w.tun_too_big_seen);
    w.tun_too_big_seen = too_big;
  }
  w.tun_read.add(n);
  if (n > 0) {
    const auto routing = routing_.load();
    const base::TimePoint now = clock_.now();
    // Route each packet; collect the distinct peers in first-seen order.
    std::size_t distinct = 0;
    for (std::size_t i = 0; i < n; ++i) {
      wg::Peer* p = routing->by_destination(w.bufs[i]->data());
      w.peer_of[i] = p;
      if (p == nullptr) {
        device_.drops().add(wg::DropReason::no_route);
        continue;
      }
      std::size_t d = 0;
      while (d < distinct && w.distinct[d] != p) ++d;
      if (d == distinct) w.distinct[distinct++] = p;
    }
    Sender sender{w.q, w.pool, w.aead, w.udp_sent, w.pool_exhausted};
    for (std::size_t d = 0; d < distinct; ++d) {
      wg::Peer* p = w.distinct[d];
      std::size_t k = 0;
      for (std::size_t i = 0; i < n; ++i) {
        if (w.peer_of[i] == p) w.group[k++] = std::move(w.bufs[i]);
      }
      seal_and_send(sender, *p, std::span(w.group).first(k), now);
      w.pool.put_batch(std::span(w.group).first(k));
    }
    if (sender.wake) wake_control();
  }
  w.pool.put_batch(std::span(w.bufs).first(got));
}

std::size_t Engine::seal_and_send(Sender& s, wg::Peer& peer, std::span<base::PacketRef> packets,
                                  base::TimePoint now) {
  const wg::SealResult r = device_.seal(peer, packets, now, mtu(), s.aead);
  s.wake = s.wake || r.wake_control;
  if (r.sealed == 0) return 0;
  const auto sealed = std::span<const base::PacketRef>(packets.data(), r.sealed);
  const std::size_t sent = bind_.send(s.q, peer.bind_endpoint(), sealed);
  if (sent > 0) peer.add_tx_bytes(bytes_of(sealed, sent));
  if (sent < r.sealed) device_.drops().add(wg::DropReason::send_failed, r.sealed - sent);
  s.sent.add(sent);
  return sent;
}

void Engine::worker_inbound(Worker& w) {
  const std::size_t got = w.pool.get_batch(w.bufs);
  if (got == 0) {
    w.pool_exhausted.add();
    return;
  }
  const std::size_t n = bind_.receive(w.q, std::span(w.bufs).first(got), w.sources);
  w.udp_received.add(n);
  if (n > 0) {
    const base::TimePoint now = clock_.now();
    const base::WallTime wall = clock_.wall();
    bool wake = false;
    // Classify: transport messages open here; handshakes go to the control thread.
    std::size_t opening = 0;
    for (std::size_t i = 0; i < n; ++i) {
      wg::DropReason why = wg::DropReason::none;
      const auto type = wg::classify(w.bufs[i]->data(), why);
      if (type == wg::MessageType::transport) {
        w.opening[opening] = w.bufs[i].get();
        w.opening_sources[opening] = w.sources[i];
        w.opening_slot[opening] = i;
        ++opening;
      } else if (type) {
        bool was_empty = false;
        if (handshakes_.push({std::move(w.bufs[i]), w.sources[i]}, was_empty)) {
          w.handshakes.add();
          wake = wake || was_empty;
        } else {
          device_.drops().add(wg::DropReason::queue_full);
        }
      } else {
        device_.drops().add(why);
      }
    }
    if (opening > 0) {
      device_.open_batch(std::span(w.opening).first(opening),
                         std::span(w.opening_sources).first(opening), now, wall, w.aead,
                         w.open_batch, std::span(w.results).first(opening));
      // Cryptokey routing on the way in: the inner source must belong to the sending peer.
      const auto routing = routing_.load();
      std::size_t k = 0;
      for (std::size_t m = 0; m < opening; ++m) {
        const wg::OpenResult& r = w.results[m];
        if (r.drop != wg::DropReason::none || r.keepalive) continue;
        base::PacketRef& ref = w.bufs[w.opening_slot[m]];
        if (routing->by_source(ref->data()) != r.peer) {
          device_.drops().add(wg::DropReason::source_not_allowed);
          continue;
        }
        w.group[k++] = std::move(ref);
      }
      if (k > 0) {
        std::error_code ec;
        const std::size_t written =
            w.tun.write_batch(std::span<const base::PacketRef>(w.group.data(), k), ec);
        w.tun_written.add(written);
        if (ec && tun::is_fatal(ec) && !tun_gone_.exchange(true)) {
          log()->warn("worker={} TUN queue failed: {}", w.q, ec.message());
          wake = true;
        }
        w.pool.put_batch(std::span(w.group).first(k));
      }
      // Peers whose next keypair just got confirmed send what they had staged.
      Sender sender{w.q, w.pool, w.aead, w.udp_sent, w.pool_exhausted};
      for (std::size_t i = 0; i < w.open_batch.flush_count; ++i) {
        flush_peer(sender, *w.open_batch.flush[i], false);
      }
      wake = wake || sender.wake;
      wake = wake || w.open_batch.wake_control;
      w.open_batch.reset();
    }
    if (wake) wake_control();
  }
  w.pool.put_batch(std::span(w.bufs).first(got));
}

void Engine::flush_peer(Sender& s, wg::Peer& peer, bool keepalive_if_empty) {
  // Staged packets are buffers of the staging area's pool; they go back to it on reset.
  std::array<base::PacketRef, wg::kMaxStagedPackets> staged;
  std::size_t n = device_.take_staged(peer, staged);
  if (n == 0 && keepalive_if_empty) {
    staged[0] = s.pool.get();
    if (!staged[0]) {
      s.pool_exhausted.add();
      return;
    }
    n = 1;
  }
  if (n == 0) return;
  seal_and_send(s, peer, std::span(staged).first(n), clock_.now());
  for (std::size_t i = 0; i < n; ++i) staged[i].reset();
}

// --- control thread ---

void Engine::run_control() {
  drain_fd(control_wake_fd_);
  std::array<HandshakeQueue::Item, 64> items;
  for (std::size_t handled = 0; handled < HandshakeQueue::kCapacity;) {
    const bool busy = handshakes_.size() >= wg::kUnderLoadQueueLength;
    const std::size_t n = handshakes_.pop(items);
    if (n == 0) break;
    const base::TimePoint now = clock_.now();
    const base::WallTime wall = clock_.wall();
    for (std::size_t i = 0; i < n; ++i) {
      device_.receive_handshake(items[i].packet->data(), items[i].from, now, wall, busy, *this);
      items[i].packet.reset();
    }
    handled += n;
  }
  if (handshakes_.size() > 0) wake_control();  // more arrived meanwhile: come back soon
  device_.tick(clock_.now(), clock_.wall(), *this);
}

void Engine::send_handshake(wg::Peer& peer, base::ConstByteSpan message) {
  if (!peer.has_endpoint()) {
    device_.drops().add(wg::DropReason::no_endpoint);
    return;
  }
  if (bind_.send_message(peer.bind_endpoint(), message)) {
    peer.add_tx_bytes(message.size());
  } else {
    device_.drops().add(wg::DropReason::send_failed);
  }
}

void Engine::send_cookie_reply(const wg::PeerEndpoint& to, base::ConstByteSpan message) {
  if (!bind_.send_to(to, message)) device_.drops().add(wg::DropReason::send_failed);
}

void Engine::flush_staged(wg::Peer& peer, bool keepalive_if_empty) {
  Sender sender{0, control_pool_, control_aead_, control_sent_, control_pool_exhausted_};
  flush_peer(sender, peer, keepalive_if_empty);
  // A handshake request raised here is picked up by the tick() this call is part of, or the
  // next one.
  if (sender.wake) wake_control();
}

// --- configuration ---

void Engine::set_private_key(const std::optional<base::PrivateKey>& key) {
  if (key && !key->is_zero()) {
    base::PrivateKey clamped = *key;
    clamped.clamp();
    remove_peer(clamped.public_key());
  }
  device_.set_private_key(key);
}

std::shared_ptr<wg::Peer> Engine::add_peer(const base::NodePublicKey& key) {
  return device_.add_peer(key, bind_.make_endpoint(key));
}

bool Engine::remove_peer(const base::NodePublicKey& key) {
  const auto peer = device_.find_peer(key);
  if (!peer) return false;
  routes_.remove_by_value(peer.get());
  device_.remove_peer(key);
  return true;
}

void Engine::remove_all_peers() {
  routes_.clear();
  device_.remove_all_peers();
}

void Engine::add_allowed_ip(wg::Peer& peer, const base::IpPrefix& prefix) {
  routes_.insert(prefix, &peer);
}

bool Engine::remove_allowed_ip(wg::Peer& peer, const base::IpPrefix& prefix) {
  return routes_.remove(prefix, &peer);
}

void Engine::clear_allowed_ips(wg::Peer& peer) {
  routes_.remove_by_value(&peer);
}

std::vector<base::IpPrefix> Engine::allowed_ips(wg::Peer& peer) const {
  return routes_.prefixes_of(&peer);
}

void Engine::publish_routing() {
  auto r = std::make_shared<Routing>();
  r->table = routes_;
  r->peers = device_.peers();
  routing_.publish(std::move(r));
}

void Engine::set_persistent_keepalive(wg::Peer& peer, std::uint16_t seconds) {
  device_.set_persistent_keepalive(peer, seconds, clock_.now(), *this);
}

Stats Engine::stats() const noexcept {
  Stats s;
  for (const auto& w : workers_) {
    s.tun_packets_read += w->tun_read.get();
    s.tun_packets_written += w->tun_written.get();
    s.datagrams_received += w->udp_received.get();
    s.datagrams_sent += w->udp_sent.get();
    s.handshakes_queued += w->handshakes.get();
    s.pool_exhausted += w->pool_exhausted.get();
  }
  s.datagrams_sent += control_sent_.get();
  s.pool_exhausted += control_pool_exhausted_.get();
  s.staged = device_.staged();
  return s;
}

}  // namespace engine
