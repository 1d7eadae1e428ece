// SPDX-License-Identifier: MIT
// meshtun-wg-demo: two WireGuard interfaces in one process, joined by an in-memory wire.
// It generates two key pairs, runs a full handshake, exchanges data both ways, rekeys after
// two minutes of (simulated) time, and prints every message that crosses the wire.
#include <array>
#include <cstdio>
#include <deque>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/packet.hpp"
#include "base/testing/manual_clock.hpp"
#include "base/version.hpp"
#include "wg/constants.hpp"
#include "wg/device.hpp"
#include "wg/messages.hpp"

namespace {

struct Wire {
  struct Datagram {
    std::string to;
    base::Bytes bytes;
  };
  std::deque<Datagram> queue;
};

const char* type_name(base::ConstByteSpan b) {
  wg::DropReason why{};
  switch (wg::classify(b, why).value_or(wg::MessageType{0})) {
    case wg::MessageType::initiation:
      return "handshake initiation";
    case wg::MessageType::response:
      return "handshake response";
    case wg::MessageType::cookie_reply:
      return "cookie reply";
    case wg::MessageType::transport:
      return b.size() == wg::kTransportMinSize ? "keepalive" : "transport data";
  }
  return "?";
}

class Host final : public wg::Outbox {
 public:
  Host(std::string name, Wire& wire, base::testing::ManualClock& clock, base::PacketPool& pool)
      : name_(std::move(name)), wire_(wire), clock_(clock), pool_(pool) {}

  void send_handshake(wg::Peer& p, base::ConstByteSpan m) override { emit(p, m); }
  void send_cookie_reply(const wg::PeerEndpoint&, base::ConstByteSpan m) override {
    wire_.queue.push_back({other, base::Bytes(m.begin(), m.end())});
  }
  void flush_staged(wg::Peer& p, bool keepalive_if_empty) override {
    std::array<base::PacketRef, wg::kMaxStagedPackets> batch;
    std::size_t n = device.take_staged(p, batch);
    if (n == 0 && keepalive_if_empty) batch[n++] = pool_.get();
    const auto r = device.seal(p, std::span(batch).first(n), clock_.now(), wg::kDefaultMtu, aead_);
    for (std::size_t i = 0; i < r.sealed; ++i) emit(p, batch[i]->data());
  }

  void send_text(const std::string& text) {
    base::PacketRef p = pool_.get();
    // A minimal IPv4 header so the receiver's sanity checks accept it.
    auto area = p->read_area();
    std::memset(area.data(), 0, 20);
    area[0] = std::byte{0x45};
    base::store_be16(area.subspan(2), static_cast<std::uint16_t>(20 + text.size()));
    std::memcpy(area.data() + 20, text.data(), text.size());
    p->set_size(20 + text.size());
    std::array<base::PacketRef, 1> batch{std::move(p)};
    std::printf("%s: send \"%s\"\n", name_.c_str(), text.c_str());
    const auto r = device.seal(*peer, batch, clock_.now(), wg::kDefaultMtu, aead_);
    if (r.sealed == 1) emit(*peer, batch[0]->data());
    if (r.staged == 1)
      std::printf("%s:   no session yet: packet staged, handshake started\n", name_.c_str());
    if (r.wake_control) device.tick(clock_.now(), clock_.wall(), *this);
  }

  void receive(const base::Bytes& bytes) {
    wg::DropReason why{};
    const auto type = wg::classify(bytes, why);
    if (type != wg::MessageType::transport) {
      device.receive_handshake(bytes, {from_ep, {}, 0}, clock_.now(), clock_.wall(), false, *this);
      return;
    }
    base::PacketRef p = pool_.get();
    base::copy_into(p->read_area(), bytes);
    p->set_size(bytes.size());
    base::PacketBuf* ptrs[1] = {p.get()};
    const wg::PeerEndpoint src{from_ep, {}, 0};
    wg::OpenResult result;
    wg::OpenBatch batch;
    device.open_batch(ptrs, std::span(&src, 1), clock_.now(), clock_.wall(), aead_, batch,
                      std::span(&result, 1));
    if (result.drop != wg::DropReason::none) {
      std::printf("%s:   dropped: %s\n", name_.c_str(),
                  std::string(wg::to_string(result.drop)).c_str());
    } else if (!result.keepalive) {
      std::printf("%s: received \"%s\"\n", name_.c_str(),
                  std::string(base::as_chars(p->data().subspan(20))).c_str());
    }
    for (std::size_t i = 0; i < batch.flush_count; ++i) flush_staged(*batch.flush[i], false);
    batch.reset();
  }

  wg::Device device;
  std::shared_ptr<wg::Peer> peer;
  std::string other;
  base::Endpoint from_ep;

 private:
  void emit(wg::Peer& p, base::ConstByteSpan m) {
    p.add_tx_bytes(m.size());
    std::printf("  %s -> %s  %-20s %3zu bytes  %s...\n", name_.c_str(), other.c_str(), type_name(m),
                m.size(), base::to_hex(m.first(std::min<std::size_t>(m.size(), 16))).c_str());
    wire_.queue.push_back({other, base::Bytes(m.begin(), m.end())});
  }

  std::string name_;
  Wire& wire_;
  base::testing::ManualClock& clock_;
  base::PacketPool& pool_;
  wg::crypto::DefaultTransportAead aead_;
};

void deliver(Wire& wire, Host& a, Host& b) {
  for (int i = 0; i < 100 && !wire.queue.empty(); ++i) {
    auto d = std::move(wire.queue.front());
    wire.queue.pop_front();
    (d.to == "alice" ? a : b).receive(d.bytes);
  }
}

void show(const char* name, Host& h) {
  const auto kp = h.peer->keypairs.current();
  std::printf("%s: peer %s  tx=%llu rx=%llu  keypair index=%08x (%s)  drops=%llu\n", name,
              h.peer->public_key().short_string().c_str(),
              static_cast<unsigned long long>(h.peer->tx_bytes()),
              static_cast<unsigned long long>(h.peer->rx_bytes()), kp ? kp->local_index() : 0u,
              kp ? (kp->initiator() ? "initiator" : "responder") : "none",
              static_cast<unsigned long long>(h.device.drops().total()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[1]) == "--version") {
    std::printf("meshtun-wg-demo %s\n", std::string(base::version()).c_str());
    return 0;
  }
  if (argc > 1) {
    std::fprintf(stderr, "usage: meshtun-wg-demo [--version]\n");
    return 2;
  }
  base::testing::ManualClock clock;
  base::PacketPool pool(64);
  Wire wire;
  Host alice("alice", wire, clock, pool), bob("bob", wire, clock, pool);
  alice.other = "bob";
  bob.other = "alice";
  alice.from_ep =
      *base::Endpoint::parse("10.0.0.2:51820");  // where alice's packets seem to come from
  bob.from_ep = *base::Endpoint::parse("10.0.0.1:51820");

  const auto ka = base::PrivateKey::generate();
  const auto kb = base::PrivateKey::generate();
  std::printf("alice public key %s\n", ka.public_key().to_base64().c_str());
  std::printf("bob   public key %s\n\n", kb.public_key().to_base64().c_str());
  alice.device.set_private_key(ka);
  bob.device.set_private_key(kb);
  alice.peer = alice.device.add_peer(kb.public_key());
  bob.peer = bob.device.add_peer(ka.public_key());
  alice.peer->set_endpoint({bob.from_ep, {}, 0});
  bob.peer->set_endpoint({alice.from_ep, {}, 0});

  std::printf("== first packet starts the handshake\n");
  alice.send_text("hello bob");
  deliver(wire, alice, bob);
  std::printf("\n== data both ways on the new session\n");
  bob.send_text("hello alice");
  alice.send_text("how are you?");
  deliver(wire, alice, bob);
  show("alice", alice);
  show("bob  ", bob);

  std::printf("\n== 121 s later: the initiator rekeys on its next packet\n");
  clock.advance(wg::kRekeyAfterTime + std::chrono::seconds(1));
  alice.send_text("still there?");
  deliver(wire, alice, bob);
  bob.send_text("yes");
  deliver(wire, alice, bob);
  show("alice", alice);
  show("bob  ", bob);

  const bool ok = alice.device.drops().total() == 0 && bob.device.drops().total() == 0 &&
                  alice.peer->tx_bytes() == bob.peer->rx_bytes() &&
                  bob.peer->tx_bytes() == alice.peer->rx_bytes();
  std::printf("\n%s\n",
              ok ? "demo: handshake, data and rekey all worked" : "demo: something went wrong");
  return ok ? 0 : 1;
}
