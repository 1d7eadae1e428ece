// SPDX-License-Identifier: MIT
// Read path: read() into each buffer's read area until EAGAIN or the batch is full; drop what
// does not fit. Write path: one write() per packet, drop and count refusals.
#include "tun/queue.hpp"

#include <cerrno>
#include <unistd.h>

namespace tun {

namespace {
// Retries of one syscall interrupted by a signal before giving up on it.
constexpr int kMaxEintr = 8;

std::error_code errno_code(int err) {
  return std::error_code(err, std::system_category());
}
}  // namespace

bool is_fatal(const std::error_code& ec) noexcept {
  if (!ec || ec.category() != std::system_category()) return false;
  switch (ec.value()) {
    case EBADFD:      // the queue was detached: the interface is gone
    case EBADF:       // the fd was closed
    case ENODEV:      // no device behind the fd
    case ENXIO:       // same, older kernels
    case ECONNRESET:  // ChannelTun: the test closed its end (read)
    case EPIPE:       // ChannelTun: the test closed its end (write)
      return true;
    default:
      return false;
  }
}

std::size_t Queue::read_batch(std::span<base::PacketRef> out, std::error_code& ec) noexcept {
  ec.clear();
  std::size_t n = 0;
  std::size_t drops = 0;
  int eintr = 0;
  while (n < out.size() && out[n]) {
    base::PacketBuf& p = *out[n];
    const auto area = p.read_area();
    const ssize_t r = ::read(fd_, area.data(), area.size());
    if (r < 0) {
      const int err = errno;
      if (err == EINTR && ++eintr < kMaxEintr) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) break;
      stats_.read_errors.add();
      ec = errno_code(err);
      break;
    }
    if (r == 0) {
      // A TUN never returns 0; a socketpair end returns 0 once the other end is closed.
      ec = errno_code(ECONNRESET);
      break;
    }
    // A read that fills the buffer may have been cut short: a TUN read returns
    // min(packet length, buffer length), and so does a SOCK_SEQPACKET socket. Such a packet
    // is dropped: a whole packet must be shorter than the read area.
    if (static_cast<std::size_t>(r) >= area.size()) {
      stats_.read_dropped.add();
      if (++drops >= kMaxDropsPerBatch) break;
      continue;
    }
    p.set_size(static_cast<std::size_t>(r));
    stats_.bytes_read.add(static_cast<std::uint64_t>(r));
    ++n;
  }
  stats_.packets_read.add(n);
  return n;
}

bool Queue::write(base::ConstByteSpan packet, std::error_code& ec) noexcept {
  ec.clear();
  for (int i = 0; i < kMaxEintr; ++i) {
    const ssize_t r = ::write(fd_, packet.data(), packet.size());
    if (r >= 0) {
      stats_.packets_written.add();
      stats_.bytes_written.add(packet.size());
      return true;
    }
    if (errno != EINTR) {
      ec = errno_code(errno);
      break;
    }
    ec = errno_code(EINTR);
  }
  stats_.write_errors.add();
  return false;
}

std::size_t Queue::write_batch(std::span<const base::PacketRef> packets,
                               std::error_code& ec) noexcept {
  ec.clear();
  std::size_t written = 0;
  std::error_code err;
  for (const base::PacketRef& p : packets) {
    if (write(p->data(), err)) {
      ++written;
      continue;
    }
    ec = err;
    if (is_fatal(err)) break;
  }
  return written;
}

}  // namespace tun
