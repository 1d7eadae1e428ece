#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Configuration read-back: IMPL_A (node a) and IMPL_B (node b) get the very same configuration
# (same private key, listen port, fwmark, peers, preshared keys, endpoints, keepalives, allowed
# IPs with host bits set and one prefix claimed by two peers) and must report it identically:
#   - `wg show IF dump`, field by field (peers matched by public key; latest handshake, rx and
#     tx are left out because they differ by nature);
#   - `wg showconf IF`, peer sections sorted by public key;
#   - the raw UAPI `get=1` response, line by line in the daemon's order (peer blocks sorted by
#     public key; last_handshake_time_*, rx_bytes and tx_bytes left out);
#   - the errno of a few malformed UAPI requests that fail on their first line, after which
#     the configuration must be unchanged.
# Then a round of `wg set` changes (remove a peer, replace allowed IPs, remove a preshared key,
# fwmark off, keepalive changes, new listen port) and the same comparisons again; finally
# listen-port 0 must read back as a non-zero port on both.
#
#   tests/netns/dump.sh [IMPL_A:IMPL_B ...]     (or MESHTUN_NETNS_PAIRS="X:Y ...")
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
parse_pairs "$@"
one_pair_or_each "$0"
netns_setup "dump $IMPL_A:$IMPL_B"
impl_require "$IMPL_A" "$IMPL_B"

topo_star a b
IFA=${RUN}a IFB=${RUN}b
wg_start a "$IMPL_A" "$IFA"
wg_start b "$IMPL_B" "$IFB"
ip -n "$(nsn a)" link set "$IFA" up
ip -n "$(nsn b)" link set "$IFB" up

key_new self
for p in p1 p2 p3 p4 p5; do key_new "$p"; done
PSK1=$(wg genpsk)
PSK4=$(wg genpsk)
# Endpoints are in the namespaces' own (empty) subnets: nothing answers there.
cat >"$TMPD/wg.conf" <<EOF
[Interface]
PrivateKey = ${PRIV[self]}
ListenPort = 51820
FwMark = 0x1234

[Peer]
PublicKey = ${PUB[p1]}
PresharedKey = $PSK1
Endpoint = 10.210.1.77:51821
PersistentKeepalive = 25
AllowedIPs = 10.1.2.3/24, fd00:1::5/64, 10.9.0.0/16, 192.168.7.1/32

[Peer]
PublicKey = ${PUB[p2]}
Endpoint = [fd00:210:1::77]:51822
AllowedIPs = fd00:2::/48, 10.2.0.0/16, 0.0.0.0/0

[Peer]
PublicKey = ${PUB[p3]}

[Peer]
PublicKey = ${PUB[p4]}
PresharedKey = $PSK4
Endpoint = 10.210.1.78:65535
PersistentKeepalive = 65535
AllowedIPs = 10.9.0.0/16, ::/0, fd00:4::1/128

[Peer]
PublicKey = ${PUB[p5]}
AllowedIPs = 10.5.5.5/32
EOF
wgx a setconf "$IFA" "$TMPD/wg.conf"
wgx b setconf "$IFB" "$TMPD/wg.conf"

# norm_dump NODE IF: `wg show dump` without the variable fields, peers sorted.
norm_dump() {
  wgx "$1" show "$2" dump | awk -F'\t' -v OFS='\t' '
    NR == 1 { print "interface", $1, $2, $3, $4; next }
    { print "peer", $1, $2, $3, $4, $8 }' | sort
}

# norm_showconf NODE IF: `wg showconf`, peer sections sorted by public key.
norm_showconf() {
  wgx "$1" showconf "$2" | "$PY" -c '
import sys
text = sys.stdin.read().strip("\n").split("\n\n")
print("\n\n".join([text[0]] + sorted(text[1:])))'
}

# norm_uapi IF: raw `get=1`, variable lines dropped, peer blocks sorted by public key.
norm_uapi() {
  uapi "$1" $'get=1\n\n' | "$PY" -c '
import re, sys
skip = re.compile(r"^(last_handshake_time_sec|last_handshake_time_nsec|rx_bytes|tx_bytes)=")
head, blocks = [], []
for line in sys.stdin.read().split("\n"):
    if skip.match(line):
        continue
    if line.startswith("public_key="):
        blocks.append([line])
    elif blocks and not line.startswith("errno="):
        blocks[-1].append(line)
    else:
        head.append(line)
tail = [l for l in head if l.startswith("errno=") or l == ""]
head = [l for l in head if not (l.startswith("errno=") or l == "")]
for l in head:
    print(l)
for b in sorted(blocks):
    print("\n".join(l for l in b if l != ""))
for l in tail:
    print(l if l else "<empty line>")'
}

# compare WHAT FILE_A FILE_B: fails with a diff when they differ.
compare() {
  if ! diff -u "$2" "$3" >"$TMPD/diff" 2>&1; then
    local hint=""
    if [ "$(sort "$2" | tr ',' '\n' | sort)" = "$(sort "$3" | tr ',' '\n' | sort)" ]; then
      hint=" (same items, different order: wireguard-go lists a peer's allowed IPs in the order they were added)"
    fi
    die "$1 differs between $IMPL_A (-) and $IMPL_B (+)$hint:
$(cat "$TMPD/diff")"
  fi
}

compare_all() {
  local tag=$1
  norm_dump a "$IFA" >"$TMPD/dump.a"
  norm_dump b "$IFB" >"$TMPD/dump.b"
  compare "wg show dump ($tag)" "$TMPD/dump.a" "$TMPD/dump.b"
  norm_showconf a "$IFA" >"$TMPD/conf.a"
  norm_showconf b "$IFB" >"$TMPD/conf.b"
  compare "wg showconf ($tag)" "$TMPD/conf.a" "$TMPD/conf.b"
  norm_uapi "$IFA" >"$TMPD/uapi.a"
  norm_uapi "$IFB" >"$TMPD/uapi.b"
  compare "UAPI get=1 ($tag)" "$TMPD/uapi.a" "$TMPD/uapi.b"
  log "$tag: wg show dump ($(wc -l <"$TMPD/dump.a") lines), showconf and raw get=1 agree"
}

compare_all "after setconf"
# The configuration really is what was asked for (not only equal on both sides).
grep -q "^interface	${PRIV[self]}	${PUB[self]}	51820	0x1234$" "$TMPD/dump.a" ||
  die "interface line is not what was configured: $(head -1 "$TMPD/dump.a")"
grep -q "^peer	${PUB[p1]}	$PSK1	10.210.1.77:51821	10.1.2.0/24,fd00:1::/64,192.168.7.1/32	25$" "$TMPD/dump.a" ||
  die "peer p1 is not what was configured (host bits masked, 10.9.0.0/16 moved to p4): $(grep "${PUB[p1]}" "$TMPD/dump.a")"
grep -q "^peer	${PUB[p4]}	$PSK4	10.210.1.78:65535	10.9.0.0/16,::/0,fd00:4::1/128	65535$" "$TMPD/dump.a" ||
  die "peer p4 is not what was configured: $(grep "${PUB[p4]}" "$TMPD/dump.a")"
grep -q "^peer	${PUB[p3]}	(none)	(none)	(none)	off$" "$TMPD/dump.a" ||
  die "peer p3 is not what was configured: $(grep "${PUB[p3]}" "$TMPD/dump.a")"

# Malformed requests that fail on their first line: same errno, nothing changes. (wireguard-go
# answers errno=-71 for a line without '=' and errno=-22 for all the others.)
BAD=(
  $'set=1\nbogus_key=1\n\n'
  $'set=1\nlisten_port=notanumber\n\n'
  $'set=1\nprivate_key=zz\n\n'
  $'set=1\npublic_key=0123\n\n'
  $'set=1\nfwmark=-1\n\n'
  $'set=1\nno_equals_sign\n\n'
  $'set=1\nprotocol_version=2\n\n'
  $'set=1\nreplace_peers=false\n\n'
  $'get=1\nx=1\n\n'
)
for req in "${BAD[@]}"; do
  ra=$(uapi "$IFA" "$req" | tr '\n' ' ')
  rb=$(uapi "$IFB" "$req" | tr '\n' ' ')
  [ "$ra" = "$rb" ] ||
    die "request $(printf '%q' "$req"): $IMPL_A answered '$ra', $IMPL_B answered '$rb'"
  [[ "$ra" == errno=-* ]] || die "request $(printf '%q' "$req") was accepted: '$ra'"
done
log "${#BAD[@]} malformed requests: same negative errno from both"
compare_all "after malformed requests"

wg_changes() {
  local n=$1 ifn=$2
  wgx "$n" set "$ifn" listen-port 51830 fwmark 0 \
    peer "${PUB[p3]}" remove \
    peer "${PUB[p2]}" allowed-ips 10.22.0.0/16,fd00:22::/64 persistent-keepalive 10 \
    peer "${PUB[p1]}" preshared-key /dev/null persistent-keepalive 0 endpoint '[fd00:210:1::79]:1' \
    peer "${PUB[p5]}" allowed-ips ''
}
wg_changes a "$IFA"
wg_changes b "$IFB"
compare_all "after wg set changes"
grep -q "^interface	${PRIV[self]}	${PUB[self]}	51830	off$" "$TMPD/dump.a" ||
  die "interface line after changes: $(head -1 "$TMPD/dump.a")"
! grep -q "${PUB[p3]}" "$TMPD/dump.a" || die "removed peer p3 still listed"
grep -q "^peer	${PUB[p1]}	(none)	\[fd00:210:1::79\]:1	10.1.2.0/24,fd00:1::/64,192.168.7.1/32	off$" "$TMPD/dump.a" ||
  die "peer p1 after changes: $(grep "${PUB[p1]}" "$TMPD/dump.a")"

wgx a set "$IFA" listen-port 0
wgx b set "$IFB" listen-port 0
for n in a b; do
  ifn=${RUN}$n
  port=$(wgx "$n" show "$ifn" listen-port)
  [ "$port" -gt 0 ] 2>/dev/null || die "${WG_IMPL[$ifn]}: listen-port 0 reads back as '$port', want the port it picked"
done
log "listen-port 0 reads back as the picked port on both"
for n in a b; do wg_alive "${RUN}$n" || die "${WG_IMPL[${RUN}$n]} on $n died"; done
log "PASS"
