#!/usr/bin/env bash
# LMDB participants p1, p2 and the RocksDB participant p3 (examples/rocksdb_participant, an embedded ResourceManager) in one transaction, paxos and 2pc: commits land on all three, aborts on none; p3 killed while prepared reloads the transaction from RocksDB with its locks and it finishes committed everywhere. If this fails, an embedded engine breaks atomicity or loses a prepared transaction.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$1"
RDB="${2:-}"
if [[ -z "$RDB" || ! -x "$RDB" ]]; then
  echo "usage: $0 PATH-TO-pcommit PATH-TO-rocksdb_participant (got '$RDB')" >&2
  exit 2
fi
RDB="$(cd "$(dirname "$RDB")" && pwd)/$(basename "$RDB")"
E2E_DEADLINE_S=170
e2e_init mixed_rocksdb

k1=$(key_on mx 1 3)
k2=$(key_on mx 2 3)
k3=$(key_on mx 3 3) # on p3: RocksDB

# start_p3: runs the RocksDB participant as external node p3 (pid in DIR/p3.pid, so
# `cluster stop` stops it), with the caller's PCOMMIT_FAILPOINTS; waits until it answers.
start_p3() {
  local conf i
  conf=$(realpath "$CONF")
  echo "---- $(date -u +%FT%TZ) mixed_rocksdb.sh: starting $RDB --node p3" >>"$DIR/p3.log"
  # In a subshell: not our job, so bash does not report its kill -9.
  ("$RDB" --config "$conf" --node p3 </dev/null >>"$DIR/p3.log" 2>&1 &
    echo $! >"$DIR/p3.pid")
  for ((i = 0; i < 200; i++)); do
    if [[ "$(status_line p3)" == *'"healthy": true'* ]]; then
      info "p3 (rocksdb_participant) up, pid $(node_pid p3)"
      return 0
    fi
    # Not node_alive: between fork and exec /proc/PID/cmdline is still the subshell's, so
    # on a loaded machine node_alive said "exited" of a p3 that was starting (CI, session 7).
    kill -0 "$(node_pid p3)" 2>/dev/null || fail "rocksdb_participant p3 exited at start" p3
    sleep 0.05
  done
  fail "rocksdb_participant p3 did not answer within 10 s" p3
}

# all_at VALUE VERSION: every shard (p1, p2 LMDB; p3 RocksDB) reads VALUE at VERSION.
all_at() {
  expect_get "$k1" "$1" "$2"
  expect_get "$k2" "$1" "$2"
  expect_get "$k3" "$1" "$2"
}

# p3 keeps the protocol's records in DIR/p3/pcommit (its record log and LMDB), its data in
# DIR/p3/rocksdb.
p3_state() {
  "$PCOMMIT" inspect --data "$DIR/p3/pcommit" --json | grep -F "\"txn\": \"$1\"" |
    sed -n 's/.*"state": "\([a-z-]*\)".*/\1/p' | head -n 1
}

committed_everywhere() {
  local st
  for p in p1 p2; do
    st=$(participant_state "$p" "$1")
    [[ "$st" == committed ]] || fail "$p has $1 durably '$st', expected committed" "$p"
  done
  st=$(p3_state "$1")
  [[ "$st" == committed ]] || fail "p3 has $1 durably '$st', expected committed" p3
}

# commit_and_abort PROTO: the normal cases across LMDB and RocksDB shards.
commit_and_abort() {
  step "$1: a transaction over p1, p2 (LMDB) and p3 (RocksDB) commits on all three"
  expect_txn 0 "put:$k1=a" "put:$k2=a" "put:$k3=a"
  all_at a 1
  committed_everywhere "$TXID"
  [[ -d "$DIR/p3/rocksdb" ]] || fail "p3 has no RocksDB directory $DIR/p3/rocksdb" p3
  # The embedded node's group commits go to its record log, as `pcommit serve`'s do (the
  # kill -9 steps below then replay it).
  [[ -s "$DIR/p3/pcommit/records.log" ]] || fail "p3 writes no record log in $DIR/p3/pcommit" p3
  "$PCOMMIT" inspect --data "$DIR/p3/pcommit" | grep -q "kv_data=0" ||
    fail "p3's LMDB holds KV data: the data belongs in RocksDB" p3
  expect_txn 0 "expect:$k1=1" "put:$k1=b" "expect:$k2=1" "del:$k2" "expect:$k3=1" "put:$k3=b"
  expect_get "$k1" b 2
  expect_not_found "$k2"
  expect_get "$k3" b 2
  info "put/del/expect with versions on both engines"

  step "$1: an expect that fails on the RocksDB shard aborts everywhere"
  expect_txn 1 "put:$k1=c" "put:$k2=c" "expect:$k3=1" "put:$k3=c"
  [[ "$OUT" == *"expect failed: key '$k3' is at version 2, expected 1"* ]] ||
    fail "abort reason should name $k3 on p3: '$OUT'"
  info "client: $OUT"
  expect_get "$k1" b 2
  expect_not_found "$k2"
  expect_get "$k3" b 2
  expect_txn 0 "expect:$k1=2" "put:$k1=d" "put:$k2=d" "expect:$k3=2" "put:$k3=d"
  expect_get "$k1" d 3
  expect_get "$k2" d 3 # deleted at version 2: a put makes it 3
  expect_get "$k3" d 3
}

# ---- paxos ------------------------------------------------------------------------
start_cluster --dir "$E2E_TMP/paxos" --protocol paxos --external p3
grep -q '"external": true' <<<"$(status_line p3)" || fail "cluster status does not show p3 as external"
run_pc cluster restart --dir "$DIR" p3
((RC == 1)) && [[ "$ERR" == *"p3 is external"* ]] ||
  fail "cluster restart p3 (external) should refuse, got exit $RC: $OUT $ERR"
start_p3
commit_and_abort paxos

step "paxos: acceptors persist the votes of a transaction, then hang (nothing decided)"
kill9 a1 a2 a3
for a in a1 a2 a3; do
  PCOMMIT_FAILPOINTS="acceptor.after_persist_before_reply=hang" restart_node "$a"
done
txn --timeout-ms 300 "expect:$k1=3" "put:$k1=e" "put:$k2=e" "put:$k3=e"
((RC == 2)) || fail "txn while the acceptors hang: expected exit 2 (unknown), got $RC: '$OUT' $ERR"
inflight=$TXID
for a in a1 a2 a3; do
  for ((i = 0; i < 100; i++)); do
    log_has "$a" "failpoint acceptor.after_persist_before_reply: hang" && break
    sleep 0.05
  done
  log_has "$a" "failpoint acceptor.after_persist_before_reply: hang" || fail "$a did not hang after persisting" "$a"
done
[[ "$(p3_state "$inflight")" == prepared ]] || fail "p3 does not hold $inflight prepared" p3
[[ "$(in_doubt_count p3)" == 1 ]] || fail "p3 should hold $inflight in doubt" p3
info "$inflight prepared on every shard, votes durable at the hung acceptors"

step "paxos: kill -9 p3 (prepared) and start it again: RocksDB gives the txn back"
kill9 p3
start_p3
log_has p3 "reconcile: the engine listed 1 prepared: 1 in doubt" ||
  fail "p3 did not find $inflight prepared in RocksDB at restart" p3
[[ "$(in_doubt_count p3)" == 1 ]] || fail "p3 should hold $inflight in doubt after its restart" p3
run_pc get --cluster "$CONF" "$k3"
# Exit 75 (EX_TEMPFAIL) and one line naming the key and the holder (README: `pcommit get`).
[[ $RC == 75 && "$ERR" == *"key '$k3' is held by in-doubt transaction $inflight"* ]] ||
  fail "get $k3 while $inflight is in doubt at p3 should wait and fail (locked), got exit $RC: '$OUT' $ERR" p3
info "p3 reloaded $inflight from RocksDB and holds its lock on $k3"

step "paxos: the acceptors come back: $inflight commits on all three"
kill9 a1 a2 a3
for a in a1 a2 a3; do restart_node "$a"; done
wait_no_in_doubt 30
expect_outcome "$inflight" committed
all_at e 4
committed_everywhere "$inflight"
expect_txn 0 "expect:$k3=4" "put:$k1=f" "put:$k2=f" "put:$k3=f"
all_at f 5
run_pc cluster stop --dir "$DIR"
[[ "$OUT" == *"p3: stopped"* ]] || fail "cluster stop did not stop the external p3 (its pid file names it): $OUT"

# ---- 2pc --------------------------------------------------------------------------
start_cluster --dir "$E2E_TMP/2pc" --protocol 2pc --external p3
start_p3
commit_and_abort 2pc

step "2pc: p3 dies with the txn prepared (RocksDB and its record), before voting: abort"
kill9 p3
PCOMMIT_FAILPOINTS="participant.after_prepare_persisted=crash" start_p3
txn --coordinator c1 --timeout-ms 3000 "put:$k1=x" "put:$k2=x" "put:$k3=x"
((RC != 0)) || fail "2pc txn committed although p3 died before voting: '$OUT'"
crashed=$TXID
wait_dead p3
expect_failpoint_fired p3 participant.after_prepare_persisted
[[ "$(p3_state "$crashed")" == prepared ]] || fail "p3 did not persist $crashed as prepared" p3
start_p3
log_has p3 "reconcile: the engine listed 1 prepared: 1 in doubt" ||
  fail "p3 did not find $crashed prepared in RocksDB at restart" p3
wait_no_in_doubt 10
expect_outcome "$crashed" aborted
all_at d 3
info "$crashed rolled back in RocksDB after p3 learned Abort from c1"

step "2pc: c1 dies with Commit durable, not sent; p3 killed while prepared"
kill9 c1
PCOMMIT_FAILPOINTS="coordinator.after_decision_persisted=crash" restart_node c1
txn --coordinator c1 --timeout-ms 300 "put:$k1=y" "put:$k2=y" "put:$k3=y"
((RC == 2)) || fail "txn whose coordinator dies after persisting Commit: expected exit 2, got $RC: '$OUT' $ERR" c1
decided=$TXID
wait_dead c1
[[ "$(p3_state "$decided")" == prepared ]] || fail "p3 does not hold $decided prepared" p3
kill9 p3
start_p3
log_has p3 "reconcile: the engine listed 1 prepared: 1 in doubt" ||
  fail "p3 did not find $decided prepared in RocksDB at restart" p3
[[ "$(in_doubt_count p3)" == 1 ]] || fail "p3 should hold $decided in doubt" p3
expect_txn 1 --coordinator c2 "put:$k3=intruder"
[[ "$OUT" == *conflict* && "$OUT" == *"'$k3'"* && "$OUT" == *"$decided"* ]] ||
  fail "a write on $k3 while $decided is in doubt: the reason should say conflict and name $k3 and $decided: '$OUT'"
info "RocksDB kept the lock on $k3 across the kill: $OUT"
restart_node c1
wait_no_in_doubt 10
expect_outcome "$decided" committed
all_at y 4
committed_everywhere "$decided"
info "$decided committed on p1, p2 (LMDB) and p3 (RocksDB)"

step "2pc: p3 dies with its Committed record durable, before RocksDB commits: restart commits"
kill9 p3
PCOMMIT_FAILPOINTS="participant.after_outcome_persisted=crash" start_p3
expect_txn 0 "expect:$k3=4" "put:$k1=z" "put:$k2=z" "put:$k3=z"
applied=$TXID
wait_dead p3
expect_failpoint_fired p3 participant.after_outcome_persisted
[[ "$(p3_state "$applied")" == committed ]] || fail "p3 did not persist $applied as committed" p3
start_p3
log_has p3 "reconcile: txn $applied committed in the engine" ||
  fail "p3 did not commit $applied in RocksDB at restart (node record: committed)" p3
all_at z 5
info "the restart applied $applied to RocksDB from p3's durable Committed record"
run_pc cluster stop --dir "$DIR"

# ---- garbage collection with an external engine -----------------------------------
# p3 forgets finished records beyond --gc-cap; its low-water mark is written only after the
# RocksDB outcomes it covers are applied (NodeHost holds it back), and a restart is clean.
step "paxos, --gc-cap 2: p3 collects its finished records; kill -9 and restart is clean"
start_cluster --dir "$E2E_TMP/gc" --protocol paxos --external p3 --gc-cap 2
start_p3
for i in $(seq 1 12); do expect_txn 0 "put:$k1=g$i" "put:$k2=g$i" "put:$k3=g$i"; done
all_at g12 12
for ((i = 0; i < 100; i++)); do
  "$PCOMMIT" inspect --data "$DIR/p3/pcommit" | grep -q "low-water 0000000000000000" || break
  sleep 0.05
done
lw=$("$PCOMMIT" inspect --data "$DIR/p3/pcommit" | sed -n 's/^participant: \([0-9]*\) transactions, low-water \([0-9a-f]*\)$/\1 \2/p')
[[ -n "$lw" && "${lw#* }" != 00000000000000000000000000000000 ]] ||
  fail "p3 never wrote a participant low-water mark with --gc-cap 2: '$lw'" p3
((${lw%% *} <= 6)) || fail "p3 keeps ${lw%% *} finished records with --gc-cap 2" p3
info "p3's records: ${lw%% *} kept, low-water ${lw#* }"
kill9 p3
start_p3
log_has p3 "reconcile: the engine listed 0 prepared" || fail "p3 restarted with prepared leftovers" p3
expect_txn 0 "expect:$k3=12" "put:$k1=h" "put:$k2=h" "put:$k3=h"
all_at h 13

e2e_pass
