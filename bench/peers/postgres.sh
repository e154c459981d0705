#!/usr/bin/env bash
# PostgreSQL 2PC peer benchmark for pcommit (issue 6, docs/DESIGN.md §6): 3 local PostgreSQL
# servers (shards), closed-loop clients (pg2pc.cc) that each coordinate two-phase commits
# across them: one UPSERT per shard, PREPARE TRANSACTION on all 3, COMMIT PREPARED on all 3.
# Prints a table (pcommit bench's latency columns) and one JSON line per run.
set -euo pipefail

PEERS_NAME=postgres.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

usage() {
  cat <<'EOF'
usage: bench/peers/postgres.sh [--clients 1,64] [--duration 10] [--warmup 2] [--keys 8]
                               [--payload-bytes 100] [--decision-log no|yes|both]
                               [--json FILE] [--keep]

Creates 3 PostgreSQL clusters (initdb) in a temporary directory, starts them on
127.0.0.1 at free ports with fsync=on, synchronous_commit=on, full_page_writes=on and
max_prepared_transactions above twice the clients, creates table kv on each, compiles
pg2pc.cc (g++ against libpq) and runs it once per client count: C threads, each with one
connection per server, each transaction = BEGIN; UPSERT; PREPARE TRANSACTION on all 3
servers in parallel (one round trip each), then COMMIT PREPARED on all 3 in parallel.
Each client rotates among --keys keys per shard (no conflicts), as pcommit bench does.
A warm-up (not counted) precedes each measured run. Everything is removed on exit.

The client is the 2PC coordinator. Two variants (--decision-log):
  postgres-2pc      no decision log (a real coordinator needs one to finish after a
                    crash, so this is a lower bound); a transaction ends when every
                    COMMIT PREPARED has answered.
  postgres-2pc+log  each client fdatasyncs a decision record to its own file before
                    phase 2 (one more synced write, no group commit) and the transaction
                    ends at that decision, as pcommit's 2PC coordinator answers; the
                    COMMIT PREPAREDs complete in the background (second connection).

  --clients LIST         comma-separated client counts (default 1,64)
  --duration S           measured seconds per run, integer (default 10)
  --warmup S             warm-up seconds per run, integer, 0 = none (default 2)
  --keys K               keys per shard per client, used in turn (default 8)
  --payload-bytes B      value size (default 100)
  --decision-log MODE    no: postgres-2pc only, yes: postgres-2pc+log only, both
                         (default)
  --json FILE            also append the JSON lines to FILE
  --keep                 keep the temporary directory (data dirs, logs)

Installs postgresql, libpq-dev and g++ from Debian if missing (needs root). As root the
servers run as the 'postgres' user (PostgreSQL refuses root).
Latency in microseconds, from phase 1 sent to the end named above.
EOF
}

clients_list=1,64 duration=10 warmup=2 keys=8 payload=100 decision_log=both
json_file="" keep=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --clients) clients_list=${2:?--clients needs a value}; shift 2 ;;
    --duration) duration=${2:?--duration needs a value}; shift 2 ;;
    --warmup) warmup=${2:?--warmup needs a value}; shift 2 ;;
    --keys) keys=${2:?--keys needs a value}; shift 2 ;;
    --payload-bytes) payload=${2:?--payload-bytes needs a value}; shift 2 ;;
    --decision-log) decision_log=${2:?--decision-log needs a value}; shift 2 ;;
    --json) json_file=${2:?--json needs a value}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 64 ;;
  esac
done
peers_check_load "$clients_list" "$duration" "$warmup" "$keys" "$payload"
clients=("${PEERS_CLIENTS[@]}")
case $decision_log in
  no) log_modes=(no) ;;
  yes) log_modes=(yes) ;;
  both) log_modes=(no yes) ;;
  *) peers_bad_arg "--decision-log: expected no, yes or both" ;;
esac

peers_need_pkgs postgresql libpq-dev g++
pg_bin=""
for d in /usr/lib/postgresql/*/bin; do  # the newest installed major version
  [[ -x $d/initdb && -x $d/pg_ctl ]] || continue
  if [[ -z $pg_bin ]] || (($(basename "$(dirname "$d")") > $(basename "$(dirname "$pg_bin")"))); then
    pg_bin=$d
  fi
done
[[ -n $pg_bin ]] || peers_die "no PostgreSQL server under /usr/lib/postgresql/*/bin"

max_clients=0
for c in "${clients[@]}"; do ((c > max_clients)) && max_clients=$c; done

as_pg=()
if [[ $EUID -eq 0 ]]; then
  id postgres >/dev/null 2>&1 || peers_die "user 'postgres' missing (it comes with the postgresql package)"
  as_pg=(runuser -u postgres --)
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pcommit-peers-pg.XXXXXX")
peers_check_durable "$tmp"
# The servers (user postgres when we are root) write their data and logs in here.
[[ ${#as_pg[@]} -eq 0 ]] || chown postgres: "$tmp"
shards=(s1 s2 s3)
declare -A shard_port
started=() postmasters=()
cleanup() {
  local rc=$? s pid
  trap - EXIT INT TERM
  for s in "${started[@]}"; do
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$tmp/$s" -m immediate -t 30 stop >/dev/null 2>&1 || true
    # If pg_ctl could not stop it, end the postmaster we started (its pid file).
    if [[ -r $tmp/$s/postmaster.pid ]]; then
      pid=$(head -n 1 "$tmp/$s/postmaster.pid")
      if [[ $pid =~ ^[0-9]+$ ]] && grep -q postgres "/proc/$pid/cmdline" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
  done
  if [[ $keep -eq 1 ]]; then
    peers_log "kept $tmp"
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the client ------------------------------------------------------------------------
g++ -std=c++20 -O2 -Wall -Wextra -pthread -I"$(pg_config --includedir)" "$here/pg2pc.cc" \
  -o "$tmp/pg2pc" -L"$(pg_config --libdir)" -lpq || peers_die "compiling pg2pc.cc failed"

# --- the servers -----------------------------------------------------------------------
conns=()
for s in "${shards[@]}"; do
  peers_free_port
  port=$PEERS_PORT
  shard_port[$s]=$port
  mkdir -p "$tmp/$s" "$tmp/sock-$s"
  [[ ${#as_pg[@]} -eq 0 ]] || chown postgres: "$tmp/$s" "$tmp/sock-$s"
  # -N only skips initdb's own flush of the new files; the server runs with fsync=on.
  "${as_pg[@]}" "$pg_bin/initdb" -D "$tmp/$s" -U postgres --auth=trust -E UTF8 --locale=C -N \
    >"$tmp/$s.initdb.log" 2>&1 || { cat "$tmp/$s.initdb.log" >&2; peers_die "initdb failed"; }
  cat >>"$tmp/$s/postgresql.conf" <<EOF

# bench/peers/postgres.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$tmp/sock-$s'
fsync = on
synchronous_commit = on
full_page_writes = on
wal_sync_method = fdatasync
max_connections = $((2 * max_clients + 20))
max_prepared_transactions = $((2 * max_clients + 20))
shared_buffers = 128MB
EOF
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$tmp/$s" -l "$tmp/$s.log" -w -t 60 start >/dev/null \
    || { tail -n 20 "$tmp/$s.log" >&2; peers_die "server $s did not start"; }
  started+=("$s")
  postmasters+=("$(head -n 1 "$tmp/$s/postmaster.pid")")
  conns+=(--conn "host=127.0.0.1 port=$port dbname=postgres user=postgres")
done
version=$("$pg_bin/postgres" --version | awk '{ print $3 }')
peers_log "PostgreSQL $version, 3 servers up"
"$tmp/pg2pc" "${conns[@]}" --setup || peers_die "creating the tables failed"

# --- the runs --------------------------------------------------------------------------
# wal_syncs: WAL fsyncs the 3 servers counted (pg_stat_wal, PostgreSQL 14+).
wal_syncs() {
  local s total=0 v
  for s in "${shards[@]}"; do
    v=$(psql -X -h 127.0.0.1 -p "${shard_port[$s]}" -U postgres -d postgres -Atc 'SELECT wal_sync FROM pg_stat_wal') \
      || peers_die "$s: cannot read pg_stat_wal"
    total=$((total + v))
  done
  echo "$total"
}

results="$tmp/results.jsonl"
: >"$results"
for mode in "${log_modes[@]}"; do
  label=postgres-2pc log_args=()
  if [[ $mode == yes ]]; then
    label=postgres-2pc+log
    mkdir -p "$tmp/coordinator-log"
    log_args=(--decision-log "$tmp/coordinator-log" --reply-at decision)
  fi
  for c in "${clients[@]}"; do
    peers_log "$label C=$c: warm-up ${warmup}s, measuring ${duration}s"
    syncs0=$(wal_syncs)
    # The servers' CPU (each postmaster and its backends) and the machine's busy share, over
    # warm-up and run, as pg2pc's own figures (per all_transactions).
    srv0=$(peers_tree_cpu_us "${postmasters[@]}") busy0=$(peers_busy_ticks)
    line=$("$tmp/pg2pc" "${conns[@]}" "${log_args[@]}" --label "$label" --clients "$c" \
      --duration "$duration" --warmup "$warmup" --keys "$keys" --payload-bytes "$payload") \
      || peers_die "pg2pc failed (server logs: run with --keep and see $tmp/s*.log)"
    srv1=$(peers_tree_cpu_us "${postmasters[@]}") busy=$(peers_busy_pct "$busy0" "$(peers_busy_ticks)")
    sleep 1  # the servers' background processes report their WAL statistics within ~1 s
    syncs1=$(wal_syncs)
    # Measured synced writes per transaction: the servers' WAL syncs over warm-up and run,
    # divided by the transactions of both, plus the client's decision record if logged.
    all=$(sed -n 's/.*"all_transactions": \([0-9]*\).*/\1/p' <<<"$line")
    per=$(awk -v d=$((syncs1 - syncs0)) -v a="${all:-0}" -v l="$([[ $mode == yes ]] && echo 1 || echo 0)" \
      'BEGIN { printf "%.2f", (a > 0 ? d / a + l : 0) }')
    srv=$(awk -v d=$((srv1 - srv0)) -v a="${all:-0}" 'BEGIN { printf "%.1f", (a > 0 ? d / a : 0) }')
    echo "${line%\}}, \"synced_writes_per_txn\": $per, \"wal_syncs\": $((syncs1 - syncs0)), \"server_cpu_us_per_txn\": $srv, \"machine_busy_pct\": $busy}" >>"$results"
  done
done

# Sanity: nothing is left prepared, and the rows are there.
for s in "${shards[@]}"; do
  left=$(psql -X -h 127.0.0.1 -p "${shard_port[$s]}" -U postgres -d postgres -Atc 'SELECT count(*) FROM pg_prepared_xacts')
  rows=$(psql -X -h 127.0.0.1 -p "${shard_port[$s]}" -U postgres -d postgres -Atc 'SELECT count(*) FROM kv')
  [[ $left == 0 ]] || peers_die "$s: $left transactions left prepared"
  [[ $rows -gt 0 ]] || peers_die "$s: table kv is empty"
done

echo
peers_table_header
peers_table_from_json "$results"
echo
cat "$results"
[[ -z $json_file ]] || cat "$results" >>"$json_file"
