#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Process life cycle of a userspace WireGuard implementation (wireguard-go's conventions).
#
#   tests/netns/lifecycle.sh [IMPL|IMPL_A:IMPL_B ...]   (or MESHTUN_NETNS_PAIRS; each distinct
#                                                       implementation named is tested once)
#
# For each implementation:
#   - `IMPL -f IF`: TUN IF with MTU 1420 and /var/run/wireguard/IF.sock with no group or other
#     permission bits; it exits within 5 s of SIGTERM, of SIGINT, of `ip link del IF` and of its
#     socket being removed, and its socket and TUN are gone afterwards;
#   - a busy name: a second instance for IF in the same namespace (TUN busy) and in another one
#     (socket busy) exits by itself, and the first keeps serving `wg show`;
#   - `IMPL IF` without -f daemonizes: the command returns 0 within 10 s, the daemon serves
#     `wg show`, and exits on `ip link del IF`;
#   - meshtund only: once daemonized, nothing it logs reaches the terminal (syslog, or
#     --log-file, gets it); an MTU above what it carries (9000) is set back to 1919;
#   - an unknown flag (`IMPL --no-such-flag IF`) makes it exit by itself without creating IF.
#     meshtund must also exit non-zero there (wireguard-go prints its usage and exits 0), and
#     `meshtund --help` must exit 0 and mention --foreground and --queues.
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
ARGS=("$@")
[ ${#ARGS[@]} -gt 0 ] || read -r -a ARGS <<<"${MESHTUN_NETNS_PAIRS:-}"
IMPLS=()
for arg in "${ARGS[@]}"; do
  for impl in "${arg%%:*}" "${arg#*:}"; do
    [[ " ${IMPLS[*]} " == *" $impl "* ]] || IMPLS+=("$impl")
  done
done
TEST_NAME="lifecycle ${IMPLS[*]}"
[ ${#IMPLS[@]} -gt 0 ] || die "no implementation given (arguments like meshtund or wg-go-2022:wg-go-2023)"
netns_setup "lifecycle ${IMPLS[*]}"
impl_require "${IMPLS[@]}"
ns_add a b

sock_of() { printf '%s/%s.sock\n' "$WG_RUN_DIR" "$1"; }
link_exists() { ip -n "$(nsn "$1")" link show "$2" >/dev/null 2>&1; }
_gone() { ! pid_alive "$1" && [ ! -e "$(sock_of "$2")" ] && ! link_exists "$3" "$2"; }

# expect_exit IMPL IF NODE HOW: after HOW was done, the daemon, its socket and its TUN go away.
expect_exit() {
  local impl=$1 ifn=$2 node=$3 how=$4 pid=${WG_PID[$2]}
  wait_until 5 _gone "$pid" "$ifn" "$node" || {
    pid_alive "$pid" && die "$impl did not exit within 5 s of $how"
    [ -e "$(sock_of "$ifn")" ] && die "$impl exited on $how but left $(sock_of "$ifn")"
    die "$impl exited on $how but left the TUN device $ifn"
  }
  wait "$pid" 2>/dev/null || true
}

k=0
for impl in "${IMPLS[@]}"; do
  bin=$(impl_bin "$impl")
  k=$((k + 1))
  IF=${RUN}$k

  wg_start a "$impl" "$IF"
  mtu=$(ip -n "$(nsn a)" -o link show "$IF" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')
  [ "$mtu" = 1420 ] || die "$impl: TUN MTU is '$mtu', want 1420"
  mode=$(stat -c %a "$(sock_of "$IF")")
  [ $((8#$mode & 8#077)) -eq 0 ] || die "$impl: socket mode $mode gives access beyond its owner"
  kill -TERM "${WG_PID[$IF]}"
  expect_exit "$impl" "$IF" a SIGTERM
  log "$impl: MTU 1420, socket mode $mode; SIGTERM: exits, socket and TUN gone"

  wg_start a "$impl" "$IF"
  kill -INT "${WG_PID[$IF]}"
  expect_exit "$impl" "$IF" a SIGINT
  wg_start a "$impl" "$IF"
  ip -n "$(nsn a)" link del "$IF"
  expect_exit "$impl" "$IF" a "ip link del"
  wg_start a "$impl" "$IF"
  rm -f "$(sock_of "$IF")"
  expect_exit "$impl" "$IF" a "removal of its socket"
  log "$impl: exits on SIGINT, on ip link del and on removal of its socket"

  # Busy name: same namespace (TUN busy), then another namespace (socket busy).
  wg_start a "$impl" "$IF"
  for node in a b; do
    rc=0
    timeout 10 ip netns exec "$(nsn "$node")" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error \
      "$bin" -f "$IF" >"$TMPD/busy-$node.out" 2>&1 || rc=$?
    [ "$rc" -ne 124 ] || die "$impl: a second instance for the busy name $IF (in $node) kept running"
    wgx a show "$IF" >/dev/null || die "$impl: the first instance stopped serving wg show after a second one tried $IF"
    link_exists b "$IF" && die "$impl: the second instance left a TUN $IF in b"
    log "$impl: second instance for busy $IF in $node exited by itself (status $rc: $(grep -v '^[│┌└]' "$TMPD/busy-$node.out" | tail -1))"
  done
  wg_alive "$IF" || die "$impl: the first instance died when a second one tried $IF"
  wg_stop "$IF" || die "$impl ignored SIGTERM"

  # Daemonizing.
  IFD=${IF}d
  WG_IFS+=("$IFD")
  rc=0
  timeout 10 ip netns exec "$(nsn a)" env -u WG_PROCESS_FOREGROUND LOG_LEVEL=error "$bin" "$IFD" \
    >"$TMPD/daemon.out" 2>&1 || rc=$?
  [ "$rc" -eq 0 ] || die "$impl $IFD (no -f) returned $rc: $(tail -3 "$TMPD/daemon.out")"
  wait_until 5 test -S "$(sock_of "$IFD")" || die "$impl daemonized but no socket $(sock_of "$IFD")"
  dpid=$(nx a ss -xlpn | grep -F "$(sock_of "$IFD") " | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)
  [ -n "$dpid" ] || die "$impl: cannot find the process listening on $(sock_of "$IFD")"
  PIDS+=("$dpid")
  WG_PID[$IFD]=$dpid
  wgx a show "$IFD" >/dev/null || die "$impl daemon does not serve wg show"
  ip -n "$(nsn a)" link del "$IFD"
  wait_until 5 _gone "$dpid" "$IFD" a || die "$impl daemon (pid $dpid) did not go away after ip link del"
  log "$impl: without -f it daemonizes (pid $dpid), serves wg show, exits on ip link del"

  if [ "$impl" = meshtund ]; then
    # A daemon leaves the terminal alone: what it logs after forking (the warning for an MTU
    # above what it carries) reaches --log-file, or syslog without one, never the terminal.
    for with_file in no yes; do
      IFL=${IF}l
      WG_IFS+=("$IFL")
      extra=()
      [ "$with_file" = yes ] && extra=(--log-file "$TMPD/meshtund.log")
      rc=0
      timeout 10 ip netns exec "$(nsn a)" env -u WG_PROCESS_FOREGROUND "$bin" --log-level info \
        "${extra[@]}" "$IFL" >"$TMPD/daemon-log.out" 2>&1 || rc=$?
      [ "$rc" -eq 0 ] || die "meshtund $IFL ${extra[*]} returned $rc"
      wait_until 5 test -S "$(sock_of "$IFL")" || die "meshtund $IFL: no socket"
      lpid=$(nx a ss -xlpn | grep -F "$(sock_of "$IFL") " | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)
      PIDS+=("$lpid")
      ip -n "$(nsn a)" link set "$IFL" mtu 9000
      if [ "$with_file" = yes ]; then
        wait_until 5 grep -q 'mtu=9000 is above' "$TMPD/meshtund.log" ||
          die "meshtund --log-file: the warning for mtu 9000 is not in the file"
      else
        sleep 0.5
      fi
      if grep -q 'mtu=9000' "$TMPD/daemon-log.out"; then
        die "meshtund (daemonized, log file: $with_file) wrote to the terminal after forking:" \
          "$(grep 'mtu=9000' "$TMPD/daemon-log.out")"
      fi
      [ "$(ip -n "$(nsn a)" -o link show "$IFL" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')" = 1919 ] ||
        die "meshtund did not put mtu 9000 back to 1919"
      ip -n "$(nsn a)" link del "$IFL"
      wait_until 5 _gone "$lpid" "$IFL" a || die "meshtund (pid $lpid) did not go away"
    done
    log "meshtund: once daemonized it logs to syslog or --log-file, never the terminal; mtu 9000 is set back to 1919"
  fi

  # Unknown flag.
  IFX=${IF}x
  WG_IFS+=("$IFX")
  rc=0
  timeout 5 ip netns exec "$(nsn a)" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error "$bin" \
    --no-such-flag "$IFX" >"$TMPD/badflag.out" 2>&1 || rc=$?
  [ "$rc" -ne 124 ] || die "$impl --no-such-flag $IFX kept running"
  if [ -e "$(sock_of "$IFX")" ] || link_exists a "$IFX"; then
    die "$impl --no-such-flag $IFX created the interface"
  fi
  if [ "$impl" = meshtund ]; then
    [ "$rc" -ne 0 ] || die "meshtund --no-such-flag exited 0"
    hrc=0
    timeout 5 "$bin" --help >"$TMPD/help.out" 2>&1 || hrc=$?
    [ "$hrc" -eq 0 ] || die "meshtund --help exited $hrc"
    if ! grep -q -- --foreground "$TMPD/help.out" || ! grep -q -- --queues "$TMPD/help.out"; then
      die "meshtund --help does not document --foreground and --queues: $(cat "$TMPD/help.out")"
    fi
  fi
  log "$impl: --no-such-flag: exits (status $rc) without creating an interface"
done
log "PASS"
