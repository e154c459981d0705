#!/usr/bin/env bash
# 1,100 idle connections to every node at once, under a descriptor limit of 1,024, then one half-open connection: if this fails, any local user can stop a node by opening sockets (EMFILE ended the accept loop and `serve` exited), or hold its slots forever by connecting and sending nothing.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$1"
FLOOD="${2:-}"
[[ -x "$FLOOD" ]] || fail "usage: $0 PATH-TO-pcommit PATH-TO-flood_helper (got '$FLOOD')" -
e2e_init flood

DIR="$E2E_TMP/cluster"
CONF="$DIR/cluster.conf"
SHAPE=(--protocol paxos --participants 2 --acceptors 3 --coordinators 1)
IDLE_MS=1500
# The nodes run with the descriptor limits of a default system (soft 512 here, hard 1024):
# pcommit raises its soft limit to the hard one, and 1,100 connections still exhaust it.
limited() { (ulimit -Sn 512 && ulimit -Hn 1024 && "$@"); }

step "cluster with idle-timeout-ms = $IDLE_MS, nodes limited to 1024 open files"
limited start_cluster --dir "$DIR" "${SHAPE[@]}"
run_pc cluster stop --dir "$DIR"
((RC == 0)) || fail "cluster stop failed (exit $RC): $OUT $ERR"
sed -i "s/^\[cluster\]$/[cluster]\nidle-timeout-ms = $IDLE_MS/" "$CONF"
grep -q "^idle-timeout-ms = $IDLE_MS" "$CONF" || fail "could not set idle-timeout-ms in $CONF" -
limited restart_cluster "${SHAPE[@]}"
all_nodes=$(coordinators; participants; acceptors)
declare -A port
ports=()
for n in $all_nodes; do
  port[$n]=$(sed -n "/^\[node\.$n\]/,/^\[/s/^address = 127\.0\.0\.1:\([0-9]*\).*/\1/p" "$CONF")
  [[ -n "${port[$n]}" ]] || fail "no port for $n in $CONF"
  ports+=("${port[$n]}")
  log_has "$n" "open files limit 1024" || soft_fail "$n did not raise its open files limit to 1024" "$n"
done
k1=$(key_on f 1 2)
k2=$(key_on f 2 2)
expect_txn 0 "put:$k1=v1" "put:$k2=v1"

HOLD_S=8
step "flood: 1100 connections to each of ${#ports[@]} nodes, held ${HOLD_S}s"
"$FLOOD" hold "$HOLD_S" 1100 "${ports[@]}" >"$E2E_TMP/flood.out" 2>&1 &
flood_pid=$!
for t in 2 4 6; do
  sleep 2
  for n in $all_nodes; do
    node_alive "$n" || fail "$n died during the flood (${t}s)" "$n"
  done
  info "${t}s: every node alive"
done
wait "$flood_pid" || fail "flood helper: $(cat "$E2E_TMP/flood.out")" -
info "flood helper: $(cat "$E2E_TMP/flood.out")"

step "after the flood: alive, status answers, transactions commit"
for n in $all_nodes; do
  node_alive "$n" || fail "$n died during the flood" "$n"
  log_has "$n" "accept failed .*pausing accepts" ||
    soft_fail "$n's log does not show accept errors: the flood did not exhaust it" "$n"
done
t0=$SECONDS
until "$PCOMMIT" cluster status --dir "$DIR" >/dev/null 2>&1; do
  ((SECONDS - t0 < 20)) || fail "cluster status not healthy 20s after the flood"
  sleep 0.5
done
info "cluster status healthy (after $((SECONDS - t0))s)"
expect_txn 0 "expect:$k1=1" "put:$k1=v2" "put:$k2=v2"
expect_get "$k1" v2 2
info "committed after the flood"

step "a half-open connection (connects, sends nothing) is closed after the idle timeout"
for n in c1 p1; do
  run_pc_out=$("$FLOOD" idle 10 "${port[$n]}") || fail "$n: $run_pc_out" "$n"
  ms=$(sed -n 's/^closed after \([0-9]*\) ms$/\1/p' <<<"$run_pc_out")
  ((ms >= IDLE_MS - 100 && ms < IDLE_MS + 3000)) ||
    fail "$n closed the idle connection after $ms ms, expected about $IDLE_MS" "$n"
  info "$n: $run_pc_out"
done
for n in $all_nodes; do node_alive "$n" || fail "$n died" "$n"; done
e2e_pass
