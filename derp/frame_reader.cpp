// SPDX-License-Identifier: MIT
#include "derp/frame_reader.hpp"

namespace derp {

bool FrameReader::start_frame() noexcept {
  const FrameHeader h = read_frame_header(std::span<const std::byte, kFrameHeaderLen>(hdr_));
  const ReadLimit lim = limits_(h.type, handshake_done_);
  type_ = h.type;
  len_ = h.length;
  done_ = 0;
  switch (lim.action) {
    case ReadLimit::Action::reject:
      error_ = handshake_done_ ? "frame type not allowed" : "unexpected frame type in handshake";
      return false;
    case ReadLimit::Action::skip:
      if (h.length > lim.max_len) {
        error_ = "frame length over the limit";
        return false;
      }
      mode_ = Mode::skipping;  // even when empty: mode header means "deliver"
      return true;
    case ReadLimit::Action::deliver:
      if (h.length > lim.max_len) {
        error_ = "frame length over the limit";
        return false;
      }
      mode_ = Mode::header;  // feed() delivers in place or starts filling
      return true;
  }
  error_ = "bad limit";
  return false;
}

}  // namespace derp
