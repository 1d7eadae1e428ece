#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Endpoint roaming: one side's outer address changes (a new link to the router in another
# subnet replaces the old link, or the same link gets an address in another subnet; either
# way the old address disappears); traffic must resume and the other side's `wg show` must
# show the new endpoint.
#
#   tests/netns/roaming.sh [IMPL_A:IMPL_B ...]     (or MESHTUN_NETNS_PAIRS="X:Y ...")
#
# Session 1, tunnel over outer IPv4: a moves to a new link, then b to a new address. The side that moved pings first
# (so the other learns its new address from authenticated traffic), then the other side pings
# it back at its new address. This also exercises the mover's sticky source address: the one
# it used before is gone and it must send from the new one.
# Session 2, fresh daemons, tunnel over outer IPv6, persistent keepalive 1 s on both sides:
# a moves to a new address, then b to a new link; the side that did NOT move must see the new endpoint from keepalives
# alone and then reach the mover.
# Traffic must resume within MESHTUN_NETNS_ROAM_SECONDS (default 25): wireguard-go 0.0.20220316
# keeps sending from its vanished source address until its 15 s new-handshake timer clears it;
# 0.0.20231211 resumes at once. The time each move took is printed.
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
parse_pairs "$@"
one_pair_or_each "$0"
netns_setup "roaming $IMPL_A:$IMPL_B"
impl_require "$IMPL_A" "$IMPL_B"

topo_star a b
key_new a
key_new b
declare -A IFN=([a]=${RUN}a [b]=${RUN}b) PORT=([a]=40001 [b]=40002)
other() { if [ "$1" = a ]; then echo b; else echo a; fi; }

# session FAMILY KEEPALIVE: (re)starts both daemons, each knowing the other's endpoint.
session() {
  local fam=$1 ka=$2 n
  for n in a b; do
    [ -z "${WG_PID[${IFN[$n]}]:-}" ] || wg_stop "${IFN[$n]}" || die "${WG_IMPL[${IFN[$n]}]} on $n ignored SIGTERM"
  done
  wg_start a "$IMPL_A" "${IFN[a]}"
  wg_start b "$IMPL_B" "${IFN[b]}"
  for n in a b; do
    wg_iface "$n" "${IFN[$n]}" "$n" "${PORT[$n]}"
    wg_peer "$n" "${IFN[$n]}" "$(other $n)" "${IN4[$(other $n)]}/32,${IN6[$(other $n)]}/128" \
      endpoint "$("ep$fam" "$(other $n)" "${PORT[$(other $n)]}")" persistent-keepalive "$ka"
  done
  ping_wait a "${IN4[b]}" 10
  ping_expect b "${IN4[a]}" 5 5
  log "session over outer IPv$fam (keepalive $ka): up, $IMPL_A on a, $IMPL_B on b"
}

_endpoint_is() { [ "$(wg_peer_field "$1" "${IFN[$1]}" "$2" endpoint)" = "$3" ]; }

ROAM_SECONDS=${MESHTUN_NETNS_ROAM_SECONDS:-25}

# roam_and_check MOVER FAMILY HOW MODE: HOW "link" or "addr" (see roam_node); MODE "traffic"
# (the mover pings first) or "keepalive" (the other side waits for the new endpoint).
roam_and_check() {
  local mv=$1 fam=$2 how=$3 mode=$4 st old want t0
  st=$(other "$mv")
  old=$(wg_peer_field "$st" "${IFN[$st]}" "$mv" endpoint)
  roam_node "$mv" "$how"
  t0=$(date +%s%N)
  want=$("ep$fam" "$mv" "${PORT[$mv]}")
  if [ "$mode" = traffic ]; then
    ping_wait "$mv" "${IN4[$st]}" "$ROAM_SECONDS"
    _endpoint_is "$st" "$mv" "$want" ||
      die "$st shows endpoint '$(wg_peer_field "$st" "${IFN[$st]}" "$mv" endpoint)' for $mv after it moved, want '$want'"
  else
    wait_until "$ROAM_SECONDS" _endpoint_is "$st" "$mv" "$want" ||
      die "$st still shows endpoint '$(wg_peer_field "$st" "${IFN[$st]}" "$mv" endpoint)' for $mv $ROAM_SECONDS s after it moved (keepalive 1 s), want '$want'"
    ping_wait "$st" "${IN4[$mv]}" 5
  fi
  log "  $mv (${WG_IMPL[${IFN[$mv]}]}) moved ($how): $old -> $want; traffic resumed after $((($(date +%s%N) - t0) / 1000000)) ms"
  ping_expect "$st" "${IN4[$mv]}" 10 10
  ping_expect "$st" "${IN6[$mv]}" 10 10
  ping_expect "$mv" "${IN6[$st]}" 10 10
  log "  $st (${WG_IMPL[${IFN[$st]}]}) shows $want; pings both ways answered"
}

session 4 0
roam_and_check a 4 link traffic
roam_and_check b 4 addr traffic
session 6 1
roam_and_check a 6 addr keepalive
roam_and_check b 6 link keepalive

for n in a b; do
  wg_alive "${IFN[$n]}" || die "${WG_IMPL[${IFN[$n]}]} on $n died"
done
log "PASS"
