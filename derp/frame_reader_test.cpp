// SPDX-License-Identifier: MIT
#include "derp/frame_reader.hpp"

#include <doctest/doctest.h>

#include <random>

namespace {

using base::Bytes;

struct Got {
  std::uint8_t type;
  Bytes payload;
};

Bytes stream_of_frames() {
  Bytes s;
  base::KeyBytes k{};
  k.fill(std::byte{7});
  derp::encode_send_packet(s, base::NodePublicKey(k), Bytes(1400, std::byte{0xaa}));
  derp::encode_note_preferred(s, true);
  derp::encode_watch_conns(s);  // empty payload
  Bytes unknown;
  derp::encode_frame(unknown, derp::UnknownFrame{0x40, Bytes(3000, std::byte{1})});
  s.insert(s.end(), unknown.begin(), unknown.end());
  const std::array<std::byte, 8> p{};
  derp::encode_ping(s, p);
  return s;
}

TEST_CASE("frames arrive whole whatever the read boundaries; skipped types never show") {
  const Bytes s = stream_of_frames();
  std::mt19937 rng(1234);  // seed logged by being fixed
  for (int round = 0; round < 200; ++round) {
    CAPTURE(round);
    derp::FrameReader r(&derp::server_read_limit);
    r.set_handshake_done(true);
    std::vector<Got> got;
    std::size_t pos = 0;
    while (pos < s.size()) {
      const std::size_t n =
          std::min<std::size_t>(s.size() - pos, 1 + rng() % (round < 100 ? 7 : 2000));
      auto st = r.feed(base::ConstByteSpan(s.data() + pos, n),
                       [&](std::uint8_t t, base::ConstByteSpan p) {
                         got.push_back({t, Bytes(p.begin(), p.end())});
                         return true;
                       });
      REQUIRE(st.ok());
      pos += n;
    }
    CHECK(r.at_frame_boundary());
    CHECK(r.buffered_bytes() == 0);
    REQUIRE(got.size() == 4);
    CHECK(got[0].type == 0x04);
    CHECK(got[0].payload.size() == 32 + 1400);
    CHECK(got[1].type == 0x07);
    CHECK(got[2].type == 0x10);
    CHECK(got[2].payload.empty());
    CHECK(got[3].type == 0x12);
  }
}

TEST_CASE("an over-limit length is refused at the header, before any payload") {
  derp::FrameReader r(&derp::server_read_limit);
  r.set_handshake_done(true);
  Bytes hdr(5);
  derp::write_frame_header(std::span<std::byte, 5>(hdr.data(), 5), derp::FrameType::send_packet,
                           32 + 65536 + 1);
  int frames = 0;
  auto st = r.feed(hdr, [&](std::uint8_t, base::ConstByteSpan) { return ++frames > 0; });
  CHECK_FALSE(st.ok());
  CHECK(frames == 0);
  CHECK(r.buffered_bytes() == 0);
}

TEST_CASE("a large unknown frame is skipped without buffering; a huge one is refused") {
  derp::FrameReader r(&derp::server_read_limit);
  r.set_handshake_done(true);
  Bytes hdr(5);
  derp::write_frame_header(std::span<std::byte, 5>(hdr.data(), 5), std::uint8_t{0x30},
                           static_cast<std::uint32_t>(derp::kMaxUnknownFrameLen));
  REQUIRE(r.feed(hdr, [](std::uint8_t, base::ConstByteSpan) { return true; }).ok());
  Bytes chunk(1 << 15);
  REQUIRE(r.feed(chunk, [](std::uint8_t, base::ConstByteSpan) { return true; }).ok());
  CHECK(r.buffered_bytes() == 0);  // the frame being skipped is not held
  CHECK_FALSE(r.at_frame_boundary());

  derp::FrameReader r2(&derp::server_read_limit);
  r2.set_handshake_done(true);
  derp::write_frame_header(std::span<std::byte, 5>(hdr.data(), 5), std::uint8_t{0x30}, 0xfffffff0u);
  CHECK_FALSE(r2.feed(hdr, [](std::uint8_t, base::ConstByteSpan) { return true; }).ok());
}

TEST_CASE("before the handshake only ClientInfo is accepted; the handler can flip the state") {
  derp::FrameReader r(&derp::server_read_limit);
  Bytes s;
  derp::encode_client_info(s, Bytes(60));
  derp::encode_note_preferred(s, true);
  std::vector<std::uint8_t> types;
  auto st = r.feed(s, [&](std::uint8_t t, base::ConstByteSpan) {
    types.push_back(t);
    r.set_handshake_done(true);
    return true;
  });
  CHECK(st.ok());
  CHECK(types == std::vector<std::uint8_t>{0x02, 0x07});

  derp::FrameReader r2(&derp::server_read_limit);
  Bytes bad;
  derp::encode_note_preferred(bad, true);
  CHECK_FALSE(r2.feed(bad, [](std::uint8_t, base::ConstByteSpan) { return true; }).ok());
}

TEST_CASE("the handler can stop the stream") {
  derp::FrameReader r(&derp::client_read_limit);
  r.set_handshake_done(true);
  Bytes s;
  derp::encode_keep_alive(s);
  derp::encode_keep_alive(s);
  int n = 0;
  CHECK_FALSE(r.feed(s, [&](std::uint8_t, base::ConstByteSpan) { return ++n < 1; }).ok());
  CHECK(n == 1);
}

}  // namespace
