#!/usr/bin/env bash
# Co-located roles (cluster start --colocate all): a<i> and c<i> run inside p<i>'s process, messages between them delivered in-process; transactions commit and abort as usual, a kill -9 takes a participant and an acceptor down together and Paxos Commit still finishes with F acceptors gone, and a restart brings the whole process back; if this fails, the deployment of Gray & Lamport's cost table is broken.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
e2e_init colocated

# p2 holds its vote back 1.5 s on purpose below: participants must not start recovery
# before it votes (recovery would rightly abort the transaction, not what is tested here).
E2E_RECOVERY_MS=4000
HOLD_MS=1500

k1=$(key_on co 1 3)
k2=$(key_on co 2 3)
k3=$(key_on co 3 3)

# same_process NODE...: every NODE's pid file names one live process, which runs them all.
same_process() {
  local pid n
  pid=$(node_pid "$1")
  for n in "$@"; do
    node_alive "$n" || fail "$n is not running"
    [[ "$(node_pid "$n")" == "$pid" ]] || fail "$n has pid $(node_pid "$n"), $1 has $pid: expected one process"
  done
}

# counter NODE NAME: a counter of NODE's status (cluster status --json); empty if none.
counter() {
  status_line "$1" | grep -o "\"$2\": [0-9]*" | head -n 1 | sed 's/.*: //'
}

for mode in paxos 2pc; do
  step "$mode --colocate all: 3 participants, 3 acceptors, 2 coordinators in 3 processes"
  start_cluster --dir "$E2E_TMP/$mode" --protocol "$mode" --colocate all
  grep -qE '^colocate += all' "$CONF" || fail "cluster.conf does not say colocate = all"
  same_process p1 a1 c1
  same_process p2 a2 c2
  same_process p3 a3
  [[ "$(node_pid p1)" != "$(node_pid p2)" && "$(node_pid p2)" != "$(node_pid p3)" ]] ||
    fail "p1, p2 and p3 should run in processes of their own"
  [[ -L "$DIR/a1.log" && "$(readlink "$DIR/a1.log")" == p1.log ]] || fail "a1.log is not a link to p1.log"
  log_has a1 " a1 ready: " || fail "a1's lines are not in its (shared) log" a1
  log_has p1 " c1 co-located in one process" || fail "p1.log does not say c1 is co-located" p1
  run_pc cluster status --dir "$DIR"
  ((RC == 0)) || fail "cluster status: exit $RC: $OUT $ERR"
  grep -qE '^a3 .* one process with p3' <<<"$OUT" || fail "status does not show a3 sharing p3's process: $OUT"
  info "processes: p1+a1+c1 pid $(node_pid p1), p2+a2+c2 pid $(node_pid p2), p3+a3 pid $(node_pid p3)"

  step "$mode: transactions commit and abort as usual"
  expect_txn 0 "put:$k1=v1" "put:$k2=v1" "put:$k3=v1"
  expect_txn 0 "expect:$k1=1" "put:$k1=v2" "put:$k3=v2"
  expect_txn 1 "expect:$k1=1" "put:$k1=no" "put:$k2=no"
  [[ "$OUT" == *"expect failed"* ]] || fail "abort reason should be the failed expect: $OUT"
  expect_get "$k1" v2 2
  expect_get "$k2" v1 1
  expect_get "$k3" v2 2

  step "$mode: the nodes count local deliveries"
  nodes="p1 c1"
  [[ "$mode" == paxos ]] && nodes="p1 a1 c1 p3 a3"
  for n in $nodes; do
    local_msgs=$(counter "$n" messages_local)
    sent=$(counter "$n" messages_sent)
    [[ -n "$local_msgs" && "$local_msgs" -gt 0 ]] || fail "$n: messages_local is '$local_msgs', expected > 0"
    ((local_msgs <= sent)) || fail "$n: messages_local $local_msgs > messages_sent $sent"
    info "$n: $local_msgs of $sent messages sent delivered in-process"
  done

  # p2's process (p2, a2, c2) is restarted armed: p2 sleeps on its event loop once its
  # prepare is durable, before voting -- a2 and c2 sleep with it, so while it holds, a1 is
  # the only acceptor answering. The transaction's votes then need a1 and a2: a3 is gone.
  step "$mode: a transaction prepared at p1 while p3+a3 are killed (p2 holds its vote ${HOLD_MS} ms)"
  # (@2: a first transaction after the restart lets the other nodes reconnect to p2's
  # process; a message sent on a connection that died with it is lost, at most once.)
  kill9 p2
  PCOMMIT_FAILPOINTS="participant.after_prepare_persisted=delay($HOLD_MS)@2" restart_node p2
  expect_txn 0 "put:$k1=w" "put:$k2=w"
  held=$(printf '%016x%016x' "$(date +%s%6N)" "$((RANDOM * 32768 + RANDOM + 1))")
  (
    "$PCOMMIT" txn --cluster "$CONF" --coordinator c1 --txid "$held" "put:$k1=held" "put:$k2=held" \
      >"$E2E_TMP/held.out" 2>&1
    echo $? >"$E2E_TMP/held.rc"
  ) &
  bg=$!
  for ((i = 0; i < 500; i++)); do
    log_has p2 "failpoint participant.after_prepare_persisted: delay" && break
    sleep 0.01
  done
  log_has p2 "failpoint participant.after_prepare_persisted: delay" || fail "p2 never prepared $held" p2
  p3pid=$(node_pid p3)
  kill9 p3
  node_alive a3 && fail "a3 survived the kill of its process $p3pid"
  info "a3 went down with p3 (pid $p3pid)"
  st=$(participant_state p1 "$held")
  [[ "$st" == prepared ]] || fail "p1 should hold $held prepared while p2 holds its vote, got '$st'" p1
  info "$held was prepared at p1 when p3+a3 died"
  wait "$bg" || true
  [[ "$(cat "$E2E_TMP/held.rc")" == 0 && "$(cat "$E2E_TMP/held.out")" == "committed $held" ]] ||
    fail "$held: expected 'committed', got exit $(cat "$E2E_TMP/held.rc"): $(cat "$E2E_TMP/held.out")"
  info "$held committed with a3 down"
  expect_get "$k2" held 3

  step "$mode: with p3+a3 down (one acceptor of three), transactions on p1 and p2 commit"
  expect_txn 0 "put:$k1=v3" "put:$k2=v3"
  expect_txn 0 "expect:$k2=4" "put:$k1=v4" "put:$k2=v4"

  step "$mode: cluster restart p3 brings its whole process back, a3 too"
  restart_node p3
  [[ "$OUT" == *"restarting p3, a3"* ]] || fail "restart p3 should say it restarts p3 and a3: $OUT"
  same_process p3 a3
  [[ "$(node_pid a3)" != "$p3pid" ]] || fail "a3's pid file still names the killed process"
  expect_txn 0 "put:$k1=v5" "put:$k2=v5" "put:$k3=v5"
  expect_get "$k3" v5 3
  wait_no_in_doubt 5

  step "$mode: cluster stop stops each process once and leaves none"
  run_pc cluster stop --dir "$DIR"
  ((RC == 0)) || fail "cluster stop: exit $RC: $OUT $ERR"
  [[ "$OUT" == *"p3, a3: stopped"* ]] || fail "stop should stop p3 and a3 as one process: $OUT"
  ls "$DIR"/*.pid >/dev/null 2>&1 && fail "pid files left after stop: $(ls "$DIR"/*.pid)"
  if pgrep -f -- "$DIR/cluster.conf" >/dev/null; then
    fail "processes left after cluster stop: $(pgrep -af -- "$DIR/cluster.conf")"
  fi
  info "no process left"
done

e2e_pass
