#!/usr/bin/env bash
# Several hosts, simulated: every node runs in its own Linux network namespace with its own
# address (10.99.0.0/24, reachable only inside the namespaces this test creates, joined by a
# bridge), as it would on its own machine; the client runs in one more. Commits in all four
# modes over those addresses, then a whole "host" dies (every process of its namespace) and
# Paxos Commit must finish without it. If this fails, a node depends on 127.0.0.1 or on
# sharing a host with its peers. Needs root and `ip netns`; skipped (exit 77) with the reason
# printed otherwise -- never passed silently.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

skip() {
  echo "[multihost] SKIP: $*"
  exit 77
}
(($(id -u) == 0)) || skip "needs root to create network namespaces"
command -v ip >/dev/null || skip "the ip command (iproute2) is not installed"

e2e_init multihost
# No command may reach the 10.99.0.0/24 addresses from outside the namespaces (there is no
# route there, and traffic to a private range must stay in the test's own network): the
# failure report prints the log tails only, not `cluster status`.
fail() {
  echo "[$E2E_NAME +$((SECONDS - E2E_START))s] FAIL: $1" >&2
  shift
  if [[ "${1:-}" != - ]]; then dump_logs "$@" >&2; fi
  exit 1
}

# Names unique to this run (interface names are at most 15 characters).
TAG="pm$$"
BR="${TAG}br"
NODES=(c1 c2 p1 p2 p3 a1 a2 a3)
NS_CREATED=()
LINKS_CREATED=()
declare -A ADDR     # node -> 10.99.0.X
declare -A PIDS     # node -> pid of its pcommit serve
PORT=7400           # every host has its own port space: one port for all

ns_of() { echo "${TAG}-$1"; }

netns_cleanup() {
  local n pid
  for n in "${!PIDS[@]}"; do kill -9 "${PIDS[$n]}" 2>/dev/null || true; done
  for n in "${!PIDS[@]}"; do wait "${PIDS[$n]}" 2>/dev/null || true; done
  for n in "${NS_CREATED[@]}"; do
    for pid in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$n" 2>/dev/null || true
  done
  for n in "${LINKS_CREATED[@]}"; do ip link del "$n" 2>/dev/null || true; done
}
trap 'rc=$?; netns_cleanup; (exit $rc); e2e_cleanup' EXIT

# add_host NAME OCTET: a namespace with loopback up and eth0 = 10.99.0.OCTET on the bridge.
add_host() {
  local ns veth
  ns=$(ns_of "$1")
  veth="${TAG}v$2"
  ip netns add "$ns" || skip "cannot create network namespace $ns (no permission in this sandbox?)"
  NS_CREATED+=("$ns")
  ip link add "$veth" type veth peer name eth0 netns "$ns" ||
    skip "cannot create a veth pair (kernel without veth?)"
  LINKS_CREATED+=("$veth")
  ip link set "$veth" master "$BR" up
  ip netns exec "$ns" ip addr add "10.99.0.$2/24" dev eth0
  ip netns exec "$ns" ip link set eth0 up
  ip netns exec "$ns" ip link set lo up
}

step "network: bridge $BR, one namespace per node and one for the client"
ip link add "$BR" type bridge 2>/dev/null || skip "cannot create a bridge (kernel without bridge support?)"
LINKS_CREATED+=("$BR")
ip link set "$BR" up
octet=10
for n in "${NODES[@]}"; do
  add_host "$n" "$octet"
  ADDR[$n]="10.99.0.$octet"
  octet=$((octet + 1))
done
add_host client 99

# in_ns NODE CMD...: runs CMD on that node's "host".
in_ns() {
  local n="$1"
  shift
  ip netns exec "$(ns_of "$n")" "$@"
}

# write_conf MODE: a cluster file as an operator writes it for eight hosts.
write_conf() {
  mkdir -p "$DIR"
  {
    echo "# eight hosts, one node each (tests/e2e/multihost.sh)"
    echo "[cluster]"
    echo "protocol = $1"
    echo "f = 1"
    echo "tick-ms = $E2E_TICK_MS"
    echo "recovery-timeout-ms = $E2E_RECOVERY_MS"
    local n role
    for n in "${NODES[@]}"; do
      case "$n" in c*) role=coordinator ;; p*) role=participant ;; *) role=acceptor ;; esac
      printf '\n[node.%s]\nrole = %s\naddress = %s:%d\ndata = %s\n' "$n" "$role" "${ADDR[$n]}" "$PORT" "$n"
    done
  } >"$CONF"
}

# start_node NODE [ENV=VALUE...]: `pcommit serve` on its own host, in the background.
start_node() {
  local n="$1"
  shift
  # Not through in_ns: a backgrounded function is a subshell, and $! must be the node itself.
  ip netns exec "$(ns_of "$n")" env "$@" "$PCOMMIT" serve --config "$CONF" --node "$n" \
    >>"$DIR/$n.log" 2>&1 &
  PIDS[$n]=$!
}

wait_ready() {
  local n deadline=$((SECONDS + 20))
  for n in "$@"; do
    until grep -q "ready: $n " "$DIR/$n.log" 2>/dev/null; do
      kill -0 "${PIDS[$n]}" 2>/dev/null || fail "$n exited during start" "$n"
      ((SECONDS < deadline)) || fail "$n not ready after 20 s" "$n"
      sleep 0.1
    done
  done
}

# cpc SUB ARGS...: `pcommit SUB --cluster CONF ARGS...` on the client's host (the same
# cluster file); OUT, ERR and RC as lib.sh's run_pc. ctxn also sets TXID.
cpc() {
  local sub="$1"
  shift
  set +e
  OUT=$(in_ns client "$PCOMMIT" "$sub" --cluster "$CONF" "$@" 2>"$E2E_TMP/.err")
  RC=$?
  set -e
  ERR=$(cat "$E2E_TMP/.err")
}
ctxn() {
  cpc txn "$@"
  TXID=$(sed -n 's/^[a-z]* \([0-9a-f]\{32\}\).*/\1/p' <<<"$OUT" | head -n 1)
}

# kill_host NODE: every process of that namespace, at once (a machine losing power).
kill_host() {
  local pid killed=0
  for pid in $(ip netns pids "$(ns_of "$1")"); do
    kill -9 "$pid" 2>/dev/null && killed=$((killed + 1))
  done
  if [[ -n "${PIDS[$1]:-}" ]]; then wait "${PIDS[$1]}" 2>/dev/null || true; fi
  unset "PIDS[$1]"
  info "host of $1: killed $killed process(es)"
}

stop_all() {
  local n
  for n in "${!PIDS[@]}"; do kill -TERM "${PIDS[$n]}" 2>/dev/null || true; done
  for n in "${!PIDS[@]}"; do wait "${PIDS[$n]}" 2>/dev/null || true; done
  PIDS=()
  for n in "${NODES[@]}"; do
    [[ -z "$(ip netns pids "$(ns_of "$n")")" ]] || { ps -o pid,ppid,stat,cmd -p "$(ip netns pids "$(ns_of "$n")" | head -1)"; echo "pids: ${PIDS[*]}"; fail "processes left on the host of $n after stop"; }
  done
}

k1=$(key_on mh 1 3)
k2=$(key_on mh 2 3)
k3=$(key_on mh 3 3)

for mode in 2pc paxos-classic paxos paxos-direct; do
  step "$mode: eight hosts, commits from the client's host"
  DIR="$E2E_TMP/$mode"
  CONF="$DIR/hosts.conf" # not cluster.conf: lib.sh's cleanup must not run cluster commands on it
  write_conf "$mode"
  for n in "${NODES[@]}"; do start_node "$n"; done
  wait_ready "${NODES[@]}"
  grep -q "listening on ${ADDR[p2]}:$PORT" "$DIR/p2.log" || fail "p2 does not listen on its host's address" p2
  for v in 1 2 3; do
    ctxn "put:$k1=$mode-$v" "put:$k2=$mode-$v" "put:$k3=$mode-$v"
    ((RC == 0)) || fail "$mode: txn $v: exit $RC: $OUT $ERR"
  done
  cpc get "$k3"
  [[ "$OUT" == "$mode-3 3" ]] || fail "$mode: get $k3: '$OUT' (exit $RC) $ERR"
  ctxn "expect:$k1=1" "put:$k1=stale"
  ((RC == 1)) || fail "$mode: an expect on an old version must abort, got exit $RC: $OUT"
  info "$mode: 3 commits and a refused stale expect across hosts"

  if [[ "$mode" == paxos ]]; then
    step "paxos: the host of acceptor a1 dies; commits go on with F=1"
    kill_host a1
    ctxn "put:$k1=after-a1" "put:$k2=after-a1" "put:$k3=after-a1"
    ((RC == 0)) || fail "paxos: txn with a1's host dead: exit $RC: $OUT $ERR"

    step "paxos: c1's host dies right after sending its prepares; the others finish"
    kill_host c1
    start_node c1 PCOMMIT_FAILPOINTS=coordinator.after_prepare_sent=hang@1
    wait_ready c1
    # The client gives up on c1 (unknown) or fails over to c2, which recovers the
    # transaction from the acceptors (committed); either way c1 never decides it.
    ctxn --coordinator c1 --timeout-ms 300 "put:$k1=orphan" "put:$k2=orphan" "put:$k3=orphan"
    ((RC == 0 || RC == 2)) || fail "paxos: txn through a hung c1: exit $RC: $OUT $ERR" c1
    grep -q "failpoint coordinator.after_prepare_sent: hang" "$DIR/c1.log" ||
      fail "paxos: c1 never reached its failpoint" c1
    info "client: $OUT"
    orphan=$TXID
    kill_host c1
    # Participants learn from the acceptors a2/a3 (faster variant) or recover after their
    # timeout; no coordinator is needed. The outcome is asked of c2, on its own host.
    deadline=$((SECONDS + 10))
    while :; do
      cpc outcome "$orphan"
      [[ "$OUT" == "committed $orphan" ]] && break
      ((SECONDS < deadline)) || fail "paxos: $orphan not committed without c1: '$OUT' $ERR" p1 p2 p3 c2
      sleep 0.2
    done
    cpc get "$k2"
    [[ "$OUT" == "orphan 5" ]] || fail "paxos: get $k2 after recovery: '$OUT' $ERR"
    info "paxos: $orphan committed with the hosts of c1 and a1 dead"
  fi
  stop_all
done

e2e_pass
