// SPDX-License-Identifier: MIT
// Fuzzes the config-socket framer and the set parser.
//
// Input: byte 0 picks a chunk size (1..256); the rest is the connection's byte stream.
// Checks, for every input:
// - framing does not depend on how the stream is split (whole vs. in chunks),
// - every set request that parses is formatted back to text, framed and parsed again, and
//   gives an equal SetRequest (and the same text when formatted a second time).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/request_framer.hpp"
#include "ipc/set_request.hpp"

namespace {

// "g", "s<body>" or "e<errno>" per event, then "f<...>" for finish().
std::vector<std::string> frame(std::string_view stream, std::size_t chunk) {
  ipc::RequestFramer framer;
  std::vector<std::string> events;
  auto record = [&events](const ipc::FramerEvent& event) {
    if (const auto* req = std::get_if<ipc::UapiRequest>(&event)) {
      events.push_back(req->op == ipc::UapiRequest::Op::get ? "g" : "s" + req->set_body);
    } else {
      events.push_back("e" + std::to_string(std::get<ipc::FramingError>(event).errno_value));
    }
  };
  while (!stream.empty()) {
    std::string_view piece = stream.substr(0, chunk);
    stream.remove_prefix(piece.size());
    while (!piece.empty()) {
      const std::size_t before = piece.size();
      if (auto event = framer.feed(piece)) record(*event);
      if (piece.size() >= before) std::abort();  // no progress: would hang a connection
    }
  }
  if (auto event = framer.finish()) record(*event);
  return events;
}

void check_round_trip(std::string_view body) {
  auto parsed = ipc::parse_set_request(body);
  if (!parsed.ok()) {
    if (parsed.error().message.empty()) std::abort();
    return;
  }
  const std::string text = ipc::format_set_request(*parsed);
  ipc::RequestFramer framer;
  std::string_view data = text;
  auto event = framer.feed(data);
  if (!event || !data.empty()) std::abort();
  const auto* req = std::get_if<ipc::UapiRequest>(&*event);
  if (req == nullptr || req->op != ipc::UapiRequest::Op::set) std::abort();
  auto again = ipc::parse_set_request(req->set_body);
  if (!again.ok() || !(*again == *parsed)) std::abort();
  if (ipc::format_set_request(*again) != text) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = static_cast<std::size_t>(data[0]) + 1;
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);

  const std::vector<std::string> whole = frame(stream, stream.size() + 1);
  if (frame(stream, chunk) != whole) std::abort();
  for (const std::string& event : whole) {
    if (event.front() == 's') check_round_trip(std::string_view(event).substr(1));
  }
  // The parser also takes bodies the framer would never produce (blank lines, no framing).
  check_round_trip(stream);
  return 0;
}
