// SPDX-License-Identifier: MIT
// Plain read path: read() into each buffer's read area until EAGAIN or the batch is full;
// drop what does not fit. Plain write path: one write() per packet, drop and count refusals.
// Offload paths: see queue.hpp.
#include "tun/queue.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <unistd.h>

#include <sys/uio.h>

#include "base/log.hpp"
#include "tun/checksum.hpp"
#include "tun/headers.hpp"

namespace tun {

namespace {
// Retries of one syscall interrupted by a signal before giving up on it.
constexpr int kMaxEintr = 8;

std::error_code errno_code(int err) {
  return std::error_code(err, std::system_category());
}

const std::byte kZeroVnetHdr[VnetHdr::kSize] = {};

// The module logger, looked up once: base::logger() allocates and locks on every call.
const base::Logger& log() {
  static const base::Logger lg = base::logger("tun");
  return lg;
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

struct Queue::OffloadState {
  // Room in front of the scratch tail for the part of a super-packet that landed in the
  // caller's first buffer, so the whole super-packet can be made contiguous.
  static constexpr std::size_t kLead = 4096;
  static constexpr std::size_t kTailCap = kMaxSuperPacket + 1;  // +1: a full read means "cut"

  std::unique_ptr<std::byte[]> scratch{new std::byte[kLead + kTailCap]};
  // A super-packet being handed out, segment by segment.
  bool pending = false;
  GsoPlan plan;
  std::size_t start = 0;  // in scratch
  std::size_t next = 0;   // next segment to hand out
  // Write side.
  GroTable gro;
  std::array<std::byte, GroTable::kMaxHeader> hdr{};
  std::array<base::ConstByteSpan, GroTable::kMaxPackets> spans;
  std::array<iovec, GroTable::kMaxPackets + 2> iov{};

  base::ConstByteSpan super() const noexcept { return {scratch.get() + start, plan.total_len}; }
};

Queue::Queue(int fd, const Offloads& offloads) : fd_(fd), offloads_(offloads) {
  if (offloads_.vnet_hdr) off_ = std::make_unique<OffloadState>();
}

Queue::~Queue() = default;

bool Queue::has_pending() const noexcept {
  return off_ && off_->pending;
}

std::size_t Queue::read_batch(std::span<base::PacketRef> out, std::error_code& ec) noexcept {
  ec.clear();
  const std::size_t n = offloads_.vnet_hdr ? read_vnet(out, ec) : read_plain(out, ec);
  stats_.packets_read.add(n);
  return n;
}

std::size_t Queue::read_plain(std::span<base::PacketRef> out, std::error_code& ec) noexcept {
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
  return n;
}

std::size_t Queue::emit_pending(std::span<base::PacketRef> out) noexcept {
  OffloadState& s = *off_;
  std::size_t k = 0;
  while (s.pending && k < out.size() && out[k]) {
    const auto area = out[k]->read_area();
    const std::size_t len = s.plan.segment_length(s.next);
    if (len >= area.size()) {  // a smaller buffer than the one checked: drop the rest
      s.pending = false;
      stats_.read_dropped.add();
      break;
    }
    write_segment(s.plan, s.super(), s.next, area);
    out[k]->set_size(len);
    stats_.bytes_read.add(len);
    ++k;
    if (++s.next == s.plan.segments) s.pending = false;
  }
  return k;
}

std::size_t Queue::read_vnet(std::span<base::PacketRef> out, std::error_code& ec) noexcept {
  OffloadState& s = *off_;
  std::size_t n = emit_pending(out);
  std::size_t drops = 0;
  int eintr = 0;
  while (!s.pending && n < out.size() && out[n]) {
    base::PacketBuf& p = *out[n];
    const auto area = p.read_area();
    const std::size_t lead = std::min(area.size(), OffloadState::kLead);
    std::byte vh[VnetHdr::kSize];
    std::byte* tail = s.scratch.get() + OffloadState::kLead;
    iovec iov[3] = {{vh, sizeof vh}, {area.data(), lead}, {tail, OffloadState::kTailCap}};
    const ssize_t r = ::readv(fd_, iov, 3);
    if (r < 0) {
      const int err = errno;
      if (err == EINTR && ++eintr < kMaxEintr) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) break;
      stats_.read_errors.add();
      ec = errno_code(err);
      break;
    }
    if (r == 0) {
      ec = errno_code(ECONNRESET);
      break;
    }
    const auto drop = [&] {
      stats_.read_dropped.add();
      return ++drops >= kMaxDropsPerBatch;
    };
    const auto got = static_cast<std::size_t>(r);
    if (got < VnetHdr::kSize || got - VnetHdr::kSize >= lead + OffloadState::kTailCap) {
      if (drop()) break;
      continue;
    }
    const std::size_t len = got - VnetHdr::kSize;
    const VnetHdr h = VnetHdr::load(vh);
    if (h.gso_type == VnetHdr::kGsoNone) {
      if (len >= lead || len >= area.size()) {  // spilled past the buffer
        if (drop()) break;
        continue;
      }
      const auto pkt = area.first(len);
      if ((h.flags & VnetHdr::kNeedsCsum) != 0) {
        if (complete_checksum(h, pkt) != OffloadError::none) {
          if (drop()) break;
          continue;
        }
        stats_.csum_completed.add();
      }
      p.set_size(len);
      stats_.bytes_read.add(len);
      ++n;
      continue;
    }
    // A super-packet: join the part in the caller's buffer to the part in the scratch.
    const std::size_t head = std::min(len, lead);
    s.start = OffloadState::kLead - head;
    std::memcpy(s.scratch.get() + s.start, area.data(), head);
    const OffloadError err =
        plan_gso(h, base::ConstByteSpan(s.scratch.get() + s.start, len), s.plan);
    if (err != OffloadError::none || s.plan.max_segment_length() >= area.size()) {
      MT_LOG_EVERY(log(), std::chrono::seconds(10), spdlog::level::debug,
                   "dropped super-packet err={} len={} gso_size={}", to_string(err), len,
                   h.gso_size);
      if (drop()) break;
      continue;
    }
    s.pending = true;
    s.next = 0;
    stats_.gso_read.add();
    n += emit_pending(out.subspan(n));
  }
  return n;
}

int Queue::writev_all(const iovec* iov, int count) noexcept {
  for (int i = 0; i < kMaxEintr; ++i) {
    if (::writev(fd_, iov, count) >= 0) return 0;
    if (errno != EINTR) return errno;
  }
  return EINTR;
}

bool Queue::write_with_header(base::ConstByteSpan packet, std::error_code& ec) noexcept {
  const iovec iov[2] = {{const_cast<std::byte*>(kZeroVnetHdr), VnetHdr::kSize},
                        {const_cast<std::byte*>(packet.data()), packet.size()}};
  const int err = writev_all(iov, 2);
  if (err == 0) {
    stats_.packets_written.add();
    stats_.bytes_written.add(packet.size());
    return true;
  }
  ec = errno_code(err);
  stats_.write_errors.add();
  return false;
}

bool Queue::write(base::ConstByteSpan packet, std::error_code& ec) noexcept {
  ec.clear();
  if (offloads_.vnet_hdr) return write_with_header(packet, ec);
  const iovec iov{const_cast<std::byte*>(packet.data()), packet.size()};
  const int err = writev_all(&iov, 1);
  if (err == 0) {
    stats_.packets_written.add();
    stats_.bytes_written.add(packet.size());
    return true;
  }
  ec = errno_code(err);
  stats_.write_errors.add();
  return false;
}

std::size_t Queue::write_batch(std::span<const base::PacketRef> packets,
                               std::error_code& ec) noexcept {
  ec.clear();
  std::size_t written = 0;
  if (offloads_.vnet_hdr) {
    while (!packets.empty()) {
      const std::size_t n = std::min(packets.size(), GroTable::kMaxPackets);
      std::error_code err;
      written += write_vnet(packets.first(n), err);
      if (err) ec = err;
      if (is_fatal(err)) break;
      packets = packets.subspan(n);
    }
    return written;
  }
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

std::size_t Queue::write_vnet(std::span<const base::PacketRef> packets,
                              std::error_code& ec) noexcept {
  OffloadState& s = *off_;
  for (std::size_t i = 0; i < packets.size(); ++i) s.spans[i] = packets[i]->data();
  const GroOptions opts{offloads_.tso && gro_.tcp, offloads_.uso && gro_.udp};
  s.gro.plan(std::span(s.spans.data(), packets.size()), opts);
  std::size_t written = 0;
  std::error_code err;
  for (std::size_t g = 0; g < s.gro.group_count(); ++g) {
    if (s.gro.packet_count(g) == 1) {
      if (write_with_header(s.spans[s.gro.first_packet(g)], err)) {
        ++written;
      } else {
        ec = err;
        if (is_fatal(err)) return written;
      }
      continue;
    }
    const bool tcp_group = s.gro.gso_type(g) != VnetHdr::kGsoUdpL4;
    if (!(tcp_group ? gro_.tcp : gro_.udp)) {
      // Merging of this kind was switched off earlier in this batch (a refused write).
      for (std::uint16_t i = s.gro.first_packet(g); i != GroTable::kEnd; i = s.gro.next_packet(i)) {
        if (write_with_header(s.spans[i], err)) {
          ++written;
        } else {
          ec = err;
          if (is_fatal(err)) return written;
        }
      }
      continue;
    }
    const std::size_t hl = s.gro.build_header(g, s.hdr);
    s.iov[0] = {s.hdr.data(), hl};
    int count = 1;
    std::size_t bytes = 0;
    for (std::uint16_t i = s.gro.first_packet(g); i != GroTable::kEnd; i = s.gro.next_packet(i)) {
      const auto payload = s.spans[i].subspan(s.gro.payload_offset(i));
      s.iov[static_cast<std::size_t>(count++)] = {const_cast<std::byte*>(payload.data()),
                                                  payload.size()};
      bytes += s.spans[i].size();
    }
    const int rc = writev_all(s.iov.data(), count);
    const std::size_t members = s.gro.packet_count(g);
    if (rc == 0) {
      written += members;
      stats_.packets_written.add(members);
      stats_.bytes_written.add(bytes);
      stats_.gso_written.add();
      stats_.packets_merged.add(members);
      continue;
    }
    if (rc == EINVAL) {
      // The kernel refuses merged writes of this kind: stop merging them, send one by one.
      const bool tcp = tcp_group;
      (tcp ? gro_.tcp : gro_.udp) = false;
      stats_.gro_disabled.add();
      log()->warn(
          "tun write refused a merged {} packet (EINVAL); {} GRO off for "
          "this queue",
          tcp ? "TCP" : "UDP", tcp ? "TCP" : "UDP");
      for (std::uint16_t i = s.gro.first_packet(g); i != GroTable::kEnd; i = s.gro.next_packet(i)) {
        if (write_with_header(s.spans[i], err)) {
          ++written;
        } else {
          ec = err;
          if (is_fatal(err)) return written;
        }
      }
      continue;
    }
    stats_.write_errors.add(members);
    ec = errno_code(rc);
    if (is_fatal(ec)) return written;
  }
  return written;
}

bool Queue::probe_tcp_gso_write(std::error_code& ec) noexcept {
  ec.clear();
  if (!offloads_.vnet_hdr || !offloads_.tso) {
    ec = std::make_error_code(std::errc::operation_not_supported);
    return false;
  }
  // Two segments, gso_size 100, the second 50 bytes: IPv4 127.0.0.1 -> 127.0.0.1, TTL 0.
  constexpr std::size_t kGso = 100;
  constexpr std::size_t kHdr = hdr::kIpv4MinLen + hdr::kTcpMinLen;
  constexpr std::size_t kTotal = kHdr + kGso + kGso / 2;
  std::array<std::byte, VnetHdr::kSize + kTotal> b{};
  VnetHdr v;
  v.flags = VnetHdr::kNeedsCsum;
  v.gso_type = VnetHdr::kGsoTcpV4;
  v.hdr_len = kHdr;
  v.gso_size = kGso;
  v.csum_start = hdr::kIpv4MinLen;
  v.csum_offset = VnetHdr::kTcpCsumOffset;
  v.store(b);
  const auto ip = base::ByteSpan(b).subspan(VnetHdr::kSize);
  ip[hdr::kIpv4VersionIhl] = std::byte{0x45};
  base::store_be16(ip.subspan(hdr::kIpv4TotalLen), kTotal);
  base::store_be16(ip.subspan(hdr::kIpv4FlagsFrag), hdr::kIpv4FlagDf);
  ip[hdr::kIpv4Ttl] = std::byte{0};
  ip[hdr::kIpv4Protocol] = std::byte{kProtoTcp};
  base::store_be32(ip.subspan(hdr::kIpv4Src), 0x7f000001);
  base::store_be32(ip.subspan(hdr::kIpv4Dst), 0x7f000001);
  set_ipv4_header_checksum(ip.first(hdr::kIpv4MinLen));
  const auto tcp = ip.subspan(hdr::kIpv4MinLen);
  base::store_be16(tcp, 9);                         // source port (discard)
  base::store_be16(tcp.subspan(hdr::kDstPort), 9);  // destination port
  tcp[hdr::kTcpDataOffset] = std::byte{0x50};
  tcp[hdr::kTcpFlags] = std::byte{hdr::kTcpAckFlag};
  base::store_be16(tcp.subspan(14), 65535);
  base::store_be16(tcp.subspan(hdr::kTcpChecksum),
                   pseudo_header_sum(ip.subspan(hdr::kIpv4Src, 4), ip.subspan(hdr::kIpv4Dst, 4),
                                     kProtoTcp, kTotal - hdr::kIpv4MinLen));
  const iovec iov{b.data(), b.size()};
  const int rc = writev_all(&iov, 1);
  if (rc == 0) return true;
  ec = errno_code(rc);
  if (rc == EINVAL) {
    gro_.tcp = false;
    stats_.gro_disabled.add();
    log()->warn(
        "kernel refuses merged TCP writes with a short last segment "
        "(fact sheet 13.6); TCP GRO off for this queue");
  }
  return false;
}

}  // namespace tun
