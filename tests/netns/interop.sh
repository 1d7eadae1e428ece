#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Interop between two userspace WireGuard implementations, one per namespace (a and b, joined
# through a router namespace r).
#
#   tests/netns/interop.sh [IMPL_A:IMPL_B ...]     (or MESHTUN_NETNS_PAIRS="X:Y ...")
#
# For each of four cases (tunnel over outer IPv4 or IPv6) x (handshake started by a or by b):
# both daemons are started afresh, only the initiator knows the other's endpoint, and the
# initiator pings first; the two cases started by b use a preshared key. (Fresh processes, not
# `wg set peer remove`: wireguard-go 0.0.20231211 sends some packets to a garbled IPv6 address
# right after a peer moves from an IPv4 to an IPv6 endpoint, which would cost a 5 s handshake
# retry; see the README.) Then pings over inner IPv4 and IPv6 in both directions must all be
# answered, and the responder must have learned the initiator's endpoint. In the two cases
# started by a, a TCP transfer of MESHTUN_NETNS_XFER_MIB MiB (default 200) goes each way and
# its sha256 must match at the other end; the transfer counters of `wg show` must account for
# it. Also checks the TUN MTU is 1420.
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
parse_pairs "$@"
one_pair_or_each "$0"
netns_setup "interop $IMPL_A:$IMPL_B"
impl_require "$IMPL_A" "$IMPL_B"
MIB=${MESHTUN_NETNS_XFER_MIB:-200}

topo_star a b
key_new a
key_new b
declare -A IFN=([a]=${RUN}a [b]=${RUN}b) PORT=([a]=40001 [b]=40002)

# start_both: (re)starts both daemons, checks the MTU, sets keys, ports and inner addresses.
start_both() {
  local n mtu
  for n in a b; do
    [ -z "${WG_PID[${IFN[$n]}]:-}" ] || wg_stop "${IFN[$n]}" || die "${WG_IMPL[${IFN[$n]}]} on $n ignored SIGTERM"
  done
  wg_start a "$IMPL_A" "${IFN[a]}"
  wg_start b "$IMPL_B" "${IFN[b]}"
  for n in a b; do
    mtu=$(ip -n "$(nsn $n)" -o link show "${IFN[$n]}" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')
    [ "$mtu" = 1420 ] || die "${WG_IMPL[${IFN[$n]}]} on $n: TUN MTU is '$mtu', want 1420"
    wg_iface "$n" "${IFN[$n]}" "$n" "${PORT[$n]}"
  done
}

other() { if [ "$1" = a ]; then echo b; else echo a; fi; }

# run_case FAMILY INITIATOR TRANSFER(yes|no)
run_case() {
  local fam=$1 ini=$2 xfer=$3 res
  res=$(other "$ini")
  start_both
  log "case: outer IPv$fam, handshake from $ini (${WG_IMPL[${IFN[$ini]}]})$([ "$ini" = b ] && echo ", preshared key"), MTU 1420 on both"
  local psk=()
  if [ "$ini" = b ]; then
    (umask 077 && wg genpsk >"$TMPD/psk")
    psk=(preshared-key "$TMPD/psk")
  fi
  wg_peer "$ini" "${IFN[$ini]}" "$res" "${IN4[$res]}/32,${IN6[$res]}/128" \
    endpoint "$("ep$fam" "$res" "${PORT[$res]}")" "${psk[@]}"
  wg_peer "$res" "${IFN[$res]}" "$ini" "${IN4[$ini]}/32,${IN6[$ini]}/128" "${psk[@]}"
  [ "$(wg_peer_field "$res" "${IFN[$res]}" "$ini" endpoint)" = "(none)" ] ||
    die "responder $res has an endpoint before any handshake"
  ping_wait "$ini" "${IN4[$res]}" 15
  wait_handshake "$ini" "${IFN[$ini]}" "$res" 5
  wait_handshake "$res" "${IFN[$res]}" "$ini" 5
  local want got
  want=$("ep$fam" "$ini" "${PORT[$ini]}")
  got=$(wg_peer_field "$res" "${IFN[$res]}" "$ini" endpoint)
  [ "$got" = "$want" ] || die "responder $res shows endpoint '$got' for $ini, want '$want'"
  ping_expect "$ini" "${IN4[$res]}" 10 10
  ping_expect "$ini" "${IN6[$res]}" 10 10
  ping_expect "$res" "${IN4[$ini]}" 10 10
  ping_expect "$res" "${IN6[$ini]}" 10 10
  log "  pings over inner IPv4 and IPv6 both ways: all answered; $res learned $want"
  if [ "$xfer" = yes ]; then
    local tx0 rx0 tx1 rx1 bytes=$((MIB * 1048576))
    tx0=$(wg_peer_field a "${IFN[a]}" b tx)
    rx0=$(wg_peer_field b "${IFN[b]}" a rx)
    tcp_transfer a b "${IN4[b]}" "$MIB"
    tx1=$(wg_peer_field a "${IFN[a]}" b tx)
    rx1=$(wg_peer_field b "${IFN[b]}" a rx)
    [ $((tx1 - tx0)) -ge "$bytes" ] || die "a's tx_bytes to b grew by $((tx1 - tx0)), less than $bytes sent"
    [ $((rx1 - rx0)) -ge "$bytes" ] || die "b's rx_bytes from a grew by $((rx1 - rx0)), less than $bytes received"
    tx0=$(wg_peer_field b "${IFN[b]}" a tx)
    rx0=$(wg_peer_field a "${IFN[a]}" b rx)
    tcp_transfer b a "${IN6[a]}" "$MIB"
    tx1=$(wg_peer_field b "${IFN[b]}" a tx)
    rx1=$(wg_peer_field a "${IFN[a]}" b rx)
    [ $((tx1 - tx0)) -ge "$bytes" ] || die "b's tx_bytes to a grew by $((tx1 - tx0)), less than $bytes sent"
    [ $((rx1 - rx0)) -ge "$bytes" ] || die "a's rx_bytes from b grew by $((rx1 - rx0)), less than $bytes received"
    log "  transfer counters account for both transfers"
  fi
}

run_case 4 a yes
run_case 6 b no
run_case 6 a yes
run_case 4 b no

for n in a b; do
  wg_alive "${IFN[$n]}" || die "${WG_IMPL[${IFN[$n]}]} on $n died"
done
log "PASS"
