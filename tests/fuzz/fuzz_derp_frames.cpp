// SPDX-License-Identifier: MIT
// libFuzzer target: the DERP frame reader and both frame decoders.
//
// Input: byte 0 picks the side (even: a server reading client frames, odd: a client reading
// server frames) and whether the handshake is done (bit 1); byte 1 is a chunk size for
// feeding the rest through FrameReader. Every frame that decodes must re-encode to bytes that
// decode to an equal frame (parse -> write -> parse), and the reader must never hand over a
// payload longer than its limit.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "derp/frame.hpp"
#include "derp/frame_reader.hpp"

namespace {

void check_round_trip(bool from_client, std::uint8_t type, base::ConstByteSpan payload) {
  auto f = from_client ? derp::decode_from_client(type, payload)
                       : derp::decode_from_server(type, payload);
  if (!f) return;
  base::Bytes wire;
  derp::encode_frame(wire, *f);
  if (wire.size() < derp::kFrameHeaderLen) std::abort();
  const auto h = derp::read_frame_header(
      std::span<const std::byte, derp::kFrameHeaderLen>(wire.data(), derp::kFrameHeaderLen));
  if (h.length != wire.size() - derp::kFrameHeaderLen) std::abort();
  const base::ConstByteSpan p2(wire.data() + derp::kFrameHeaderLen, h.length);
  auto g =
      from_client ? derp::decode_from_client(h.type, p2) : derp::decode_from_server(h.type, p2);
  if (!g || !derp::frame_equal(*f, *g)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const bool from_client = (data[0] & 1) == 0;
  const bool handshake_done = (data[0] & 2) != 0;
  const std::size_t chunk = 1 + data[1];
  derp::FrameReader reader(from_client ? &derp::server_read_limit : &derp::client_read_limit);
  reader.set_handshake_done(handshake_done);
  const auto* p = reinterpret_cast<const std::byte*>(data + 2);
  std::size_t left = size - 2;
  while (left > 0) {
    const std::size_t n = left < chunk ? left : chunk;
    auto st =
        reader.feed(base::ConstByteSpan(p, n), [&](std::uint8_t type, base::ConstByteSpan payload) {
          const auto lim = from_client ? derp::server_read_limit(type, reader.handshake_done())
                                       : derp::client_read_limit(type, reader.handshake_done());
          if (lim.action != derp::ReadLimit::Action::deliver || payload.size() > lim.max_len) {
            std::abort();
          }
          check_round_trip(from_client, type, payload);
          reader.set_handshake_done(true);
          return true;
        });
    if (!st) break;
    p += n;
    left -= n;
  }
  return 0;
}
