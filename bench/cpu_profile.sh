#!/usr/bin/env bash
# Where a transaction's CPU goes, by role and by library: runs `pcommit bench` for each
# mode, samples every CPU with `perf record -a` during its measured phase, and prints the
# microseconds of CPU per committed transaction of each role (coordinators, participants,
# acceptors, the benchmark's client) split by library (pcommit's own code, the kernel,
# jemalloc, LMDB, libc/libstdc++, Cap'n Proto and KJ).
#
#   bench/cpu_profile.sh [--pcommit PATH] [--protocol 2pc,paxos] [--clients C] [--seconds S]
#
# Needs root (or perf_event_paranoid <= -1) and `perf` (Debian: linux-perf). The samples
# are taken over S seconds inside the measured phase; the throughput that divides them is
# the whole phase's, so a rate that moves within the phase blurs the split a little.
# One sample = 1/F s of one CPU (F = 1999 Hz here).
set -euo pipefail

PCOMMIT=build/release/cli/pcommit
PROTOCOLS=2pc,paxos
CLIENTS=64
SECONDS_SAMPLED=3
FREQ=1999
while [[ $# -gt 0 ]]; do
  case "$1" in
    --pcommit) PCOMMIT=${2:?--pcommit needs a path}; shift 2 ;;
    --protocol) PROTOCOLS=${2:?--protocol needs a list}; shift 2 ;;
    --clients) CLIENTS=${2:?--clients needs a count}; shift 2 ;;
    --seconds) SECONDS_SAMPLED=${2:?--seconds needs a count}; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "cpu_profile.sh: unknown argument '$1' (see --help)" >&2; exit 64 ;;
  esac
done
command -v perf >/dev/null || { echo "cpu_profile.sh: perf is not installed (apt-get install linux-perf)" >&2; exit 69; }
[[ -x $PCOMMIT ]] || { echo "cpu_profile.sh: no pcommit binary at $PCOMMIT (--pcommit PATH)" >&2; exit 66; }
[[ $SECONDS_SAMPLED =~ ^[1-9][0-9]?$ ]] || { echo "cpu_profile.sh: --seconds must be 1-99" >&2; exit 64; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

profile_one() {
  local mode=$1 warm=4
  local duration=$((SECONDS_SAMPLED + warm + 2))
  # TMPDIR: the benchmark's cluster directory goes under $work, so its nodes (daemons,
  # not our children) are told apart from any other pcommit cluster on the machine.
  TMPDIR="$work" "$PCOMMIT" bench --protocol "$mode" --clients "$CLIENTS" --duration "$duration" \
    --no-floor --json "$work/$mode.json" >"$work/$mode.out" 2>&1 &
  local bench=$!
  sleep "$warm"
  # pid -> role, from the node names of `pcommit serve --node NAME`
  {
    echo "$bench client"
    pgrep -af "pcommit serve --config $work/" | sed -nE 's/^([0-9]+) .*--node ([a-z]+)[0-9]+.*/\1 \2/p'
  } >"$work/$mode.roles"
  perf record -q -a -F "$FREQ" -o "$work/$mode.data" -- sleep "$SECONDS_SAMPLED" 2>/dev/null
  wait "$bench" || { echo "cpu_profile.sh: the benchmark of $mode failed:" >&2; cat "$work/$mode.out" >&2; exit 1; }
  local tps
  tps=$(grep -oE '"throughput_tps": *[0-9.]+' "$work/$mode.json" | head -1 | grep -oE '[0-9.]+$')
  [[ -n $tps ]] || { echo "cpu_profile.sh: no throughput in $work/$mode.json" >&2; exit 1; }
  # The benchmark's own count (/proc/PID/stat over the whole measured phase), to hold the
  # samples against: the two should agree within the sampling's noise.
  local procNodes procClient
  procNodes=$(grep -oE '"nodes": *[0-9.]+' "$work/$mode.json" | head -1 | grep -oE '[0-9.]+$')
  procClient=$(grep -oE '"client": *[0-9.]+' "$work/$mode.json" | head -1 | grep -oE '[0-9.]+$')
  perf script -i "$work/$mode.data" -F pid,ip,dso 2>/dev/null |
    awk -v tps="$tps" -v secs="$SECONDS_SAMPLED" -v freq="$FREQ" -v mode="$mode" \
      -v roles="$work/$mode.roles" -v procNodes="$procNodes" -v procClient="$procClient" '
      BEGIN {
        while ((getline line < roles) > 0) { split(line, f, " "); role[f[1]] = f[2] }
        map["c"] = "coordinators"; map["p"] = "participants"; map["a"] = "acceptors"
        map["client"] = "client"
      }
      {
        pid = $1; dso = $3
        r = (pid in role) ? map[role[pid]] : ""
        if (r == "") next
        if (dso ~ /kernel/) g = "kernel"
        else if (dso ~ /jemalloc/) g = "jemalloc"
        else if (dso ~ /lmdb/) g = "lmdb"
        else if (dso ~ /libc\.|libstdc|libm\./) g = "libc"
        else if (dso ~ /capnp|libkj/) g = "capnp+kj"
        else if (dso ~ /pcommit/) g = "pcommit"
        else g = "other"
        n[r, g]++; tot[r]++; col[g]++; all++
      }
      END {
        us = 1e6 / freq / (tps * secs)  # microseconds of CPU per transaction per sample
        split("pcommit kernel jemalloc lmdb libc capnp+kj other", gs, " ")
        printf "%s, %d clients, %.0f txn/s: CPU microseconds per committed transaction\n", mode, 0 + ENVIRON["CLIENTS"], tps
        printf "  %-13s", "role"; for (i = 1; i <= 7; i++) printf " %9s", gs[i]; printf " %9s\n", "total"
        split("coordinators participants acceptors client", rs, " ")
        for (j = 1; j <= 4; j++) {
          printf "  %-13s", rs[j]
          for (i = 1; i <= 7; i++) printf " %9.1f", n[rs[j], gs[i]] * us
          printf " %9.1f\n", tot[rs[j]] * us
        }
        printf "  %-13s", "all"; for (i = 1; i <= 7; i++) printf " %9.1f", col[gs[i]] * us
        printf " %9.1f\n", all * us
        nodes = (tot["coordinators"] + tot["participants"] + tot["acceptors"]) * us
        printf "  sampled: nodes %.1f, client %.1f us/txn; /proc (pcommit bench): nodes %s, client %s\n", nodes, tot["client"] * us, procNodes, procClient
      }'
}

export CLIENTS
IFS=, read -ra modes <<<"$PROTOCOLS"
for m in "${modes[@]}"; do profile_one "$m"; done
