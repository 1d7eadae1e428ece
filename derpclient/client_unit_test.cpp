// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include "derpclient/client.hpp"
#include "derpclient/send_queue.hpp"

namespace {

using namespace std::chrono_literals;

TEST_CASE("backoff: min(n^2 * 10 ms, cap) times a factor in [0.5, 1.5)") {
  CHECK(derpclient::backoff_delay(1, 0.5, 5s) == 10ms);
  CHECK(derpclient::backoff_delay(3, 0.5, 5s) == 90ms);
  CHECK(derpclient::backoff_delay(3, 0.0, 5s) == 45ms);
  CHECK(derpclient::backoff_delay(100, 0.5, 5s) == 5s);
  CHECK(derpclient::backoff_delay(100, 0.999, 5s) < 7500ms);
  CHECK(derpclient::backoff_delay(0, 0.7, 5s) == 0ms);
}

TEST_CASE("send queue: control first, head drop per queue, disco kept apart") {
  derpclient::SendQueue q(2, 1);
  CHECK_FALSE(q.push_packet(base::Bytes{std::byte{1}}, false));
  CHECK_FALSE(q.push_packet(base::Bytes{std::byte{2}}, false));
  CHECK(q.push_packet(base::Bytes{std::byte{3}}, false));  // evicts 1
  CHECK_FALSE(q.push_packet(base::Bytes{std::byte{9}}, true));
  CHECK(q.push_packet(base::Bytes{std::byte{8}}, true));  // evicts 9
  q.push_control(base::Bytes{std::byte{0}});
  std::vector<base::Bytes> out;
  CHECK(q.take(out, 10) == 4);
  std::vector<int> order;
  for (const auto& b : out) order.push_back(static_cast<int>(b[0]));
  CHECK(order == std::vector<int>{0, 8, 2, 3});
  CHECK(q.empty());
}

TEST_CASE("a closed client refuses sends; an unstarted one queues them") {
  boost::asio::io_context io;
  derpclient::Options o;
  o.host = "127.0.0.1";
  o.port = 1;
  o.tls = false;
  o.key = base::NodePrivateKey::generate();
  auto c = derpclient::Client::create(io, o, {});
  const auto dst = base::NodePrivateKey::generate().public_key();
  CHECK(c->send(dst, base::Bytes(10)));
  CHECK_FALSE(c->send(dst, base::Bytes(derp::kMaxPacketSize + 1)));
  c->close();
  CHECK_FALSE(c->send(dst, base::Bytes(10)));
  CHECK(c->state() == derpclient::State::closed);
  io.poll();
}

}  // namespace
