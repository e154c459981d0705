#!/usr/bin/env bash
# Bad cluster files, flags, operations and failpoint specs: exit 64 with a message naming the line/key or the option; if this fails, users and scripts get silent or misleading errors (docs/DESIGN.md §4).
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
e2e_init bad_input

W="$E2E_TMP/files"
mkdir -p "$W"
cd "$W"
# A valid file (nothing listens on these ports; every case below must stop before using them).
cat >good.conf <<'EOF'
# a cluster file for error tests
[cluster]
protocol = paxos
f = 1
tick-ms = 5

[node.c1]
role = coordinator
address = 127.0.0.1:1
data = c1

[node.p1]
role = participant
address = 127.0.0.1:2
data = p1

[node.a1]
role = acceptor
address = 127.0.0.1:3
data = a1

[node.a2]
role = acceptor
address = 127.0.0.1:4
data = a2

[node.a3]
role = acceptor
address = 127.0.0.1:5
data = a3
EOF

checks=0
# expect_usage NEEDLES -- COMMAND...: exit 64 and stderr names every needle (grep -F).
expect_usage() {
  local needles=()
  while [[ "$1" != -- ]]; do
    needles+=("$1")
    shift
  done
  shift
  set +e
  timeout 20 "$PCOMMIT" "$@" >"$W/out" 2>"$W/err"
  local rc=$?
  set -e
  local err
  err=$(cat "$W/err")
  ((rc == 64)) || fail "pcommit $*: expected exit 64, got $rc; stderr: $err; stdout: $(head -c 300 "$W/out")"
  local n
  for n in "${needles[@]}"; do
    grep -qF -- "$n" "$W/err" || fail "pcommit $*: exit 64, but the message does not name '$n': $err"
  done
  checks=$((checks + 1))
  info "ok: pcommit $* -> $(head -n 1 "$W/err")"
}

# mk NAME SED-SCRIPT: a variant of good.conf.
mk() { sed "$2" good.conf >"$1.conf"; }

step "bad cluster files: txn, get, outcome, serve name the file, line and key"
mk unknown-key 's/^tick-ms = 5/tick-ms = 5\nbogus = 1/'
mk bad-protocol 's/^protocol = paxos/protocol = 3pc/'
mk no-port 's/^address = 127.0.0.1:2$/address = 127.0.0.1/'
mk big-port 's/^address = 127.0.0.1:2$/address = 127.0.0.1:70000/'
mk dup-address 's/^address = 127.0.0.1:2$/address = 127.0.0.1:1/'
mk f-mismatch 's/^f = 1/f = 2/'
mk no-equals 's/^data = p1/data = p1\nthis line has no equals/'
mk bad-node 's/^\[node.p1\]/[node.x1]/'
mk zero-tick 's/^tick-ms = 5/tick-ms = 0/'
mk bad-role 's/^role = participant/role = banker/'
mk bad-colocate 's/^tick-ms = 5/tick-ms = 5\ncolocate = x/'
# file:line: key, per file
declare -A where=(
  [unknown-key]="unknown-key.conf:6:|bogus"
  [bad-protocol]="bad-protocol.conf:3:|protocol|3pc"
  [no-port]="no-port.conf:14:|address"
  [big-port]="big-port.conf:14:|address|70000"
  [dup-address]="dup-address.conf:14:|address"
  [f-mismatch]="f-mismatch.conf:4:|f = 2"
  [no-equals]="no-equals.conf:16:|this line has no equals"
  [bad-node]="bad-node.conf:12:|x1"
  [zero-tick]="zero-tick.conf:5:|tick-ms"
  [bad-role]="bad-role.conf:13:|role|banker"
  [bad-colocate]="bad-colocate.conf:6:|colocate|'x'|none, acceptors or all"
)
for name in "${!where[@]}"; do
  IFS='|' read -r -a needles <<<"${where[$name]}"
  expect_usage "${needles[@]}" -- txn --cluster "$name.conf" put:k=v
  expect_usage "${needles[@]}" -- get --cluster "$name.conf" k
  expect_usage "${needles[@]}" -- outcome --cluster "$name.conf" 0006612ff7d7479eedeca9eae3277beb
  expect_usage "${needles[@]}" -- serve --config "$name.conf" --node c1
done
for cmd in "txn --cluster missing.conf put:k=v" "get --cluster missing.conf k" \
  "outcome --cluster missing.conf 0006612ff7d7479eedeca9eae3277beb" "serve --config missing.conf --node c1"; do
  # shellcheck disable=SC2086
  expect_usage missing.conf -- $cmd
done

step "bad cluster file in a cluster dir: cluster start/status/stop/restart name line and key"
mkdir -p dirbad
cp unknown-key.conf dirbad/cluster.conf
expect_usage "cluster.conf:6:" bogus -- cluster start --dir dirbad
expect_usage "cluster.conf:6:" bogus -- cluster status --dir dirbad
expect_usage "cluster.conf:6:" bogus -- cluster stop --dir dirbad
expect_usage "cluster.conf:6:" bogus -- cluster restart --dir dirbad p1
expect_usage "no cluster here" -- cluster status --dir "$W"
expect_usage "no such directory" -- cluster stop --dir "$W/nope"
cp good.conf dirgood.conf
mkdir -p dirgood && cp good.conf dirgood/cluster.conf
expect_usage "unknown node 'p7'" -- cluster restart --dir dirgood p7

step "bad flags: txn"
expect_usage "--bogus" -- txn --cluster good.conf --bogus put:k=v
expect_usage "--cluster" -- txn put:k=v
expect_usage "timeout-ms" -- txn --cluster good.conf --timeout-ms abc put:k=v
expect_usage "timeout-ms" -- txn --cluster good.conf --timeout-ms 0 put:k=v
expect_usage "--coordinator p1" -- txn --cluster good.conf --coordinator p1 put:k=v
expect_usage "--txid" zz -- txn --cluster good.conf --txid zz put:k=v
expect_usage "no operation" -- txn --cluster good.conf
expect_usage "frob:k=1" "unknown operation" -- txn --cluster good.conf frob:k=1
expect_usage "put:k" "missing '='" -- txn --cluster good.conf put:k
expect_usage "expect:k=x" VERSION -- txn --cluster good.conf expect:k=x
expect_usage "put:=v" "empty key" -- txn --cluster good.conf put:=v

step "bad flags: get, outcome, serve"
expect_usage "--bogus" -- get --cluster good.conf --bogus k
expect_usage "--cluster" -- get k
expect_usage "KEY" -- get --cluster good.conf
expect_usage "--bogus" -- outcome --cluster good.conf --bogus 0006612ff7d7479eedeca9eae3277beb
expect_usage "TXID 'xyz'" -- outcome --cluster good.conf xyz
expect_usage "--cluster" -- outcome 0006612ff7d7479eedeca9eae3277beb
expect_usage "--node" -- serve --config good.conf
expect_usage "--config" -- serve --node c1
expect_usage "--node z9" -- serve --config good.conf --node z9
expect_usage "--bogus" -- serve --config good.conf --node c1 --bogus
expect_usage "--node a1 given twice" -- serve --config good.conf --node a1 --node p1 --node a1
expect_usage "--node z9" -- serve --config good.conf --node a1 --node z9

step "bad flags: bench"
expect_usage "--colocate x" -- bench --colocate x --duration 1
expect_usage "--colocate" "cluster file" -- bench --cluster good.conf --colocate all --duration 1
expect_usage "--recovery" "--colocate all" -- bench --recovery --colocate all
expect_usage "--rounds" "1..20" -- bench --rounds 0 --duration 1
expect_usage "--rounds" "1..20" -- bench --rounds 21 --duration 1
expect_usage "--rounds" "--recovery" -- bench --rounds 2 --recovery
expect_usage "--rounds" "--svg" -- bench --rounds 2 --svg plots --duration 1

step "bad flags: cluster start"
expect_usage "--dir" -- cluster start
expect_usage "--protocol 3pc" -- cluster start --dir new1 --protocol 3pc
expect_usage "--f 99" -- cluster start --dir new1 --f 99
expect_usage "--acceptors 4" -- cluster start --dir new1 --acceptors 4
expect_usage "--acceptors 5" "--f 1" -- cluster start --dir new1 --acceptors 5 --f 1
expect_usage "--participants 0" -- cluster start --dir new1 --participants 0
expect_usage "--coordinators 0" -- cluster start --dir new1 --coordinators 0 --protocol 2pc
expect_usage "--port-base 70000" -- cluster start --dir new1 --port-base 70000
expect_usage "--tick-ms 0" -- cluster start --dir new1 --tick-ms 0
expect_usage "--recovery-timeout-ms 1" -- cluster start --dir new1 --tick-ms 5 --recovery-timeout-ms 1
expect_usage "--fanout some" -- cluster start --dir new1 --fanout some
expect_usage "--colocate x" "none, acceptors or all" -- cluster start --dir new1 --colocate x
expect_usage "bogus" -- cluster start --dir new1 --bogus
expect_usage "participants" -- cluster start --dir new1 --participants many
expect_usage "unknown subcommand 'launch'" -- cluster launch --dir new1
[[ ! -e new1/cluster.conf ]] || fail "a refused cluster start left new1/cluster.conf behind"

step "bad failpoint specs: serve refuses them (exit 64, naming the entry)"
for spec in "no.such.point=crash" "coordinator.after_prepare_sent=explode" \
  "coordinator.after_prepare_sent=crash@0" "coordinator.after_prepare_sent"; do
  name="${spec%%=*}"
  PCOMMIT_FAILPOINTS="$spec" expect_usage PCOMMIT_FAILPOINTS "$name" -- serve --config good.conf --node a1
done

step "a bad PCOMMIT_STORAGE_WRITES: serve refuses it (exit 64, naming the value)"
had_p1=$([[ -e p1 ]] && echo yes || echo no)
PCOMMIT_STORAGE_WRITES=threads expect_usage PCOMMIT_STORAGE_WRITES "threads" "inline or thread" \
  -- serve --config good.conf --node p1
[[ "$had_p1" == yes || ! -e p1 ]] || fail "a refused serve created p1's data directory"

step "a bad PCOMMIT_TICKS: serve refuses it (exit 64, naming the value)"
PCOMMIT_TICKS=sometimes expect_usage PCOMMIT_TICKS "sometimes" "demand or fixed" \
  -- serve --config good.conf --node p1
[[ "$had_p1" == yes || ! -e p1 ]] || fail "a refused serve created p1's data directory"

info "$checks checks"
e2e_pass
