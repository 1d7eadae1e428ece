// SPDX-License-Identifier: MIT
#include "ipc/request_framer.hpp"

#include <utility>

#include "ipc/uapi_text.hpp"

namespace ipc {

namespace {
// Both operations are six bytes and share everything after the first one.
constexpr std::string_view kGetOp = "get=1\n";
constexpr std::string_view kSetOp = "set=1\n";
static_assert(kGetOp.size() == kSetOp.size() && kGetOp.substr(1) == kSetOp.substr(1));
}  // namespace

FramerEvent RequestFramer::fail(int errno_value, std::string message) {
  state_ = State::failed;
  body_.clear();
  body_.shrink_to_fit();
  return FramingError{errno_value, std::move(message)};
}

std::optional<FramerEvent> RequestFramer::feed(std::string_view& data) {
  while (!data.empty()) {
    switch (state_) {
      case State::op:
        if (auto event = feed_op(data)) return event;
        break;
      case State::get_end: {
        const char c = data.front();
        data.remove_prefix(1);
        if (c != '\n') {
          return fail(-kErrnoInvalid,
                      "trailing character in UAPI get: " + quote_for_log(std::string_view(&c, 1)));
        }
        state_ = State::op;
        op_len_ = 0;
        return UapiRequest{UapiRequest::Op::get, {}};
      }
      case State::set_body:
        if (auto event = feed_set_body(data)) return event;
        break;
      case State::failed:
        data = {};
        return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<FramerEvent> RequestFramer::feed_op(std::string_view& data) {
  while (!data.empty() && op_len_ < kGetOp.size()) {
    const char c = data.front();
    const bool ok = op_len_ == 0 ? (c == kGetOp[0] || c == kSetOp[0]) : c == kGetOp[op_len_];
    if (!ok) {
      // Report what was seen of the line, as wireguard-go logs the invalid operation.
      std::string seen(op_len_ == 0 ? "" : (op_first_ == 'g' ? kGetOp : kSetOp).substr(0, op_len_));
      seen += c;
      data.remove_prefix(1);
      return fail(0, "invalid UAPI operation starting " + quote_for_log(seen));
    }
    if (op_len_ == 0) op_first_ = c;
    ++op_len_;
    data.remove_prefix(1);
  }
  if (op_len_ == kGetOp.size()) {
    op_len_ = 0;
    if (op_first_ == 'g') {
      state_ = State::get_end;
    } else {
      state_ = State::set_body;
      body_.clear();
      line_len_ = 0;
    }
  }
  return std::nullopt;
}

std::optional<FramerEvent> RequestFramer::feed_set_body(std::string_view& data) {
  while (!data.empty()) {
    const auto nl = data.find('\n');
    const std::size_t take = nl == std::string_view::npos ? data.size() : nl;
    if (line_len_ + take > kMaxLineBytes) {
      data = {};
      return fail(-kErrnoIo, "set line longer than " + std::to_string(kMaxLineBytes) + " bytes");
    }
    // Every byte of the request so far, "set=1\n" and this line's '\n' included.
    const std::size_t total =
        kSetOp.size() + body_.size() + take + (nl == std::string_view::npos ? 0 : 1);
    if (total > kMaxRequestBytes) {
      data = {};
      return fail(-kErrnoIo,
                  "set request longer than " + std::to_string(kMaxRequestBytes) + " bytes");
    }
    body_.append(data.substr(0, take));
    line_len_ += take;
    if (nl == std::string_view::npos) {
      data = {};
      return std::nullopt;
    }
    data.remove_prefix(nl + 1);
    const bool blank = line_len_ == 0 || (line_len_ == 1 && body_.back() == '\r');
    if (blank) {
      body_.resize(body_.size() - line_len_);
      state_ = State::op;
      op_len_ = 0;
      line_len_ = 0;
      return UapiRequest{UapiRequest::Op::set, std::exchange(body_, {})};
    }
    body_ += '\n';
    line_len_ = 0;
  }
  return std::nullopt;
}

std::optional<FramerEvent> RequestFramer::finish() {
  switch (state_) {
    case State::op:
      if (op_len_ == 0) {
        state_ = State::failed;
        return std::nullopt;
      }
      return fail(0, "connection closed inside the operation line");
    case State::get_end:
      return fail(0, "connection closed after get=1 without its blank line");
    case State::set_body:
      return fail(-kErrnoIo,
                  "connection closed before the blank line ending the set request; "
                  "nothing applied");
    case State::failed:
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace ipc
