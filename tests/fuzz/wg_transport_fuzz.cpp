// SPDX-License-Identifier: MIT
// Transport messages: header round trip, inner-packet validation on raw bytes, and the
// receive path of an established device with the receiver index pointed at a live keypair.
#include "wg/transport.hpp"
#include "wg_fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const base::ConstByteSpan in(reinterpret_cast<const std::byte*>(data), size);
  if (const auto h = wg::parse_transport_header(in)) {
    std::array<std::byte, wg::kTransportHeaderSize> out;
    wg::write_transport_header(*h, out);
    if (!base::equal_bytes(out, in.first(wg::kTransportHeaderSize))) std::abort();
    if (!(*wg::parse_transport_header(in) == *h)) std::abort();
  }
  if (const auto len = wg::inner_packet_length(in); len && *len > size) std::abort();

  auto& pair = fuzz::established_pair();
  if (size < wg::kTransportMinSize || size > 2000) return 0;
  base::PacketRef p = pair.pool.get();
  base::copy_into(p->read_area(), in);
  p->set_size(size);
  base::store_le32(p->data(), 4);
  if (auto kp = pair.b.peer->keypairs.current(); kp && (data[0] & 1)) {
    base::store_le32(p->data().subspan(wg::off::data::kReceiver), kp->local_index());
  }
  base::PacketBuf* ptrs[1] = {p.get()};
  const wg::PeerEndpoint from{pair.a.address, {}, 0};
  wg::OpenResult result;
  wg::OpenBatch batch;
  pair.b.device.open_batch(ptrs, std::span(&from, 1), pair.clock.now(), pair.clock.wall(),
                           pair.aead, batch, std::span(&result, 1));
  if (result.drop == wg::DropReason::none) std::abort();  // forging a valid tag is not possible
  batch.reset();
  return 0;
}
