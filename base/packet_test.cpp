// SPDX-License-Identifier: MIT
#include "base/packet.hpp"

#include <doctest/doctest.h>

#include <array>

namespace {

TEST_CASE("headroom and tailroom are claimed in place") {
  base::PacketPool pool(2, 256);
  auto p = pool.get();
  REQUIRE(p);
  CHECK(p->headroom() == base::PacketBuf::kHeadroom);
  auto area = p->read_area();
  CHECK(area.size() == 256 - base::PacketBuf::kHeadroom - base::PacketBuf::kTailroom);
  area[0] = std::byte{0x45};
  p->set_size(20);
  auto hdr = p->push_front(16);
  CHECK(hdr.data() + 16 == p->data().data() + 16);
  CHECK(p->size() == 36);
  CHECK(p->data()[16] == std::byte{0x45});
  p->push_back(16);
  CHECK(p->size() == 52);
  p->pull_front(16);
  p->trim(20);
  CHECK(p->size() == 20);
  CHECK(p->data()[0] == std::byte{0x45});
}

TEST_CASE("pool hands out each buffer once and takes them back") {
  base::PacketPool pool(4);
  std::array<base::PacketRef, 6> batch;
  CHECK(pool.get_batch(batch) == 4);
  CHECK_FALSE(batch[4]);
  CHECK(pool.available() == 0);
  CHECK_FALSE(pool.get());  // empty: back-pressure, not growth
  batch[0].reset();         // single return
  CHECK(pool.available() == 1);
  pool.put_batch(batch);
  CHECK(pool.available() == 4);
  CHECK(pool.outstanding() == 0);
  for (auto& r : batch) CHECK_FALSE(r);
}

}  // namespace
