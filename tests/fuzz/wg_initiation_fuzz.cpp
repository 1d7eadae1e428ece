// SPDX-License-Identifier: MIT
// Handshake initiations, three ways:
//   1. the fuzzer's bytes as a message: codec round trip, then the responder's path;
//   2. the same with a valid mac1 stamped over them, so the checks behind mac1 (cookies
//      under load, Noise decryption of the static key) see fuzzed content;
//   3. a genuine initiation from the peer whose TAI64N timestamp, ephemeral key and arrival
//      time come from the fuzzer, so the responder decrypts it and the replay guards (a
//      timestamp not newer than the last, an initiation within 20 ms of the last) decide.
#include "wg/noise.hpp"
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

  // 3. Timestamp (12 bytes), ephemeral private key (32), milliseconds to wait first (1).
  constexpr std::size_t kNeed = 12 + 32 + 1;
  if (size >= kNeed) {
    wg::Tai64n timestamp;
    base::copy_into(timestamp, in.first(12));
    std::array<std::byte, 32> ephemeral;
    base::copy_into(ephemeral, in.subspan(12, 32));
    pair.clock.advance(std::chrono::milliseconds(std::to_integer<unsigned>(in[44]) % 64));
    wg::Handshake hs;
    const auto initiation = wg::create_initiation(*pair.a.device.identity(), pair.a.peer->identity,
                                                  hs, 0x12345678, timestamp, ephemeral);
    if (initiation) {
      std::array<std::byte, wg::kInitiationSize> bytes;
      wg::write_initiation(*initiation, bytes);
      pair.a.peer->cookies.stamp(bytes, pair.clock.now());
      pair.a.inbox.clear();
      const std::uint64_t before = pair.b.device.drops().total();
      pair.b.device.receive_handshake(bytes, {pair.a.address, {}, 0}, pair.clock.now(),
                                      pair.clock.wall(), false, pair.b);
      // It decrypts, so either a guard refused it with a reason (replayed timestamp, flood,
      // or the under-load cookie and rate limits) or b answered.
      if (pair.b.device.drops().total() == before && pair.a.inbox.empty()) std::abort();
    }
  }
  pair.a.inbox.clear();
  pair.b.inbox.clear();
  return 0;
}
