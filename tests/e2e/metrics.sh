#!/usr/bin/env bash
# Prometheus metrics of a real cluster: every node serves GET /metrics that promtool accepts, coordinators count the commits, participants' in-doubt gauge is 0 after them and >= 1 with a growing age while a 2PC coordinator is stopped mid-transaction; if this fails, operators watch wrong numbers (or none).
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
e2e_init metrics

# scrape PORT [PATH]: the body of GET PATH (default /metrics) on 127.0.0.1:PORT; BODY and
# STATUS (the status line) are set. The server closes after its one response.
scrape() {
  local port="$1" path="${2:-/metrics}" raw
  raw=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port &&
    printf 'GET $path HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' >&3 && cat <&3" 2>/dev/null) || true
  STATUS=$(head -n 1 <<<"$raw" | tr -d '\r')
  BODY=$(sed '1,/^\r\{0,1\}$/d' <<<"$raw")
}

# metrics_port NODE: the port of the node's `metrics = 127.0.0.1:PORT` in the cluster file.
metrics_port() {
  sed -n "/^\[node\.$1\]$/,/^\[/s/^metrics = 127\.0\.0\.1:\([0-9]*\).*/\1/p" "$CONF"
}

# value NAME_WITH_LABELS: the sample's value in BODY, empty if absent.
value() { awk -v n="$1" '$1 == n { print $2; exit }' <<<"$BODY"; }

HAVE_PROMTOOL=0
if command -v promtool >/dev/null 2>&1; then
  HAVE_PROMTOOL=1
else
  info "promtool not installed (Debian package prometheus): format checks skipped"
fi

check_format() {
  local node="$1" out
  ((HAVE_PROMTOOL)) || return 0
  if ! out=$(promtool check metrics <<<"$BODY" 2>&1) || [[ -n "$out" ]]; then
    fail "promtool check metrics on $node's /metrics: $out" "$node"
  fi
}

# A metrics port range of its own (8 nodes), away from start_cluster's node ranges.
free_metrics_base() {
  local base p busy _
  for _ in 1 2 3 4 5 6 7 8; do
    base=$((31000 + (RANDOM % 100) * 16))
    busy=0
    for ((p = base; p < base + 16; p++)); do
      if port_listening "$p"; then busy=1 && break; fi
    done
    ((busy)) || {
      echo "$base"
      return 0
    }
  done
  fail "no free metrics port range"
}

k1=$(key_on mx 1 3)
k2=$(key_on mx 2 3)
k3=$(key_on mx 3 3)

# ---- A: paxos, 10 commits -----------------------------------------------------------
step "paxos: a cluster with --metrics-port-base; every node serves /metrics and /healthz"
MBASE=$(free_metrics_base)
start_cluster --dir "$E2E_TMP/paxos" --protocol paxos --metrics-port-base "$MBASE"
for n in $(coordinators) $(participants) $(acceptors); do
  port=$(metrics_port "$n")
  [[ -n "$port" ]] || fail "no metrics address for $n in $CONF" -
  scrape "$port" /healthz
  [[ "$STATUS" == "HTTP/1.1 200 OK" && "$BODY" == ok ]] ||
    fail "$n /healthz on $port: '$STATUS' '$BODY'" "$n"
  scrape "$port" /nope
  [[ "$STATUS" == "HTTP/1.1 404 Not Found" ]] || fail "$n /nope on $port: '$STATUS'" "$n"
done
info "metrics ports from $MBASE, /healthz ok and 404 elsewhere on every node"

step "paxos: 10 commits"
for i in $(seq 1 10); do
  expect_txn 0 "put:$k1=v$i" "put:$k2=v$i" "put:$k3=v$i"
done
wait_no_in_doubt 5

step "paxos: every node's /metrics passes promtool; coordinators count >= 10 commits"
committed=0
for n in $(coordinators); do
  scrape "$(metrics_port "$n")"
  [[ "$STATUS" == "HTTP/1.1 200 OK" ]] || fail "$n /metrics: '$STATUS'" "$n"
  check_format "$n"
  v=$(value 'pcommit_transactions_total{protocol="paxos",outcome="committed"}')
  [[ "$v" =~ ^[0-9]+$ ]] || fail "$n: no pcommit_transactions_total committed sample" "$n"
  lat=$(value 'pcommit_commit_latency_seconds_count{protocol="paxos",outcome="committed"}')
  ((lat <= v)) || fail "$n: $lat latency observations for $v commits" "$n"
  info "$n: committed $v (latency observations $lat)"
  committed=$((committed + v))
done
((committed >= 10)) || fail "coordinators counted $committed commits, expected >= 10"
for n in $(participants); do
  scrape "$(metrics_port "$n")"
  check_format "$n"
  v=$(value pcommit_in_doubt_transactions)
  [[ "$v" == 0 ]] || fail "$n: pcommit_in_doubt_transactions '$v' after the commits, expected 0" "$n"
  prep=$(value pcommit_prepares_total)
  ((prep >= 10)) || fail "$n: pcommit_prepares_total $prep, expected >= 10 (one per commit)" "$n"
  synced=$(value pcommit_synced_commits_total)
  ((synced >= 10)) || fail "$n: pcommit_synced_commits_total $synced, expected >= 10" "$n"
done
for n in $(acceptors); do
  scrape "$(metrics_port "$n")"
  check_format "$n"
  v=$(value 'pcommit_messages_received_total{kind="Phase2a"}')
  ((v >= 10)) || fail "$n: received $v Phase2a, expected >= 10" "$n"
  # An acceptor's group commits are record log appends (the default, README Storage).
  appends=$(value 'pcommit_record_log_events_total{event="append"}')
  synced=$(value pcommit_synced_commits_total)
  ((appends >= 1 && appends == synced)) ||
    fail "$n: $appends record log appends for $synced synced commits, expected all of them" "$n"
done
info "coordinators: $committed commits in all; participants: 0 in doubt"
run_pc cluster stop --dir "$DIR"

# ---- B: 2pc, coordinator stopped mid-transaction -------------------------------------
# 2PC blocks without its coordinator: the participants stay prepared, in doubt, until it
# comes back. c1 crashes right after its prepares of the first transaction it coordinates.
step "2pc: c1 crashes after its prepares; participants' in-doubt gauge >= 1 and ageing"
MBASE=$(free_metrics_base)
PCOMMIT_FAILPOINTS="coordinator.after_prepare_sent=crash@1" \
  start_cluster --dir "$E2E_TMP/twopc" --protocol 2pc --metrics-port-base "$MBASE"
kill9 c2
restart_node c2
txn --coordinator c1 --timeout-ms 150 "put:$k1=w" "put:$k2=w" "put:$k3=w"
((RC == 2)) || fail "txn through crashing c1: expected exit 2 (unknown), got $RC: '$OUT' $ERR" c1
wait_dead c1
p1port=$(metrics_port p1)
scrape "$p1port"
check_format p1
n1=$(value pcommit_in_doubt_transactions)
age1=$(value pcommit_in_doubt_oldest_age_seconds)
[[ "$n1" =~ ^[0-9]+$ ]] && ((n1 >= 1)) || fail "p1: pcommit_in_doubt_transactions '$n1' while c1 is down, expected >= 1" p1
sleep 1
scrape "$p1port"
age2=$(value pcommit_in_doubt_oldest_age_seconds)
awk -v a="$age1" -v b="$age2" 'BEGIN { exit !(b >= a + 0.5) }' ||
  fail "p1: oldest in-doubt age did not grow over 1 s: $age1 -> $age2" p1
info "p1: $n1 in doubt, oldest age $age1 s -> $age2 s"

step "2pc: c1 back (no failpoint): the gauge returns to 0"
restart_node c1
wait_no_in_doubt 10
scrape "$p1port"
v=$(value pcommit_in_doubt_transactions)
[[ "$v" == 0 ]] || fail "p1: pcommit_in_doubt_transactions '$v' after c1 is back, expected 0" p1
age=$(value pcommit_in_doubt_oldest_age_seconds)
[[ "$age" == 0 ]] || fail "p1: oldest in-doubt age '$age' with none in doubt, expected 0" p1
run_pc cluster stop --dir "$DIR"

# ---- C: bad option ---------------------------------------------------------------------
step "a bad --metrics-port-base is a usage error naming the option"
run_pc cluster start --dir "$E2E_TMP/bad" --metrics-port-base 65535
((RC == 64)) && [[ "$ERR" == *"--metrics-port-base 65535"* ]] ||
  fail "--metrics-port-base 65535: expected exit 64 naming the option, got $RC: $ERR" -

e2e_pass
