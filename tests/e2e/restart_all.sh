#!/usr/bin/env bash
# Every node restarted with its data (clean stop/start, then kill -9 of all right after the last commit): if this fails, an acknowledged commit was lost or a version went back.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
e2e_init restart_all

N=12
declare -A want # key -> "VALUE VERSION" as acknowledged

# write_round TAG: N transactions, each writes a key of its own and the shared counter
# key; every one must commit, and is recorded as acknowledged.
write_round() {
  local tag="$1" i key prev
  for ((i = 1; i <= N; i++)); do
    key="rs-$i"
    expect_txn 0 "put:$key=$tag-$i" "put:rs-counter=$tag-$i"
    prev="${want[$key]:-x 0}"
    want[$key]="$tag-$i $((${prev##* } + 1))"
    prev="${want[rs-counter]:-x 0}"
    want[rs-counter]="$tag-$i $((${prev##* } + 1))"
  done
  info "round $tag: $N transactions committed (last $TXID)"
}

check_all() {
  local key
  for key in "${!want[@]}"; do
    expect_get "$key" "${want[$key]% *}" "${want[$key]##* }"
  done
  info "all ${#want[@]} keys read back with their acknowledged values and versions ($1)"
}

kill_all() {
  local n pids=()
  for n in $(coordinators) $(participants) $(acceptors); do
    node_alive "$n" || fail "$n is not running before the kill" "$n"
    pids+=("$(node_pid "$n")")
  done
  kill -9 "${pids[@]}"
  for n in $(coordinators) $(participants) $(acceptors); do wait_dead "$n"; done
  info "kill -9 of all ${#pids[@]} nodes"
}

for mode in paxos 2pc paxos-direct; do
  want=()
  step "$mode: $N commits, then cluster stop + cluster start on the same dir"
  start_cluster --dir "$E2E_TMP/$mode" --protocol "$mode"
  write_round a
  check_all "before any restart"
  run_pc cluster stop --dir "$DIR"
  ((RC == 0)) || fail "cluster stop failed: $OUT $ERR"
  restart_cluster --protocol "$mode"
  [[ "$OUT" == *"starting it again with its data"* ]] ||
    fail "cluster start on a stopped cluster did not reuse its data: $OUT"
  check_all "after stop + start"
  wait_no_in_doubt 5

  step "$mode: $N more commits, then kill -9 of every node at once, restart each"
  write_round b
  kill_all
  for n in $(acceptors) $(participants) $(coordinators); do restart_node "$n"; done
  wait_no_in_doubt 10
  check_all "after kill -9 of all + restart"
  # Versions survived: an expect on the acknowledged version commits, a stale one aborts.
  ver="${want[rs-counter]##* }"
  expect_txn 1 "expect:rs-counter=$((ver - 1))" "put:rs-counter=stale"
  expect_txn 0 "expect:rs-counter=$ver" "put:rs-counter=fresh"
  expect_get rs-counter fresh $((ver + 1))
  run_pc cluster stop --dir "$DIR"
done

e2e_pass
