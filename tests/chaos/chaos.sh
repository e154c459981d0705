#!/usr/bin/env bash
# Fault-tolerance suite, one mode: bank + set workload under kill -9, pauses and crash failpoints on a real local cluster; if it fails, an acknowledged commit was lost, money was created or destroyed, participants disagree, or a transaction stayed in doubt too long (README "Fault-tolerance suite").
#
# usage: chaos.sh PCOMMIT PC_CHAOS --mode 2pc|paxos|paxos-direct [--seed N] [--duration S]
#                 [--long] [--clients C]
#   --long      10 minutes of faults (--duration 600) instead of the CI's 45 s
#   --seed N    replays the nemesis schedule of a failed run (printed in its summary)
#   --canary    plants created money and a stray marker before the checks: passes only if
#               the checks report exactly those (proves they bite)
# Environment: E2E_KEEP=1 keeps the cluster directory (logs, data, chaos-nemesis.log).
set -euo pipefail
source "$(dirname "$0")/../e2e/lib.sh" "$@"
PC_CHAOS="${2:-}"
[[ -n "$PC_CHAOS" && -x "$PC_CHAOS" ]] || {
  echo "usage: $0 PCOMMIT PC_CHAOS --mode MODE [--seed N] [--duration S] [--long]" >&2
  exit 2
}
shift 2

mode="" seed="" duration=45 clients=4 canary=()
while (($# > 0)); do
  case "$1" in
    --mode) mode="$2" && shift 2 ;;
    --seed) seed="$2" && shift 2 ;;
    --duration) duration="$2" && shift 2 ;;
    --clients) clients="$2" && shift 2 ;;
    --long) duration=600 && shift ;;
    --canary) canary=(--canary) && shift ;;
    *) echo "chaos.sh: unknown option $1" >&2 && exit 2 ;;
  esac
done
case "$mode" in
  2pc | paxos | paxos-direct) ;;
  *) echo "chaos.sh: --mode must be 2pc, paxos or paxos-direct (got '$mode')" >&2 && exit 2 ;;
esac
[[ -n "$seed" ]] || seed=$(((RANDOM << 15 | RANDOM) % 1000000000))

# The deadline (lib.sh) stops the nodes if the driver hangs: faults, then setup, the final
# fault and the checks.
E2E_DEADLINE_S=$((duration + 150))
e2e_init "chaos-$mode"
# A paused (SIGSTOP) node ignores SIGTERM: resume our nodes before lib.sh stops them.
chaos_cleanup() {
  local pf pid
  for pf in "$DIR"/*.pid; do
    [[ -e "$pf" ]] || continue
    pid=$(cat "$pf" 2>/dev/null || true)
    [[ -n "$pid" ]] && kill -CONT "$pid" 2>/dev/null || true
  done
  e2e_cleanup
}
trap chaos_cleanup EXIT

step "$mode: cluster of 2 coordinators, 3 participants, 3 acceptors (F=1)"
start_cluster --dir "$E2E_TMP/cluster" --protocol "$mode" --participants 3 --acceptors 3 \
  --coordinators 2 --f 1

step "$mode: workload + nemesis for ${duration}s, seed $seed"
replay="bash tests/chaos/chaos.sh PCOMMIT PC_CHAOS --mode $mode --seed $seed --duration $duration"
set +e
"$PC_CHAOS" --dir "$DIR" --pcommit "$PCOMMIT" --seed "$seed" --duration "$duration" \
  --clients "$clients" --replay "$replay" "${canary[@]}"
rc=$?
set -e
if ((rc != 0)); then
  echo "---- pcommit cluster status ----" >&2
  "$PCOMMIT" cluster status --dir "$DIR" >&2 2>&1 || true
  dump_logs >&2
  echo "(E2E_KEEP=1 keeps $DIR: node logs, data, chaos-nemesis.log)" >&2
  fail "pc_chaos exit $rc (seed $seed)" -
fi
e2e_pass
