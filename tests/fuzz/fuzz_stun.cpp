// SPDX-License-Identifier: MIT
// libFuzzer target: the STUN codec. Whatever parses as a request or a response must survive
// write -> parse with the same transaction id (and address).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "net/stun.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const base::ConstByteSpan in(reinterpret_cast<const std::byte*>(data), size);
  (void)net::stun::is_stun(in);
  if (auto tx = net::stun::parse_request(in)) {
    std::byte out[net::stun::kRequestLen];
    const auto n = net::stun::write_request(*tx, out);
    auto again = net::stun::parse_request(base::ConstByteSpan(out, n));
    if (!again || *again != *tx) std::abort();
  }
  if (auto r = net::stun::parse_response(in)) {
    std::byte out[net::stun::kMaxResponseLen];
    const auto n = net::stun::write_response(r->tx, r->addr, out);
    auto again = net::stun::parse_response(base::ConstByteSpan(out, n));
    if (!again || again->tx != r->tx || !(again->addr == r->addr)) std::abort();
  }
  return 0;
}
