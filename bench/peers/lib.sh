# shellcheck shell=bash
# Shared helpers for the peer benchmarks in bench/peers/ (sourced, not run).
#
# Every script here starts its servers on 127.0.0.1 at free ports, in a temporary
# directory, and removes all of it on exit (also on error and Ctrl-C).

# Prints to stderr with the script's name.
peers_log() { printf '%s: %s\n' "${PEERS_NAME:-peers}" "$*" >&2; }
peers_die() { peers_log "$*"; exit 1; }
peers_bad_arg() { peers_log "$*"; exit 64; }  # a usage error

# peers_need_pkgs PKG... : installs the missing Debian packages (root only).
peers_need_pkgs() {
  local missing=() p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ $EUID -ne 0 ]]; then
    peers_die "missing Debian packages: ${missing[*]} (run as root, or apt-get install them)"
  fi
  peers_log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 || peers_die "apt-get update failed"
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >&2 \
    || peers_die "apt-get install ${missing[*]} failed"
}

# True if some socket on this machine (any state, IPv4 or IPv6) uses local port $1.
peers_port_in_use() {
  local hex f
  hex=$(printf '%04X' "$1")
  for f in /proc/net/tcp /proc/net/tcp6; do
    [[ -r $f ]] || continue
    # Field 2 is local_address as HEXADDR:HEXPORT.
    if awk -v p=":$hex" 'NR > 1 && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' "$f"; then
      return 0
    fi
  done
  return 1
}

# peers_free_port: sets PEERS_PORT to a random free TCP port in 20000..59999, never one
# this script already took (PEERS_PORTS_TAKEN; so not to be called inside $(...)).
PEERS_PORTS_TAKEN=" "
PEERS_PORT=""
peers_free_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    [[ $PEERS_PORTS_TAKEN == *" $p "* ]] && continue
    peers_port_in_use "$p" && continue
    PEERS_PORTS_TAKEN+="$p "
    # shellcheck disable=SC2034 # read by the scripts that source this file
    PEERS_PORT=$p
    return 0
  done
  peers_die "no free TCP port found"
}

# peers_parse_clients LIST : checks a "1,64"-style list and sets the array PEERS_CLIENTS
# (not printed: a die inside $(...) would only end the subshell).
PEERS_CLIENTS=()
peers_parse_clients() {
  local c parts=()
  PEERS_CLIENTS=()
  IFS=',' read -r -a parts <<<"$1"
  [[ ${#parts[@]} -gt 0 ]] || peers_bad_arg "--clients: expected a list like 1,64"
  for c in "${parts[@]}"; do
    if ! [[ $c =~ ^[1-9][0-9]*$ ]] || ((c > 4096)); then
      peers_bad_arg "--clients: '$c' is not a number in 1..4096"
    fi
    PEERS_CLIENTS+=("$c")
  done
}

peers_check_int() {  # NAME VALUE : a positive integer
  [[ $2 =~ ^[1-9][0-9]*$ ]] || peers_bad_arg "$1: expected a positive integer, got '$2'"
}

# peers_check_load CLIENTS DURATION WARMUP KEYS PAYLOAD : the options every script takes;
# sets PEERS_CLIENTS (see peers_parse_clients).
peers_check_load() {
  peers_parse_clients "$1"
  peers_check_int --duration "$2"
  [[ $3 =~ ^[0-9]+$ ]] || peers_bad_arg "--warmup: expected an integer, got '$3'"
  peers_check_int --keys "$4"
  peers_check_int --payload-bytes "$5"
}

# peers_check_durable DIR : warns if DIR is on a RAM file system (fsync would cost nothing).
peers_check_durable() {
  local fs
  fs=$(stat -f -c %T "$1" 2>/dev/null || echo unknown)
  if [[ $fs == tmpfs || $fs == ramfs ]]; then
    peers_log "WARNING: $1 is on $fs: fsync costs nothing there, so these numbers are not durable ones (set TMPDIR to a directory on disk)"
  fi
}

# The table every script here prints, in the units of `pcommit bench` (microseconds).
# synced/txn: every synced write the servers did in the run (critical path and
# background), per transaction (etcd: WAL fsyncs and backend commits of the 3 members;
# PostgreSQL: WAL syncs of the 3 servers, plus the client's decision record if logged;
# pcommit: its nodes' synced LMDB commits). srv cpu: the servers' CPU microseconds per
# transaction (etcd's members, PostgreSQL's postmasters with their backends, pcommit's
# nodes); busy: the share of the machine's CPU time in use meanwhile (pcommit: its own
# processes' share, from its CPU ceiling).
peers_table_header() {
  printf '%-22s %7s %10s %8s %10s %8s %8s %8s %8s %11s %9s %6s\n' \
    system clients committed errors 'txn/s' p50us p90us p99us maxus synced/txn 'srv cpu' 'busy'
}

# peers_table_from_json FILE : one table row per JSON line written by these scripts.
# The lines are flat apart from latency_us, so awk reads them without a JSON parser.
peers_table_from_json() {
  awk '
    function str(k,   m) { return match($0, "\"" k "\": *\"[^\"]*\"") ? substr($0, RSTART, RLENGTH) : "" }
    function num(k,   s) {
      if (!match($0, "\"" k "\": *-?[0-9.]+")) return "-"
      s = substr($0, RSTART, RLENGTH); sub(/^[^:]*: */, "", s); return s
    }
    /^\{/ {
      sys = str("system"); sub(/^[^:]*: *"/, "", sys); sub(/"$/, "", sys)
      lat = $0; sub(/.*"latency_us": *\{/, "", lat); sub(/\}.*/, "", lat)
      rest = $0; $0 = lat
      p50 = num("p50"); p90 = num("p90"); p99 = num("p99"); mx = num("max")
      $0 = rest
      sw = num("synced_writes_per_txn"); cpu = num("server_cpu_us_per_txn"); busy = num("machine_busy_pct")
      printf "%-22s %7s %10s %8s %10.1f %8s %8s %8s %8s %11s %9s %6s\n", sys, num("clients"), num("committed"), \
        num("errors"), num("throughput_tps"), p50, p90, p99, mx, (sw == "-" ? "-" : sprintf("%.2f", sw)), \
        (cpu == "-" ? "-" : sprintf("%.0f", cpu)), (busy == "-" || busy < 0 ? "-" : sprintf("%.0f%%", busy))
    }' "$1"
}

# peers_cpu_ticks : prints "STEAL TOTAL", the ticks of /proc/stat's cpu line (steal, and
# user..steal summed), or nothing if it cannot be read.
peers_cpu_ticks() {
  awk '/^cpu / { print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat 2>/dev/null
}

# peers_steal_pct "STEAL TOTAL" "STEAL TOTAL" : the hypervisor's share (steal) of this
# machine's CPU time between two readings of peers_cpu_ticks, e.g. 1.3; "?" if unknown.
# Like pcommit bench's steal column: above 5% a run says more about the host than the
# system measured.
peers_steal_pct() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    if (split(a, x, " ") != 2 || split(b, y, " ") != 2 || y[2] <= x[2]) { print "?"; exit }
    printf "%.1f\n", 100 * (y[1] - x[1]) / (y[2] - x[2]) }'
}

# peers_tree_cpu_us PID... : the CPU time (user + system, microseconds) the processes PID
# and all their live descendants have used, with the children they reaped (so a
# PostgreSQL backend that exits between two readings still counts, in its postmaster's
# cutime). The difference of two readings is the CPU of the servers in between.
peers_tree_cpu_us() {
  local hz
  hz=$(getconf CLK_TCK)
  # /proc/PID/stat: "PID (COMM) STATE PPID ..."; COMM may hold spaces, so split after
  # the last ')': then $2 is the parent, $12-$15 utime stime cutime cstime (ticks).
  # One cat for them all: it goes on past a process that exits meanwhile (and then fails,
  # which under pipefail must not end the caller).
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v roots="$*" -v hz="$hz" '
    /\)/ {
      pid = $1; rest = $0; sub(/.*\) /, "", rest); split(rest, f, " ")
      parent[pid] = f[2]; ticks[pid] = f[12] + f[13] + f[14] + f[15]
    }
    END {
      n = split(roots, r, " "); for (i = 1; i <= n; i++) inTree[r[i]] = 1
      # Follow parents until each process is known to be in the tree or outside it.
      for (p in parent) {
        q = p; depth = 0
        while (!(q in inTree) && (q in parent) && parent[q] != 0 && depth++ < 64) q = parent[q]
        if (q in inTree) sum += ticks[p]
      }
      printf "%.0f\n", sum * 1e6 / hz
    }'
}

# peers_busy_ticks : prints "BUSY TOTAL", the ticks of /proc/stat's cpu line (user, nice,
# system, irq and softirq; and those with idle, iowait and steal), or nothing if it
# cannot be read.
peers_busy_ticks() {
  awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' \
    /proc/stat 2>/dev/null
}

# peers_busy_pct "BUSY TOTAL" "BUSY TOTAL" : the share of this machine's CPU time that was
# busy between two readings of peers_busy_ticks, e.g. 97.5; -1 if unknown.
peers_busy_pct() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    if (split(a, x, " ") != 2 || split(b, y, " ") != 2 || y[2] <= x[2]) { print -1; exit }
    printf "%.1f\n", 100 * (y[1] - x[1]) / (y[2] - x[2]) }'
}

# peers_children_cpu_us FILE : sets PEERS_CHILDREN_US to the CPU time (microseconds) of
# every child this shell has waited for so far (bash's `times`, second line), using FILE
# as scratch; the difference of two readings around a foreground command is that
# command's CPU. Not in $(...): a subshell's `times` does not see its parent's children.
peers_children_cpu_us() {
  times >"$1"
  # shellcheck disable=SC2034  # read by the scripts that source this file
  PEERS_CHILDREN_US=$(awk 'NR == 2 {
    us = 0
    for (i = 1; i <= 2; i++) {
      split($i, t, "m"); sub(/s$/, "", t[2]); us += (t[1] * 60 + t[2]) * 1e6
    }
    printf "%.0f\n", us
  }' "$1")
}
