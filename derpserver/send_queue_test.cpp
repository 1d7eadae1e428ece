// SPDX-License-Identifier: MIT
#include "derpserver/send_queue.hpp"

#include <doctest/doctest.h>

namespace {

using derpserver::make_out_buf;

derpserver::OutBufPtr tagged(std::uint8_t v) {
  auto b = make_out_buf(1);
  const std::byte x{v};
  b->append(std::span<const std::byte>(&x, 1));
  return b;
}

TEST_CASE("ring drops from the head when full and releases storage when drained") {
  derpserver::PacketRing r;
  for (std::uint8_t i = 0; i < 4; ++i) CHECK_FALSE(r.push(tagged(i), 4));
  auto evicted = r.push(tagged(4), 4);
  REQUIRE(evicted);
  CHECK(evicted->data()[0] == std::byte{0});  // the oldest goes
  CHECK(r.size() == 4);
  std::vector<int> order;
  r.drain([&](derpserver::OutBufPtr b) { order.push_back(static_cast<int>(b->data()[0])); });
  CHECK(order == std::vector<int>{1, 2, 3, 4});
  CHECK(r.empty());
}

TEST_CASE("OutList keeps FIFO order across splice") {
  derpserver::OutList a;
  derpserver::OutList b;
  a.push(tagged(1));
  b.push(tagged(2));
  b.push(tagged(3));
  a.splice(b);
  CHECK(b.empty());
  CHECK(a.size() == 3);
  for (int want = 1; want <= 3; ++want) CHECK(static_cast<int>(a.pop()->data()[0]) == want);
  CHECK(a.pop() == nullptr);
}

}  // namespace
