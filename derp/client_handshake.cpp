// SPDX-License-Identifier: MIT
#include "derp/client_handshake.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "derp/frame.hpp"

namespace derp {

namespace {
// HTTP header names compare ignoring ASCII case.
bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}
}  // namespace
namespace {

base::Error fail(std::string what) {
  return base::make_error(std::errc::protocol_error, std::move(what));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

std::string upgrade_request_text(const UpgradeRequest& req) {
  std::string out;
  out.reserve(160 + req.host.size());
  out += "GET " + req.path + " HTTP/1.1\r\n";
  out += "Host: " + req.host + "\r\n";
  out += "User-Agent: Go-http-client/1.1\r\n";
  out += "Connection: Upgrade\r\n";
  out += "Upgrade: DERP\r\n";
  if (!req.ideal_node.empty()) out += "Ideal-Node: " + req.ideal_node + "\r\n";
  if (req.fast_start) out += "Derp-Fast-Start: 1\r\n";
  out += "\r\n";
  return out;
}

base::Result<std::optional<UpgradeResponse>> parse_upgrade_response(std::string_view buf) {
  // Lines end in "\n" with an optional "\r" before it, as Go's HTTP client accepts.
  std::size_t pos = 0;
  std::size_t line_no = 0;
  UpgradeResponse r;
  for (;;) {
    const std::size_t nl = buf.find('\n', pos);
    if (nl == std::string_view::npos) {
      if (buf.size() > kMaxResponseHeadLen) return fail("HTTP response head too long");
      return std::optional<UpgradeResponse>{};
    }
    if (nl + 1 > kMaxResponseHeadLen) return fail("HTTP response head too long");
    std::string_view line = buf.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = nl + 1;
    if (line_no++ == 0) {
      // "HTTP/1.1 101 Switching Protocols"
      if (!line.starts_with("HTTP/1.")) return fail("not an HTTP/1 response");
      const std::size_t sp = line.find(' ');
      if (sp == std::string_view::npos || line.size() < sp + 4) return fail("bad status line");
      const std::string_view code = line.substr(sp + 1, 3);
      int status = 0;
      const auto res = std::from_chars(code.data(), code.data() + code.size(), status);
      if (res.ec != std::errc() || res.ptr != code.data() + 3 || status < 100 || status > 999) {
        return fail("bad status code");
      }
      r.status = status;
      continue;
    }
    if (line.empty()) {
      r.head_len = pos;
      return std::optional<UpgradeResponse>(std::move(r));
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return fail("bad HTTP header line");
    const std::string_view name = trim(line.substr(0, colon));
    if (iequals(name, "Derp-Public-Key")) {
      r.derp_public_key = std::string(trim(line.substr(colon + 1)));
    }
  }
}

ClientHandshake::ClientHandshake(base::NodePrivateKey key, ClientInfo info,
                                 std::optional<base::NodePublicKey> fast_start_key)
    : key_(std::move(key)), info_(std::move(info)) {
  if (fast_start_key) {
    server_key_ = *fast_start_key;
    state_ = State::done;
  }
}

base::Bytes ClientHandshake::initial_bytes(UpgradeRequest req) const {
  req.fast_start = state_ == State::done;
  const std::string text = upgrade_request_text(req);
  base::Bytes out(base::as_bytes(text).begin(), base::as_bytes(text).end());
  if (req.fast_start) encode_client_info(out, client_info_payload(key_, server_key_, info_));
  return out;
}

base::Result<base::Bytes> ClientHandshake::feed(base::ConstByteSpan in) {
  buf_.insert(buf_.end(), in.begin(), in.end());
  if (state_ == State::done) return base::Bytes{};
  if (state_ == State::http_response) {
    auto head = parse_upgrade_response(base::as_chars(buf_));
    if (!head) return head.error();
    if (!head->has_value()) return base::Bytes{};
    http_status_ = (*head)->status;
    if (http_status_ != 101) {
      return fail("DERP upgrade refused: HTTP status " + std::to_string(http_status_));
    }
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>((*head)->head_len));
    state_ = State::server_key;
  }
  // state_ == server_key: one frame of type ServerKey, at most 1024 bytes, >= 40 with magic.
  if (buf_.size() < kFrameHeaderLen) return base::Bytes{};
  const FrameHeader h =
      read_frame_header(std::span<const std::byte, kFrameHeaderLen>(buf_.data(), kFrameHeaderLen));
  if (h.type != static_cast<std::uint8_t>(FrameType::server_key)) {
    return fail("invalid server greeting: first frame is " + std::string(frame_type_name(h.type)));
  }
  if (h.length > kMaxServerKeyFrameLen || h.length < kServerKeyLen) {
    return fail("invalid server greeting: bad ServerKey length");
  }
  if (buf_.size() < kFrameHeaderLen + h.length) return base::Bytes{};
  const base::ConstByteSpan payload(buf_.data() + kFrameHeaderLen, h.length);
  if (!base::equal_bytes(payload.first(kMagicLen), kMagic)) {
    return fail("invalid server greeting: bad magic");
  }
  server_key_ = base::NodePublicKey(base::KeySpan(payload.subspan(kMagicLen, kKeyLen)));
  buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(kFrameHeaderLen + h.length));
  state_ = State::done;
  base::Bytes out;
  encode_client_info(out, client_info_payload(key_, server_key_, info_));
  return out;
}

}  // namespace derp
