#!/usr/bin/env bash
# Cluster identity (issue 12): a cluster file of another cluster and a data directory of another node are refused naming both ids; a participant whose data was lost starts only with --rejoin-empty and then never acks an outcome it cannot know (the committed txn stays committed after GC); a client of another cluster is refused. If this fails, a stale file or swapped or wiped directory can corrupt outcomes.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
e2e_init identity

# expect_refused WHAT NEEDLE... -- ARGS: `pcommit ARGS` exits 1 and its stderr holds every NEEDLE.
expect_refused() {
  local what="$1" needles=() n
  shift
  while [[ "$1" != "--" ]]; do
    needles+=("$1")
    shift
  done
  shift
  run_pc "$@"
  ((RC == 1)) || fail "$what: expected exit 1, got $RC: $OUT $ERR"
  for n in "${needles[@]}"; do
    grep -qF -- "$n" <<<"$ERR" || fail "$what: the message does not name '$n': $ERR"
  done
  info "$what: refused (exit 1): $(head -n 1 <<<"$ERR")"
}

k1=$(key_on id 1 3)
k2=$(key_on id 2 3)
k3=$(key_on id 3 3)

step "cluster start writes a random cluster-id; every data directory records it"
start_cluster --dir "$E2E_TMP/paxos" --protocol paxos
id=$(sed -n 's/^cluster-id = \([0-9a-f]\{32\}\).*/\1/p' "$CONF")
[[ -n "$id" ]] || fail "no cluster-id in $CONF: $(grep -n cluster "$CONF")"
for n in c1 p1 p2 a1; do
  inspect_json "$n" | grep -qF "\"cluster_id\": \"$id\"" || fail "$n's data directory does not record cluster $id"
done
info "cluster $id; c1, p1, p2, a1 record it"
expect_txn 0 "put:$k1=v1" "put:$k2=v1" "put:$k3=v1"

step "a client with the cluster file of another cluster is refused by the nodes"
other=0123456789abcdef0123456789abcdef
sed "s/^cluster-id = .*/cluster-id = $other/" "$CONF" >"$DIR/other.conf"
run_pc get --cluster "$DIR/other.conf" "$k1"
((RC != 0)) && grep -qF "another cluster" <<<"$ERR" ||
  fail "get with another cluster's file: expected a refusal naming another cluster, got exit $RC: '$OUT' $ERR"
info "get refused: $ERR"
log_has p1 "refused a connection of another cluster: caller .* names cluster $other, this is cluster $id" ||
  fail "p1 did not log the foreign caller with both cluster ids" p1
run_pc txn --cluster "$DIR/other.conf" --timeout-ms 1000 "put:$k1=intruder"
((RC == 2)) && grep -qF "another cluster" <<<"$OUT" ||
  fail "txn with another cluster's file: expected unknown naming another cluster, got exit $RC: '$OUT' $ERR"
info "txn refused: $OUT"
expect_get "$k1" v1 1

step "serve with a cluster file of another cluster on p1's directory: exit 1, both ids named"
run_pc cluster stop --dir "$DIR"
expect_refused "serve p1 with another cluster's file" "$id" "$other" "$DIR/p1" -- \
  serve --config "$DIR/other.conf" --node p1
expect_refused "serve a1 with another cluster's file" "$id" "$other" -- \
  serve --config "$DIR/other.conf" --node a1

step "swapped data directories (p1's under p2): exit 1, both node ids named"
mv "$DIR/p1" "$DIR/p1.moved" && mv "$DIR/p2" "$DIR/p1" && mv "$DIR/p1.moved" "$DIR/p2"
expect_refused "serve p1 on p2's directory" "node p2 (id 1002)" "node p1 (id 1001)" -- \
  serve --config "$CONF" --node p1
expect_refused "serve p2 on p1's directory" "node p1 (id 1001)" "node p2 (id 1002)" -- \
  serve --config "$CONF" --node p2
mv "$DIR/p1" "$DIR/p1.moved" && mv "$DIR/p2" "$DIR/p1" && mv "$DIR/p1.moved" "$DIR/p2"
restart_cluster --protocol paxos
expect_get "$k2" v1 1

step "commit T while p2 dies after making Commit durable, before its ack leaves"
kill9 p2
PCOMMIT_FAILPOINTS="participant.after_outcome_persisted=crash" restart_node p2
txn "put:$k1=v2" "put:$k2=v2" "put:$k3=v2"
T=$TXID
((RC == 0)) || fail "txn T: expected committed, got exit $RC: '$OUT' $ERR" p2
wait_dead p2
expect_failpoint_fired p2 participant.after_outcome_persisted
# Every acceptor still holds T: p2's ack is missing, so none could collect it.
for a in a1 a2 a3; do
  inspect_json "$a" | grep -qF "{\"txn\": \"$T\", \"participants\"" ||
    fail "$a no longer holds T's votes before p2's ack" "$a"
done
info "T = $T committed; p2 died before acking; every acceptor keeps T"

step "wipe p2's data directory: a plain restart is refused"
rm -rf "${DIR:?}/p2"
run_pc cluster restart --dir "$DIR" p2
((RC != 0)) || fail "cluster restart p2 on an empty directory: expected a refusal, it started" p2
log_has p2 "holds no pcommit data" || fail "p2's log does not say why it refused" p2
[[ ! -e "$DIR/p2/data.mdb" ]] || fail "the refused start created $DIR/p2/data.mdb"
expect_refused "serve p2 on an empty directory" "holds no pcommit data" "--rejoin-empty" "--init" -- \
  serve --config "$CONF" --node p2

step "restart p2 with --rejoin-empty: after GC, T is still committed"
run_pc cluster restart --dir "$DIR" p2 --rejoin-empty
((RC == 0)) || fail "cluster restart p2 --rejoin-empty failed (exit $RC): $OUT $ERR" p2
log_has p2 "rejoined with an empty data directory" || fail "p2 does not log its rejoin" p2
inspect_json p2 | grep -qE '"rejoined_at": "[0-9a-f]{32}"' || fail "p2 records no rejoin mark" p2
# The acceptors ask p2 for its ack; it answers without an outcome, and they collect T with
# the outcome p1 and p3 acked.
# Each acceptor collects T when its own AckRequest is answered: poll every one of them.
for a in a1 a2 a3; do
  tomb=""
  for _ in $(seq 1 100); do
    tomb=$(inspect_json "$a" | grep -oE "\{\"txn\": \"$T\", \"outcome\": [a-z\"]*\}" || true)
    if [[ -n "$tomb" ]] && ! inspect_json "$a" | grep -qF "\"txn\": \"$T\", \"participants\""; then
      break
    fi
    sleep 0.1
  done
  [[ -n "$tomb" ]] || fail "$a still holds T's votes (no tombstone) 10 s after p2 rejoined" "$a" p2
  [[ "$tomb" == *'"outcome": "commit"}' ]] ||
    fail "$a's tombstone of T: expected commit, got '$tomb' (p2 acked an outcome it cannot know?)" "$a" p2
done
info "acceptors collected T, tombstone commit"
[[ -z "$(participant_state p2 "$T")" ]] || fail "p2 recorded T ($(participant_state p2 "$T")): it knows nothing of it" p2
expect_outcome "$T" committed
expect_get "$k1" v2 2

step "p2 serves new transactions"
expect_txn 0 "put:$k1=v3" "put:$k2=v3" "put:$k3=v3"
expect_get "$k2" v3 1
run_pc cluster restart --dir "$DIR" p2 --rejoin-empty
((RC != 0)) || fail "restart of a running p2 should be refused"

e2e_pass
