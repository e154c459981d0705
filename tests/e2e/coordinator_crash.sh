#!/usr/bin/env bash
# Coordinator killed after its prepares went out: Paxos Commit must finish without it, 2PC must block until it is back; if this fails, the non-blocking claim (or 2PC's presumed abort on restart) is broken.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
e2e_init coordinator_crash

k1=$(key_on cc 1 3)
k2=$(key_on cc 2 3)
k3=$(key_on cc 3 3)

# Every shard shows VALUE at VERSION (all or nothing).
expect_all() {
  expect_get "$k1" "$1" "$2"
  expect_get "$k2" "$1" "$2"
  expect_get "$k3" "$1" "$2"
}

# Armed on every node by `cluster start` (only coordinators reach this step); c2 is then
# restarted without it, so c1 alone crashes, on the first transaction it coordinates (a
# prepare retry to a slow participant counts as another hit, so no @N > 1).
start_armed() {
  PCOMMIT_FAILPOINTS="coordinator.after_prepare_sent=crash@1" \
    start_cluster --dir "$E2E_TMP/$1" --protocol "$1"
  log_has c1 "failpoints armed: coordinator.after_prepare_sent=crash@1" || fail "c1 not armed" c1
  kill9 c2
  restart_node c2
  info "armed c1 only (c2 restarted without PCOMMIT_FAILPOINTS)"
}

for mode in paxos-classic paxos; do
  step "$mode: c1 crashes after sending the prepares of its first transaction"
  start_armed "$mode"
  expect_txn 0 --coordinator c2 "put:$k1=v1" "put:$k2=v1" "put:$k3=v1"
  expect_txn 0 --coordinator c2 "put:$k1=v2" "put:$k2=v2" "put:$k3=v2"
  # A client timeout below its retry interval: no failover to c2, the participants and
  # acceptors must finish the transaction on their own.
  txn --coordinator c1 --timeout-ms 150 "put:$k1=v3" "put:$k2=v3" "put:$k3=v3"
  ((RC == 2)) && [[ "$OUT" == "unknown $TXID"* ]] ||
    fail "txn through crashing c1: expected exit 2 'unknown', got exit $RC: '$OUT' $ERR" c1
  info "client: $OUT"
  crashed=$TXID
  wait_dead c1
  expect_failpoint_fired c1 coordinator.after_prepare_sent

  step "$mode: no coordinator restart; in doubt must clear within recovery timeout + 2 s"
  wait_no_in_doubt $((E2E_RECOVERY_MS / 1000 + 2))
  node_alive c1 && fail "c1 is running again, but nobody restarted it"
  # Every participant voted Prepared (c1 died after the prepares were delivered): commit.
  expect_outcome "$crashed" committed
  info "outcome through c2: $OUT"
  expect_all v3 3
  for p in p1 p2 p3; do
    st=$(participant_state "$p" "$crashed")
    [[ "$st" == committed ]] || fail "$p: durable state of $crashed is '$st', expected committed" "$p"
  done
  expect_txn 0 --coordinator c2 "expect:$k1=3" "put:$k1=v4" "put:$k2=v4" "put:$k3=v4"
  expect_all v4 4

  step "$mode: c1 restarted (no failpoint) serves again"
  restart_node c1
  expect_txn 0 --coordinator c1 "put:$k1=v5" "put:$k2=v5" "put:$k3=v5"
  expect_all v5 5
  run_pc cluster stop --dir "$DIR"
done

step "2pc: c1 crashes after sending the prepares of its first transaction"
start_armed 2pc
expect_txn 0 --coordinator c2 "put:$k1=v1" "put:$k2=v1" "put:$k3=v1"
txn --coordinator c1 --timeout-ms 150 "put:$k1=v2" "put:$k2=v2" "put:$k3=v2"
((RC == 2)) && [[ "$OUT" == "unknown $TXID"* ]] ||
  fail "txn through crashing c1: expected exit 2 'unknown', got exit $RC: '$OUT' $ERR" c1
crashed=$TXID
wait_dead c1
expect_failpoint_fired c1 coordinator.after_prepare_sent

step "2pc: participants block, waiting for c1 (well past the recovery timeout)"
sleep $((E2E_RECOVERY_MS / 1000 + 2))
json=$("$PCOMMIT" cluster status --dir "$DIR" --json || true)
for p in p1 p2 p3; do
  line=$(grep -E "\"name\": \"$p\"" <<<"$json")
  [[ "$line" == *"\"txn\": \"$crashed\""* ]] ||
    fail "2pc: $p does not report $crashed in doubt while c1 is down: $line" "$p"
  [[ "$line" == *'"waiting_for": "'*c1* ]] ||
    fail "2pc: $p's in-doubt entry does not say it waits for c1: $line" "$p"
done
info "p1..p3 hold $crashed in doubt, waiting for c1"

# The prepared transaction holds its locks: a conflicting write aborts at once, naming it.
expect_txn 1 --coordinator c2 "put:$k1=intruder"
[[ "$OUT" == *conflict* && "$OUT" == *"$k1"* && "$OUT" == *"$crashed"* ]] ||
  fail "conflicting write on $k1: the reason should say conflict, name $k1 and the holder $crashed: '$OUT'"
info "conflicting write: $OUT"
# Only c1 can know: c2 never coordinated it, so its answer must be `unknown`, not a
# presumed abort (c1 might hold a durable Commit: see failpoints.sh).
run_pc outcome --cluster "$CONF" "$crashed"
if ((RC == 2)) && [[ "$OUT" == "unknown $crashed" ]]; then
  info "outcome while c1 is down: $OUT"
else
  soft_fail "2pc outcome while c1 (the txn's coordinator) is down: expected exit 2 'unknown $crashed', got exit $RC: '$OUT' $ERR"
fi
node_alive c1 && fail "c1 is running again, but nobody restarted it"

step "2pc: restart c1; presumed abort finishes the transaction"
restart_node c1
wait_no_in_doubt 5
expect_outcome "$crashed" aborted
expect_all v1 1
for p in p1 p2 p3; do
  st=$(participant_state "$p" "$crashed")
  [[ "$st" == aborted ]] || fail "$p: durable state of $crashed is '$st', expected aborted" "$p"
done
expect_txn 0 "expect:$k1=1" "put:$k1=v3" "put:$k2=v3" "put:$k3=v3"
expect_all v3 2

e2e_pass
