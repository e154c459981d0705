#!/usr/bin/env bash
# pcommit resolve (docs/PROTOCOL.md §9): a 2PC coordinator crashed for good after its prepares; an operator's `resolve --abort --force` clears the doubt at every participant and frees the keys, the restarted coordinator is reported as agreeing (log, metric, outcome), a `--commit` against its presumed abort as a mismatch; Paxos Commit refuses. If this fails, an operator cannot unblock 2PC by hand, or is not told when doing so broke atomicity.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
e2e_init resolve

k1=$(key_on rs 1 3)
k2=$(key_on rs 2 3)
k3=$(key_on rs 3 3)

expect_all() {
  expect_get "$k1" "$1" "$2"
  expect_get "$k2" "$1" "$2"
  expect_get "$k3" "$1" "$2"
}

# scrape_value NODE SERIES: the value of SERIES (name{labels}) on NODE's /metrics.
scrape_value() {
  local port raw
  port=$(sed -n "/^\[node\.$1\]$/,/^\[/s/^metrics = 127\.0\.0\.1:\([0-9]*\).*/\1/p" "$CONF")
  [[ -n "$port" ]] || fail "no metrics address for $1" "$1"
  raw=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port &&
    printf 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' >&3 && cat <&3" 2>/dev/null) || true
  awk -v n="$2" '$1 == n { print $2; exit }' <<<"$raw"
}

# crash_c1_in_txn VALUE: c1 (armed) crashes after sending the prepares of a transaction
# writing VALUE to k1..k3; CRASHED is its id; every participant then holds it in doubt.
crash_c1_in_txn() {
  txn --coordinator c1 --timeout-ms 150 "put:$k1=$1" "put:$k2=$1" "put:$k3=$1"
  ((RC == 2)) && [[ "$OUT" == "unknown $TXID"* ]] ||
    fail "txn through crashing c1: expected exit 2 'unknown', got exit $RC: '$OUT' $ERR" c1
  CRASHED=$TXID
  wait_dead c1
  expect_failpoint_fired c1 coordinator.after_prepare_sent
  sleep $((E2E_RECOVERY_MS / 1000 + 1))
  local json p line
  json=$("$PCOMMIT" cluster status --dir "$DIR" --json || true)
  for p in p1 p2 p3; do
    line=$(grep -E "\"name\": \"$p\"" <<<"$json")
    [[ "$line" == *"\"txn\": \"$CRASHED\""* ]] ||
      fail "$p does not report $CRASHED in doubt while c1 is down: $line" "$p"
  done
  info "p1..p3 hold $CRASHED in doubt, waiting for c1"
}

# wait_log_all PATTERN SECONDS: every participant's log shows PATTERN within SECONDS.
wait_log_all() {
  local t0=$SECONDS p
  for p in p1 p2 p3; do
    until log_has "$p" "$1"; do
      ((SECONDS - t0 < $2)) || fail "$p's log does not show '$1' after $2 s" "$p"
      sleep 0.1
    done
  done
}

step "2pc: c1 crashes for good after sending the prepares"
PCOMMIT_FAILPOINTS="coordinator.after_prepare_sent=crash@1" \
  start_cluster --dir "$E2E_TMP/2pc" --protocol 2pc --metrics-port-base $((31000 + (RANDOM % 100) * 16))
log_has c1 "failpoints armed: coordinator.after_prepare_sent=crash@1" || fail "c1 not armed" c1
kill9 c2
restart_node c2
expect_txn 0 --coordinator c2 "put:$k1=v1" "put:$k2=v1" "put:$k3=v1"
crash_c1_in_txn v2
abort_txn=$CRASHED

step "resolve without --force is refused and changes nothing"
run_pc resolve --cluster "$CONF" "$abort_txn" --abort
((RC == 64)) || fail "resolve without --force: expected exit 64, got $RC: $OUT $ERR"
[[ "$ERR" == *--force* && "$ERR" == *atomicity* ]] ||
  fail "resolve without --force should explain the risk and name --force: $ERR"
info "refused (exit 64): $(head -n 2 <<<"$ERR" | tr '\n' ' ')"
run_pc resolve --cluster "$CONF" "$abort_txn" --abort --commit --force
((RC == 64)) || fail "resolve --abort --commit: expected exit 64, got $RC"
[[ "$(total_in_doubt)" == 3 ]] || fail "a refused resolve changed something: $(total_in_doubt) in doubt"

step "resolve --abort --force: every participant resolves, the keys are free"
run_pc resolve --cluster "$CONF" "$abort_txn" --abort --force
echo "$OUT" | sed 's/^/      /'
((RC == 0)) || fail "resolve --abort --force: exit $RC: $OUT $ERR"
for p in p1 p2 p3; do
  grep -qE "^$p +in-doubt +resolved +aborted +pending +c1" <<<"$OUT" ||
    fail "resolve: no 'in-doubt resolved aborted pending c1' row for $p"
done
wait_no_in_doubt 2
expect_all v1 1
for p in p1 p2 p3; do
  st=$(participant_state "$p" "$abort_txn")
  [[ "$st" == aborted ]] || fail "$p: durable state of $abort_txn is '$st', expected aborted" "$p"
  inspect_json "$p" | grep -F "\"txn\": \"$abort_txn\"" | grep -qF '"heuristic": "pending"' ||
    fail "$p: the record of $abort_txn is not marked heuristic pending" "$p"
  log_has "$p" "heuristic decision: txn $abort_txn aborted by operator" ||
    fail "$p's log does not show the heuristic decision" "$p"
  [[ "$(scrape_value "$p" 'pcommit_heuristic_total{result="resolved"}')" == 1 ]] ||
    fail "$p: pcommit_heuristic_total{result=\"resolved\"} is not 1" "$p"
done
expect_txn 0 --coordinator c2 "expect:$k1=1" "put:$k1=v3" "put:$k2=v3" "put:$k3=v3"
expect_all v3 2
info "no participant in doubt, keys readable and writable again"

step "again: nothing in doubt (exit 0); --commit now is refused (already aborted)"
run_pc resolve --cluster "$CONF" "$abort_txn" --abort --force --json
((RC == 0)) || fail "resolve again: exit $RC: $OUT $ERR"
python3 -m json.tool <<<"$OUT" >/dev/null || fail "resolve --json does not parse: $OUT"
[[ "$OUT" == *'"verdict": "nothing-in-doubt"'* ]] || fail "resolve again: $OUT"
run_pc resolve --cluster "$CONF" "$abort_txn" --commit --force
((RC == 3)) && [[ "$ERR" == *"already aborted"* ]] ||
  fail "resolve --commit of an aborted txn: expected exit 3 naming it, got $RC: $OUT $ERR"
info "refused (exit 3): $(head -n 1 <<<"$ERR")"

step "c1 restarted: each participant asks it and logs the agreement"
restart_node c1
wait_log_all "heuristic decision agreed: txn $abort_txn aborted by operator, and coordinator c1 decided abort" 10
for p in p1 p2 p3; do
  [[ "$(scrape_value "$p" 'pcommit_heuristic_total{result="agreed"}')" == 1 ]] ||
    fail "$p: pcommit_heuristic_total{result=\"agreed\"} is not 1" "$p"
  inspect_json "$p" | grep -F "\"txn\": \"$abort_txn\"" | grep -qF '"heuristic": "agreed"' ||
    fail "$p: the record of $abort_txn is not marked heuristic agreed" "$p"
done
run_pc outcome --cluster "$CONF" "$abort_txn"
((RC == 1)) && [[ "$OUT" == "aborted $abort_txn (heuristic: participant p1 aborted by operator (agreed)"* ]] ||
  fail "outcome after agreement: expected exit 1 'aborted ... (heuristic: ...agreed...)', got $RC: '$OUT' $ERR"
info "outcome: $OUT"

step "mismatch: c1 crashes again, the operator commits, c1 comes back with presumed abort"
kill9 c1
PCOMMIT_FAILPOINTS="coordinator.after_prepare_sent=crash@1" restart_node c1
crash_c1_in_txn v4
commit_txn=$CRASHED
run_pc resolve --cluster "$CONF" "$commit_txn" --commit --force
((RC == 0)) || fail "resolve --commit --force: exit $RC: $OUT $ERR"
wait_no_in_doubt 2
expect_all v4 3
info "committed by operator at p1..p3: the writes are visible"
restart_node c1
wait_log_all "heuristic mismatch: txn $commit_txn committed by operator, but coordinator c1 decided abort" 10
for p in p1 p2 p3; do
  [[ "$(scrape_value "$p" 'pcommit_heuristic_total{result="mismatch"}')" == 1 ]] ||
    fail "$p: pcommit_heuristic_total{result=\"mismatch\"} is not 1" "$p"
done
expect_all v4 3
run_pc outcome --cluster "$CONF" "$commit_txn"
((RC == 4)) && [[ "$OUT" == "aborted $commit_txn (heuristic mismatch: participant p1 committed by operator"* ]] ||
  fail "outcome after a mismatch: expected exit 4 'aborted ... (heuristic mismatch: ...)', got $RC: '$OUT' $ERR"
info "outcome: $OUT"
run_pc outcome --cluster "$CONF" --json "$commit_txn"
python3 -m json.tool <<<"$OUT" >/dev/null || fail "outcome --json does not parse: $OUT"
[[ "$OUT" == *'"heuristic": "mismatch"'* ]] || fail "outcome --json does not list the mismatch: $OUT"
run_pc cluster stop --dir "$DIR"

step "paxos: resolve is refused; the acceptors decide"
start_cluster --dir "$E2E_TMP/paxos" --protocol paxos
expect_txn 0 "put:$k1=p1"
run_pc resolve --cluster "$CONF" "$TXID" --abort --force
((RC == 3)) && [[ "$ERR" == *acceptors* && "$ERR" == *"F+1"* && "$ERR" == *"pcommit outcome"* ]] ||
  fail "resolve on paxos: expected exit 3 explaining the acceptors decide, got $RC: $OUT $ERR"
expect_get "$k1" p1 1
info "refused (exit 3): $(grep -m 1 refused <<<"$ERR")"

e2e_pass
