#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SIGTERM under load, again and again, with AddressSanitizer watching.
#
#   tests/netns/shutdown-load.sh [meshtund:IMPL_B ...]     (or MESHTUN_NETNS_PAIRS="X:Y ...")
#
# meshtund (node a) is the ASan+UBSan build: $MESHTUN_ASAN_MESHTUND, else build/asan's
# daemon/meshtund (cmake --preset asan && cmake --build build/asan --target meshtund); a
# binary without AddressSanitizer in it is a failure. Its peer b (IMPL_B) keeps running.
# MESHTUN_NETNS_SHUTDOWN_ROUNDS (default 20) times, meshtund is started, configured and sent
# SIGTERM after MESHTUN_NETNS_SHUTDOWN_LOAD_MS (default 1500) of load, alternately:
#   - a handshake flood: meshtun-flood from node c at ~50000 initiations/s (valid mac1, random
#     sources) while b retries its handshake with a (b's ping needs a new session), so
#     handshake messages are queued when the signal comes;
#   - full-rate traffic: after the handshake, iperf3 TCP a -> b unthrottled plus b -> a pings.
# Every time meshtund must exit within 10 s with status 0, and its output must hold no
# AddressSanitizer, LeakSanitizer or UndefinedBehaviorSanitizer report.
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
parse_pairs "$@"
one_pair_or_each "$0"
netns_setup "shutdown-load $IMPL_A:$IMPL_B"
[ "$IMPL_A" = meshtund ] || die "shutdown-load tests meshtund's ASan build: the pair must be meshtund:IMPL_B"
ASAN_BIN=${MESHTUN_ASAN_MESHTUND:-$MESHTUN_ROOT/build/asan/daemon/meshtund}
[ -x "$ASAN_BIN" ] ||
  die "no ASan build of meshtund at $ASAN_BIN (cmake --preset asan && cmake --build build/asan --target meshtund, or set MESHTUN_ASAN_MESHTUND)"
grep -q __asan_init "$ASAN_BIN" || die "$ASAN_BIN is not built with AddressSanitizer"
impl_require "$IMPL_B"  # meshtund:meshtund: the peer b is the release build
command -v iperf3 >/dev/null || die "iperf3 missing (scripts/install-deps installs it)"
FLOOD=$(flood_bin)
ROUNDS=${MESHTUN_NETNS_SHUTDOWN_ROUNDS:-20}
LOAD_MS=${MESHTUN_NETNS_SHUTDOWN_LOAD_MS:-1500}
# Reports go to meshtund's output (its log in $TMPD); leak checking stays on.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
MESHTUND_ARGS=(--queues 2)

topo_star a b c
declare -A IFN=([a]=${RUN}a [b]=${RUN}b) PORT=([a]=40001 [b]=40002)
key_new a
key_new b
wg_start b "$IMPL_B" "${IFN[b]}"
wg_iface b "${IFN[b]}" b "${PORT[b]}"
wg_peer b "${IFN[b]}" a "${IN4[a]}/32,${IN6[a]}/128" endpoint "$(ep4 a "${PORT[a]}")"
ip -n "$(nsn r)" route add blackhole 10.240.0.0/16

# start_a: the ASan meshtund on a, configured with peer b; b forgets the session it had with
# the previous one (so either side's ping starts a new handshake at once).
start_a() {
  MESHTUN_MESHTUND=$ASAN_BIN wg_start a meshtund "${IFN[a]}"
  wg_iface a "${IFN[a]}" a "${PORT[a]}"
  wg_peer a "${IFN[a]}" b "${IN4[b]}/32,${IN6[b]}/128" endpoint "$(ep4 b "${PORT[b]}")"
  wg_peer_remove b "${IFN[b]}" a
  wg_peer b "${IFN[b]}" a "${IN4[a]}/32,${IN6[a]}/128" endpoint "$(ep4 a "${PORT[a]}")"
}

_gone() { ! pid_alive "$1"; }

# sigterm_a ROUND WHAT: SIGTERM, then the exit status and the sanitizers' verdict.
sigterm_a() {
  local pid=${WG_PID[${IFN[a]}]} rc=0 t0
  t0=$(date +%s%N)
  kill -TERM "$pid"
  wait_until 10 _gone "$pid" || die "round $1 ($2): meshtund did not exit within 10 s of SIGTERM"
  wait "$pid" || rc=$?
  local ms=$((($(date +%s%N) - t0) / 1000000))
  if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$TMPD/${IFN[a]}.log"; then
    cp "$TMPD/${IFN[a]}.log" "$TMPD/round-$1.log"
    grep -E -A25 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$TMPD/${IFN[a]}.log" | head -40 >&2
    die "round $1 ($2): sanitizer report in meshtund's output after SIGTERM (exit status $rc)"
  fi
  [ "$rc" -eq 0 ] || die "round $1 ($2): meshtund exited with status $rc after SIGTERM: $(_log_tail "${IFN[a]}")"
  EXIT_MS+=("$ms")
}

EXIT_MS=()
flood_sent=0
for ((round = 1; round <= ROUNDS; round++)); do
  start_a
  if ((round % 2)); then
    what="handshake flood"
    bg nx c "$FLOOD" --target "${OUT4[a]}:${PORT[a]}" --public-key "${PUB[a]}" --rate 50000 \
      --seconds $((LOAD_MS / 1000 + 2)) --sources 10.240.0.0/16 >"$TMPD/flood.out" 2>&1
    flood_pid=$LAST_PID
    bg nx b ping -n -q -i 0.2 -W 1 -w 5 "${IN4[a]}" >/dev/null 2>&1
    ping_pid=$LAST_PID
    bg nx a ping -n -q -i 0.2 -W 1 -w 5 "${IN4[b]}" >/dev/null 2>&1
    ping2_pid=$LAST_PID
    sleep "$(printf '%d.%03d' $((LOAD_MS / 1000)) $((LOAD_MS % 1000)))"
    pid_alive "$flood_pid" || die "round $round: the flood ended before SIGTERM: $(cat "$TMPD/flood.out")"
    sigterm_a "$round" "$what"
    wait "$flood_pid" || die "meshtun-flood failed: $(cat "$TMPD/flood.out")"
    flood_sent=$((flood_sent + $(sed -n 's/^sent=\([0-9]*\) .*/\1/p' "$TMPD/flood.out")))
    stop_pid "$ping_pid" 1 || true
    stop_pid "$ping2_pid" 1 || true
  else
    what="full-rate traffic"
    ping_wait a "${IN4[b]}" 10
    bg nx b iperf3 -s -1 -p $((5200 + round)) >"$TMPD/iperf-server.out" 2>&1
    server_pid=$LAST_PID
    wait_until 5 nx b sh -c "ss -ltn | grep -q ':$((5200 + round)) '" || die "iperf3 server in b did not start"
    bg timeout 20 ip netns exec "$(nsn a)" iperf3 -c "${IN4[b]}" -p $((5200 + round)) -t 10 \
      --connect-timeout 3000 --forceflush >"$TMPD/iperf.out" 2>&1
    iperf_pid=$LAST_PID
    bg nx b ping -n -q -i 0.01 -W 1 -w 5 "${IN4[a]}" >/dev/null 2>&1
    ping_pid=$LAST_PID
    sleep "$(printf '%d.%03d' $((LOAD_MS / 1000)) $((LOAD_MS % 1000)))"
    # The first second's report: traffic was flowing when the signal came.
    rate=$(sed -n 's/.* sec .* \([0-9.]* [KMG]bits\/sec\).*/\1/p' "$TMPD/iperf.out" | tail -1)
    sigterm_a "$round" "$what"
    { [ -n "$rate" ] && [ "${rate%% *}" != 0.00 ]; } ||
      die "round $round: no iperf3 traffic a -> b before SIGTERM: $(tr '\n' ' ' <"$TMPD/iperf.out")"
    what="$what, $rate"
    stop_pid "$iperf_pid" 1 || true
    stop_pid "$ping_pid" 1 || true
    stop_pid "$server_pid" 1 || true
  fi
  log "round $round ($what): SIGTERM -> exit 0 in ${EXIT_MS[-1]} ms, no sanitizer report"
done
wg_alive "${IFN[b]}" || die "$IMPL_B on b died"
summary "meshtund (ASan) SIGTERM under load: $ROUNDS of $ROUNDS clean exits (slowest $(printf '%s\n' "${EXIT_MS[@]}" | sort -n | tail -1) ms); $flood_sent flood initiations in the flood rounds"
log "PASS"
