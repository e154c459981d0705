#!/usr/bin/env bash
# Runs the peer benchmarks (etcd, PostgreSQL 2PC) -- and pcommit bench itself if given
# --pcommit -- with the same clients, duration and work shape, and prints one table.
set -euo pipefail

PEERS_NAME=run_all.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

usage() {
  cat <<'EOF'
usage: bench/peers/run_all.sh [--clients 1,64] [--duration 10] [--warmup 2] [--keys 8]
                              [--payload-bytes 100] [--pcommit PATH] [--protocol LIST]
                              [--decision-log MODE] [--only etcd|postgres] [--json FILE]

Runs bench/peers/etcd.sh and bench/peers/postgres.sh at each client count and prints one
table: system, clients, committed, errors, txn/s, p50/p90/p99/max latency in
microseconds (the units of `pcommit bench`) and synced writes per transaction as the
servers counted them. Every system does the same work: one atomic write of one key on
each of 3 shards, synced (etcd: 3 members, acknowledged once a majority fsynced;
PostgreSQL and pcommit: every prepare and commit fsynced). Each client rotates among
--keys keys per shard: no conflicts. What each row runs and how to read it:
bench/peers/README.md.

  --clients LIST       comma-separated client counts (default 1,64)
  --duration S         measured seconds per run, integer (default 10)
  --warmup S           warm-up seconds per run, integer (default 2)
  --keys K             keys per shard per client (default 8)
  --payload-bytes B    value size (default 100)
  --pcommit PATH       also run `PATH bench --protocol 2pc,paxos-classic,paxos,paxos-direct`
                       (e.g. build/release/cli/pcommit) at each client count, same run
  --protocol LIST      the protocols for --pcommit (default all four)
  --decision-log MODE  PostgreSQL coordinator decision log: no, yes, both (default both)
  --only SYSTEM        run only etcd or postgres (and pcommit if --pcommit)
  --json FILE          write every row as one JSON line to FILE

Needs root on a fresh Debian 12 machine (installs etcd-server, etcd-client, wrk,
postgresql, libpq-dev, g++ if missing). Each system gets its own servers in a temporary
directory, removed afterwards.
EOF
}

clients_list=1,64 duration=10 warmup=2 keys=8 payload=100 pcommit="" decision_log=both
protocols=2pc,paxos-classic,paxos,paxos-direct only="" json_file=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --clients) clients_list=${2:?--clients needs a value}; shift 2 ;;
    --duration) duration=${2:?--duration needs a value}; shift 2 ;;
    --warmup) warmup=${2:?--warmup needs a value}; shift 2 ;;
    --keys) keys=${2:?--keys needs a value}; shift 2 ;;
    --payload-bytes) payload=${2:?--payload-bytes needs a value}; shift 2 ;;
    --pcommit) pcommit=${2:?--pcommit needs a value}; shift 2 ;;
    --protocol) protocols=${2:?--protocol needs a value}; shift 2 ;;
    --decision-log) decision_log=${2:?--decision-log needs a value}; shift 2 ;;
    --only) only=${2:?--only needs a value}; shift 2 ;;
    --json) json_file=${2:?--json needs a value}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 64 ;;
  esac
done
peers_check_load "$clients_list" "$duration" "$warmup" "$keys" "$payload"
clients=("${PEERS_CLIENTS[@]}")
[[ -z $only || $only == etcd || $only == postgres ]] || peers_bad_arg "--only: expected etcd or postgres"
if [[ -n $pcommit ]]; then
  [[ -x $pcommit ]] || peers_bad_arg "--pcommit: $pcommit is not an executable (build it: ./pc build)"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pcommit-peers-all.XXXXXX")
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rows="$tmp/rows.jsonl"
: >"$rows"
common=(--clients "$clients_list" --duration "$duration" --warmup "$warmup" --keys "$keys"
  --payload-bytes "$payload")

steal=()  # "what: N%" per block, each from its own two readings of /proc/stat
if [[ -n $pcommit ]]; then
  for c in "${clients[@]}"; do
    peers_log "pcommit bench --protocol $protocols --clients $c"
    t0=$(peers_cpu_ticks)
    # pcommit bench takes decimal seconds; a warm-up of 0 is passed as is.
    "$pcommit" bench --protocol "$protocols" --participants 3 --f 1 --clients "$c" \
      --duration "$duration" --warmup "$warmup" --keys "$keys" --payload-bytes "$payload" \
      --json "$tmp/pcommit-$c.json" >"$tmp/pcommit-$c.txt" \
      || { cat "$tmp/pcommit-$c.txt" >&2; peers_die "pcommit bench failed"; }
    # Its runs are one per line; keep the fields of the common table. synced/txn is its
    # synced_commits_per_txn (critical path and background, as counted for the peers).
    awk '
      function num(k,   s) {
        if (!match($0, "\"" k "\": *-?[0-9.]+")) return 0
        s = substr($0, RSTART, RLENGTH); sub(/^[^:]*: */, "", s); return s
      }
      function numOrNull(k) { return match($0, "\"" k "\": *-?[0-9.]+") ? num(k) : "null" }
      /"protocol":/ && /"throughput_tps":/ {  # a run (recovery results have no throughput)
        p = $0; sub(/.*"protocol": *"/, "", p); sub(/".*/, "", p)
        lat = $0; sub(/.*"latency_us": *\{/, "", lat); sub(/\}.*/, "", lat)
        tps = num("throughput_tps")
        # CPU of its nodes and client (/proc over the measured phase); the busy share of
        # the machine is theirs: throughput over the CPU ceiling they imply.
        line = $0; cpu = $0; sub(/.*"cpu_us_per_txn": *\{/, "", cpu)
        sub(/"by_role": *(null|\{[^}]*\}),? */, "", cpu); sub(/\}.*/, "", cpu)
        $0 = cpu; nodes = numOrNull("nodes"); cl = numOrNull("client"); ceil = num("ceiling_tps"); $0 = line
        printf "{\"system\": \"pcommit-%s\", \"clients\": %d, \"seconds\": %s, \"committed\": %d, \"errors\": %d, \"throughput_tps\": %s, \"latency_us\": {%s}, \"synced_writes_per_txn\": %s, \"critical_synced_writes_per_txn\": %s, \"messages_per_txn\": %s, \"server_cpu_us_per_txn\": %s, \"client_cpu_us_per_txn\": %s, \"machine_busy_pct\": %.1f}\n", \
          p, num("clients"), num("seconds"), num("committed"), num("aborted") + num("unknown"), \
          tps, lat, num("synced_commits_per_txn"), num("synced_writes_per_txn"), \
          num("messages_per_txn"), nodes, cl, (ceil > 0 ? 100 * tps / ceil : -1)
      }' "$tmp/pcommit-$c.json" >>"$rows"
    steal+=("pcommit C=$c: $(peers_steal_pct "$t0" "$(peers_cpu_ticks)")%")
  done
fi
if [[ -z $only || $only == etcd ]]; then
  t0=$(peers_cpu_ticks)
  "$here/etcd.sh" "${common[@]}" --json "$rows" >"$tmp/etcd.txt" \
    || { cat "$tmp/etcd.txt" >&2; peers_die "etcd.sh failed"; }
  steal+=("etcd: $(peers_steal_pct "$t0" "$(peers_cpu_ticks)")%")
fi
if [[ -z $only || $only == postgres ]]; then
  t0=$(peers_cpu_ticks)
  "$here/postgres.sh" "${common[@]}" --decision-log "$decision_log" --json "$rows" >"$tmp/postgres.txt" \
    || { cat "$tmp/postgres.txt" >&2; peers_die "postgres.sh failed"; }
  steal+=("postgres: $(peers_steal_pct "$t0" "$(peers_cpu_ticks)")%")
fi

echo
echo "machine: $(hostname), $(nproc) cpus, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "work: 1 atomic write of 1 key on each of 3 shards, ${payload} B values, synced, ${duration} s per row"
# The hypervisor's share of this machine's CPU time while each system ran (servers'
# start and warm-up included): above 5% compare nothing until a quieter run.
joined=$(IFS=';'; echo "${steal[*]}")
echo "steal (/proc/stat): ${joined//;/, }"
for s in "${steal[@]}"; do
  v=${s##* }; v=${v%\%}
  if [[ $v != "?" ]] && awk -v v="$v" 'BEGIN { exit !(v > 5) }'; then
    echo "DISTURBED: $s of this machine's CPU time went to other guests; run again before comparing"
  fi
done
peers_table_header
# Stable sort by clients keeps pcommit, etcd, postgres order within each client count.
peers_table_from_json "$rows" | sort -s -k2,2n
[[ -z $json_file ]] || cp "$rows" "$json_file"
