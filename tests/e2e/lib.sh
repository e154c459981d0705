# Shared helpers of the e2e scripts (sourced, not run): a private temp dir, a cluster on a
# random free port range, the `pcommit` wrappers, assertions and cleanup on every exit.
#
# Usage in a script:
#   source "$(dirname "$0")/lib.sh" "$@"     # $1 = path of the pcommit binary
#   e2e_init NAME                            # temp dir, trap, DIR=$E2E_TMP/cluster
#   start_cluster --protocol paxos ...       # + --port-base (random, retried) and fast timeouts
#   ...
#   e2e_pass
# Environment: E2E_KEEP=1 keeps the temp dir (logs, data) instead of removing it.

PCOMMIT="${1:-}"
if [[ -z "$PCOMMIT" || ! -x "$PCOMMIT" ]]; then
  echo "usage: $0 PATH-TO-pcommit (got '${PCOMMIT}')" >&2
  exit 2
fi
PCOMMIT="$(cd "$(dirname "$PCOMMIT")" && pwd)/$(basename "$PCOMMIT")"

E2E_NAME=""
E2E_TMP=""
DIR=""
CONF=""
E2E_START=$SECONDS
# Fast failure detection: participants start recovery 500 ms after prepare.
E2E_RECOVERY_MS=500
E2E_TICK_MS=5

# ---- output -------------------------------------------------------------------------

step() { echo "[$E2E_NAME +$((SECONDS - E2E_START))s] == $*"; }
info() { echo "[$E2E_NAME +$((SECONDS - E2E_START))s]    $*"; }

# Tail of node logs: the nodes named, or every log in DIR.
dump_logs() {
  local nodes=("$@") f
  if [[ -z "$DIR" || ! -d "$DIR" ]]; then return 0; fi
  if ((${#nodes[@]} == 0)); then
    for f in "$DIR"/*.log; do [[ -e "$f" ]] && nodes+=("$(basename "$f" .log)"); done
  fi
  for n in "${nodes[@]}"; do
    f="$DIR/$n.log"
    echo "---- tail of $n.log ----"
    if [[ -f "$f" ]]; then tail -n 25 "$f"; else echo "(no log)"; fi
  done
}

# fail REASON [NODE...]: prints the reason, the cluster status and the nodes' log tails
# (every node's when none is named; none when the only NODE is "-").
fail() {
  local reason="$1"
  shift
  echo "[$E2E_NAME +$((SECONDS - E2E_START))s] FAIL: $reason" >&2
  if [[ "${1:-}" == - ]]; then exit 1; fi
  if [[ -n "$CONF" && -f "$CONF" ]]; then
    echo "---- pcommit cluster status ----" >&2
    "$PCOMMIT" cluster status --dir "$DIR" >&2 2>&1 || true
  fi
  dump_logs "$@" >&2
  exit 1
}

# soft_fail REASON [NODE...]: reports a failure but lets the script go on (so one product
# bug does not hide the rest of the scenario); e2e_pass then fails the script.
E2E_SOFT_FAILS=()
soft_fail() {
  local reason="$1"
  shift
  echo "[$E2E_NAME +$((SECONDS - E2E_START))s] FAIL (going on): $reason" >&2
  if (($# > 0)); then dump_logs "$@" >&2; fi
  E2E_SOFT_FAILS+=("$reason")
}

e2e_pass() {
  if ((${#E2E_SOFT_FAILS[@]} > 0)); then
    echo "[$E2E_NAME +$((SECONDS - E2E_START))s] FAIL: ${#E2E_SOFT_FAILS[@]} check(s) failed:" >&2
    local r
    for r in "${E2E_SOFT_FAILS[@]}"; do echo "  - $r" >&2; done
    exit 1
  fi
  echo "[$E2E_NAME +$((SECONDS - E2E_START))s] PASS"
  exit 0
}

# ---- setup and cleanup --------------------------------------------------------------

# Stops every cluster under E2E_TMP and kills any of our node processes left.
e2e_stop_nodes() {
  if [[ -n "$E2E_TMP" && -d "$E2E_TMP" ]]; then
    # Nodes see the canonical path; the temp dir's unique name matches either way.
    local tag
    tag=$(basename "$E2E_TMP")
    local d
    for d in "$E2E_TMP"/*/; do
      d="${d%/}"
      [[ -f "$d/cluster.conf" ]] || continue
      "$PCOMMIT" cluster stop --dir "$d" >/dev/null 2>&1
      # Anything left (a node that hangs, pid file lost): kill -9, but only our own nodes.
      local pf pid
      for pf in "$d"/*.pid; do
        [[ -e "$pf" ]] || continue
        pid=$(cat "$pf" 2>/dev/null)
        if [[ -n "$pid" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$tag/"; then
          kill -9 "$pid" 2>/dev/null
        fi
      done
    done
    local pid
    for pid in $(pgrep -f -- "$tag/" 2>/dev/null); do
      [[ "$pid" == "$$" ]] && continue
      kill -9 "$pid" 2>/dev/null
    done
  fi
}

e2e_cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [[ -n "$E2E_TIMER" ]]; then kill "$E2E_TIMER" 2>/dev/null; fi
  if [[ -n "$E2E_TMP" && -d "$E2E_TMP" ]]; then
    e2e_stop_nodes
    if [[ "${E2E_KEEP:-0}" == 1 ]]; then
      echo "[$E2E_NAME] kept $E2E_TMP" >&2
    else
      rm -rf "$E2E_TMP"
    fi
  fi
  exit "$rc"
}

# e2e_init NAME: private temp dir, the cleanup trap and a deadline; DIR is the cluster
# directory. The deadline (E2E_DEADLINE_S, below CTest's TIMEOUT) stops the nodes and ends
# the script, so a hang still cleans up: nodes are detached, a killed script leaks them.
E2E_TIMER=""
E2E_DEADLINE_S="${E2E_DEADLINE_S:-150}"
e2e_init() {
  E2E_NAME="$1"
  E2E_TMP="$(mktemp -d "${TMPDIR:-/tmp}/pcommit-e2e-$1.XXXXXX")"
  trap e2e_cleanup EXIT
  trap 'exit 130' INT TERM
  (
    trap - EXIT INT TERM
    waited=0
    while ((waited < E2E_DEADLINE_S)); do
      kill -0 $$ 2>/dev/null || exit 0
      sleep 1 </dev/null >/dev/null 2>&1
      waited=$((waited + 1))
    done
    echo "[$E2E_NAME] FAIL: still running after ${E2E_DEADLINE_S}s: stopping the nodes" >&2
    e2e_stop_nodes
    kill -TERM $$ 2>/dev/null
  ) &
  E2E_TIMER=$!
  DIR="$E2E_TMP/cluster"
  CONF="$DIR/cluster.conf"
  step "temp dir $E2E_TMP, pcommit $PCOMMIT"
}

# Whether a TCP port on 127.0.0.1 has a listener (bash /dev/tcp, 1 s cap).
port_listening() {
  timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# start_cluster [--dir D] [cluster start options...]: a random port range below the
# ephemeral ports (no clash with outgoing connections), retried if taken meanwhile.
# Sets DIR/CONF when --dir is given.
start_cluster() {
  local args=("$@") i
  for ((i = 0; i < ${#args[@]}; i++)); do
    if [[ "${args[$i]}" == "--dir" ]]; then
      DIR="${args[$((i + 1))]}"
      CONF="$DIR/cluster.conf"
      args=("${args[@]:0:$i}" "${args[@]:$((i + 2))}")
      break
    fi
  done
  local base out rc p busy _
  for _ in 1 2 3 4 5 6; do
    base=$((10000 + (RANDOM % 1300) * 16)) # 10000..30784, 16 ports each
    busy=0
    for ((p = base; p < base + 16; p++)); do
      if port_listening "$p"; then busy=1 && break; fi
    done
    ((busy)) && continue
    rm -rf "$DIR"
    set +e
    out=$("$PCOMMIT" cluster start --dir "$DIR" --port-base "$base" \
      --recovery-timeout-ms "$E2E_RECOVERY_MS" --tick-ms "$E2E_TICK_MS" "${args[@]}" 2>&1)
    rc=$?
    set -e
    if ((rc == 0)); then
      info "cluster up (${args[*]:-defaults}), ports from $base"
      return 0
    fi
    if grep -qiE "in use|address already|EADDRINUSE" <<<"$out"; then
      info "port range $base busy, trying another"
      "$PCOMMIT" cluster stop --dir "$DIR" >/dev/null 2>&1 || true
      continue
    fi
    echo "$out" >&2
    fail "cluster start ${args[*]} failed (exit $rc)"
  done
  fail "no free port range after 6 attempts"
}

# Starts the stopped cluster in DIR again with its data (same options as the first start).
# Usage: restart_cluster OPTIONS-GIVEN-TO-start_cluster...
restart_cluster() {
  local base
  base=$(sed -n 's/^address = 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$CONF" | head -n 1)
  run_pc cluster start --dir "$DIR" --port-base "$base" \
    --recovery-timeout-ms "$E2E_RECOVERY_MS" --tick-ms "$E2E_TICK_MS" "$@"
  ((RC == 0)) || fail "cluster start again (with data) failed (exit $RC): $OUT $ERR"
}

# ---- running pcommit ----------------------------------------------------------------

# run_pc ARGS...: runs pcommit; OUT, ERR and RC hold its stdout, stderr and exit code.
run_pc() {
  local errf="$E2E_TMP/.stderr.$$"
  set +e
  OUT=$("$PCOMMIT" "$@" 2>"$errf")
  RC=$?
  set -e
  ERR=$(cat "$errf")
  rm -f "$errf"
}

# txn OPS...: a transaction through the cluster file; sets OUT/ERR/RC and TXID.
txn() {
  run_pc txn --cluster "$CONF" "$@"
  TXID=$(sed -n 's/^[a-z]* \([0-9a-f]\{32\}\).*/\1/p' <<<"$OUT" | head -n 1)
}

# expect_txn EXIT OPS...: the transaction must end with EXIT (0 committed, 1 aborted, 2 unknown).
expect_txn() {
  local want="$1"
  shift
  txn "$@"
  local word
  case "$want" in 0) word=committed ;; 1) word=aborted ;; *) word=unknown ;; esac
  if ((RC != want)) || [[ "$OUT" != "$word "* ]]; then
    fail "txn $* : expected exit $want ($word), got exit $RC: '$OUT' $ERR"
  fi
}

# expect_get KEY VALUE VERSION: `get` prints "VALUE VERSION", exit 0.
expect_get() {
  run_pc get --cluster "$CONF" "$1"
  if ((RC != 0)) || [[ "$OUT" != "$2 $3" ]]; then
    fail "get $1: expected '$2 $3' (exit 0), got exit $RC: '$OUT' $ERR"
  fi
}

# expect_not_found KEY
expect_not_found() {
  run_pc get --cluster "$CONF" "$1"
  if ((RC != 1)) || [[ "$OUT" != "not found" ]]; then
    fail "get $1: expected 'not found' (exit 1), got exit $RC: '$OUT' $ERR"
  fi
}

# expect_outcome TXID WORD [ARGS]: `outcome` prints "WORD TXID".
expect_outcome() {
  local id="$1" word="$2"
  shift 2
  run_pc outcome --cluster "$CONF" "$@" "$id"
  if [[ "$OUT" != "$word $id" ]]; then
    fail "outcome $id: expected '$word $id', got exit $RC: '$OUT' $ERR"
  fi
}

# ---- keys and shards ----------------------------------------------------------------

# The participant index (1-based) owning KEY among N participants: FNV-1a 64 of the key
# modulo N (client/client.h). OFFSET is the FNV offset basis, default the standard one
# (14695981039346656037 = 0xcbf29ce484222325, written here as a signed 64-bit number).
FNV_OFFSET_STANDARD=-3750763034362895579
# What client/client.cc has used (1469598103934665603: the standard basis with its last
# digit lost; see routing.sh). key_on picks keys that both place on the same shard, so the
# scripts do not depend on which of the two the binary uses.
FNV_OFFSET_CLIENT=1469598103934665603
shard_of() {
  local key="$1" n="$2" h="${3:-$FNV_OFFSET_STANDARD}" i c
  local LC_ALL=C
  for ((i = 0; i < ${#key}; i++)); do
    printf -v c '%d' "'${key:i:1}"
    h=$(((h ^ (c & 255)) * 1099511628211))
  done
  # unsigned h mod n, from the signed 64-bit value
  echo $(((((((h >> 1) & 0x7fffffffffffffff) % n) * 2 + (h & 1)) % n) + 1))
}

# key_on PREFIX SHARD N: the first key PREFIX-<i> that lives on participant SHARD of N.
key_on() {
  local prefix="$1" want="$2" n="$3" i
  for ((i = 0; i < 5000; i++)); do
    if (($(shard_of "$prefix-$i" "$n") == want)) &&
      (($(shard_of "$prefix-$i" "$n" "$FNV_OFFSET_CLIENT") == want)); then
      echo "$prefix-$i"
      return 0
    fi
  done
  return 1
}

# ---- nodes --------------------------------------------------------------------------

node_pid() { cat "$DIR/$1.pid" 2>/dev/null || true; }

node_alive() {
  local pid
  pid=$(node_pid "$1")
  [[ -n "$pid" ]] || return 1
  local st
  st=$(sed -n 's/^[0-9]* (.*) \([A-Z]\).*/\1/p' "/proc/$pid/stat" 2>/dev/null)
  [[ -n "$st" && "$st" != Z && "$st" != X ]] || return 1
  # Our node: its command line names it and our (uniquely named) temp dir.
  local cmd
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
  [[ "$cmd" == *"--node $1"* && "$cmd" == *"$(basename "$E2E_TMP")/"* ]]
}

# wait_dead NODE [SECONDS]: the node's process is gone (a crash failpoint fired, kill -9).
wait_dead() {
  local node="$1" secs="${2:-10}" i
  for ((i = 0; i < secs * 20; i++)); do
    node_alive "$node" || return 0
    sleep 0.05
  done
  fail "$node still alive after ${secs}s" "$node"
}

kill9() {
  local node pid
  for node in "$@"; do
    pid=$(node_pid "$node")
    [[ -n "$pid" ]] || fail "no pid file for $node"
    node_alive "$node" || fail "$node (pid $pid) is not running before kill -9" "$node"
    kill -9 "$pid"
    wait_dead "$node"
    info "killed $node (kill -9 pid $pid)"
  done
}

restart_node() {
  run_pc cluster restart --dir "$DIR" "$1"
  ((RC == 0)) || fail "cluster restart $1 failed (exit $RC): $OUT $ERR" "$1"
  info "restarted $1 (pid $(node_pid "$1"))"
}

# log_has NODE PATTERN (grep -E)
log_has() { grep -qE -- "$2" "$DIR/$1.log" 2>/dev/null; }

# expect_failpoint_fired NODE NAME: the node's log shows "failpoint NAME: crash".
expect_failpoint_fired() {
  log_has "$1" "failpoint $2: crash" || fail "$1's log does not show 'failpoint $2: crash'" "$1"
  info "$1 log: failpoint $2: crash"
}

# ---- status and durable state -------------------------------------------------------

# The line of `cluster status --json` for NODE (each node is one line).
status_line() {
  "$PCOMMIT" cluster status --dir "$DIR" --json 2>/dev/null | grep -E "\"name\": \"$1\"" || true
}

# in_doubt_count NODE: how many in-doubt txns NODE reports; "down" if it is not healthy.
in_doubt_count() {
  local line
  line=$(status_line "$1")
  if [[ -z "$line" || "$line" != *'"healthy": true'* ]]; then
    echo down
    return
  fi
  grep -o '"txn": "' <<<"$line" | wc -l | tr -d ' '
}

participants() { sed -n 's/^\[node\.\(p[0-9]*\)\]$/\1/p' "$CONF"; }
acceptors() { sed -n 's/^\[node\.\(a[0-9]*\)\]$/\1/p' "$CONF"; }
coordinators() { sed -n 's/^\[node\.\(c[0-9]*\)\]$/\1/p' "$CONF"; }

# total_in_doubt: the sum over participants; "down" if one is not healthy.
total_in_doubt() {
  local json total=0 p line n
  json=$("$PCOMMIT" cluster status --dir "$DIR" --json 2>/dev/null || true)
  for p in $(participants); do
    line=$(grep -E "\"name\": \"$p\"" <<<"$json" || true)
    if [[ "$line" != *'"healthy": true'* ]]; then
      echo down
      return
    fi
    n=$(grep -o '"txn": "' <<<"$line" | wc -l)
    total=$((total + n))
  done
  echo "$total"
}

# wait_no_in_doubt SECONDS: every participant healthy and none in doubt within SECONDS.
wait_no_in_doubt() {
  local secs="$1" t0=$SECONDS n
  while :; do
    n=$(total_in_doubt)
    if [[ "$n" == 0 ]]; then
      info "no participant in doubt (after $((SECONDS - t0))s)"
      return 0
    fi
    if ((SECONDS - t0 >= secs)); then
      fail "still in doubt after ${secs}s: $n"
    fi
    sleep 0.2
  done
}

# inspect_json NODE: `pcommit inspect --data DIR/NODE --json` (read-only).
inspect_json() { "$PCOMMIT" inspect --data "$DIR/$1" --json; }

# participant_state NODE TXID: the txn's state in NODE's durable participant records
# (prepared, committed, aborted, voted-aborted...), empty if absent.
participant_state() {
  inspect_json "$1" | grep -F "\"txn\": \"$2\"" | sed -n 's/.*"state": "\([a-z-]*\)".*/\1/p' |
    head -n 1
}
