#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Cryptokey routing with three peers: a hub (IMPL_A, node a) and three spokes (IMPL_B, nodes b,
# c, d) with distinct, partly nested allowed IPs on the hub:
#   b: 10.50.0.0/16  fd00:50::/32      c: 10.50.1.0/24  fd00:50:1::/48  (inside b's: longest wins)
#   d: 10.60.0.0/24  fd00:60::/64      nobody: 10.70.0.0/24  fd00:70::/64 (routed to the hub's TUN)
#
#   tests/netns/three-peers.sh [IMPL_A:IMPL_B ...]     (or MESHTUN_NETNS_PAIRS="X:Y ...")
#
# Checks: (1) pings from the hub to an address that only the right spoke owns are answered;
# (2) tagged UDP from the hub reaches exactly the listener of the right spoke; (3) datagrams to
# an unassigned address in c's range raise the hub's tx counter for c only; (4) datagrams to the
# uncovered range reach no peer (no tx counter moves) and, for meshtund, raise its no_route
# drop counter (impl_drop_count in lib.sh; wireguard-go has none); (5) inbound source check: a
# spoke's packets reach the hub only from source addresses the hub assigns to that spoke (for
# meshtund, its source_not_allowed counter grows by the 4 spoofed packets).
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
parse_pairs "$@"
one_pair_or_each "$0"
netns_setup "three-peers $IMPL_A:$IMPL_B"
impl_require "$IMPL_A" "$IMPL_B"

topo_star a b c d
SPOKES=(b c d)
declare -A IFN=([a]=${RUN}a [b]=${RUN}b [c]=${RUN}c [d]=${RUN}d)
declare -A PORT=([a]=40001 [b]=40002 [c]=40003 [d]=40004)
declare -A RANGES=([b]="10.50.0.0/16,fd00:50::/32" [c]="10.50.1.0/24,fd00:50:1::/48"
  [d]="10.60.0.0/24,fd00:60::/64")
# Addresses each spoke owns (on its WireGuard interface), by purpose.
declare -A SITE4=([b]=10.50.2.7 [c]=10.50.1.7 [d]=10.60.0.7)
declare -A SITE6=([b]=fd00:50:2::7 [c]=fd00:50:1::7 [d]=fd00:60::7)
HUB=${IFN[a]}

for n in a "${SPOKES[@]}"; do key_new "$n"; done
wg_start a "$IMPL_A" "$HUB"
for n in "${SPOKES[@]}"; do wg_start "$n" "$IMPL_B" "${IFN[$n]}"; done
for n in a "${SPOKES[@]}"; do wg_iface "$n" "${IFN[$n]}" "$n" "${PORT[$n]}"; done
for n in "${SPOKES[@]}"; do
  wg_peer a "$HUB" "$n" "${IN4[$n]}/32,${IN6[$n]}/128,${RANGES[$n]}" endpoint "$(ep4 "$n" "${PORT[$n]}")"
  wg_peer "$n" "${IFN[$n]}" a "10.220.0.0/24,fd00:220::/64" endpoint "$(ep4 a "${PORT[a]}")"
  addr_add "$n" "${IFN[$n]}" "${SITE4[$n]}/32"
  addr_add "$n" "${IFN[$n]}" "${SITE6[$n]}/128"
done
# b also owns addresses that the hub assigns to c and d, to try them as spoofed sources.
for a in 10.50.1.8/32 fd00:50:1::8/128 10.60.0.9/32 fd00:60::9/128; do addr_add b "${IFN[b]}" "$a"; done
for r in 10.50.0.0/16 10.60.0.0/24 10.70.0.0/24 fd00:50::/32 fd00:60::/64 fd00:70::/64; do
  ip -n "$(nsn a)" route add "$r" dev "$HUB"
done
for n in "${SPOKES[@]}"; do ping_wait a "${IN4[$n]}" 10; done
log "hub $IMPL_A on a, spokes $IMPL_B on b c d: all handshaken"

# (1) pings to addresses that only the right spoke owns.
for n in "${SPOKES[@]}"; do
  ping_expect a "${SITE4[$n]}" 5 5
  ping_expect a "${SITE6[$n]}" 5 5
done
log "(1) pings to each spoke's own addresses (nested prefixes too) answered"

# (2) tagged UDP: each spoke's listener sees exactly the datagrams meant for it.
for n in "${SPOKES[@]}"; do probe_listen "$n" 7000 20; done
for n in "${SPOKES[@]}"; do
  probe_send a "${SITE4[$n]}" 7000 "to-$n-v4"
  probe_send a "${SITE6[$n]}" 7000 "to-$n-v6"
done
for n in "${SPOKES[@]}"; do
  probe_result "$n" 7000
  [ "$PROBE_TAGS" = "to-$n-v4 to-$n-v6" ] ||
    die "spoke $n received '$PROBE_TAGS', want exactly 'to-$n-v4 to-$n-v6'"
done
log "(2) tagged UDP from the hub: every spoke got exactly its own two datagrams"

hub_tx() { wg_peer_field a "$HUB" "$1" tx; }

# (3) counters: 20 datagrams to an unassigned address in c's /24 (inside b's /16) go to c.
declare -A TX0=()
for n in "${SPOKES[@]}"; do TX0[$n]=$(hub_tx "$n"); done
nx a "$PY" "$NETNS_LIB_DIR/udp_probe.py" send --to 10.50.1.99 --port 7000 --payload counted --count 20
_c_counted() { [ $(($(hub_tx c) - TX0[c])) -ge $((20 * 64)) ]; }
wait_until 5 _c_counted || true
for n in "${SPOKES[@]}"; do
  delta=$(($(hub_tx "$n") - TX0[$n]))
  if [ "$n" = c ]; then
    [ "$delta" -ge $((20 * 64)) ] || die "hub tx to c grew by $delta bytes after 20 datagrams for c's range"
  else
    [ "$delta" -lt $((5 * 64)) ] || die "hub tx to $n grew by $delta bytes although the datagrams were for c"
  fi
done
log "(3) 20 datagrams to 10.50.1.99: hub tx counter grew for c only"

# (4) an uncovered destination reaches nobody and is counted (meshtund).
drops0=$(drop_count_or_die "$IMPL_A" "$HUB" no_route)
for n in "${SPOKES[@]}"; do TX0[$n]=$(hub_tx "$n"); probe_listen "$n" 7002 20; done
nx a "$PY" "$NETNS_LIB_DIR/udp_probe.py" send --to 10.70.0.5 --port 7002 --payload lost4 --count 20
nx a "$PY" "$NETNS_LIB_DIR/udp_probe.py" send --to fd00:70::5 --port 7002 --payload lost6 --count 20
ping_none a 10.70.0.5 3
for n in "${SPOKES[@]}"; do
  probe_result "$n" 7002
  [ -z "$PROBE_OUT" ] || die "spoke $n received datagrams for an uncovered address: $PROBE_OUT"
  delta=$(($(hub_tx "$n") - TX0[$n]))
  [ "$delta" -lt $((5 * 64)) ] || die "hub tx to $n grew by $delta bytes for an uncovered destination"
done
drops1=$(drop_count_or_die "$IMPL_A" "$HUB" no_route)
if [ "$drops0" = n/a ]; then
  log "(4) 43 packets to 10.70.0.5 / fd00:70::5 reached no peer (drop counter: n/a for $IMPL_A)"
else
  [ $((drops1 - drops0)) -ge 43 ] ||
    die "$IMPL_A no_route drop counter grew by $((drops1 - drops0)) for 43 packets to uncovered addresses"
  log "(4) 43 packets to uncovered addresses reached no peer; no_route drops +$((drops1 - drops0))"
fi

# (5) inbound source check on the hub.
spoof0=$(drop_count_or_die "$IMPL_A" "$HUB" source_not_allowed)
probe_listen a 7001 20
probe_send b "${IN4[a]}" 7001 b-own4 "${SITE4[b]}"
probe_send b "${IN6[a]}" 7001 b-own6 "${SITE6[b]}"
probe_send c "${IN4[a]}" 7001 c-own4 "${SITE4[c]}"
probe_send b "${IN4[a]}" 7001 b-as-c4 10.50.1.8
probe_send b "${IN6[a]}" 7001 b-as-c6 fd00:50:1::8
probe_send b "${IN4[a]}" 7001 b-as-d4 10.60.0.9
probe_send b "${IN6[a]}" 7001 b-as-d6 fd00:60::9
probe_result a 7001
[ "$PROBE_TAGS" = "b-own4 b-own6 c-own4" ] ||
  die "hub received '$PROBE_TAGS'; want only 'b-own4 b-own6 c-own4' (sources not allowed for the sending peer must be dropped)"
spoof1=$(drop_count_or_die "$IMPL_A" "$HUB" source_not_allowed)
if [ "$spoof0" = n/a ]; then
  log "(5) hub accepted each spoke's own sources and dropped b's packets with c's and d's sources"
else
  [ $((spoof1 - spoof0)) -ge 4 ] ||
    die "$IMPL_A source_not_allowed drop counter grew by $((spoof1 - spoof0)) for 4 spoofed packets"
  log "(5) hub accepted each spoke's own sources, dropped b's 4 with c's and d's sources (source_not_allowed +$((spoof1 - spoof0)))"
fi

wg_alive "$HUB" || die "$IMPL_A hub died"
log "PASS"
