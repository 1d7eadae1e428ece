# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# tests/netns/lib.sh: helpers shared by the network-namespace tests (tests/netns/*.sh) and
# scripts/bench. Sourced, never run. Needs root, /dev/net/tun, iproute2, wireguard-tools, ping
# and python3.
#
# What sourcing it does: `set -eEuo pipefail`, an ERR trap that names the failing command, and
# nothing else until netns_setup is called. netns_setup picks a run prefix RUN (e.g. mt3fa9c)
# unique among concurrent runs and installs an EXIT/INT/TERM trap that stops every process
# started here (by PID), deletes every namespace made here and removes the UAPI sockets of this
# run's interface names.
#
# Names: node N (a, b, c, d, r) lives in namespace "$RUN-N". WireGuard interfaces are named
# "${RUN}N" (plus an optional suffix) because /var/run/wireguard/ is shared by all namespaces.
# Addresses (all inside the namespaces made here):
#   star topology (topo_star): node i (a=1 b=2 c=3 d=4) <-> router r over veth,
#     node eth0 10.210.i.2/24 + fd00:210:i::2/64, r side .1 / ::1, default routes via r;
#     after the k-th roam_node: 10.(210+k).i.2/24 + fd00:(210+k):i::2/64 only.
#   pair topology (topo_pair): a eth0 10.210.0.1/24 + fd00:210::1/64 <-> b .2 / ::2.
#   inner (tunnel) addresses: 10.220.0.i/24 and fd00:220::i/64.
# OUT4[N], OUT6[N] hold a node's current outer addresses, IN4[N], IN6[N] its inner ones.
#
# Implementations, by name (wireguard-go's command line: `IMPL -f IFNAME`):
#   wg-go-2022  Debian 12 wireguard-go 0.0.20220316 (/usr/bin/wireguard-go)
#   wg-go-2023  bookworm-backports wireguard-go 0.0.20231211 (scripts/install-deps unpacks it)
#   meshtund    $MESHTUN_BUILD_DIR/daemon/meshtund (or $MESHTUN_MESHTUND)
# Asking for one that is not there is a failure, never a silent pass.
#
# Every wait here has a timeout; every loop is bounded.
# shellcheck disable=SC2034  # many variables here are read by the scripts that source this file

set -eEuo pipefail

NETNS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MESHTUN_ROOT=$(cd "$NETNS_LIB_DIR/../.." && pwd)
MESHTUN_BUILD_DIR=${MESHTUN_BUILD_DIR:-$MESHTUN_ROOT/build/release}
WG_RUN_DIR=/var/run/wireguard
if [ -x /usr/bin/python3 ]; then PY=${PYTHON:-/usr/bin/python3}; else PY=${PYTHON:-python3}; fi

TEST_NAME=${TEST_NAME:-netns}
T0=$SECONDS
RUN=""
TMPD=""
NS_MADE=()                 # node names whose namespace this run created
PIDS=()                    # every background process started here
WG_IFS=()                  # every WireGuard interface name this run used
declare -A WG_PID=()       # ifname -> daemon PID
declare -A WG_IMPL=()      # ifname -> implementation name
declare -A WG_NODE=()      # ifname -> node
declare -A METRICS_ADDR=() # ifname -> meshtund's --metrics-addr
declare -A OUT4=() OUT6=() IN4=() IN6=()
declare -A PRIV=() PUB=()  # key name -> base64 private / public key
declare -A NODE_IDX=([a]=1 [b]=2 [c]=3 [d]=4)

# ---------------------------------------------------------------------------------------------
# Reporting

log() { printf '[%s %3ds] %s\n' "$TEST_NAME" $((SECONDS - T0)) "$*"; }

# die MESSAGE: the test failed; the EXIT trap cleans up.
die() {
  printf '[%s %3ds] FAIL: %s\n' "$TEST_NAME" $((SECONDS - T0)) "$*" >&2
  exit 1
}

# skip MESSAGE: the test cannot run here (not root, no TUN); exit status 77.
skip() {
  printf '[%s] SKIP: %s\n' "$TEST_NAME" "$*" >&2
  exit 77
}

_on_err() {
  printf '[%s %3ds] FAIL: unexpected failure at %s line %s: %s\n' "$TEST_NAME" $((SECONDS - T0)) \
    "${BASH_SOURCE[1]##*/}" "$1" "$2" >&2
}
trap '_on_err "$LINENO" "$BASH_COMMAND"' ERR

# ---------------------------------------------------------------------------------------------
# Setup and cleanup

# netns_setup TEST_NAME: checks prerequisites, picks RUN, makes TMPD, installs the traps.
netns_setup() {
  TEST_NAME=$1
  T0=$SECONDS
  [ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, TUN devices)"
  [ -c /dev/net/tun ] || skip "no /dev/net/tun"
  local tool
  for tool in ip wg ping "$PY" timeout; do
    command -v "$tool" >/dev/null || die "missing tool '$tool' (scripts/install-deps installs it)"
  done
  TMPD=$(mktemp -d /tmp/meshtun-netns.XXXXXX)
  trap netns_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    RUN=mt$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n' | cut -c1-5)
    if ! ip netns list | grep -q "^$RUN-" && ! compgen -G "$WG_RUN_DIR/$RUN*" >/dev/null; then
      break
    fi
    RUN=""
  done
  [ -n "$RUN" ] || die "could not pick an unused run prefix"
  mkdir -p "$WG_RUN_DIR"
  log "run prefix $RUN, work dir $TMPD"
}

# proc_state PID: prints the process state letter (R, S, Z, ...); fails if there is no process.
proc_state() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  printf '%s\n' "${s%% *}"
}

# pid_alive PID: true while the process exists and is not a zombie.
pid_alive() {
  local st
  st=$(proc_state "$1") || return 1
  [ "$st" != Z ] && [ "$st" != X ]
}

# pid_ours PID: the process is one this script started: a child of this shell (zombies
# included), or a daemon that detached itself and names this run's prefix on its command line.
# A PID that was reaped and reused by someone else's process is not ours: never signal it.
pid_ours() {
  local s ppid
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  ppid=$(awk '{ print $2 }' <<<"$s")
  [ "$ppid" = "$$" ] && return 0
  [ -n "$RUN" ] && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q -- "$RUN"
}

# stop_pid PID [SECONDS]: SIGTERM, then SIGKILL after SECONDS (default 5), only if pid_ours.
# Reaps it. Returns 0 if it went away after SIGTERM (or was gone), 1 if it needed SIGKILL.
stop_pid() {
  local pid=$1 limit=${2:-5} i
  pid_ours "$pid" || return 0
  pid_alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < limit * 10; i++)); do
    pid_alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return 1
}

netns_cleanup() {
  local rc=$?
  set +eE
  trap - ERR INT TERM
  local pid n f
  for pid in "${PIDS[@]}"; do pid_ours "$pid" && kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do stop_pid "$pid" 3 >/dev/null 2>&1; done
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -n "$TMPD" ]; then
    for f in "$TMPD"/*.log; do
      [ -s "$f" ] || continue
      echo "---- last lines of ${f##*/}" >&2
      grep -v '^\(│\|┌\|└\)' "$f" | tail -n 15 >&2
    done
  fi
  for n in "${NS_MADE[@]}"; do ip netns del "$RUN-$n" 2>/dev/null; done
  for f in "${WG_IFS[@]}"; do rm -f "$WG_RUN_DIR/$f.sock"; done
  if [ -n "$TMPD" ] && [ -z "${MESHTUN_NETNS_KEEP:-}" ]; then rm -rf "$TMPD"; fi
  exit "$rc"
}

# wait_until SECONDS CMD...: runs CMD every 0.1 s until it succeeds (0) or SECONDS pass (1).
wait_until() {
  local limit=$1
  shift
  local end=$(($(date +%s%N) / 1000000 + limit * 1000))
  while :; do
    "$@" && return 0
    [ $(($(date +%s%N) / 1000000)) -ge $end ] && return 1
    sleep 0.1
  done
}

# bg CMD...: starts CMD in the background, remembers its PID (LAST_PID) for cleanup. CMD must
# be a program (so that LAST_PID is the program itself: `ip netns exec` and `timeout` keep it or
# pass signals on); `bg nx NODE ...` is turned into `ip netns exec`.
bg() {
  if [ "$1" = nx ]; then
    local node=$2
    shift 2
    set -- ip netns exec "$RUN-$node" "$@"
  fi
  [ "$(type -t "$1")" = file ] || die "bg: '$1' is not a program; its PID would not be the process's"
  "$@" &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

# ---------------------------------------------------------------------------------------------
# Namespaces and links

nsn() { printf '%s-%s\n' "$RUN" "$1"; }

# nx NODE CMD...: runs CMD inside NODE's namespace.
nx() {
  local n=$1
  shift
  ip netns exec "$RUN-$n" "$@"
}

# ns_add NODE...: makes the namespaces, brings lo up, turns off IPv6 DAD so addresses work at once.
ns_add() {
  local n
  for n in "$@"; do
    ip netns add "$RUN-$n"
    NS_MADE+=("$n")
    ip -n "$RUN-$n" link set lo up
    nx "$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
      net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 >/dev/null
  done
}

# veth_add NODE1 IF1 NODE2 IF2: a veth pair between two namespaces, both ends up.
veth_add() {
  ip link add "$2" netns "$RUN-$1" type veth peer name "$4" netns "$RUN-$3"
  ip -n "$RUN-$1" link set "$2" up
  ip -n "$RUN-$3" link set "$4" up
}

# addr_add NODE IF ADDR/LEN (IPv6 without DAD).
addr_add() {
  if [[ "$3" == *:* ]]; then
    ip -n "$RUN-$1" addr add "$3" dev "$2" nodad
  else
    ip -n "$RUN-$1" addr add "$3" dev "$2"
  fi
}

# topo_pair: nodes a and b joined by one veth (the benchmark's topology).
topo_pair() {
  ns_add a b
  veth_add a eth0 b eth0
  addr_add a eth0 10.210.0.1/24
  addr_add a eth0 fd00:210::1/64
  addr_add b eth0 10.210.0.2/24
  addr_add b eth0 fd00:210::2/64
  OUT4[a]=10.210.0.1 OUT6[a]=fd00:210::1
  OUT4[b]=10.210.0.2 OUT6[b]=fd00:210::2
  _inner_addrs a b
}

# topo_star NODE...: a router namespace r and one veth from r to each node (a, b, c, d).
topo_star() {
  ns_add r "$@"
  nx r sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 >/dev/null
  local n i
  for n in "$@"; do
    i=${NODE_IDX[$n]}
    veth_add "$n" eth0 r "eth-$n"
    addr_add r "eth-$n" "10.210.$i.1/24"
    addr_add r "eth-$n" "fd00:210:$i::1/64"
    addr_add "$n" eth0 "10.210.$i.2/24"
    addr_add "$n" eth0 "fd00:210:$i::2/64"
    ip -n "$RUN-$n" route add default via "10.210.$i.1"
    ip -n "$RUN-$n" -6 route add default via "fd00:210:$i::1"
    OUT4[$n]=10.210.$i.2 OUT6[$n]=fd00:210:$i::2
  done
  _inner_addrs "$@"
}

_inner_addrs() {
  local n
  for n in "$@"; do
    IN4[$n]=10.220.0.${NODE_IDX[$n]}
    IN6[$n]=fd00:220::${NODE_IDX[$n]}
  done
}

# roam_node NODE MODE: moves a star node to a new network; its k-th move (k = 1, 2, ...) gives
# it 10.(210+k).i.2/24 and fd00:(210+k):i::2/64 and takes its old outer addresses away for good.
# MODE "link": a new veth ethk <-> r carries the new addresses and the old link is deleted (a
# laptop going from Wi-Fi to LTE: the old interface index is gone too).
# MODE "addr": the same link gets the new addresses and loses the old ones (a new DHCP lease).
declare -A ROAMS=() ROAM_LINK=()
roam_node() {
  local n=$1 mode=$2 i=${NODE_IDX[$1]} k=$((${ROAMS[$1]:-0} + 1))
  local net=$((210 + k)) dev=${ROAM_LINK[$1]:-0} rdev
  rdev=eth-$n${dev#0}
  if [ "$mode" = link ]; then
    veth_add "$n" "eth$k" r "eth-$n$k"
    ip -n "$RUN-$n" link del "eth$dev"
    dev=$k rdev=eth-$n$k
  else
    ip -n "$RUN-$n" addr flush dev "eth$dev" scope global
  fi
  addr_add r "$rdev" "10.$net.$i.1/24"
  addr_add r "$rdev" "fd00:$net:$i::1/64"
  addr_add "$n" "eth$dev" "10.$net.$i.2/24"
  addr_add "$n" "eth$dev" "fd00:$net:$i::2/64"
  ip -n "$RUN-$n" route replace default via "10.$net.$i.1"
  ip -n "$RUN-$n" -6 route replace default via "fd00:$net:$i::1"
  ROAMS[$n]=$k ROAM_LINK[$n]=$dev
  OUT4[$n]=10.$net.$i.2 OUT6[$n]=fd00:$net:$i::2
}

# ---------------------------------------------------------------------------------------------
# Implementations

impl_bin() {
  case $1 in
    wg-go-2022) printf '%s\n' /usr/bin/wireguard-go ;;
    wg-go-2023) printf '%s\n' /opt/meshtun/wireguard-go-backports/usr/bin/wireguard-go ;;
    meshtund) printf '%s\n' "${MESHTUN_MESHTUND:-$MESHTUN_BUILD_DIR/daemon/meshtund}" ;;
    *) return 1 ;;
  esac
}

# impl_require IMPL...: fails loudly if an implementation is unknown or not built/installed.
impl_require() {
  local impl bin
  for impl in "$@"; do
    bin=$(impl_bin "$impl") || die "unknown implementation '$impl' (meshtund, wg-go-2022, wg-go-2023)"
    if [ ! -x "$bin" ]; then
      case $impl in
        meshtund) die "meshtund is not built: no executable at $bin (build it, or set MESHTUN_NETNS_IMPLS to test only wireguard-go)" ;;
        *) die "$impl is not installed: no executable at $bin (run scripts/install-deps)" ;;
      esac
    fi
  done
}

# wg_start NODE IMPL IFNAME: runs IMPL in the foreground (in the background of this script) in
# NODE's namespace, waits for its UAPI socket and TUN device. Sets WG_PID[IFNAME]. Its stdout and
# stderr go to $TMPD/IFNAME.log. LOG_LEVEL comes from MESHTUN_NETNS_LOG_LEVEL (default error).
# meshtund also gets `--metrics-addr 127.0.0.1:PORT` (its counters, for impl_drop_count) and
# the words of the array MESHTUND_ARGS (e.g. `MESHTUND_ARGS=(--queues 2)`; empty by default).
MESHTUND_ARGS=()
wg_start() {
  local node=$1 impl=$2 ifname=$3 bin
  impl_require "$impl"
  bin=$(impl_bin "$impl")
  [ ${#ifname} -le 15 ] || die "interface name too long: $ifname"
  WG_IFS+=("$ifname")
  rm -f "$WG_RUN_DIR/$ifname.sock"
  local extra=()
  if [ "$impl" = meshtund ]; then
    # Its counters (impl_drop_count) are served here, on loopback inside the namespace.
    METRICS_ADDR[$ifname]=127.0.0.1:$((9100 + ${#WG_IFS[@]}))
    extra=(--metrics-addr "${METRICS_ADDR[$ifname]}" "${MESHTUND_ARGS[@]}")
  fi
  bg ip netns exec "$RUN-$node" env LOG_LEVEL="${MESHTUN_NETNS_LOG_LEVEL:-error}" \
    WG_PROCESS_FOREGROUND=1 "$bin" "${extra[@]}" -f "$ifname" >"$TMPD/$ifname.log" 2>&1
  WG_PID[$ifname]=$LAST_PID
  WG_IMPL[$ifname]=$impl
  WG_NODE[$ifname]=$node
  if ! wait_until 10 _wg_ready "$node" "$ifname"; then
    pid_alive "$LAST_PID" || die "$impl ($ifname in $node) exited at start: $(_log_tail "$ifname")"
    die "$impl ($ifname in $node): no UAPI socket and TUN device after 10 s"
  fi
}

_wg_ready() {
  pid_alive "${WG_PID[$2]}" || return 1
  [ -S "$WG_RUN_DIR/$2.sock" ] && ip -n "$RUN-$1" link show "$2" >/dev/null 2>&1
}

_log_tail() { grep -v '^\(│\|┌\|└\)' "$TMPD/$1.log" 2>/dev/null | tail -n 5 | tr '\n' ' '; }

# wg_alive IFNAME: the daemon of IFNAME is still running.
wg_alive() { pid_alive "${WG_PID[$1]}"; }

# wg_stop IFNAME: SIGTERM; returns 1 if it needed SIGKILL after 5 s.
wg_stop() { stop_pid "${WG_PID[$1]}" 5; }

# flood_bin: prints the path of meshtun-flood (tools/flood.cpp; $MESHTUN_FLOOD or
# $MESHTUN_BUILD_DIR/tools/meshtun-flood), failing the test if it is not built.
flood_bin() {
  local bin=${MESHTUN_FLOOD:-$MESHTUN_BUILD_DIR/tools/meshtun-flood}
  [ -x "$bin" ] || die "meshtun-flood is not built: no executable at $bin (cmake --build BUILD_DIR --target meshtun-flood)"
  printf '%s\n' "$bin"
}

# ---------------------------------------------------------------------------------------------
# Keys and configuration (all through the unchanged `wg` tool)

# key_new NAME: PRIV[NAME], PUB[NAME] and the file $TMPD/NAME.key (mode 0600).
key_new() {
  local k
  k=$(wg genkey)
  (umask 077 && printf '%s\n' "$k" >"$TMPD/$1.key")
  PRIV[$1]=$k
  PUB[$1]=$(printf '%s\n' "$k" | wg pubkey)
}

# wgx NODE ARGS...: `wg ARGS` run in NODE's namespace.
wgx() {
  local n=$1
  shift
  ip netns exec "$RUN-$n" wg "$@"
}

# wg_iface NODE IFNAME KEYNAME PORT: private key, listen port, inner addresses, link up.
wg_iface() {
  local node=$1 ifname=$2
  wgx "$node" set "$ifname" private-key "$TMPD/$3.key" listen-port "$4"
  addr_add "$node" "$ifname" "${IN4[$node]}/24"
  addr_add "$node" "$ifname" "${IN6[$node]}/64"
  ip -n "$RUN-$node" link set "$ifname" up
}

# wg_peer NODE IFNAME PEERKEY ALLOWED [wg-set-peer-args...]: adds/updates a peer.
wg_peer() {
  local node=$1 ifname=$2 key=$3 allowed=$4
  shift 4
  wgx "$node" set "$ifname" peer "${PUB[$key]}" allowed-ips "$allowed" "$@"
}

# wg_peer_remove NODE IFNAME PEERKEY
wg_peer_remove() { wgx "$1" set "$2" peer "${PUB[$3]}" remove; }

# ep4 NODE PORT / ep6 NODE PORT: endpoint strings for wg.
ep4() { printf '%s:%s\n' "${OUT4[$1]}" "$2"; }
ep6() { printf '[%s]:%s\n' "${OUT6[$1]}" "$2"; }

# wg_peer_field NODE IFNAME PEERKEY FIELD: one field of the peer's `wg show dump` line.
# FIELD: psk endpoint allowed handshake rx tx keepalive.
wg_peer_field() {
  local col
  case $4 in
    psk) col=2 ;; endpoint) col=3 ;; allowed) col=4 ;; handshake) col=5 ;;
    rx) col=6 ;; tx) col=7 ;; keepalive) col=8 ;; *) die "wg_peer_field: bad field $4" ;;
  esac
  wgx "$1" show "$2" dump | awk -F'\t' -v k="${PUB[$3]}" -v c=$col 'NR > 1 && $1 == k { print $c }'
}

_handshake_done() {
  local t
  t=$(wg_peer_field "$1" "$2" "$3" handshake 2>/dev/null) || return 1
  [ -n "$t" ] && [ "$t" != 0 ]
}

# wait_handshake NODE IFNAME PEERKEY [SECONDS=10]
wait_handshake() {
  wait_until "${4:-10}" _handshake_done "$1" "$2" "$3" ||
    die "no handshake with peer $3 on $2 ($1) after ${4:-10} s"
}

# ---------------------------------------------------------------------------------------------
# Traffic checks

# ping_count NODE ADDR COUNT [INTERVAL=0.2]: prints how many echo replies came back.
ping_count() {
  local out
  out=$(nx "$1" ping -n -q -c "$3" -i "${4:-0.2}" -W 1 "$2" 2>&1) || true
  printf '%s\n' "$out" | sed -n 's/.* \([0-9][0-9]*\) received.*/\1/p' | grep . || echo 0
}

# ping_wait NODE ADDR [SECONDS=10]: waits until one ping is answered.
ping_wait() {
  wait_until "${3:-10}" nx "$1" ping -n -q -c 1 -W 1 "$2" >/dev/null 2>&1 ||
    die "no reply from $2 (pinged from $1) within ${3:-10} s"
}

# ping_expect NODE ADDR COUNT MIN: COUNT pings at 0.1 s, at least MIN replies.
ping_expect() {
  local got
  got=$(ping_count "$1" "$2" "$3" 0.1)
  [ "$got" -ge "$4" ] || die "ping $1 -> $2: $got of $3 replies (want at least $4)"
}

# ping_none NODE ADDR COUNT: no reply at all.
ping_none() {
  local got
  got=$(ping_count "$1" "$2" "$3" 0.1)
  [ "$got" -eq 0 ] || die "ping $1 -> $2: $got replies, expected none"
}

# tcp_transfer FROM TO ADDR MB: sends MB MiB of random bytes over TCP from node FROM to ADDR
# (a listener in node TO) and checks that the byte count and sha256 match at both ends.
tcp_transfer() {
  local from=$1 to=$2 addr=$3 mb=$4 port=$((20000 + RANDOM % 20000))
  local rfile="$TMPD/xfer-recv.$port" sfile="$TMPD/xfer-send.$port" limit=$((30 + mb / 2))
  bg timeout "$limit" ip netns exec "$RUN-$to" "$PY" "$NETNS_LIB_DIR/tcp_xfer.py" recv \
    --bind "$addr" --port "$port" --ready "$rfile.ready" --timeout "$limit" >"$rfile" 2>&1
  local rpid=$LAST_PID
  wait_until 5 test -e "$rfile.ready" || die "tcp receiver in $to did not start: $(cat "$rfile")"
  local t0=$SECONDS
  if ! timeout "$limit" ip netns exec "$RUN-$from" "$PY" "$NETNS_LIB_DIR/tcp_xfer.py" send \
    --to "$addr" --port "$port" --mib "$mb" --timeout "$limit" >"$sfile" 2>&1; then
    die "tcp send $from -> $addr failed: $(cat "$sfile")"
  fi
  wait "$rpid" || die "tcp receive in $to failed: $(cat "$rfile")"
  local s r
  s=$(grep '^bytes=' "$sfile") || die "tcp sender printed no result: $(cat "$sfile")"
  r=$(grep '^bytes=' "$rfile") || die "tcp receiver printed no result: $(cat "$rfile")"
  [ "$s" = "$r" ] || die "tcp $from -> $to ($addr): sent '$s' but received '$r'"
  log "  tcp $from -> $to via $addr: ${mb} MiB, sha256 matches ($((SECONDS - t0)) s)"
}

# probe_listen NODE PORT SECONDS: a tagged-UDP listener (udp_probe.py) on all of NODE's
# addresses for at most SECONDS (probe_result stops it sooner); PROBE_PID[NODE] is its PID, its
# lines go to $TMPD/probe-NODE-PORT.
declare -A PROBE_PID=()
probe_listen() {
  local out="$TMPD/probe-$1-$2"
  rm -f "$out.ready"
  bg timeout $(($3 + 5)) ip netns exec "$RUN-$1" "$PY" "$NETNS_LIB_DIR/udp_probe.py" listen \
    --port "$2" --seconds "$3" --ready "$out.ready" >"$out" 2>&1
  PROBE_PID[$1]=$LAST_PID
  wait_until 5 test -e "$out.ready" || die "udp listener in $1 did not start: $(cat "$out")"
}

# probe_send NODE TO PORT PAYLOAD [SRC]: one tagged datagram from NODE (from address SRC).
probe_send() {
  local src=()
  [ -z "${5:-}" ] || src=(--src "$5")
  nx "$1" "$PY" "$NETNS_LIB_DIR/udp_probe.py" send --to "$2" --port "$3" --payload "$4" "${src[@]}" ||
    die "udp send from $1 to $2 failed"
}

# probe_result NODE PORT: lets in-flight datagrams arrive (0.3 s), stops NODE's listener and
# waits for it; PROBE_OUT gets what it received (one line per datagram), PROBE_TAGS the sorted
# payloads on one line. Not for use in $(...).
probe_result() {
  local pid=${PROBE_PID[$1]} out="$TMPD/probe-$1-$2"
  sleep 0.3
  nx "$1" "$PY" "$NETNS_LIB_DIR/udp_probe.py" send --to 127.0.0.1 --port "$2" --payload __stop__ ||
    true
  wait "$pid" || die "udp listener in $1 failed: $(cat "$out")"
  grep -q '^# done$' "$out" || die "udp listener in $1 did not finish: $(cat "$out")"
  PROBE_OUT=$(grep -v '^# done$' "$out" || true)
  PROBE_TAGS=$(awk '$1 != "#" { print $1 }' "$out" | sort | tr '\n' ' ')
  PROBE_TAGS=${PROBE_TAGS% }
}

# ---------------------------------------------------------------------------------------------
# UAPI, CPU and counters

# uapi IFNAME REQUEST: sends REQUEST (e.g. $'get=1\n\n') on IFNAME's UAPI socket, prints the
# raw response.
uapi() { "$PY" "$NETNS_LIB_DIR/uapi.py" "$WG_RUN_DIR/$1.sock" "$2"; }

# proc_cpu_ticks PID: utime + stime of the whole process (all threads), in clock ticks.
proc_cpu_ticks() {
  local s
  s=$(cat "/proc/$1/stat") || return 1
  s=${s##*) }
  # After the comm field: state is field 3, so utime (14) and stime (15) are words 12 and 13.
  awk '{ print $12 + $13 }' <<<"$s"
}

CLK_TCK=$(getconf CLK_TCK)

# proc_rss_kib PID: the process's resident set (VmRSS), in KiB.
proc_rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }

# impl_drop_count IMPL IFNAME REASON: how many packets the daemon dropped for REASON.
#
# wireguard-go has no drop counters: it prints "n/a". meshtund serves Prometheus metrics at the
# --metrics-addr that wg_start gives it; this reads the lines
#     meshtun_drops_total{interface="IFNAME",reason="REASON"} COUNT
# with REASON one of wg::DropReason's names (no_route, source_not_allowed, bad_tag, ...);
# REASON "all" sums every reason. If meshtund exposes its counters some other way, change only
# the meshtund branch below. A counter that cannot be read is a failure (return 1), never 0.
impl_drop_count() {
  local impl=$1 ifname=$2 reason=$3
  case $impl in
    wg-go-*)
      echo n/a
      ;;
    meshtund)
      [ -n "${METRICS_ADDR[$ifname]:-}" ] || return 1
      nx "${WG_NODE[$ifname]}" "$PY" -c '
import re, sys, urllib.request
url, ifname, reason = sys.argv[1:4]
text = urllib.request.urlopen(url, timeout=3).read().decode()
pat = re.compile(r"^meshtun_drops_total\{(.*)\} (\d+)$")
total, seen = 0, False
for line in text.splitlines():
    m = pat.match(line)
    if not m:
        continue
    labels = dict(re.findall(r"(\w+)=\"([^\"]*)\"", m.group(1)))
    if labels.get("interface") != ifname:
        continue
    if reason == "all" or labels.get("reason") == reason:
        total += int(m.group(2))
        seen = True
if not seen:
    sys.exit(f"no meshtun_drops_total for interface {ifname} reason {reason} at {url}")
print(total)' "http://${METRICS_ADDR[$ifname]}/metrics" "$ifname" "$reason"
      ;;
    *) return 1 ;;
  esac
}

# drop_count_or_die IMPL IFNAME REASON: impl_drop_count, failing the test if it cannot be read.
drop_count_or_die() {
  impl_drop_count "$@" ||
    die "cannot read the $3 drop counter of $1 on $2 (see impl_drop_count in tests/netns/lib.sh)"
}

# ---------------------------------------------------------------------------------------------
# Implementation pairs: "X:Y" means X runs on node a (the side under test) and Y on b.

# parse_pairs ARGS...: fills PAIRS from arguments, else from MESHTUN_NETNS_PAIRS.
parse_pairs() {
  PAIRS=()
  if [ $# -gt 0 ]; then
    PAIRS=("$@")
  elif [ -n "${MESHTUN_NETNS_PAIRS:-}" ]; then
    read -r -a PAIRS <<<"$MESHTUN_NETNS_PAIRS"
  fi
  [ ${#PAIRS[@]} -gt 0 ] || die "no implementation pair given (arguments like meshtund:wg-go-2022, or MESHTUN_NETNS_PAIRS)"
  local p
  for p in "${PAIRS[@]}"; do
    [[ "$p" == *:* ]] || die "bad pair '$p' (want IMPL:IMPL)"
    impl_bin "${p%%:*}" >/dev/null || die "unknown implementation '${p%%:*}'"
    impl_bin "${p#*:}" >/dev/null || die "unknown implementation '${p#*:}'"
  done
}

# one_pair_or_each SCRIPT ARGS...: after parse_pairs; with several pairs, runs SCRIPT once per
# pair (each in its own namespaces), prints the lines the runs gave to `summary` (a comparison
# of the pairs) and exits with the number of failures, else 77 if any run was skipped (a partly
# skipped test has not passed); with one pair, sets IMPL_A and IMPL_B and returns.
one_pair_or_each() {
  local script=$1 p failed=0 skipped=0 rc
  if [ ${#PAIRS[@]} -gt 1 ]; then
    NETNS_SUMMARY=$(mktemp /tmp/meshtun-netns-summary.XXXXXX)
    export NETNS_SUMMARY
    trap 'rm -f "$NETNS_SUMMARY"' EXIT
    for p in "${PAIRS[@]}"; do
      rc=0
      "$script" "$p" || rc=$?
      case $rc in 0) ;; 77) skipped=$((skipped + 1)) ;; *) failed=$((failed + 1)) ;; esac
    done
    if [ -s "$NETNS_SUMMARY" ]; then
      echo "summary of ${#PAIRS[@]} pairs:"
      sed 's/^/  /' "$NETNS_SUMMARY"
    fi
    [ "$failed" -eq 0 ] && [ "$skipped" -gt 0 ] && exit 77
    exit "$failed"
  fi
  IMPL_A=${PAIRS[0]%%:*}
  IMPL_B=${PAIRS[0]#*:}
}

# summary TEXT: logs TEXT and, when one_pair_or_each runs several pairs, adds it to the
# comparison printed after the last one.
summary() {
  log "$*"
  if [ -n "${NETNS_SUMMARY:-}" ]; then printf '%s\n' "$*" >>"$NETNS_SUMMARY"; fi
}
