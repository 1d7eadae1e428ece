// SPDX-License-Identifier: MIT
// Handshake initiations: codec round trip, then the responder's full path with a valid mac1
// stamped over the fuzzer's bytes so Noise decryption and the replay guards run.
#include "wg_fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const base::ConstByteSpan in(reinterpret_cast<const std::byte*>(data), size);
  fuzz::check_round_trip<wg::Initiation, wg::kInitiationSize>(in, wg::parse_initiation,
                                                              wg::write_initiation);
  auto& pair = fuzz::established_pair();
  base::Bytes msg(in.begin(), in.end());
  pair.b.device.receive_handshake(msg, {pair.a.address, {}, 0}, pair.clock.now(), pair.clock.wall(),
                                  false, pair.b);
  if (msg.size() == wg::kInitiationSize) {
    base::store_le32(msg, 1);
    pair.a.peer->cookies.stamp(msg, pair.clock.now());  // a's generator targets b
    pair.b.device.receive_handshake(msg, {pair.a.address, {}, 0}, pair.clock.now(),
                                    pair.clock.wall(), size % 2 == 0, pair.b);
  }
  pair.a.inbox.clear();
  pair.b.inbox.clear();
  return 0;
}
