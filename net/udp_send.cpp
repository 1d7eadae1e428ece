// SPDX-License-Identifier: MIT
// UdpSocket::send_batch: messages -> groups (one mmsghdr each: one datagram, or with GSO a
// run of equal-size datagrams to one destination carrying a UDP_SEGMENT cmsg) -> sendmmsg
// over the groups, looping over partial sends. A group the kernel refuses is retried one
// datagram at a time: a stale source is dropped and the datagram resent without it, EIO on a
// GSO group switches GSO off for the socket (fact sheet 14.1), other errors are reported per
// message, and the rest of the batch continues.
#include <array>
#include <cerrno>
#include <cstring>

#include <netinet/udp.h>

#include "base/bug.hpp"
#include "base/log.hpp"
#include "net/pktinfo.hpp"
#include "net/udp_socket.hpp"
#include "net/udp_socket_internal.hpp"

namespace net {

namespace {

using detail::Ctrl;
using detail::SockAddr;

// The module logger, looked up once: base::logger() allocates and locks on every call.
const base::Logger& log() {
  static const base::Logger lg = base::logger("net");
  return lg;
}

bool has_source(const SendMsg& m) noexcept {
  return m.source.valid() && !m.source.is_unspecified();
}

// Writes the pktinfo cmsg that picks m.source (and m.ifindex); returns the bytes used.
std::size_t put_source_cmsg(const SendMsg& m, std::byte* ctrl) noexcept {
  return put_pktinfo(m.source, m.ifindex, ctrl);
}

// The UDP_SEGMENT cmsg: exactly a u16 (a 4-byte payload fails with EINVAL).
std::size_t put_gso_cmsg(std::uint16_t segment, std::byte* ctrl) noexcept {
  auto* c = reinterpret_cast<cmsghdr*>(ctrl);
  c->cmsg_level = SOL_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof segment);
  std::memcpy(CMSG_DATA(c), &segment, sizeof segment);
  return CMSG_SPACE(sizeof segment);
}

// Errors a send with a source address that is no longer ours (or an interface that is gone)
// gets: EINVAL and EADDRNOTAVAIL by the book; Linux 6.18 answers a non-local IPv4
// ipi_spec_dst with ENETUNREACH. The message is retried without the source; only if that
// works is the source called stale.
bool is_stale_source_error(int err) noexcept {
  return err == EINVAL || err == EADDRNOTAVAIL || err == ENETUNREACH || err == ENODEV ||
         err == ENXIO;
}

bool same_route(const SendMsg& a, const SendMsg& b) noexcept {
  return a.dest == b.dest && a.source == b.source && a.ifindex == b.ifindex;
}

// Messages sent as one mmsghdr: msgs[first, first + count).
struct Group {
  std::size_t first = 0;
  std::size_t count = 0;
};

// Per-call send scratch, on the caller's stack (so send_batch is safe from many threads).
struct SendScratch {
  std::array<mmsghdr, kMaxBatch> hdr;
  std::array<iovec, kMaxBatch> iov;
  std::array<SockAddr, kMaxBatch> addr;
  std::array<Ctrl, kMaxBatch> ctrl;
  std::array<Group, kMaxBatch> group;
};

}  // namespace

// Sends one message with sendmsg, with or without its source; returns 0 or an errno.
static int send_one(int fd, const SendMsg& m, bool with_source) noexcept {
  SockAddr sa;
  iovec iov{const_cast<std::byte*>(m.data.data()), m.data.size()};
  Ctrl ctrl;
  msghdr h{};
  h.msg_name = &sa;
  h.msg_namelen = detail::fill_sockaddr(m.dest, sa);
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  if (with_source && has_source(m)) {
    h.msg_control = ctrl.b;
    h.msg_controllen = put_source_cmsg(m, ctrl.b);
  }
  for (int tries = 0; tries < detail::kMaxEintr; ++tries) {
    if (::sendmsg(fd, &h, MSG_DONTWAIT) >= 0) return 0;
    if (errno != EINTR) return errno;
  }
  return EINTR;
}

SendResult UdpSocket::send_batch(std::span<const SendMsg> msgs,
                                 std::span<SendStatus> status) noexcept {
  State& st = *st_;
  SendResult res;
  if (!status.empty() && status.size() < msgs.size()) {
    WG_BUG("udp_status_short", "send_batch status has {} entries for {} messages", status.size(),
           msgs.size());
    status = {};
  }
  std::uint64_t bytes = 0;
  std::uint64_t errors = 0;
  std::uint64_t stale = 0;
  std::uint64_t syscalls = 0;
  std::uint64_t gso_sends = 0;
  auto report = [&](std::size_t i, int err, bool source_stale) {
    if (!status.empty()) {
      status[i] = SendStatus{err != 0 ? detail::sys_code(err) : std::error_code(), source_stale};
    }
    if (err == 0) {
      ++res.sent;
      bytes += msgs[i].data.size();
    } else {
      ++errors;
    }
    if (source_stale) ++stale;
    res.handled = i + 1;
  };
  // One message on its own: sendmsg, and without its source if that was refused. `err` is
  // the error already seen for it, or 0 to try it first. False: the socket would block.
  auto send_alone = [&](std::size_t i, int err) {
    const SendMsg& m = msgs[i];
    if (err == 0) {
      err = send_one(fd_, m, true);
      ++syscalls;
    }
    if (err == EAGAIN || err == EWOULDBLOCK) return false;
    if (err != 0 && has_source(m) && is_stale_source_error(err)) {
      const int retry = send_one(fd_, m, false);
      ++syscalls;
      if (retry == EAGAIN || retry == EWOULDBLOCK) return false;
      // If it fails without the source too, the source was not the problem.
      report(i, retry, retry == 0);
      return true;
    }
    report(i, err, false);
    return true;
  };

  SendScratch s;
  std::size_t next = 0;
  while (next < msgs.size() && !res.would_block) {
    const bool gso = st.gso_on.load(std::memory_order_relaxed);
    // Build groups from msgs[next..]. A message the socket cannot take (wrong family) ends
    // the build; it is reported on its own once the groups before it went out.
    std::size_t ng = 0;
    std::size_t ni = 0;  // iovecs used
    std::size_t j = next;
    while (j < msgs.size() && ng < kMaxBatch && ni < kMaxBatch) {
      const SendMsg& m = msgs[j];
      if (m.dest.addr.family() != family_) break;
      Group& g = s.group[ng];
      g = Group{j, 1};
      s.iov[ni] = {const_cast<std::byte*>(m.data.data()), m.data.size()};
      std::size_t total = m.data.size();
      if (gso && !m.data.empty()) {
        // Extend the run: same route, no larger than the first, and a shorter one ends it.
        std::size_t last = m.data.size();
        while (j + g.count < msgs.size() && g.count < kGsoMaxSegments && ni + g.count < kMaxBatch &&
               last == m.data.size()) {
          const SendMsg& n = msgs[j + g.count];
          if (!same_route(n, m) || n.data.empty() || n.data.size() > m.data.size() ||
              total + n.data.size() > st.gso_max_bytes) {
            break;
          }
          s.iov[ni + g.count] = {const_cast<std::byte*>(n.data.data()), n.data.size()};
          total += n.data.size();
          last = n.data.size();
          ++g.count;
        }
      }
      msghdr& h = s.hdr[ng].msg_hdr;
      h = msghdr{};
      h.msg_name = &s.addr[ng];
      h.msg_namelen = detail::fill_sockaddr(m.dest, s.addr[ng]);
      h.msg_iov = &s.iov[ni];
      h.msg_iovlen = g.count;
      std::size_t ctrl_len = 0;
      if (has_source(m)) ctrl_len += put_source_cmsg(m, s.ctrl[ng].b);
      if (g.count > 1) {
        // Only for real runs: some paths break on single-segment GSO sends.
        ctrl_len +=
            put_gso_cmsg(static_cast<std::uint16_t>(m.data.size()), s.ctrl[ng].b + ctrl_len);
      }
      if (ctrl_len != 0) {
        h.msg_control = s.ctrl[ng].b;
        h.msg_controllen = ctrl_len;
      }
      ni += g.count;
      ++ng;
      j += g.count;
    }
    // Send groups [0, ng), looping over partial sends.
    std::size_t g = 0;
    int eintr = 0;
    while (g < ng && !res.would_block) {
      const int r = st.hooks.sendmmsg(fd_, &s.hdr[g], static_cast<unsigned>(ng - g), MSG_DONTWAIT);
      ++syscalls;
      if (r > 0) {
        for (std::size_t k = g; k < g + static_cast<std::size_t>(r); ++k) {
          if (s.group[k].count > 1) ++gso_sends;
          for (std::size_t i = 0; i < s.group[k].count; ++i) report(s.group[k].first + i, 0, false);
        }
        g += static_cast<std::size_t>(r);
        continue;
      }
      const int err = r < 0 ? errno : EIO;
      if (err == EINTR && ++eintr < detail::kMaxEintr) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        res.would_block = true;
        break;
      }
      // Group g failed (sendmmsg reports the error of its first failing entry).
      const Group& fg = s.group[g];
      if (fg.count > 1 && err == EIO && st.gso_on.exchange(false)) {
        st.stats.gso_disabled.fetch_add(1, std::memory_order_relaxed);
        log()->warn(
            "UDP GSO send failed with EIO (no checksum offload on the "
            "way out?); GSO off for this socket port={}",
            port_);
      }
      for (std::size_t i = 0; i < fg.count; ++i) {
        if (!send_alone(fg.first + i, fg.count > 1 ? 0 : err)) {
          res.would_block = true;
          break;
        }
      }
      ++g;
    }
    if (res.would_block) break;
    next = j;
    if (next < msgs.size() && msgs[next].dest.addr.family() != family_) {
      report(next, EAFNOSUPPORT, false);
      ++next;
    }
  }
  st.stats.datagrams_sent.fetch_add(res.sent, std::memory_order_relaxed);
  st.stats.bytes_sent.fetch_add(bytes, std::memory_order_relaxed);
  if (errors != 0) st.stats.send_errors.fetch_add(errors, std::memory_order_relaxed);
  if (stale != 0) st.stats.stale_sources.fetch_add(stale, std::memory_order_relaxed);
  if (gso_sends != 0) st.stats.gso_sends.fetch_add(gso_sends, std::memory_order_relaxed);
  st.stats.send_syscalls.fetch_add(syscalls, std::memory_order_relaxed);
  return res;
}

}  // namespace net
