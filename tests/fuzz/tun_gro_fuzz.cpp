// SPDX-License-Identifier: MIT
// Fuzzes TUN write-side coalescing: the input is a batch of packets, each a 16-bit
// big-endian length and that many bytes. Never crashes; every merged group is a valid
// super-packet that splits back into its members; each packet is in exactly one group.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tun_fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tun;
  const base::ConstByteSpan in(reinterpret_cast<const std::byte*>(data), size);
  if (in.empty()) return 0;
  const std::uint8_t mode = std::to_integer<std::uint8_t>(in[0]);
  std::vector<base::ConstByteSpan> packets;
  std::size_t off = 1;
  while (off + 2 <= in.size() && packets.size() < GroTable::kMaxPackets) {
    const std::size_t len = base::load_be16(in.subspan(off));
    off += 2;
    if (len > in.size() - off) break;
    packets.push_back(in.subspan(off, len));
    off += len;
  }
  GroTable t;
  t.plan(packets, GroOptions{(mode & 1) != 0, (mode & 2) != 0});
  std::vector<int> seen(packets.size(), 0);
  for (std::size_t g = 0; g < t.group_count(); ++g) {
    std::size_t n = 0;
    for (std::uint16_t i = t.first_packet(g); i != GroTable::kEnd; i = t.next_packet(i)) {
      TUN_FUZZ_CHECK(i < packets.size());
      ++seen[i];
      ++n;
    }
    TUN_FUZZ_CHECK(n == t.packet_count(g));
  }
  for (const int s : seen) TUN_FUZZ_CHECK(s == 1);
  fuzz::check_groups_split_back(t, packets);
  return 0;
}
