// SPDX-License-Identifier: MIT
// Fuzzes the TUN read side: a virtio_net_hdr (first 10 bytes) and the packet after it.
// Never crashes; a super-packet that validates splits into segments whose payloads join to
// the original payload and whose checksums are right; the segments, merged again by GroTable,
// give back what was split.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tun/testing/reference_checksum.hpp"
#include "tun_fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tun;
  if (size < VnetHdr::kSize) return 0;
  const base::ConstByteSpan in(reinterpret_cast<const std::byte*>(data), size);
  const VnetHdr h = VnetHdr::load(in);
  base::Bytes pkt(in.begin() + VnetHdr::kSize, in.end());
  if (h.gso_type == VnetHdr::kGsoNone) {
    if ((h.flags & VnetHdr::kNeedsCsum) != 0) complete_checksum(h, pkt);
    return 0;
  }
  GsoPlan plan;
  if (plan_gso(h, pkt, plan) != OffloadError::none) return 0;
  TUN_FUZZ_CHECK(plan.segments >= 1);
  if (plan.segments > GroTable::kMaxPackets) return 0;  // more than one batch: not re-merged
  std::vector<base::Bytes> segs;
  base::Bytes joined;
  for (std::size_t i = 0; i < plan.segments; ++i) {
    base::Bytes seg(plan.segment_length(i));
    TUN_FUZZ_CHECK(write_segment(plan, pkt, i, seg) == seg.size());
    TUN_FUZZ_CHECK(testing::reference_checksums_ok(seg));
    joined.insert(joined.end(), seg.begin() + plan.hdr_len, seg.end());
    segs.push_back(std::move(seg));
  }
  TUN_FUZZ_CHECK(base::equal_bytes(joined, base::ConstByteSpan(pkt).subspan(plan.hdr_len)));

  std::vector<base::ConstByteSpan> spans(segs.begin(), segs.end());
  GroTable t;
  t.plan(spans, {});
  fuzz::check_groups_split_back(t, spans);
  // The groups, in order, carry the payload in order.
  base::Bytes rejoined;
  for (std::size_t g = 0; g < t.group_count(); ++g) {
    for (std::uint16_t i = t.first_packet(g); i != GroTable::kEnd; i = t.next_packet(i)) {
      const auto p = spans[i].subspan(plan.hdr_len);
      rejoined.insert(rejoined.end(), p.begin(), p.end());
    }
  }
  TUN_FUZZ_CHECK(rejoined == joined);
  return 0;
}
