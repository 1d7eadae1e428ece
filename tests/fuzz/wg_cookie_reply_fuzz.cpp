// SPDX-License-Identifier: MIT
// Cookie replies: codec round trip, then consumption against a real index; a forged reply
// must never give the initiator a cookie.
#include "wg_fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const base::ConstByteSpan in(reinterpret_cast<const std::byte*>(data), size);
  fuzz::check_round_trip<wg::CookieReply, wg::kCookieReplySize>(in, wg::parse_cookie_reply,
                                                                wg::write_cookie_reply);
  auto& pair = fuzz::established_pair();
  base::Bytes msg(in.begin(), in.end());
  pair.a.device.receive_handshake(msg, {pair.b.address, {}, 0}, pair.clock.now(), pair.clock.wall(),
                                  false, pair.a);
  if (msg.size() == wg::kCookieReplySize) {
    base::store_le32(msg, 3);
    if (auto kp = pair.a.peer->keypairs.current()) {
      base::store_le32(std::span(msg).subspan(wg::off::cookie::kReceiver), kp->local_index());
    }
    const bool had_cookie = pair.a.peer->cookies.has_fresh_cookie(pair.clock.now());
    pair.a.device.receive_handshake(msg, {pair.b.address, {}, 0}, pair.clock.now(),
                                    pair.clock.wall(), false, pair.a);
    // A cookie sealed without the responder's cookie secret never opens: no cookie appears.
    if (!had_cookie && pair.a.peer->cookies.has_fresh_cookie(pair.clock.now())) std::abort();
  }
  return 0;
}
