#!/usr/bin/env bash
# etcd peer benchmark for pcommit (issue 6, docs/DESIGN.md §6): 3 etcd members on loopback,
# one 3-key Txn per request (put three keys atomically), closed-loop load from wrk through
# etcd's JSON gRPC gateway. Prints a table (pcommit bench's latency columns) and one JSON
# line per client count.
set -euo pipefail

PEERS_NAME=etcd.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

usage() {
  cat <<'EOF'
usage: bench/peers/etcd.sh [--clients 1,64] [--duration 10] [--warmup 2] [--keys 8]
                           [--payload-bytes 100] [--target leader|follower]
                           [--wrk-threads 1] [--json FILE] [--keep]

Starts 3 etcd members (one process each, own data dir, default fsync durability) on
127.0.0.1 at free ports in a temporary directory, then for each client count C runs wrk
with C connections (closed loop: one request in flight per connection) against one
member's JSON gateway, POST /v3/kv/txn, each request a Txn of 3 puts (one key per
"shard", each connection rotating among --keys keys per shard, as pcommit bench does).
A warm-up run (not counted) precedes each measured run. Everything is removed on exit.

  --clients LIST       comma-separated connection counts (default 1,64)
  --duration S         measured seconds per run, integer (default 10)
  --warmup S           warm-up seconds per run, integer, 0 = none (default 2)
  --keys K             keys per shard per connection, used in turn (default 8)
  --payload-bytes B    value size of each put (default 100)
  --target T           member wrk talks to: leader (default) or follower (which
                       forwards every write to the leader: one more hop)
  --wrk-threads N      wrk threads (default 1; more take CPU from etcd on 2 cores)
  --json FILE          also append the JSON lines to FILE
  --keep               keep the temporary directory (data dirs, logs) for inspection

Installs etcd-server, etcd-client and wrk from Debian if missing (needs root).
Latency: wrk's per-request time, send to full response, in microseconds.
EOF
}

clients_list=1,64 duration=10 warmup=2 keys=8 payload=100 target=leader wrk_threads=1
json_file="" keep=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --clients) clients_list=${2:?--clients needs a value}; shift 2 ;;
    --duration) duration=${2:?--duration needs a value}; shift 2 ;;
    --warmup) warmup=${2:?--warmup needs a value}; shift 2 ;;
    --keys) keys=${2:?--keys needs a value}; shift 2 ;;
    --payload-bytes) payload=${2:?--payload-bytes needs a value}; shift 2 ;;
    --target) target=${2:?--target needs a value}; shift 2 ;;
    --wrk-threads) wrk_threads=${2:?--wrk-threads needs a value}; shift 2 ;;
    --json) json_file=${2:?--json needs a value}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 64 ;;
  esac
done
peers_check_load "$clients_list" "$duration" "$warmup" "$keys" "$payload"
clients=("${PEERS_CLIENTS[@]}")
peers_check_int --wrk-threads "$wrk_threads"
[[ $target == leader || $target == follower ]] || peers_bad_arg "--target: expected leader or follower"

peers_need_pkgs etcd-server etcd-client wrk
command -v etcd >/dev/null || peers_die "etcd not found after installing etcd-server"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pcommit-peers-etcd.XXXXXX")
peers_check_durable "$tmp"
pids=()
cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  # The data is thrown away: a short grace period, then SIGKILL (a leader stopping while
  # its followers already stopped waits seconds trying to hand over leadership).
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 20); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [[ $alive -eq 0 ]] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
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

# --- the cluster -----------------------------------------------------------------------
names=(m1 m2 m3)
declare -A client_port peer_port
initial_cluster=""
for n in "${names[@]}"; do
  peers_free_port
  client_port[$n]=$PEERS_PORT
  peers_free_port
  peer_port[$n]=$PEERS_PORT
  initial_cluster+="${initial_cluster:+,}$n=http://127.0.0.1:${peer_port[$n]}"
done
endpoints=""
for n in "${names[@]}"; do
  endpoints+="${endpoints:+,}http://127.0.0.1:${client_port[$n]}"
  # Defaults kept on purpose: the WAL is fsynced before a write is acknowledged.
  etcd --name "$n" --data-dir "$tmp/$n" \
    --listen-client-urls "http://127.0.0.1:${client_port[$n]}" \
    --advertise-client-urls "http://127.0.0.1:${client_port[$n]}" \
    --listen-peer-urls "http://127.0.0.1:${peer_port[$n]}" \
    --initial-advertise-peer-urls "http://127.0.0.1:${peer_port[$n]}" \
    --initial-cluster "$initial_cluster" --initial-cluster-state new \
    --initial-cluster-token "pcommit-peers-$$" \
    --logger zap --log-outputs stderr >"$tmp/$n.log" 2>&1 &
  pids+=("$!")
done

ctl() { ETCDCTL_API=3 etcdctl --endpoints "$endpoints" --command-timeout 5s "$@"; }

ready=0
for _ in $(seq 150); do
  if ctl endpoint health >/dev/null 2>&1; then ready=1; break; fi
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || { tail -n 20 "$tmp"/m*.log >&2; peers_die "an etcd member exited"; }; done
  sleep 0.2
done
[[ $ready -eq 1 ]] || { tail -n 20 "$tmp"/m*.log >&2; peers_die "etcd cluster not healthy after 30 s"; }

# endpoint status -w simple: ENDPOINT, ID, VERSION, DB SIZE, IS LEADER, ...
status=$(ctl endpoint status -w simple)
leader_ep=$(awk -F', ' '$5 == "true" { print $1 }' <<<"$status" | head -n 1)
follower_ep=$(awk -F', ' '$5 == "false" { print $1 }' <<<"$status" | head -n 1)
[[ -n $leader_ep ]] || peers_die "no leader in: $status"
url=$leader_ep
[[ $target == follower ]] && url=$follower_ep
version=$(etcd --version | awk '/etcd Version/ { print $3 }')
peers_log "etcd $version, 3 members up, wrk -> $target $url"

# --- the runs --------------------------------------------------------------------------
# metric NAME: the sum of a counter over the 3 members (Prometheus text from /metrics,
# fetched with bash's /dev/tcp: no HTTP client needed).
metric() {
  local n total=0 v
  for n in "${names[@]}"; do
    v=$(
      exec 3<>"/dev/tcp/127.0.0.1/${client_port[$n]}" || exit 1
      printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
      awk -v m="$1" '$1 == m { print $2 }' <&3
    ) || peers_die "cannot read /metrics of $n"
    [[ -n $v ]] || peers_die "$n: no metric $1"
    total=$(awk -v a="$total" -v b="$v" 'BEGIN { printf "%.0f", a + b }')
  done
  echo "$total"
}

# wrk_run C SECONDS OUTFILE: prints nothing, leaves wrk's output in OUTFILE.
wrk_run() {
  local c=$1 secs=$2 outfile=$3 t=$wrk_threads
  ((t > c)) && t=$c
  # wrk gives each thread connections/threads (rounded down): use a divisor of c.
  while ((c % t != 0)); do t=$((t - 1)); done
  wrk -t "$t" -c "$c" -d "${secs}s" --timeout 30s -s "$here/etcd_txn.lua" "$url/v3/kv/txn" \
    -- "$keys" "$payload" $((c / t)) >"$outfile" 2>"$outfile.err" \
    || { cat "$outfile" "$outfile.err" >&2; peers_die "wrk failed"; }
}

results="$tmp/results.jsonl"
: >"$results"
for c in "${clients[@]}"; do
  if ((warmup > 0)); then
    peers_log "C=$c: warm-up ${warmup}s"
    wrk_run "$c" "$warmup" "$tmp/warmup-$c.txt"
  fi
  peers_log "C=$c: measuring ${duration}s"
  # Synced writes: WAL fsyncs (before each acknowledgement) and backend (bbolt) commits
  # (in the background, every 100 ms by default), over the 3 members.
  fsyncs0=$(metric etcd_disk_wal_fsync_duration_seconds_count)
  commits0=$(metric etcd_disk_backend_commit_duration_seconds_count)
  # CPU over the measured run: the members' (their /proc), wrk's (this shell's waited-for
  # children) and the machine's busy share (/proc/stat).
  srv0=$(peers_tree_cpu_us "${pids[@]}") busy0=$(peers_busy_ticks)
  peers_children_cpu_us "$tmp/times"
  cl0=$PEERS_CHILDREN_US
  wrk_run "$c" "$duration" "$tmp/run-$c.txt"
  peers_children_cpu_us "$tmp/times"
  cl1=$PEERS_CHILDREN_US
  srv1=$(peers_tree_cpu_us "${pids[@]}") busy=$(peers_busy_pct "$busy0" "$(peers_busy_ticks)")
  fsyncs1=$(metric etcd_disk_wal_fsync_duration_seconds_count)
  commits1=$(metric etcd_disk_backend_commit_duration_seconds_count)
  fsyncs=$((fsyncs1 - fsyncs0)) backend_commits=$((commits1 - commits0))
  line=$(grep '^PEER_RESULT ' "$tmp/run-$c.txt" || true)
  [[ -n $line ]] || { cat "$tmp/run-$c.txt" >&2; peers_die "no result from wrk"; }
  sed -n '1,3p' "$tmp/run-$c.txt.err" >&2
  declare -A r=()
  for kv in ${line#PEER_RESULT }; do r[${kv%%=*}]=${kv#*=}; done
  committed=$((r[requests] - r[failed]))
  errors=$((r[failed] + r[connect] + r[read] + r[write] + r[timeout]))
  awk -v c="$c" -v com="$committed" -v err="$errors" -v us="${r[duration_us]}" \
    -v p50="${r[p50]}" -v p90="${r[p90]}" -v p99="${r[p99]}" -v mx="${r[max]}" \
    -v target="$target" -v keys="$keys" -v payload="$payload" -v ver="$version" \
    -v fsyncs="$fsyncs" -v bc="$backend_commits" -v total="${r[requests]}" \
    -v srv=$((srv1 - srv0)) -v cl=$((cl1 - cl0)) -v busy="$busy" 'BEGIN {
      s = us / 1e6
      printf "{\"system\": \"etcd-txn\", \"version\": \"%s\", \"members\": 3, \"keys_per_txn\": 3, \"clients\": %d, \"seconds\": %.3f, \"committed\": %d, \"errors\": %d, \"throughput_tps\": %.1f, \"latency_us\": {\"p50\": %d, \"p90\": %d, \"p99\": %d, \"max\": %d}, \"synced_writes_per_txn\": %.2f, \"wal_fsyncs\": %d, \"backend_commits\": %d, \"server_cpu_us_per_txn\": %.1f, \"client_cpu_us_per_txn\": %.1f, \"machine_busy_pct\": %.1f, \"target\": \"%s\", \"keys\": %d, \"payload_bytes\": %d}\n", \
        ver, c, s, com, err, (s > 0 ? com / s : 0), p50, p90, p99, mx, (total > 0 ? (fsyncs + bc) / total : 0), fsyncs, bc, \
        (com > 0 ? srv / com : 0), (com > 0 ? cl / com : 0), busy, target, keys, payload
    }' >>"$results"
  unset r
done

# Sanity: the transactions' puts are there, with the payload.
for s in 1 2 3; do
  got=$(ctl get "peer/t1/s$s/k0" --print-value-only)
  [[ $got == $(printf "%${payload}s" "" | tr ' ' x) ]] || peers_die "key peer/t1/s$s/k0 does not hold the payload"
done

echo
peers_table_header
peers_table_from_json "$results"
echo
cat "$results"
[[ -z $json_file ]] || cat "$results" >>"$json_file"
