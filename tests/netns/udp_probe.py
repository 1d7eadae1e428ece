#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Tagged UDP datagrams to see where packets arrive (used by the netns tests).

  udp_probe.py listen --port P --seconds S --ready FILE
      listens on 0.0.0.0:P and [::]:P for S seconds, or until a datagram `__stop__` comes;
      prints one line per other datagram: `<payload> from <source address>`, and `# done` at
      the end. Creates FILE once both sockets are bound.
  udp_probe.py send --to ADDR --port P --payload TEXT [--src ADDR] [--count N]
      sends TEXT N times (default 1), 10 ms apart, from --src if given.
"""
import argparse
import select
import socket
import sys
import time


def listen(args):
    socks = []
    s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s4.bind(("0.0.0.0", args.port))
    socks.append(s4)
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s6.bind(("::", args.port))
    socks.append(s6)
    with open(args.ready, "w", encoding="ascii") as f:
        f.write("ready\n")
    end = time.monotonic() + args.seconds
    stop = False
    while not stop:
        left = end - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select(socks, [], [], left)
        for s in ready:
            data, src = s.recvfrom(65535)
            if data == b"__stop__":
                stop = True
                continue
            print(f"{data.decode(errors='replace')} from {src[0]}", flush=True)
    print("# done", flush=True)


def send(args):
    fam = socket.AF_INET6 if ":" in args.to else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if args.src:
        s.bind((args.src, 0))
    for i in range(args.count):
        if i:
            time.sleep(0.01)
        s.sendto(args.payload.encode(), (args.to, args.port))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    l = sub.add_parser("listen")
    l.add_argument("--port", type=int, required=True)
    l.add_argument("--seconds", type=float, required=True)
    l.add_argument("--ready", required=True)
    s = sub.add_parser("send")
    s.add_argument("--to", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--payload", required=True)
    s.add_argument("--src")
    s.add_argument("--count", type=int, default=1)
    args = p.parse_args()
    try:
        listen(args) if args.cmd == "listen" else send(args)
    except OSError as e:
        print(f"udp_probe {args.cmd}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
