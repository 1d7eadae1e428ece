#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""One TCP transfer of random bytes, checked end to end (used by tests/netns/lib.sh).

  tcp_xfer.py recv --bind ADDR --port P --ready FILE [--timeout S]
      listens, creates FILE once listening, accepts one connection, reads to EOF.
  tcp_xfer.py send --to ADDR --port P --mib N [--timeout S]
      connects (retrying for up to 5 s) and sends N MiB of random bytes, then shuts down.

Both print one line `bytes=N sha256=HEX` on success and exit 0; on any error or when S seconds
pass (default 60; each socket operation also times out) they print the reason and exit 1.
"""
import argparse
import hashlib
import os
import socket
import sys
import time

CHUNK = 1 << 20


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def recv(args):
    deadline = time.monotonic() + args.timeout
    srv = socket.socket(family_of(args.bind), socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((args.bind, args.port))
    srv.listen(1)
    srv.settimeout(args.timeout)
    with open(args.ready, "w", encoding="ascii") as f:
        f.write("ready\n")
    conn, _ = srv.accept()
    srv.close()
    conn.settimeout(10)
    h = hashlib.sha256()
    total = 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError(f"transfer not finished after {args.timeout} s ({total} bytes)")
        n = conn.recv_into(buf)
        if n == 0:
            break
        h.update(view[:n])
        total += n
    conn.close()
    print(f"bytes={total} sha256={h.hexdigest()}")


def send(args):
    deadline = time.monotonic() + args.timeout
    sock = None
    last_err = None
    for _ in range(50):
        try:
            sock = socket.create_connection((args.to, args.port), timeout=2)
            break
        except OSError as e:
            last_err = e
            time.sleep(0.1)
    if sock is None:
        raise ConnectionError(f"cannot connect to {args.to} port {args.port}: {last_err}")
    sock.settimeout(10)
    h = hashlib.sha256()
    total = 0
    for _ in range(args.mib):
        if time.monotonic() > deadline:
            raise TimeoutError(f"transfer not finished after {args.timeout} s ({total} bytes)")
        data = os.urandom(CHUNK)
        h.update(data)
        sock.sendall(data)
        total += len(data)
    sock.shutdown(socket.SHUT_WR)
    # Wait for the receiver to close: it has then read everything.
    sock.settimeout(max(1.0, deadline - time.monotonic()))
    while sock.recv(4096):
        pass
    sock.close()
    print(f"bytes={total} sha256={h.hexdigest()}")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("recv")
    r.add_argument("--bind", required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--ready", required=True)
    r.add_argument("--timeout", type=float, default=60)
    s = sub.add_parser("send")
    s.add_argument("--to", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--mib", type=int, required=True)
    s.add_argument("--timeout", type=float, default=60)
    args = p.parse_args()
    try:
        recv(args) if args.cmd == "recv" else send(args)
    except (OSError, TimeoutError) as e:
        print(f"tcp_xfer {args.cmd}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
