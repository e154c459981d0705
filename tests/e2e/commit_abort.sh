#!/usr/bin/env bash
# Commit, abort (expect) and conflicts across 3 participants in every mode, plus F=0 and F=2: if this fails, the basic `txn`/`get` contract or atomicity across shards is broken.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
e2e_init commit_abort

# Concurrent writers of one key: each `txn` either commits or aborts with a conflict reason
# (no-wait locking), never unknown, and the key's version counts exactly the commits.
concurrent_conflicts() {
  local hot="$1" other="$2" round i rc out commits=0 conflicts=0 pids=()
  for ((round = 1; round <= 25 && conflicts == 0; round++)); do
    pids=()
    for i in 1 2 3 4; do
      "$PCOMMIT" txn --cluster "$CONF" "put:$hot=r$round-$i" "put:$other=r$round-$i" \
        >"$E2E_TMP/conc.$i.out" 2>&1 &
      pids+=($!)
    done
    for i in 1 2 3 4; do
      rc=0
      wait "${pids[$((i - 1))]}" || rc=$?
      out=$(cat "$E2E_TMP/conc.$i.out")
      case "$rc" in
        0) commits=$((commits + 1)) ;;
        1)
          [[ "$out" == *conflict* ]] ||
            fail "concurrent txn aborted without a conflict reason: '$out'"
          [[ "$out" == *"$hot"* || "$out" == *"$other"* ]] ||
            fail "conflict reason does not name the key ($hot or $other): '$out'"
          conflicts=$((conflicts + 1))
          ;;
        *) fail "concurrent txn: exit $rc, expected 0 or 1: '$out'" ;;
      esac
    done
  done
  ((conflicts > 0)) || fail "no conflict seen in $((round - 1)) rounds of 4 concurrent writers"
  info "$((round - 1)) round(s) of 4 concurrent writers: $commits committed, $conflicts aborted (e.g. '$(grep -h conflict "$E2E_TMP"/conc.*.out | head -n 1)')"
  run_pc get --cluster "$CONF" "$hot"
  local hotv="$OUT" version="${OUT##* }"
  # The key was written once before the rounds (version 1).
  ((RC == 0 && version == commits + 1)) ||
    fail "$hot: version $version after $commits concurrent commits (+1 before), expected $((commits + 1)): '$hotv'"
  # Both keys are written by every transaction: atomicity means the same value and version.
  run_pc get --cluster "$CONF" "$other"
  [[ "$OUT" == "$hotv" ]] || fail "$hot ($hotv) and $other ($OUT) disagree after concurrent writers"
}

k1=$(key_on acct 1 3)
k2=$(key_on acct 2 3)
k3=$(key_on acct 3 3)
for mode in 2pc paxos-classic paxos paxos-direct; do
  step "mode $mode: 2 coordinators, 3 participants, 3 acceptors (F=1)"
  start_cluster --dir "$E2E_TMP/$mode" --protocol "$mode"

  expect_txn 0 "put:$k1=one" "put:$k2=one" "put:$k3=one"
  info "$OUT (keys $k1 $k2 $k3 on p1 p2 p3)"
  c1txn=$TXID
  expect_get "$k1" one 1
  expect_get "$k2" one 1
  expect_get "$k3" one 1
  for p in p1 p2 p3; do
    st=$(participant_state "$p" "$c1txn")
    [[ "$st" == committed ]] || fail "$p: durable state of $c1txn is '$st', expected committed" "$p"
  done
  expect_outcome "$c1txn" committed

  expect_txn 0 "expect:$k1=1" "expect:$k2=1" "expect:$k3=1" "put:$k1=two" "put:$k2=two" "put:$k3=two"
  expect_get "$k1" two 2
  expect_get "$k3" two 2

  # A wrong version aborts everything, with a reason naming the key.
  expect_txn 1 "expect:$k2=7" "put:$k1=bad" "put:$k2=bad" "put:$k3=bad"
  [[ "$OUT" == *"$k2"* ]] || fail "abort reason does not name key $k2: '$OUT'"
  info "$OUT"
  bad=$TXID
  expect_get "$k1" two 2
  expect_get "$k2" two 2
  expect_get "$k3" two 2
  expect_outcome "$bad" aborted
  for p in p1 p3; do
    st=$(participant_state "$p" "$bad")
    [[ -z "$st" || "$st" == aborted || "$st" == voted-aborted ]] ||
      fail "$p: durable state of aborted $bad is '$st'" "$p"
  done

  # expect version 0 = never written; del.
  fresh=$(key_on "fresh-$mode" 2 3)
  expect_txn 0 "expect:$fresh=0" "put:$fresh=new" "put:$k1=three"
  expect_get "$fresh" new 1
  expect_txn 1 "expect:$fresh=0" "put:$k3=nope"
  [[ "$OUT" == *"$fresh"* ]] || fail "abort reason does not name key $fresh: '$OUT'"
  expect_txn 0 "del:$fresh" "put:$k3=three"
  expect_not_found "$fresh"
  expect_get "$k3" three 3

  # Conflicting concurrent writers across two shards.
  hot=$(key_on "hot-$mode" 1 3)
  other=$(key_on "hot-$mode" 3 3)
  expect_txn 0 "put:$hot=init" "put:$other=init"
  concurrent_conflicts "$hot" "$other"

  wait_no_in_doubt 5
  run_pc cluster stop --dir "$DIR"
done

for f in 0 2; do
  step "paxos with F=$f ($((2 * f + 1)) acceptors)"
  start_cluster --dir "$E2E_TMP/f$f" --protocol paxos --f "$f"
  expect_txn 0 "put:$k1=f$f" "put:$k2=f$f" "put:$k3=f$f"
  expect_get "$k2" "f$f" 1
  expect_txn 1 "expect:$k1=5" "put:$k1=x" "put:$k3=x"
  expect_get "$k3" "f$f" 1
  expect_txn 0 "expect:$k1=1" "put:$k1=g$f" "put:$k3=g$f"
  expect_get "$k1" "g$f" 2
  expect_get "$k3" "g$f" 2
  wait_no_in_doubt 5
  run_pc cluster stop --dir "$DIR"
done

step "paxos-direct with F=2"
start_cluster --dir "$E2E_TMP/direct-f2" --protocol paxos-direct --f 2
expect_txn 0 "put:$k1=d" "put:$k2=d" "put:$k3=d"
expect_get "$k3" d 1
wait_no_in_doubt 5

e2e_pass
