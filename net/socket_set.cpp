// SPDX-License-Identifier: MIT
#include "net/socket_set.hpp"

#include <string>

#include "base/log.hpp"

namespace net {

namespace {

enum class FamilyResult { ok, unavailable, collided, failed };

// Opens `queues` sockets of one family on `port` (0: the kernel picks, for the first socket);
// on success `port` holds the port they share.
FamilyResult open_family(const SocketSetOptions& o, base::IpAddr::Family family,
                         std::uint16_t& port, bool may_collide,
                         std::vector<std::unique_ptr<UdpSocket>>& out, base::Error& error) {
  UdpOptions uo;
  uo.family = family;
  uo.reuse_port = true;
  uo.fwmark = o.fwmark;
  uo.buffer_bytes = o.buffer_bytes;
  uo.gso = o.gso;
  uo.gro = o.gro;
  uo.hooks = o.hooks;
  for (std::size_t q = 0; q < o.queues; ++q) {
    uo.port = port;
    auto s = UdpSocket::open(uo);
    if (!s) {
      out.clear();
      if (q == 0 && s.error().code == std::errc::address_family_not_supported) {
        return FamilyResult::unavailable;
      }
      if (q == 0 && may_collide && s.error().code == std::errc::address_in_use) {
        return FamilyResult::collided;
      }
      error = s.error();
      if (s.error().code == std::errc::address_in_use) {
        error.message =
            "listen port " + std::to_string(port) + " is in use (" + error.message + ")";
      }
      return FamilyResult::failed;
    }
    port = s->port();
    out.push_back(std::make_unique<UdpSocket>(std::move(s.value())));
  }
  return FamilyResult::ok;
}

}  // namespace

base::Result<SocketSet> SocketSet::open(const SocketSetOptions& o) {
  if (o.queues == 0 || o.queues > kMaxQueues) {
    return base::make_error(std::errc::invalid_argument,
                            "socket set: queue count " + std::to_string(o.queues) +
                                " is not in 1.." + std::to_string(kMaxQueues));
  }
  if (!o.ipv4 && !o.ipv6) {
    return base::make_error(std::errc::invalid_argument, "socket set: neither IPv4 nor IPv6");
  }
  auto log = base::logger("net");
  for (int attempt = 0; attempt < kMaxPortAttempts; ++attempt) {
    SocketSet set;
    set.queues_ = o.queues;
    std::uint16_t port = o.port;
    base::Error error;
    bool v4_unavailable = false;
    if (o.ipv4) {
      switch (open_family(o, base::IpAddr::Family::v4, port, false, set.v4_, error)) {
        case FamilyResult::ok:
          break;
        case FamilyResult::unavailable:
          v4_unavailable = true;
          break;
        case FamilyResult::collided:
        case FamilyResult::failed:
          return error;
      }
    }
    bool v6_unavailable = false;
    if (o.ipv6) {
      // The IPv6 sockets take the IPv4 sockets' port; if somebody else holds it for IPv6 and
      // the port was ours to choose, start over with a fresh one.
      const bool may_collide = o.port == 0 && set.has_v4();
      switch (open_family(o, base::IpAddr::Family::v6, port, may_collide, set.v6_, error)) {
        case FamilyResult::ok:
          break;
        case FamilyResult::unavailable:
          v6_unavailable = true;
          break;
        case FamilyResult::collided:
          log->debug("udp port {} taken for IPv6, trying another attempt={}", port, attempt + 1);
          continue;
        case FamilyResult::failed:
          return error;
      }
    }
    if (!set.has_v4() && !set.has_v6()) {
      return base::make_error(std::errc::address_family_not_supported,
                              "socket set: neither IPv4 nor IPv6 sockets can be opened");
    }
    if (v6_unavailable) log->info("IPv6 is not available; listening on IPv4 only port={}", port);
    if (v4_unavailable) log->info("IPv4 is not available; listening on IPv6 only port={}", port);
    set.port_ = port;
    log->debug("udp sockets open port={} queues={} v4={} v6={}", port, o.queues, set.has_v4(),
               set.has_v6());
    return set;
  }
  return base::make_error(std::errc::address_in_use,
                          "socket set: no port free for both IPv4 and IPv6 after " +
                              std::to_string(kMaxPortAttempts) + " attempts");
}

base::Status SocketSet::set_fwmark(std::uint32_t mark) {
  for (auto* list : {&v4_, &v6_}) {
    for (auto& s : *list) {
      if (auto st = s->set_fwmark(mark); !st) return st;
    }
  }
  return {};
}

void SocketSet::set_gso(bool on) noexcept {
  for (auto* list : {&v4_, &v6_}) {
    for (auto& s : *list) s->set_gso(on);
  }
}

}  // namespace net
