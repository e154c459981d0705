#!/usr/bin/env bash
# 2pc-replicated (issue 15): the coordinator's decision lives on the acceptors, so a dead coordinator blocks nobody. c1 dies (kill -9 by a crash failpoint) once with Commit chosen and nobody told, once with every participant prepared and nothing proposed: without a restart of c1 the participants reach committed resp. aborted through the acceptors. If this fails, the mode blocks like 2PC or loses a chosen Commit.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
e2e_init replicated

k1=$(key_on rp 1 3)
k2=$(key_on rp 2 3)
k3=$(key_on rp 3 3)

expect_all() {
  expect_get "$k1" "$1" "$2"
  expect_get "$k2" "$1" "$2"
  expect_get "$k3" "$1" "$2"
}

# Every participant's durable state of TXID is WORD.
expect_states() {
  local p st
  for p in p1 p2 p3; do
    st=$(participant_state "$p" "$1")
    [[ "$st" == "$2" ]] || fail "$p: durable state of $1 is '$st', expected $2" "$p"
  done
}

step "start: 2pc-replicated, c1 armed to crash once Commit is chosen (before telling anyone)"
PCOMMIT_FAILPOINTS="coordinator.after_decision_chosen=crash@1" \
  start_cluster --dir "$E2E_TMP/repl" --protocol 2pc-replicated
log_has c1 "failpoints armed: coordinator.after_decision_chosen=crash@1" || fail "c1 not armed" c1
kill9 c2
restart_node c2
run_pc cluster status --dir "$DIR"
[[ "$OUT" == *2pc-replicated* ]] || fail "cluster status does not name the mode: $OUT"
expect_txn 0 --coordinator c2 "put:$k1=v1" "put:$k2=v1" "put:$k3=v1"
expect_all v1 1
expect_txn 1 --coordinator c2 "expect:$k1=7" "put:$k2=no"
expect_all v1 1

step "c1 dies with Commit chosen at the acceptors, no participant told"
# A client timeout below its retry interval: no failover, the participants finish alone.
txn --coordinator c1 --timeout-ms 150 "put:$k1=v2" "put:$k2=v2" "put:$k3=v2"
((RC == 2)) && [[ "$OUT" == "unknown $TXID"* ]] ||
  fail "txn through crashing c1: expected exit 2 'unknown', got exit $RC: '$OUT' $ERR" c1
chosen=$TXID
wait_dead c1
expect_failpoint_fired c1 coordinator.after_decision_chosen
wait_no_in_doubt $((E2E_RECOVERY_MS / 1000 + 3))
node_alive c1 && fail "c1 is running again, but nobody restarted it"
expect_states "$chosen" committed
expect_all v2 2
# c2 never saw the transaction: it asks the acceptors (phase 1), never presumes abort.
expect_outcome "$chosen" committed
info "outcome through c2: $OUT"

step "c1 (restarted, armed after the prepares) dies before any decision: recovery aborts"
PCOMMIT_FAILPOINTS="coordinator.after_prepare_sent=crash@1" restart_node c1
txn --coordinator c1 --timeout-ms 150 "put:$k1=v3" "put:$k2=v3" "put:$k3=v3"
((RC == 2)) && [[ "$OUT" == "unknown $TXID"* ]] ||
  fail "txn through crashing c1: expected exit 2 'unknown', got exit $RC: '$OUT' $ERR" c1
undecided=$TXID
wait_dead c1
expect_failpoint_fired c1 coordinator.after_prepare_sent
wait_no_in_doubt $((E2E_RECOVERY_MS / 1000 + 3))
node_alive c1 && fail "c1 is running again, but nobody restarted it"
# Nothing was proposed: the decision instance was free, so recovery chose Abort (2PC
# would block here until c1 returns).
expect_states "$undecided" aborted
expect_all v2 2
expect_outcome "$undecided" aborted
expect_txn 0 --coordinator c2 "expect:$k1=2" "put:$k1=v4" "put:$k2=v4" "put:$k3=v4"
expect_all v4 3

step "c1 restarted without failpoints serves again and answers for the past"
restart_node c1
expect_txn 0 --coordinator c1 "put:$k1=v5" "put:$k2=v5" "put:$k3=v5"
expect_all v5 4
expect_outcome "$chosen" committed
run_pc cluster stop --dir "$DIR"

e2e_pass
