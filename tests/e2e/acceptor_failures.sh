#!/usr/bin/env bash
# F acceptors killed: commits go on; F+1 killed: transactions wait safely in doubt and finish once one acceptor is back; if this fails, Paxos Commit's fault tolerance (or its safety when it cannot make progress) is broken.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
e2e_init acceptor_failures

k1=$(key_on af 1 3)
k2=$(key_on af 2 3)
k3=$(key_on af 3 3)

# all_at VALUE VERSION: every shard shows it.
all_at() {
  expect_get "$k1" "$1" "$2"
  expect_get "$k2" "$1" "$2"
  expect_get "$k3" "$1" "$2"
}

for mode in paxos paxos-classic paxos-direct; do
  step "$mode, F=1: kill -9 a1 (F acceptors down)"
  start_cluster --dir "$E2E_TMP/$mode" --protocol "$mode" --f 1
  expect_txn 0 "put:$k1=v1" "put:$k2=v1" "put:$k3=v1"
  kill9 a1
  for v in 2 3 4; do
    expect_txn 0 "expect:$k1=$((v - 1))" "put:$k1=v$v" "put:$k2=v$v" "put:$k3=v$v"
  done
  expect_txn 1 "expect:$k1=1" "put:$k1=no" "put:$k3=no"
  all_at v4 4
  wait_no_in_doubt 5
  info "with a1 down: 3 commits and an abort, nothing in doubt"

  step "$mode: kill -9 a2 too (F+1 down): a transaction cannot finish, and must not guess"
  kill9 a2
  txn --timeout-ms 1500 "put:$k1=v5" "put:$k2=v5" "put:$k3=v5"
  ((RC == 2)) && [[ "$OUT" == "unknown $TXID"* ]] ||
    fail "txn with F+1 acceptors down: expected exit 2 'unknown', got exit $RC: '$OUT' $ERR"
  info "client: $OUT"
  stuck=$TXID
  sleep $((E2E_RECOVERY_MS / 1000 + 1))
  for p in p1 p2 p3; do
    n=$(in_doubt_count "$p")
    [[ "$n" == 1 ]] || fail "$p: $n txns in doubt with F+1 acceptors down, expected 1 ($stuck)" "$p"
    st=$(participant_state "$p" "$stuck")
    [[ "$st" == prepared ]] ||
      fail "$p decided $stuck ('$st') with only 1 of 3 acceptors up: it must wait" "$p"
  done
  info "every participant holds $stuck prepared (safe wait)"

  step "$mode: restart a1: F+1 acceptors again, the transaction finishes"
  restart_node a1
  wait_no_in_doubt 5
  run_pc outcome --cluster "$CONF" "$stuck"
  outcome="${OUT%% *}"
  case "$OUT" in
    "committed $stuck") all_at v5 5 ;;
    "aborted $stuck") all_at v4 4 ;;
    *) fail "outcome of $stuck after a1's restart: expected committed or aborted, got exit $RC: '$OUT' $ERR" ;;
  esac
  info "outcome: $outcome; every shard agrees"
  for p in p1 p2 p3; do
    st=$(participant_state "$p" "$stuck")
    [[ "$st" == "$outcome" ]] || fail "$p has $stuck durably '$st', outcome says '$outcome'" "$p"
  done
  # The votes were on a3 (the only acceptor up at the time): Prepared everywhere means commit.
  [[ "$outcome" == committed ]] ||
    soft_fail "$mode: $stuck was voted Prepared by every participant and kept by a3, yet it aborted"

  step "$mode: a2 back, a3 down: the restarted acceptors carry the cluster"
  restart_node a2
  kill9 a3
  run_pc get --cluster "$CONF" "$k1"
  ver="${OUT##* }"
  expect_txn 0 "expect:$k1=$ver" "put:$k1=v9" "put:$k2=v9" "put:$k3=v9"
  expect_get "$k2" v9 $((ver + 1))
  restart_node a3
  expect_txn 0 "put:$k1=v10" "put:$k2=v10" "put:$k3=v10"
  wait_no_in_doubt 5
  run_pc cluster stop --dir "$DIR"
done

e2e_pass
