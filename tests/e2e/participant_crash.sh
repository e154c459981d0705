#!/usr/bin/env bash
# Participant killed while prepared: it reloads the prepared txn with its locks held, refuses conflicting writes while in doubt, learns the outcome; if this fails, a crash can lose a vote, a lock or atomicity.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
e2e_init participant_crash

k1=$(key_on pc 1 3)
k2=$(key_on pc 2 3)
k3=$(key_on pc 3 3)

# same_everywhere TXID OUTCOME: every participant holds TXID durably as OUTCOME.
same_everywhere() {
  local p st
  for p in p1 p2 p3; do
    st=$(participant_state "$p" "$1")
    [[ "$st" == "$2" ]] || fail "$p has $1 durably '$st', the outcome is '$2'" "$p"
  done
}

# check_outcome TXID NEWVALUE NEWVERSION OLDVALUE OLDVERSION: the final answer, and every
# shard all-new (committed) or all-old (aborted).
check_outcome() {
  run_pc outcome --cluster "$CONF" "$1"
  local outcome="${OUT%% *}"
  case "$OUT" in
    "committed $1") expect_get "$k1" "$2" "$3" && expect_get "$k2" "$2" "$3" && expect_get "$k3" "$2" "$3" ;;
    "aborted $1") expect_get "$k1" "$4" "$5" && expect_get "$k2" "$4" "$5" && expect_get "$k3" "$4" "$5" ;;
    *) fail "outcome of $1: expected committed or aborted, got exit $RC: '$OUT' $ERR" ;;
  esac
  same_everywhere "$1" "$outcome"
  info "outcome of $1: $outcome, on every shard"
}

# ---- A: paxos; p2 dies with its prepared record durable, before its vote leaves ---------
# A longer recovery timeout leaves time to take F+1 acceptors down before anyone recovers,
# so the transaction stays undecided while p2 is down and after it is back.
E2E_RECOVERY_MS=2000
step "paxos: p2 armed with participant.after_prepare_persisted=crash"
start_cluster --dir "$E2E_TMP/paxos" --protocol paxos
expect_txn 0 "put:$k1=v1" "put:$k2=v1" "put:$k3=v1"
kill9 p2
PCOMMIT_FAILPOINTS="participant.after_prepare_persisted=crash" restart_node p2
txn --timeout-ms 150 "put:$k1=v2" "put:$k2=v2" "put:$k3=v2"
((RC == 2)) || fail "txn while p2 crashes before voting: expected exit 2 (unknown), got $RC: '$OUT' $ERR" p2
crashed=$TXID
wait_dead p2
expect_failpoint_fired p2 participant.after_prepare_persisted
kill9 a1 a2
st=$(participant_state p2 "$crashed")
[[ "$st" == prepared ]] || fail "p2's durable state of $crashed after its crash: '$st', expected prepared" p2
inspect_json p2 | grep -qF "{\"key\": \"$k2\", \"txn\": \"$crashed\"}" ||
  fail "p2's durable locks do not hold $k2 for $crashed: $(inspect_json p2 | grep -F '"locks"')" p2
info "p2 (dead) holds $crashed prepared, lock on $k2 durable"

step "paxos: restart p2 (1 acceptor up: nothing can be decided yet)"
restart_node p2
log_has p2 "recovered from .*\(1 in doubt\)" || fail "p2 did not reload its prepared txn" p2
n=$(in_doubt_count p2)
[[ "$n" == 1 ]] || fail "p2 reports $n in-doubt txns after its restart, expected 1 ($crashed)" p2
expect_txn 1 "put:$k2=intruder"
[[ "$OUT" == *conflict* && "$OUT" == *"'$k2'"* && "$OUT" == *"$crashed"* ]] ||
  fail "conflicting write on $k2 while $crashed is in doubt: reason should say conflict, name $k2 and $crashed: '$OUT'"
info "conflicting write at p2: $OUT"
expect_txn 1 "put:$k1=intruder" "put:$k3=intruder"
[[ "$OUT" == *conflict* ]] || fail "conflicting write on $k1/$k3 while in doubt: '$OUT'"
inspect_json p2 | grep -qF "{\"key\": \"$k2\", \"txn\": \"$crashed\"}" ||
  fail "after the conflicting write, p2 no longer holds the lock on $k2 for $crashed" p2

step "paxos: restart a1 (F+1 acceptors): the transaction finishes everywhere"
restart_node a1
wait_no_in_doubt 5
check_outcome "$crashed" v2 2 v1 1
restart_node a2
run_pc get --cluster "$CONF" "$k2"
expect_txn 0 "expect:$k2=${OUT##* }" "put:$k1=v3" "put:$k2=v3" "put:$k3=v3"
run_pc cluster stop --dir "$DIR"
E2E_RECOVERY_MS=500

# ---- B: 2pc; p3 dies prepared before voting; the coordinator aborts; p3 learns it -------
step "2pc: p3 armed with participant.after_prepare_persisted=crash"
start_cluster --dir "$E2E_TMP/2pc" --protocol 2pc
expect_txn 0 "put:$k1=v1" "put:$k2=v1" "put:$k3=v1"
kill9 p3
PCOMMIT_FAILPOINTS="participant.after_prepare_persisted=crash" restart_node p3
txn --timeout-ms 3000 "put:$k1=v2" "put:$k2=v2" "put:$k3=v2"
((RC != 0)) || fail "2pc txn committed although p3 died before voting: '$OUT'"
info "client: $OUT"
crashed=$TXID
wait_dead p3
expect_failpoint_fired p3 participant.after_prepare_persisted
[[ "$(participant_state p3 "$crashed")" == prepared ]] || fail "p3 did not persist $crashed as prepared" p3
sleep 1
restart_node p3
log_has p3 "recovered from .*\(1 in doubt\)" || fail "p3 did not reload its prepared txn" p3
wait_no_in_doubt 5
check_outcome "$crashed" v2 2 v1 1
expect_txn 0 "expect:$k3=1" "put:$k1=v3" "put:$k2=v3" "put:$k3=v3"

# ---- C: paxos-classic; p1 dies right after its vote left: commit, then p1 learns it ------
step "paxos-classic: p1 armed with participant.after_vote_sent=crash"
start_cluster --dir "$E2E_TMP/classic" --protocol paxos-classic
expect_txn 0 "put:$k1=v1" "put:$k2=v1" "put:$k3=v1"
kill9 p1
PCOMMIT_FAILPOINTS="participant.after_vote_sent=crash" restart_node p1
txn "put:$k1=v2" "put:$k2=v2" "put:$k3=v2"
info "client: $OUT"
crashed=$TXID
wait_dead p1
expect_failpoint_fired p1 participant.after_vote_sent
# Every participant voted Prepared, but p1 died after its first vote delivery: its other
# 2a messages may not have left, so either outcome is right. It is decided without p1.
case "$RC" in
  0) expect_get "$k2" v2 2 ;;
  1) expect_get "$k2" v1 1 ;;
  *) fail "txn while p1 is down after voting: expected committed or aborted, got exit $RC: '$OUT' $ERR" ;;
esac
[[ "$(participant_state p1 "$crashed")" == prepared ]] ||
  fail "p1 (dead) should hold $crashed prepared, has '$(participant_state p1 "$crashed")'" p1
restart_node p1
wait_no_in_doubt 5
check_outcome "$crashed" v2 2 v1 1

e2e_pass
