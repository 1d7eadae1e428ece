// SPDX-License-Identifier: MIT
// FrameReader: splits a DERP byte stream into frames, checking each header against a limit
// table before anything is allocated.
//
// feed(bytes, on_frame) consumes every byte it is given. Whole frames inside `bytes` are
// handed to on_frame(type, payload) without copying; a frame cut by the end of `bytes` is
// copied into a buffer of exactly its length, allocated when its header arrives and freed
// once it has been delivered, so an idle reader holds no buffer. Frames whose limit says
// `skip` are discarded as they stream past, never buffered, whatever their length.
//
// The limit table is asked per header with the current handshake state; on_frame may call
// set_handshake_done() and the next header in the same feed() sees the new state.
//
// Errors: a rejected type, a length over the limit, or on_frame returning false end the
// stream; the reader must not be fed again afterwards. Not thread safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "derp/frame.hpp"

namespace derp {

class FrameReader {
 public:
  using LimitFn = ReadLimit (*)(std::uint8_t type, bool handshake_done) noexcept;

  explicit FrameReader(LimitFn limits) noexcept : limits_(limits) {}
  FrameReader(const FrameReader&) = delete;
  FrameReader& operator=(const FrameReader&) = delete;

  void set_handshake_done(bool done) noexcept { handshake_done_ = done; }
  bool handshake_done() const noexcept { return handshake_done_; }
  // True between frames (nothing partial is held).
  bool at_frame_boundary() const noexcept { return mode_ == Mode::header && hdr_len_ == 0; }
  // Bytes held for a frame not yet complete (0 when idle).
  std::size_t buffered_bytes() const noexcept { return buf_ ? len_ : hdr_len_; }

  // on_frame: bool(std::uint8_t type, ConstByteSpan payload); the payload is borrowed for the
  // duration of the call. Returns false to stop (feed then returns an error).
  template <class OnFrame>
  base::Status feed(ConstByteSpan in, OnFrame&& on_frame);

 private:
  enum class Mode : std::uint8_t { header, filling, skipping };

  // Parses hdr_ and sets mode_; false (with error_) when the limit refuses it.
  bool start_frame() noexcept;

  LimitFn limits_;
  std::unique_ptr<std::byte[]> buf_;  // only while a cut frame is being filled
  std::uint32_t len_ = 0;             // current frame's payload length
  std::uint32_t done_ = 0;            // bytes filled or skipped so far
  std::byte hdr_[kFrameHeaderLen]{};
  std::uint8_t hdr_len_ = 0;
  std::uint8_t type_ = 0;
  Mode mode_ = Mode::header;
  bool handshake_done_ = false;
  const char* error_ = nullptr;
};

template <class OnFrame>
base::Status FrameReader::feed(ConstByteSpan in, OnFrame&& on_frame) {
  auto fail = [](const char* why) -> base::Status {
    return base::make_error(std::errc::protocol_error, why != nullptr ? why : "bad frame");
  };
  for (;;) {
    switch (mode_) {
      case Mode::header: {
        if (hdr_len_ == 0 && in.size() >= kFrameHeaderLen) {
          std::copy_n(in.begin(), kFrameHeaderLen, hdr_);
          in = in.subspan(kFrameHeaderLen);
        } else {
          if (in.empty()) return {};
          const std::size_t n = std::min<std::size_t>(kFrameHeaderLen - hdr_len_, in.size());
          std::copy_n(in.begin(), n, hdr_ + hdr_len_);
          hdr_len_ = static_cast<std::uint8_t>(hdr_len_ + n);
          in = in.subspan(n);
          if (hdr_len_ < kFrameHeaderLen) return {};
        }
        hdr_len_ = 0;
        if (!start_frame()) return fail(error_);
        if (mode_ == Mode::header) {  // deliverable: whole payload present?
          if (in.size() >= len_) {
            if (!on_frame(type_, in.first(len_))) return fail("frame handler stopped");
            in = in.subspan(len_);
            continue;
          }
          buf_ = std::make_unique_for_overwrite<std::byte[]>(len_);
          mode_ = Mode::filling;
          done_ = 0;
        }
        continue;
      }
      case Mode::filling: {
        if (in.empty()) return {};
        const std::size_t n = std::min<std::size_t>(len_ - done_, in.size());
        std::copy_n(in.begin(), n, buf_.get() + done_);
        done_ += static_cast<std::uint32_t>(n);
        in = in.subspan(n);
        if (done_ < len_) return {};
        mode_ = Mode::header;
        auto owned = std::move(buf_);
        if (!on_frame(type_, ConstByteSpan(owned.get(), len_))) {
          return fail("frame handler stopped");
        }
        continue;
      }
      case Mode::skipping: {
        const std::size_t n = std::min<std::size_t>(len_ - done_, in.size());
        done_ += static_cast<std::uint32_t>(n);
        in = in.subspan(n);
        if (done_ < len_) return {};
        mode_ = Mode::header;
        continue;
      }
    }
  }
}

}  // namespace derp
