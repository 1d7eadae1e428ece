// SPDX-License-Identifier: MIT
#include "net/pktinfo.hpp"

#include <cstring>
#include <span>

#include <netinet/in.h>

namespace net {

bool read_pktinfo(const cmsghdr& c, base::IpAddr& local, int& ifindex) noexcept {
  if (c.cmsg_level == IPPROTO_IP && c.cmsg_type == IP_PKTINFO &&
      c.cmsg_len >= CMSG_LEN(sizeof(in_pktinfo))) {
    in_pktinfo pi;
    std::memcpy(&pi, CMSG_DATA(&c), sizeof pi);
    local = base::IpAddr::v4(
        std::span<const std::byte, 4>(reinterpret_cast<const std::byte*>(&pi.ipi_spec_dst), 4));
    ifindex = pi.ipi_ifindex;
    return true;
  }
  if (c.cmsg_level == IPPROTO_IPV6 && c.cmsg_type == IPV6_PKTINFO &&
      c.cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
    in6_pktinfo pi;
    std::memcpy(&pi, CMSG_DATA(&c), sizeof pi);
    local = base::IpAddr::v6(
        std::span<const std::byte, 16>(reinterpret_cast<const std::byte*>(&pi.ipi6_addr), 16));
    ifindex = static_cast<int>(pi.ipi6_ifindex);
    return true;
  }
  return false;
}

std::size_t put_pktinfo(const base::IpAddr& source, int ifindex, std::byte* ctrl) noexcept {
  auto* c = reinterpret_cast<cmsghdr*>(ctrl);
  if (source.is_v4()) {
    in_pktinfo pi{};
    pi.ipi_ifindex = ifindex;
    std::memcpy(&pi.ipi_spec_dst, source.bytes().data(), 4);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof pi);
    std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
    return CMSG_SPACE(sizeof pi);
  }
  in6_pktinfo pi{};
  pi.ipi6_ifindex = static_cast<unsigned>(ifindex);
  std::memcpy(&pi.ipi6_addr, source.bytes().data(), 16);
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof pi);
  std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
  return CMSG_SPACE(sizeof pi);
}

}  // namespace net
