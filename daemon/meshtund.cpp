// SPDX-License-Identifier: MIT
// meshtund: a userspace WireGuard interface. In plain mode it is a drop-in for wireguard-go:
//
//   meshtund [-f|--foreground] [--queues N] IFNAME
//
// creates the multi-queue TUN interface IFNAME (MTU 1420) and the configuration socket
// /var/run/wireguard/IFNAME.sock that wg(8) speaks to, then daemonizes unless told to stay in
// the foreground (-f, or WG_PROCESS_FOREGROUND=1). It exits on SIGINT/SIGTERM, when the
// interface is deleted, or when its socket file is removed.
//
// Logs: to stderr in the foreground; once daemonized, to syslog (journald picks it up) and
// never to the terminal it left; to --log-file instead of either when one is given.
//
// Threads: one worker per queue (engine/), and this main thread running the io_context:
// the configuration socket, handshakes, timers, link events and signals.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <thread>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/signal_set.hpp>
#include <sys/types.h>
#include <sys/wait.h>

#include "base/log.hpp"
#include "base/version.hpp"
#include "daemon/asio.hpp"
#include "daemon/metrics.hpp"
#include "daemon/metrics_server.hpp"
#include "daemon/uapi_server.hpp"
#include "daemon/wg_config.hpp"
#include "engine/engine.hpp"
#include "magicsock/udp_bind.hpp"
#include "tun/netlink.hpp"
#include "tun/tun.hpp"

namespace {

namespace asio = boost::asio;

struct Flags {
  std::string interface;
  bool foreground = false;
  std::size_t queues = 0;
  std::string log_level;
  std::string socket_dir = "/var/run/wireguard";
  std::string metrics_addr;
  std::string log_file;
  bool no_tun_offloads = false;
  bool no_udp_gso = false;
  bool no_udp_gro = false;
};

// Re-arms a wait for readability on `fd` and calls `on_ready` each time.
void watch_fd(asio::posix::stream_descriptor& d, std::function<void()> on_ready) {
  d.async_wait(asio::posix::stream_descriptor::wait_read,
               [&d, on_ready](const boost::system::error_code& ec) {
                 if (ec) return;
                 on_ready();
                 watch_fd(d, on_ready);
               });
}

void every(asio::steady_timer& t, std::chrono::milliseconds period, std::function<void()> fn) {
  t.expires_after(period);
  t.async_wait([&t, period, fn](const boost::system::error_code& ec) {
    if (ec) return;
    fn();
    every(t, period, fn);
  });
}

int run(const Flags& flags) {
  const base::Logger lg = base::logger("meshtund");
  std::signal(SIGPIPE, SIG_IGN);

  // 1. The interface and its configuration socket, before daemonizing, so that errors reach
  //    the terminal and the exit status.
  tun::Options topt;
  topt.name = flags.interface;
  topt.queues = flags.queues;
  topt.offloads = !flags.no_tun_offloads;
  auto tun = tun::Tun::open(topt);
  if (!tun) {
    std::fprintf(stderr, "meshtund: cannot create interface %s: %s\n", flags.interface.c_str(),
                 tun.error().to_string().c_str());
    return 1;
  }
  if (auto st = tun::set_mtu(tun->ifindex(), wg::kDefaultMtu); !st) {
    lg->warn("cannot set MTU {}: {}", wg::kDefaultMtu, st.error().to_string());
  }
  auto link = tun::LinkMonitor::open(tun->ifindex());
  if (!link) {
    std::fprintf(stderr, "meshtund: cannot watch interface %s: %s\n", tun->name().c_str(),
                 link.error().to_string().c_str());
    return 1;
  }

  asio::io_context io;
  magicsock::UdpBindOptions bopt;
  bopt.queues = tun->queue_count();
  bopt.gso = !flags.no_udp_gso;
  bopt.gro = !flags.no_udp_gro;
  magicsock::UdpBind bind(bopt);
  if (auto st = bind.rebind(0, 0); !st) {
    std::fprintf(stderr, "meshtund: cannot open UDP sockets: %s\n", st.error().to_string().c_str());
    return 1;
  }
  std::vector<int> tun_fds;
  for (std::size_t q = 0; q < tun->queue_count(); ++q) tun_fds.push_back(tun->fd(q));
  engine::Options eopt;
  eopt.queues = tun->queue_count();
  eopt.mtu = link->mtu() != 0 ? link->mtu() : wg::kDefaultMtu;
  eopt.tun_offloads = tun->offloads();
  engine::Engine eng(eopt, tun_fds, bind, base::SystemClock::instance());
  meshtund::WgConfig config(eng);

  bool stopping = false;
  std::unique_ptr<meshtund::UapiServer> uapi;
  std::unique_ptr<meshtund::MetricsServer> metrics;
  auto shut_down = [&](const char* why) {
    if (stopping) return;
    stopping = true;
    lg->info("shutting down: {}", why);
    if (uapi) uapi->stop();
    if (metrics) metrics->stop();
    io.stop();
  };
  meshtund::UapiServerOptions uopt;
  uopt.interface_name = tun->name();
  uopt.socket_dir = flags.socket_dir;
  auto server = meshtund::UapiServer::start(io, uopt, config,
                                            [&] { shut_down("configuration socket removed"); });
  if (!server) {
    std::fprintf(stderr, "meshtund: %s\n", server.error().to_string().c_str());
    return 1;
  }
  uapi = std::move(server.value());
  if (!flags.metrics_addr.empty()) {
    const auto at = base::Endpoint::parse(flags.metrics_addr);
    if (!at) {
      std::fprintf(stderr, "meshtund: --metrics-addr wants ADDRESS:PORT, got '%s'\n",
                   flags.metrics_addr.c_str());
      return 2;
    }
    auto m = meshtund::MetricsServer::start(
        io, *at, [&] { return meshtund::render_metrics(eng, tun->name()); });
    if (!m) {
      std::fprintf(stderr, "meshtund: %s\n", m.error().to_string().c_str());
      return 1;
    }
    metrics = std::move(m.value());
  }

  // 2. Daemonize like wireguard-go: the parent returns once the child runs.
  if (!flags.foreground) {
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) {
      std::perror("meshtund: pipe");
      return 1;
    }
    io.notify_fork(asio::execution_context::fork_prepare);
    const pid_t pid = ::fork();
    if (pid < 0) {
      std::perror("meshtund: fork");
      return 1;
    }
    if (pid > 0) {
      ::close(ready[1]);
      char c = 0;
      const bool ok = ::read(ready[0], &c, 1) == 1;
      // Leave without destructors: the socket and the interface now belong to the child.
      std::fflush(nullptr);
      ::_exit(ok ? 0 : 1);
    }
    io.notify_fork(asio::execution_context::fork_child);
    ::close(ready[0]);
    ::setsid();
    // The terminal stays the user's: logs go to syslog (or the --log-file already open), and
    // nothing else may write to the standard streams either.
    if (flags.log_file.empty()) base::log_to_syslog("meshtund");
    if (const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC); null >= 0) {
      for (const int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) ::dup2(null, fd);
      ::close(null);
    }
    eng.start();
    [[maybe_unused]] const auto n = ::write(ready[1], "1", 1);
    ::close(ready[1]);
  } else {
    eng.start();
  }
  lg->info("interface={} queues={} listen_port={} mtu={} tun_tso={} tun_uso={} started",
           tun->name(), tun->queue_count(), bind.port(), eng.mtu(), tun->offloads().tso,
           tun->offloads().uso);

  // 3. The control loop.
  asio::posix::stream_descriptor control(io, ::dup(eng.control_fd()));
  watch_fd(control, [&] { eng.run_control(); });
  asio::steady_timer ticker(io);
  every(ticker, std::chrono::milliseconds(100), [&] {
    eng.run_control();
    if (eng.tun_gone()) shut_down("interface gone");
  });
  asio::posix::stream_descriptor link_events(io, ::dup(link->fd()));
  std::vector<tun::LinkEvent> events;
  watch_fd(link_events, [&] {
    events.clear();
    std::error_code ec;
    link->drain(events, ec);
    for (const auto& e : events) {
      if (e.kind == tun::LinkEvent::Kind::deleted) shut_down("interface deleted");
      if (e.kind == tun::LinkEvent::Kind::mtu_changed && e.mtu > 0) {
        const unsigned applied = eng.set_mtu(e.mtu);
        if (applied == e.mtu) {
          lg->info("mtu={}", e.mtu);
          continue;
        }
        // Packets above `applied` do not fit our buffers: put the link back to what we carry
        // rather than drop every full-size packet (each such drop counts as too_big).
        lg->warn("mtu={} is above the largest meshtund carries ({}); setting mtu={}", e.mtu,
                 applied, applied);
        if (auto st = tun::set_mtu(tun->ifindex(), applied); !st) {
          lg->error("cannot set mtu={}: {}", applied, st.error().to_string());
        }
      }
    }
  });
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (!ec) shut_down(sig == SIGINT ? "SIGINT" : "SIGTERM");
  });

  io.run();
  eng.stop();
  uapi.reset();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "meshtund: a userspace WireGuard interface, configured with wg(8) like wireguard-go.\n"
      "Creates the TUN interface IFNAME and /var/run/wireguard/IFNAME.sock, then runs in the\n"
      "background unless -f is given or WG_PROCESS_FOREGROUND=1 is set.",
      "meshtund"};
  Flags flags;
  app.set_version_flag("--version", "meshtund " + std::string(base::version()));
  app.add_flag("-f,--foreground", flags.foreground, "stay in the foreground");
  app.add_option("--queues", flags.queues,
                 "TUN queues and worker threads (default: number of CPUs)")
      ->check(CLI::Range(1, 256));
  app.add_option(
      "--log-level", flags.log_level,
      "trace, debug (verbose), info, warn, error, off (silent); default from LOG_LEVEL, else info");
  app.add_option("--socket-dir", flags.socket_dir, "where the configuration socket goes")
      ->capture_default_str();
  app.add_option("--metrics-addr", flags.metrics_addr,
                 "serve Prometheus metrics at http://ADDRESS:PORT/metrics (loopback only, e.g. "
                 "127.0.0.1:9101)");
  app.add_option("--log-file", flags.log_file,
                 "append logs to this file instead of stderr (foreground) or syslog (daemon)");
  app.add_flag("--no-tun-offloads", flags.no_tun_offloads,
               "open the TUN without virtio_net_hdr offloads (no TSO/USO reads, no merged writes)");
  app.add_flag("--no-udp-gso", flags.no_udp_gso, "send one datagram per message (no UDP_SEGMENT)");
  app.add_flag("--no-udp-gro", flags.no_udp_gro, "receive one datagram per message (no UDP_GRO)");
  app.add_option("IFNAME", flags.interface, "interface name (1-15 characters)")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints what was wrong and how to get help
    return 2;
  }

  if (const char* fg = std::getenv("WG_PROCESS_FOREGROUND"); fg && std::string(fg) == "1")
    flags.foreground = true;
  if (flags.log_level.empty()) {
    if (const char* env = std::getenv("LOG_LEVEL")) flags.log_level = env;
  }
  if (!flags.log_level.empty()) {
    const auto level = base::parse_log_level(flags.log_level);
    if (!level) {
      std::fprintf(stderr, "meshtund: unknown log level '%s'\n", flags.log_level.c_str());
      return 2;
    }
    base::set_log_level(*level);
  }
  if (!flags.log_file.empty()) {
    std::string error;
    if (!base::log_to_file(flags.log_file, error)) {
      std::fprintf(stderr, "meshtund: %s\n", error.c_str());
      return 1;
    }
  }
  if (const std::string why = tun::check_interface_name(flags.interface); !why.empty()) {
    std::fprintf(stderr, "meshtund: invalid interface name '%s': %s\n", flags.interface.c_str(),
                 why.c_str());
    return 2;
  }
  if (flags.queues == 0) flags.queues = std::max(1u, std::thread::hardware_concurrency());
  return run(flags);
}
