// SPDX-License-Identifier: MIT
// UdpSocket::recv_batch.
//
// Plain: one recvmmsg per batch straight into the buffers' read areas; pktinfo parsed per
// datagram; truncated datagrams compacted out.
//
// GRO: (1) hand out datagrams kept from the previous call; (2) recvmmsg into at most
// kGroSlots messages, each landing in [caller's buffer | 64 KiB scratch tail], sized by how
// many datagrams the last coalesced buffers held; (3) per message, in order: a plain datagram
// stays in its buffer; a coalesced one is made contiguous in its scratch slot (the part in
// the buffer is copied in front of the tail), keeps its first datagram in its buffer and
// copies the others into the spare buffers of the batch; (4) when the spares run out, the
// rest of that message and every later message wait in the scratch for the next call, so
// the order of datagrams never changes.
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include <netinet/udp.h>

#include "net/pktinfo.hpp"
#include "net/udp_socket.hpp"
#include "net/udp_socket_internal.hpp"

namespace net {

namespace {

// Fills meta from a received message; returns the UDP_GRO segment size (0 if none).
std::size_t parse_message(msghdr& h, RecvMeta& m) noexcept {
  m = RecvMeta{};
  if (auto src =
          base::Endpoint::from_sockaddr(static_cast<const sockaddr*>(h.msg_name), h.msg_namelen)) {
    m.source = *src;
  }
  std::size_t gso = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
    if (read_pktinfo(*c, m.local, m.ifindex)) {
      continue;
    }
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
        c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int v = 0;  // an int, not the u16 of UDP_SEGMENT
      std::memcpy(&v, CMSG_DATA(c), sizeof v);
      if (v > 0) gso = static_cast<std::size_t>(v);
    }
  }
  return gso;
}

// Counts one recvmmsg call's outcome; returns false (and sets ec) on a real error.
bool recvmmsg_ok(int r, UdpStats& stats, std::error_code& ec) noexcept {
  stats.receive_syscalls.fetch_add(1, std::memory_order_relaxed);
  if (r >= 0) return true;
  const int err = errno;
  if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR) {
    stats.receive_errors.fetch_add(1, std::memory_order_relaxed);
    ec = detail::sys_code(err);
  }
  return false;
}

int do_recvmmsg(int fd, mmsghdr* msgs, std::size_t n) noexcept {
  int r = -1;
  for (int tries = 0; tries < detail::kMaxEintr; ++tries) {
    r = ::recvmmsg(fd, msgs, static_cast<unsigned>(n), MSG_DONTWAIT, nullptr);
    if (r >= 0 || errno != EINTR) break;
  }
  return r;
}

void prepare(UdpSocket::State& s, std::size_t i, base::ByteSpan first, base::ByteSpan second) {
  s.iov[2 * i] = {first.data(), first.size()};
  s.iov[2 * i + 1] = {second.data(), second.size()};
  msghdr& h = s.msgs[i].msg_hdr;
  h.msg_name = &s.names[i];
  h.msg_namelen = sizeof(sockaddr_storage);
  h.msg_iov = &s.iov[2 * i];
  h.msg_iovlen = second.empty() ? 1 : 2;
  h.msg_control = s.ctrl[i].b;
  h.msg_controllen = detail::kCtrlLen;
  h.msg_flags = 0;
  s.msgs[i].msg_len = 0;
}

}  // namespace

std::size_t UdpSocket::recv_batch(std::span<base::PacketRef> bufs, std::span<RecvMeta> meta,
                                  std::error_code& ec) noexcept {
  ec.clear();
  std::size_t n = std::min({bufs.size(), meta.size(), kMaxBatch});
  for (std::size_t i = 0; i < n; ++i) {
    if (!bufs[i]) {
      n = i;
      break;
    }
  }
  if (n == 0) return 0;
  return st_->gro_on ? recv_gro(bufs.first(n), meta.first(n), ec)
                     : recv_plain(bufs.first(n), meta.first(n), ec);
}

std::size_t UdpSocket::recv_plain(std::span<base::PacketRef> bufs, std::span<RecvMeta> meta,
                                  std::error_code& ec) noexcept {
  State& s = *st_;
  const std::size_t n = bufs.size();
  for (std::size_t i = 0; i < n; ++i) prepare(s, i, bufs[i]->read_area(), {});
  const int r = do_recvmmsg(fd_, s.msgs.data(), n);
  if (!recvmmsg_ok(r, s.stats, ec)) return 0;
  std::size_t out = 0;
  std::uint64_t bytes = 0;
  std::uint64_t dropped = 0;
  for (std::size_t i = 0; i < static_cast<std::size_t>(r); ++i) {
    msghdr& h = s.msgs[i].msg_hdr;
    if ((h.msg_flags & MSG_TRUNC) != 0) {
      ++dropped;
      continue;
    }
    parse_message(h, meta[out]);
    bufs[i]->set_size(s.msgs[i].msg_len);
    bytes += s.msgs[i].msg_len;
    if (out != i) std::swap(bufs[out], bufs[i]);
    ++out;
  }
  s.stats.datagrams_received.fetch_add(out, std::memory_order_relaxed);
  s.stats.bytes_received.fetch_add(bytes, std::memory_order_relaxed);
  if (dropped != 0) s.stats.receive_dropped.fetch_add(dropped, std::memory_order_relaxed);
  return out;
}

std::size_t UdpSocket::recv_gro(std::span<base::PacketRef> bufs, std::span<RecvMeta> meta,
                                std::error_code& ec) noexcept {
  State& s = *st_;
  const std::size_t n = bufs.size();
  std::size_t w = 0;  // next output slot
  std::uint64_t bytes = 0;
  std::uint64_t dropped = 0;

  // Copies one datagram of pending entry p into `b`; false if it does not fit (dropped).
  auto copy_out = [&](const State::Pending& p, base::PacketBuf& b) {
    const std::size_t len = std::min(p.seg, p.len - p.next);
    const auto area = b.read_area();
    if (len >= area.size()) return false;
    std::memcpy(area.data(), s.gro_scratch.get() + p.start + p.next, len);
    b.set_size(len);
    bytes += len;
    return true;
  };

  // (1) What the previous call could not hand out.
  while (s.pending_count > 0 && w < n) {
    State::Pending& p = s.pending[s.pending_first];
    if (copy_out(p, *bufs[w])) {
      meta[w++] = p.meta;
    } else {
      ++dropped;
    }
    p.next += p.seg;
    if (p.next >= p.len) {
      s.pending_first = (s.pending_first + 1) % detail::kGroSlots;
      --s.pending_count;
    }
  }
  std::uint64_t coalesced = 0;
  auto finish = [&] {
    s.stats.datagrams_received.fetch_add(w, std::memory_order_relaxed);
    s.stats.bytes_received.fetch_add(bytes, std::memory_order_relaxed);
    if (coalesced != 0) s.stats.gro_buffers.fetch_add(coalesced, std::memory_order_relaxed);
    if (dropped != 0) s.stats.receive_dropped.fetch_add(dropped, std::memory_order_relaxed);
    return w;
  };
  if (s.pending_count > 0 || w == n) return finish();
  s.pending_first = 0;

  // (2) Receive into as many messages as the batch can probably take apart.
  const std::size_t room = n - w;
  const std::size_t m =
      std::clamp<std::size_t>(room / s.seg_estimate, 1, std::min(room, detail::kGroSlots));
  std::array<std::size_t, detail::kGroSlots> lead{};
  for (std::size_t i = 0; i < m; ++i) {
    const auto area = bufs[w + i]->read_area();
    lead[i] = std::min(area.size(), detail::kGroLead);
    prepare(s, i, area.first(lead[i]),
            base::ByteSpan(s.slot(i) + detail::kGroLead, detail::kGroTail));
  }
  const int r = do_recvmmsg(fd_, s.msgs.data(), m);
  if (!recvmmsg_ok(r, s.stats, ec)) return finish();

  // (3) Set the message buffers and the spare buffers aside, then lay the datagrams out in
  // order from slot w on. Every buffer ends up back in bufs.
  const auto got_n = static_cast<std::size_t>(r);
  std::array<base::PacketRef, kMaxBatch> got;
  std::array<base::PacketRef, kMaxBatch> spare;
  for (std::size_t i = 0; i < got_n; ++i) got[i] = std::move(bufs[w + i]);
  std::size_t n_spare = 0;
  for (std::size_t j = w + got_n; j < n; ++j) spare[n_spare++] = std::move(bufs[j]);
  std::size_t used_spare = 0;
  std::size_t max_segs = 1;
  bool overflow = false;

  // Keeps slot i's bytes [from, len) (contiguous at `start`) for the next call.
  auto keep = [&](std::size_t start, std::size_t len, std::size_t seg, std::size_t from,
                  const RecvMeta& mi) {
    State::Pending& p = s.pending[s.pending_count++];
    p.start = start;
    p.len = len;
    p.seg = seg;
    p.next = from;
    p.meta = mi;
  };

  for (std::size_t i = 0; i < got_n; ++i) {
    msghdr& h = s.msgs[i].msg_hdr;
    const std::size_t len = s.msgs[i].msg_len;
    RecvMeta mi;
    std::size_t seg = parse_message(h, mi);
    const bool cut = (h.msg_flags & MSG_TRUNC) != 0 || len >= lead[i] + detail::kGroTail;
    if (seg == 0 || seg >= len) seg = len;  // one datagram
    const std::size_t count = len == 0 ? 1 : (len + seg - 1) / seg;
    if (cut || seg >= got[i]->read_area().size() || (count == 1 && len >= lead[i])) {
      // Cut short, or datagrams too long for the buffers: drop them all.
      dropped += count;
      spare[n_spare++] = std::move(got[i]);
      continue;
    }
    // The whole message, contiguous: in the buffer if it fits there, else in the slot.
    const std::size_t in_buf = std::min(len, lead[i]);
    const std::size_t start = i * detail::kGroSlotSize + detail::kGroLead - in_buf;
    if (count > 1 || overflow) {
      std::memcpy(s.gro_scratch.get() + start, got[i]->read_area().data(), in_buf);
    }
    if (overflow) {
      keep(start, len, seg, 0, mi);
      spare[n_spare++] = std::move(got[i]);
      continue;
    }
    if (count > 1) {
      ++coalesced;
      max_segs = std::max(max_segs, count);
    }
    // The first datagram stays in its buffer.
    got[i]->set_size(seg);
    bytes += seg;
    meta[w] = mi;
    bufs[w++] = std::move(got[i]);
    for (std::size_t off = seg; off < len; off += seg) {
      if (used_spare == n_spare) {
        overflow = true;
        keep(start, len, seg, off, mi);
        break;
      }
      base::PacketRef& b = spare[used_spare];
      const std::size_t l = std::min(seg, len - off);
      if (l >= b->read_area().size()) {  // a smaller buffer than the message's own
        ++dropped;
        continue;
      }
      std::memcpy(b->read_area().data(), s.gro_scratch.get() + start + off, l);
      b->set_size(l);
      bytes += l;
      meta[w] = mi;
      bufs[w++] = std::move(b);
      ++used_spare;
    }
  }
  // (4) Unused buffers go back behind the output.
  std::size_t pos = w;
  for (std::size_t j = used_spare; j < n_spare; ++j) bufs[pos++] = std::move(spare[j]);
  s.seg_estimate = max_segs;
  return finish();
}

}  // namespace net
