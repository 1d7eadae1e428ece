#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Garbage at the listening port: for MESHTUN_NETNS_GARBAGE_SECONDS (default 5) the router
# namespace sends IMPL_A's port (node a, IPv4 and IPv6 outer addresses) about
# MESHTUN_NETNS_GARBAGE_RATE (default 20000) datagrams per second: random bytes, empty and
# short datagrams, wrong types and reserved bytes, truncated and oversized messages of every
# type, random transport messages, and real messages of the running a <-> b tunnel captured on
# the way and replayed as they are or with one byte flipped (see garbage.py).
#
#   tests/netns/garbage.sh [IMPL_A:IMPL_B ...]     (or MESHTUN_NETNS_PAIRS="X:Y ...")
#
# Meanwhile a ping runs through the tunnel from a to b every 100 ms; at least
# MESHTUN_NETNS_GARBAGE_MIN_REPLY percent (default 90) must be answered. Afterwards IMPL_A must
# still be running, answer `wg show`, keep b's real endpoint (no roaming to the garbage source:
# replays and forgeries are not authenticated traffic) and carry pings; for meshtund its drop
# counters (impl_drop_count ... all) must have grown by at least a tenth of what was sent.
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
parse_pairs "$@"
one_pair_or_each "$0"
netns_setup "garbage $IMPL_A:$IMPL_B"
impl_require "$IMPL_A" "$IMPL_B"
SECS=${MESHTUN_NETNS_GARBAGE_SECONDS:-5}
RATE=${MESHTUN_NETNS_GARBAGE_RATE:-20000}
MIN_REPLY=${MESHTUN_NETNS_GARBAGE_MIN_REPLY:-90}

topo_star a b
declare -A IFN=([a]=${RUN}a [b]=${RUN}b) PORT=([a]=40001 [b]=40002)
key_new a
key_new b
wg_start a "$IMPL_A" "${IFN[a]}"
wg_start b "$IMPL_B" "${IFN[b]}"
for n in a b; do wg_iface "$n" "${IFN[$n]}" "$n" "${PORT[$n]}"; done
drops0=$(drop_count_or_die "$IMPL_A" "${IFN[a]}" all)

# The sender listens on r's link to a for 3 s first, so it captures the handshake made now.
bg timeout $((SECS + 25)) ip netns exec "$(nsn r)" "$PY" "$NETNS_LIB_DIR/garbage.py" \
  --target "${OUT4[a]}" "${PORT[a]}" --target "${OUT6[a]}" "${PORT[a]}" --seconds "$SECS" \
  --rate "$RATE" --sniff eth-a --ignore-src 10.210.1.1 --ignore-src fd00:210:1::1 --warmup 3 --ready "$TMPD/garbage.ready" >"$TMPD/garbage.out" 2>&1
GARBAGE_PID=$LAST_PID
wait_until 5 test -e "$TMPD/garbage.ready" || die "garbage sender did not start: $(cat "$TMPD/garbage.out")"
wg_peer a "${IFN[a]}" b "${IN4[b]}/32,${IN6[b]}/128" endpoint "$(ep4 b "${PORT[b]}")"
wg_peer b "${IFN[b]}" a "${IN4[a]}/32,${IN6[a]}/128" endpoint "$(ep4 a "${PORT[a]}")"
ping_wait a "${IN4[b]}" 3
EP_B=$(wg_peer_field a "${IFN[a]}" b endpoint)
count=$((SECS * 10 + 30))
bg nx a ping -n -i 0.1 -W 1 -c "$count" "${IN4[b]}" >"$TMPD/ping.out" 2>&1
PING_PID=$LAST_PID
log "garbage at $IMPL_A ${OUT4[a]}:${PORT[a]} and [${OUT6[a]}]:${PORT[a]} for $SECS s (~$RATE/s), ping a -> b running"
wait "$GARBAGE_PID" || die "garbage sender failed: $(cat "$TMPD/garbage.out")"
log "  $(cat "$TMPD/garbage.out")"
sent=$(sed -n 's/^sent=\([0-9]*\) .*/\1/p' "$TMPD/garbage.out")
# Types 1, 2 and 4 must have been captured; type 3 may be too (cookie replies from a that is
# under load from this very flood, answering replayed initiations: correct behaviour).
for t in 1 2 4; do
  grep -Eq "captured=([0-9]+:[0-9]+,)*$t:[0-9]+" "$TMPD/garbage.out" ||
    die "the garbage sender did not capture the handshake and transport messages to replay"
done

wait "$PING_PID" || true
got=$(sed -n 's/.* \([0-9][0-9]*\) received.*/\1/p' "$TMPD/ping.out")
[ -n "$got" ] || die "no ping summary: $(tail -3 "$TMPD/ping.out")"
[ $((got * 100)) -ge $((MIN_REPLY * count)) ] ||
  die "only $got of $count pings through the tunnel answered during the garbage (want $MIN_REPLY%)"
log "  concurrent ping: $got of $count answered"

wg_alive "${IFN[a]}" || die "$IMPL_A died from garbage"
wgx a show "${IFN[a]}" >/dev/null || die "$IMPL_A does not answer wg show after the garbage"
ep=$(wg_peer_field a "${IFN[a]}" b endpoint)
[ "$ep" = "$EP_B" ] || die "$IMPL_A moved b's endpoint from $EP_B to $ep because of garbage"
ping_expect a "${IN4[b]}" 10 10
ping_expect b "${IN6[a]}" 10 10
drops1=$(drop_count_or_die "$IMPL_A" "${IFN[a]}" all)
if [ "$drops0" = n/a ]; then
  log "  $IMPL_A alive, endpoint of b unchanged ($ep), pings fine (drop counters: n/a)"
else
  [ $((drops1 - drops0)) -ge $((sent / 10)) ] ||
    die "$IMPL_A drop counters grew by $((drops1 - drops0)) for $sent garbage datagrams"
  log "  $IMPL_A alive, endpoint of b unchanged ($ep), pings fine, drops +$((drops1 - drops0)) for $sent sent"
fi
log "PASS"
