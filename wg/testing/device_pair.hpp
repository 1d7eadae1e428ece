// SPDX-License-Identifier: MIT
// Two wg::Devices wired back to back through in-memory queues, for tests. Each side has the
// other as its only peer; datagrams sit on a wire until the test delivers them, so a test
// can drop, replay, reorder or corrupt any message. A ManualClock drives time.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "base/bytes.hpp"
#include "base/packet.hpp"
#include "base/testing/manual_clock.hpp"
#include "wg/device.hpp"

namespace wg::testing {

class DevicePair {
 public:
  struct Datagram {
    base::Bytes bytes;
    PeerEndpoint from;
  };

  class Side final : public Outbox {
    DevicePair& pair_;

   public:
    Side(DevicePair& pair, std::string side_name, base::Endpoint side_address)
        : pair_(pair), name(std::move(side_name)), address(side_address) {}

    void send_handshake(Peer& peer, base::ConstByteSpan message) override;
    void send_cookie_reply(const PeerEndpoint& to, base::ConstByteSpan message) override;
    void flush_staged(Peer& peer, bool keepalive_if_empty) override;

    // Sends an inner packet to the other side (sealed, or staged when there is no keypair).
    SealResult send(base::ConstByteSpan inner);
    // Delivers every datagram waiting for this side; returns how many.
    std::size_t receive_all();

    Device device;
    std::shared_ptr<Peer> peer;  // the other side
    const std::string name;
    base::Endpoint address;  // where its datagrams come from (a test may move it)
    std::deque<Datagram> inbox;
    std::vector<base::Bytes> delivered;  // inner packets that passed every check
    std::size_t keepalives_received = 0;
    std::size_t handshakes_sent = 0;
    bool handshake_queue_busy = false;  // puts this side's device under load
    Side* other = nullptr;

   private:
    void transmit(base::ConstByteSpan bytes);
  };

  explicit DevicePair(bool with_psk = false);

  // Moves datagrams both ways until both inboxes are empty (bounded rounds).
  void settle();
  void tick();  // both devices' timers at the clock's current time
  void advance(base::Duration d) {
    clock.advance(d);
    tick();
  }

  base::testing::ManualClock clock;
  base::PacketPool pool{256};
  crypto::DefaultTransportAead aead;
  static constexpr unsigned kMtu = 1420;
  Side a;
  Side b;
};

// A minimal IPv4 packet (20-byte header, valid lengths) with `payload` after it.
base::Bytes ipv4_packet(std::string_view payload, std::uint8_t last_octet_src = 1,
                        std::uint8_t last_octet_dst = 2);

}  // namespace wg::testing
