// SPDX-License-Identifier: MIT
// Handshake responses: codec round trip, then the initiator's path with mac1 made valid and
// the receiver index pointed at a handshake really in flight; a forged response must never
// change the keypair the initiator sends with.
#include "wg_fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const base::ConstByteSpan in(reinterpret_cast<const std::byte*>(data), size);
  fuzz::check_round_trip<wg::Response, wg::kResponseSize>(in, wg::parse_response,
                                                          wg::write_response);
  auto& pair = fuzz::established_pair();
  base::Bytes msg(in.begin(), in.end());
  pair.a.device.receive_handshake(msg, {pair.b.address, {}, 0}, pair.clock.now(), pair.clock.wall(),
                                  false, pair.a);
  if (msg.size() == wg::kResponseSize) {
    pair.a.peer->last_sent_handshake.reset();
    pair.a.device.initiate(*pair.a.peer, pair.clock.now(), pair.clock.wall(), false, pair.a);
    base::store_le32(msg, 2);
    base::store_le32(std::span(msg).subspan(wg::off::resp::kReceiver),
                     pair.a.peer->handshake.local_index);
    pair.b.peer->cookies.stamp(msg, pair.clock.now());  // b's generator targets a
    const wg::KeypairPtr before = pair.a.peer->keypairs.current();
    pair.a.device.receive_handshake(msg, {pair.b.address, {}, 0}, pair.clock.now(),
                                    pair.clock.wall(), false, pair.a);
    // Without b's ephemeral and static keys no forged response completes a handshake: the
    // keypair a sends with is the one it had.
    if (pair.a.peer->keypairs.current() != before) std::abort();
  }
  pair.a.inbox.clear();
  pair.b.inbox.clear();
  return 0;
}
