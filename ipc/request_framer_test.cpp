// SPDX-License-Identifier: MIT
#include "ipc/request_framer.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

using ipc::FramerEvent;
using ipc::FramingError;
using ipc::RequestFramer;
using ipc::UapiRequest;

// A readable summary of one event: "get", "set:<body>", "err:<errno>".
std::string describe(const FramerEvent& event) {
  if (const auto* req = std::get_if<UapiRequest>(&event)) {
    return req->op == UapiRequest::Op::get ? "get" : "set:" + req->set_body;
  }
  return "err:" + std::to_string(std::get<FramingError>(event).errno_value);
}

// Feeds `chunks` in order, then finishes; returns every event.
std::vector<std::string> run(const std::vector<std::string_view>& chunks) {
  RequestFramer framer;
  std::vector<std::string> out;
  for (std::string_view chunk : chunks) {
    std::size_t guard = 0;
    while (!chunk.empty() && ++guard < 1'000'000) {
      const std::size_t before = chunk.size();
      auto event = framer.feed(chunk);
      if (event) out.push_back(describe(*event));
      if (!event) CHECK(chunk.empty());
      CHECK(chunk.size() < before);  // progress on every call
    }
  }
  if (auto event = framer.finish()) out.push_back(describe(*event));
  return out;
}

const std::string kStream =
    "get=1\n\n"
    "set=1\nlisten_port=5\npublic_key=aa\nallowed_ip=10.0.0.0/8\n\n"
    "set=1\n\n"
    "get=1\n\n"
    "set=1\nfwmark=1\r\n\r\n";
const std::vector<std::string> kStreamEvents = {
    "get",
    "set:listen_port=5\npublic_key=aa\nallowed_ip=10.0.0.0/8\n",
    "set:",
    "get",
    "set:fwmark=1\r\n",
};

TEST_CASE("several requests on one connection, in one chunk") {
  CHECK(run({kStream}) == kStreamEvents);
}

TEST_CASE("framing is the same at every split point") {
  const std::string_view s = kStream;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    CAPTURE(i);
    CHECK(run({s.substr(0, i), s.substr(i)}) == kStreamEvents);
  }
  for (std::size_t i = 0; i <= s.size(); i += 7) {
    for (std::size_t j = i; j <= s.size(); j += 5) {
      CAPTURE(i);
      CAPTURE(j);
      CHECK(run({s.substr(0, i), s.substr(i, j - i), s.substr(j)}) == kStreamEvents);
    }
  }
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < s.size(); ++i) bytes.push_back(s.substr(i, 1));
  CHECK(run(bytes) == kStreamEvents);
}

TEST_CASE("bad framing and what is answered") {
  struct Row {
    std::string input;
    std::vector<std::string> want;
  };
  const Row rows[] = {
      {"", {}},                                  // 1 clean close
      {"put=1\n\n", {"err:0"}},                  // 2 unknown op: close, no answer
      {"gex=1\n\n", {"err:0"}},                  // 3
      {"\n", {"err:0"}},                         // 4
      {"get=2\n\n", {"err:0"}},                  // 5
      {"get=1\r\n\n", {"err:0"}},                // 6 the op line is exact
      {"get=1\nx", {"err:-22"}},                 // 7 trailing character in get
      {"get=1\n", {"err:0"}},                    // 8 closed before the blank line
      {"ge", {"err:0"}},                         // 9 closed inside the op line
      {"set=1\nlisten_port=5\n", {"err:-5"}},    // 10 closed inside a set: nothing applied
      {"set=1\nlisten_port=5", {"err:-5"}},      // 11
      {"set=1\n", {"err:-5"}},                   // 12
      {"get=1\n\nbogus", {"get", "err:0"}},      // 13 good request, then garbage
      {"get=1\n\nget=1\n", {"get", "err:0"}},    // 14
      {"set=1\n\nset=1\n\n", {"set:", "set:"}},  // 15
      {"set=1\nlisten_port=5\n\nget", {"set:listen_port=5\n", "err:0"}},  // 16
      {"set=1\nno equals sign\n\n", {"set:no equals sign\n"}},            // 17 parser's job
  };
  int n = 0;
  for (const Row& r : rows) {
    CAPTURE(++n);
    CHECK(run({r.input}) == r.want);
  }
}

TEST_CASE("the framer is spent after an error") {
  RequestFramer framer;
  std::string_view data = "xyz get=1\n\n";
  auto event = framer.feed(data);
  REQUIRE(event.has_value());
  CHECK(describe(*event) == "err:0");
  CHECK_FALSE(std::get<FramingError>(*event).message.empty());
  auto again = framer.feed(data);
  CHECK_FALSE(again.has_value());
  CHECK(data.empty());
  CHECK_FALSE(framer.finish().has_value());
}

TEST_CASE("idle() is true only between requests") {
  RequestFramer framer;
  CHECK(framer.idle());
  std::string_view data = "get=1\n";
  CHECK_FALSE(framer.feed(data).has_value());
  CHECK_FALSE(framer.idle());
  data = "\ns";
  CHECK(framer.feed(data).has_value());
  CHECK(framer.idle());
  CHECK(data == "s");
  CHECK_FALSE(framer.feed(data).has_value());
  CHECK_FALSE(framer.idle());
}

TEST_CASE("a set line may be kMaxLineBytes long, not one more") {
  const std::string ok_line(RequestFramer::kMaxLineBytes, 'a');
  CHECK(run({"set=1\n" + ok_line + "\n\n"}) == std::vector<std::string>{"set:" + ok_line + "\n"});
  CHECK(run({"set=1\n" + ok_line + "a\n\n"}) == std::vector<std::string>{"err:-5"});
  // Also when the line arrives in pieces and without any newline at all.
  const std::string half(RequestFramer::kMaxLineBytes / 2 + 1, 'b');
  CHECK(run({"set=1\n", half, half}) == std::vector<std::string>{"err:-5"});
}

TEST_CASE("a set request may be kMaxRequestBytes long, not one more") {
  // Lines of 1023 bytes + '\n'; the total counts "set=1\n" and the blank line.
  const std::string line(1023, 'k');
  std::string request = "set=1\n";
  while (request.size() + 1024 + 1 <= RequestFramer::kMaxRequestBytes) request += line + "\n";
  const std::size_t pad = RequestFramer::kMaxRequestBytes - request.size() - 2;
  request += std::string(pad, 'p') + "\n\n";
  REQUIRE(request.size() == RequestFramer::kMaxRequestBytes);
  auto events = run({request});
  REQUIRE(events.size() == 1);
  CHECK(events[0].size() == RequestFramer::kMaxRequestBytes - 6 - 1 + 4);  // "set:" + body

  std::string too_long = request;
  too_long.insert(6, "x");
  CHECK(run({too_long}) == std::vector<std::string>{"err:-5"});
}

TEST_CASE("a flood of requests in one chunk is framed one at a time") {
  std::string flood;
  for (int i = 0; i < 10000; ++i) flood += "get=1\n\n";
  RequestFramer framer;
  std::string_view data = flood;
  int count = 0;
  while (auto event = framer.feed(data)) {
    CHECK(describe(*event) == "get");
    ++count;
    if (data.empty()) break;
  }
  CHECK(count == 10000);
}

}  // namespace
