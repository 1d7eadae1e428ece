#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A handshake-initiation flood at the listening port while a legitimate peer handshakes anew.
#
#   tests/netns/handshake-flood.sh [IMPL_A:IMPL_B ...]     (or MESHTUN_NETNS_PAIRS="X:Y ...")
#   (run-all: meshtund:wg-go-2023 wg-go-2023:wg-go-2023, and prints both side by side)
#
# Node c, the attacker, runs meshtun-flood (tools/flood.cpp) at IMPL_A's port on node a: about
# MESHTUN_NETNS_FLOOD_RATE (default 100000) initiations per second for
# MESHTUN_NETNS_FLOOD_SECONDS (default 30), each from a random address of 10.240.0.0/16 (r
# routes it to c) and port, with random content and a valid mac1 for a's public key, as an
# attacker who knows that key would send. Node c counts the cookie replies that come back with
# nftables (a rule that drops them in c's prerouting). 2 s into the flood the legitimate peer
# b (IMPL_B) forgets a (its peer is removed and added again: no session, no cookie) and pings
# it. Checks:
#   - the under-load switch engages: cookie replies reach c, at least 1 % as many as flood
#     messages were sent (for meshtund also its cookie_required drop counter grows);
#   - b receives a cookie reply from a and then completes a new handshake (a's latest
#     handshake with b moves past the moment b forgot it) within the flood's length less 5 s.
#     That takes several tries: b retries every 5 s, and a flooded target loses a share of
#     what arrives, b's messages included, to its full handshake queue or socket buffer (here
#     meshtund answered 79-97 % of the flood with cookies, wireguard-go 0.0.20231211 56-73 %,
#     and b needed 5 to 18 s);
#   - afterwards, still under the flood, at least 90 % of 20 pings b -> a are answered;
#   - a still runs.
# Printed: the rate the flood reached, a's CPU time during the flood (from /proc/PID/stat,
# as a share of one core and per initiation sent), the cookie replies, the handshake time.
# With several pairs the figures of each are printed together at the end.
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
parse_pairs "$@"
one_pair_or_each "$0"
netns_setup "handshake-flood $IMPL_A:$IMPL_B"
impl_require "$IMPL_A" "$IMPL_B"
command -v nft >/dev/null || die "nft missing (scripts/install-deps installs nftables)"
FLOOD=$(flood_bin)
RATE=${MESHTUN_NETNS_FLOOD_RATE:-100000}
SECS=${MESHTUN_NETNS_FLOOD_SECONDS:-30}
[ "$SECS" -ge 12 ] || die "MESHTUN_NETNS_FLOOD_SECONDS must be at least 12 (a cookie round takes 5 s)"
MESHTUND_ARGS=(--queues 2)

topo_star a b c
declare -A IFN=([a]=${RUN}a [b]=${RUN}b) PORT=([a]=40001 [b]=40002)
key_new a
key_new b
wg_start a "$IMPL_A" "${IFN[a]}"
wg_start b "$IMPL_B" "${IFN[b]}"
for n in a b; do wg_iface "$n" "${IFN[$n]}" "$n" "${PORT[$n]}"; done
wg_peer a "${IFN[a]}" b "${IN4[b]}/32,${IN6[b]}/128" endpoint "$(ep4 b "${PORT[b]}")"
wg_peer b "${IFN[b]}" a "${IN4[a]}/32,${IN6[a]}/128" endpoint "$(ep4 a "${PORT[a]}")"
ping_wait b "${IN4[a]}" 10
A_PID=${WG_PID[${IFN[a]}]}

# Cookie replies (64-byte type 3 messages: UDP length 72) from a's port, counted by nftables:
# in c (the flood's sources are routed there) and dropped, in b and let through.
ip -n "$(nsn r)" route add 10.240.0.0/16 via "${OUT4[c]}"
# nft_cookie_counter NODE VERDICT
nft_cookie_counter() {
  nx "$1" nft -f - <<EOF
table ip meshtun_test {
  counter cookies {}
  chain pre {
    type filter hook prerouting priority -300; policy accept;
    ip saddr ${OUT4[a]} udp sport ${PORT[a]} udp length 72 counter name cookies $2
  }
}
EOF
}
nft_cookies() {
  nx "$1" nft list counter ip meshtun_test cookies | sed -n 's/.*packets \([0-9]*\).*/\1/p'
}
nft_cookie_counter c drop
nft_cookie_counter b accept

drops0=$(drop_count_or_die "$IMPL_A" "${IFN[a]}" cookie_required)
cpu0=$(proc_cpu_ticks "$A_PID")
bg nx c "$FLOOD" --target "${OUT4[a]}:${PORT[a]}" --public-key "${PUB[a]}" --rate "$RATE" \
  --seconds "$SECS" --sources 10.240.0.0/16 >"$TMPD/flood.out" 2>&1
FLOOD_PID=$LAST_PID
flood_t0=$(date +%s)
log "flood of ~$RATE initiations/s at $IMPL_A ${OUT4[a]}:${PORT[a]} for $SECS s from c"
sleep 2

# b forgets a: the new peer has no session and no cookie, so its handshake meets the flood.
wg_peer_remove b "${IFN[b]}" a
forgot=$(date +%s)
wg_peer b "${IFN[b]}" a "${IN4[a]}/32,${IN6[a]}/128" endpoint "$(ep4 a "${PORT[a]}")"
bg nx b ping -n -q -i 0.2 -W 1 -w $((SECS - 3)) "${IN4[a]}" >/dev/null 2>&1
_new_handshake() {
  local t
  t=$(wg_peer_field a "${IFN[a]}" b handshake 2>/dev/null) || return 1
  [ -n "$t" ] && [ "$t" -ge "$forgot" ]
}
# victim_drops: the counters that tell what became of handshake messages at a.
victim_drops() {
  local r out=""
  printf 'UdpRcvbufErrors in a: %s; ' "$(nx a nstat -az UdpRcvbufErrors | awk '$1 == "UdpRcvbufErrors" { print $2 }')"
  [ "$IMPL_A" = meshtund ] || return 0
  for r in queue_full cookie_required rate_limited handshake_decrypt unknown_peer; do
    out+=" $r=$(impl_drop_count "$IMPL_A" "${IFN[a]}" "$r" 2>/dev/null || echo '?')"
  done
  printf '%s drops:%s\n' "$IMPL_A" "$out"
}
wait_until $((SECS - 5)) _new_handshake ||
  die "b's new handshake with $IMPL_A did not complete within $((SECS - 5)) s of the flood (b got $(nft_cookies b) cookie replies, c $(nft_cookies c)); $(victim_drops)"
hs_took=$(($(date +%s) - forgot))
pid_alive "$FLOOD_PID" || die "the flood ended before b's handshake completed: $(cat "$TMPD/flood.out")"
cookies_b=$(nft_cookies b)
got=$(ping_count b "${IN4[a]}" 20 0.1)
flood_left=$((flood_t0 + SECS - $(date +%s)))
log "b handshook again after ${hs_took} s (${cookies_b} cookie replies to b); then $got of 20 pings b -> a answered, flood still on for ${flood_left} s"
[ "$flood_left" -ge 0 ] || log "  (the pings ran partly after the flood: the handshake was late)"

wait "$FLOOD_PID" || die "meshtun-flood failed: $(cat "$TMPD/flood.out")"
cpu1=$(proc_cpu_ticks "$A_PID")
out=$(cat "$TMPD/flood.out")
sent=$(sed -n 's/^sent=\([0-9]*\) .*/\1/p' <<<"$out")
rate=$(sed -n 's/.* rate=\([0-9]*\)\/s.*/\1/p' <<<"$out")
{ [ -n "$sent" ] && [ "$sent" -gt 0 ]; } || die "meshtun-flood sent nothing: $out"
cookies_c=$(nft_cookies c)
drops1=$(drop_count_or_die "$IMPL_A" "${IFN[a]}" cookie_required)
cpu_ms=$(((cpu1 - cpu0) * 1000 / CLK_TCK))
summary "$IMPL_A under $sent initiations in $SECS s ($rate/s reached): CPU ${cpu_ms} ms ($((cpu_ms / 10 / SECS))% of a core, $((cpu_ms * 1000000 / sent)) ns per initiation), $cookies_c cookie replies ($((cookies_c * 100 / sent))%), cookie_required drops $([ "$drops0" = n/a ] && echo n/a || echo $((drops1 - drops0))), $IMPL_B handshook after ${hs_took} s with $cookies_b cookie replies, ping $got/20"

wg_alive "${IFN[a]}" || die "$IMPL_A died under the flood"
[ $((cookies_c * 100)) -ge "$sent" ] ||
  die "$IMPL_A sent $cookies_c cookie replies for $sent initiations: the under-load switch did not engage"
if [ "$drops0" != n/a ]; then
  [ $((drops1 - drops0)) -gt 0 ] || die "$IMPL_A's cookie_required drop counter did not grow"
fi
[ "$cookies_b" -ge 1 ] || die "b completed its handshake without a cookie reply: $IMPL_A was not under load"
[ $((got * 10)) -ge $((20 * 9)) ] || die "only $got of 20 pings b -> a answered after the new handshake"
[ "$flood_left" -ge 0 ] || die "the new handshake took so long that the pings ran after the flood"
log "PASS"
