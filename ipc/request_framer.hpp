// SPDX-License-Identifier: MIT
// Splits the byte stream of one config-socket connection into requests (fact sheet 12.2).
//
//   get=1\n\n                     a get request
//   set=1\n<lines>\n              a set request: lines end in '\n', the empty line ends it
//
// One connection may carry several requests in sequence. Framing errors, and what
// wireguard-go does with them (the caller answers `errno=<n>\n\n` when n != 0, then closes):
//
//   first line is neither get=1 nor set=1      close without an answer (wireguard-go logs and
//                                              closes); detected at the first wrong byte
//   get=1\n followed by a byte other than \n   -EINVAL
//   a set line longer than kMaxLineBytes       -EIO (Go's line scanner fails the read at 64 KiB)
//   a set request longer than kMaxRequestBytes -EIO (wireguard-go has no limit; ours bounds
//                                              memory: 16 MiB is about 40 times a setconf of
//                                              a thousand peers with ten allowed IPs each)
//   end of stream inside a set request         -EIO, nothing applied (wireguard-go would apply
//                                              the lines it got; all-or-nothing cannot)
//   end of stream inside get=1 or the op line  close without an answer
//
// Like Go's line scanner, a set line "\r\n" counts as the blank line that ends the request
// (the parser strips the '\r' of other lines).
//
// Memory: the framer holds at most one partial request (bounded by kMaxRequestBytes plus the
// op line); bytes after a complete request stay in the caller's buffer. Not thread safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace ipc {

struct UapiRequest {
  enum class Op : std::uint8_t { get, set };
  Op op = Op::get;
  // Set only: the lines after `set=1\n`, each ending in '\n', without the terminating blank
  // line; what parse_set_request() takes. Carries secrets.
  std::string set_body;
};

// The connection cannot go on after this: answer when errno_value != 0, then close.
struct FramingError {
  int errno_value = 0;  // negative errno to answer with; 0 = close without an answer
  std::string message;  // for the log; never contains request bytes beyond the op line
};

using FramerEvent = std::variant<UapiRequest, FramingError>;

class RequestFramer {
 public:
  static constexpr std::size_t kMaxRequestBytes = std::size_t{16} << 20;
  static constexpr std::size_t kMaxLineBytes = 65535;  // without the '\n'

  // Consumes bytes from the front of `data` up to the end of the first complete request or
  // framing error and returns it; returns nullopt when `data` was used up without completing
  // one (then `data` is empty). After a FramingError the framer is spent: later calls consume
  // everything and return nullopt.
  std::optional<FramerEvent> feed(std::string_view& data);

  // The peer closed its side. Returns nullopt when no request was under way, else the
  // FramingError for a truncated request. The framer is spent afterwards.
  std::optional<FramerEvent> finish();

  // True between requests (no byte of the next one seen yet).
  bool idle() const noexcept { return state_ == State::op && op_len_ == 0; }

 private:
  enum class State : std::uint8_t { op, get_end, set_body, failed };

  std::optional<FramerEvent> feed_op(std::string_view& data);
  std::optional<FramerEvent> feed_set_body(std::string_view& data);
  FramerEvent fail(int errno_value, std::string message);

  State state_ = State::op;
  char op_first_ = 0;         // 'g' or 's' once the first op byte is seen
  std::size_t op_len_ = 0;    // bytes of the op line seen so far
  std::string body_;          // set lines seen so far
  std::size_t line_len_ = 0;  // bytes of the current (unfinished) set line in body_
};

}  // namespace ipc
