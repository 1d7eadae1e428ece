#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Sends malformed and replayed WireGuard messages at a UDP port (used by tests/netns/garbage.sh).

  garbage.py --target ADDR PORT [--target ADDR PORT ...] --seconds S [--rate PPS]
             [--sniff IFACE [--ignore-src ADDR ...] [--warmup W --ready FILE]] [--seed N]

Kinds, sent in turn, each to the targets in turn, at about PPS datagrams per second:
  random        random bytes, 1..1500 long
  empty         zero-length datagram
  short         1..31 bytes starting with a valid type byte (1..4)
  bad-type      type 0 or 5..255, or reserved bytes not zero, at each message length
  init-len      type 1 at 147, 149, 74 and 148 (random body: bad mac1) bytes
  resp-len      type 2 at 91, 93, 46 and 92 bytes
  cookie-len    type 3 at 63, 65, 32 and 64 bytes
  data-rand     type 4, 32..1500 bytes, random index/counter/ciphertext
  oversized     each type at 1500 and (one in 16 times) 65000 bytes
With --sniff IFACE (an interface that sees the real tunnel traffic), real WireGuard messages
seen there are also replayed byte for byte and with one byte flipped (with --warmup, it only
listens for W seconds first, having created FILE once listening, so that a handshake made
meanwhile is captured too; datagrams from --ignore-src addresses, i.e. this sender's own, are
not captured):
  replay        an exact copy of a captured message (handshake or transport)
  flipped       a captured message with one byte flipped (bad tag, bad mac1 or bad index)
Prints one summary line: `sent=N bytes=B ... kinds=... captured=TYPE:COUNT,...`. Exits 1 if it cannot send at all.
"""
import argparse
import os
import random
import socket
import struct
import sys
import time

MSG_LEN = {1: 148, 2: 92, 3: 64}


def header(t, reserved=b"\0\0\0"):
    return bytes([t]) + reserved


class Sniffer:
    """Keeps the last few WireGuard messages seen on an interface (IPv4/IPv6 UDP payloads)."""

    def __init__(self, iface, ignore):
        self.ignore = {socket.inet_pton(socket.AF_INET6 if ":" in a else socket.AF_INET, a)
                       for a in ignore}
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.sock.bind((iface, 0))
        self.sock.setblocking(False)
        self.msgs = {1: [], 2: [], 3: [], 4: []}

    def poll(self, budget=64):
        for _ in range(budget):
            try:
                frame = self.sock.recv(65535)
            except BlockingIOError:
                return
            self._take(frame)

    def _take(self, frame):
        if len(frame) < 14:
            return
        ethertype = struct.unpack("!H", frame[12:14])[0]
        p = frame[14:]
        if ethertype == 0x0800 and len(p) >= 20 and p[9] == 17:
            src = p[12:16]
            payload = p[(p[0] & 0x0F) * 4 + 8:]
        elif ethertype == 0x86DD and len(p) >= 48 and p[6] == 17:
            src = p[8:24]
            payload = p[48:]
        else:
            return
        if src in self.ignore:
            return
        if len(payload) < 32 or payload[1:4] != b"\0\0\0":
            return
        t = payload[0]
        if t in MSG_LEN and len(payload) != MSG_LEN[t]:
            return
        if t not in self.msgs:
            return
        lst = self.msgs[t]
        lst.append(bytes(payload))
        if len(lst) > 64:
            del lst[0]

    def summary(self):
        return ",".join(f"{t}:{len(lst)}" for t, lst in self.msgs.items() if lst)

    def any(self):
        """A captured message, the type chosen first so that handshakes get replayed as often."""
        kinds = [lst for lst in self.msgs.values() if lst]
        return random.choice(random.choice(kinds)) if kinds else None


def make(kind, sniffer, n):
    r = random.randrange
    if kind == "random":
        return os.urandom(r(1, 1501))
    if kind == "empty":
        return b""
    if kind == "short":
        return header(r(1, 5)) + os.urandom(r(0, 28))
    if kind == "bad-type":
        body_len = random.choice([148, 92, 64, 32, 96]) - 4
        if r(2):
            return header(random.choice([0] + list(range(5, 256)))) + os.urandom(body_len)
        return bytes([r(1, 5)]) + os.urandom(3).replace(b"\0", b"\1") + os.urandom(body_len)
    if kind == "init-len":
        return header(1) + os.urandom(random.choice([147, 149, 74, 148]) - 4)
    if kind == "resp-len":
        return header(2) + os.urandom(random.choice([91, 93, 46, 92]) - 4)
    if kind == "cookie-len":
        return header(3) + os.urandom(random.choice([63, 65, 32, 64]) - 4)
    if kind == "data-rand":
        return header(4) + os.urandom(r(28, 1497))
    if kind == "oversized":
        size = 65000 if n % 16 == 0 else 1500
        return header(r(1, 5)) + os.urandom(size - 4)
    if kind == "replay":
        return sniffer.any() if sniffer else None
    if kind == "flipped":
        m = sniffer.any() if sniffer else None
        if m is None:
            return None
        b = bytearray(m)
        i = r(4, len(b))
        b[i] ^= 1 << r(8)
        return bytes(b)
    raise ValueError(kind)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--target", nargs=2, action="append", required=True, metavar=("ADDR", "PORT"))
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--rate", type=int, default=20000)
    p.add_argument("--sniff")
    p.add_argument("--ignore-src", action="append", default=[])
    p.add_argument("--warmup", type=float, default=0)
    p.add_argument("--ready")
    p.add_argument("--seed", type=int, default=int(time.time()))
    args = p.parse_args()
    random.seed(args.seed)

    socks = {}
    targets = []
    for addr, port in args.target:
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        if fam not in socks:
            socks[fam] = socket.socket(fam, socket.SOCK_DGRAM)
            socks[fam].setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        targets.append((socks[fam], (addr, int(port))))
    sniffer = Sniffer(args.sniff, args.ignore_src) if args.sniff else None
    if args.ready:
        with open(args.ready, "w", encoding="ascii") as f:
            f.write("ready\n")
    warm_end = time.monotonic() + args.warmup
    while sniffer and time.monotonic() < warm_end:
        sniffer.poll()
        time.sleep(0.005)

    kinds = ["random", "empty", "short", "bad-type", "init-len", "resp-len", "cookie-len",
             "data-rand", "oversized"]
    if sniffer:
        kinds += ["replay", "flipped", "replay", "flipped"]
    counts = {k: 0 for k in kinds}
    sent = total = errors = 0
    start = time.monotonic()
    end = start + args.seconds
    n = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if n % 64 == 0:
            if sniffer:
                sniffer.poll()
            ahead = n / args.rate - (now - start)
            if ahead > 0:
                time.sleep(ahead)
        kind = kinds[n % len(kinds)]
        sock, dst = targets[(n // len(kinds)) % len(targets)]
        n += 1
        msg = make(kind, sniffer, n)
        if msg is None:
            continue
        try:
            sock.sendto(msg, dst)
            sent += 1
            total += len(msg)
            counts[kind] += 1
        except OSError:
            errors += 1
    summary = ",".join(f"{k}:{v}" for k, v in counts.items() if v)
    captured = sniffer.summary() if sniffer else ""
    print(f"sent={sent} bytes={total} send_errors={errors} seed={args.seed} kinds={summary} "
          f"captured={captured}")
    if sent == 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
