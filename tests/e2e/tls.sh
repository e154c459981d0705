#!/usr/bin/env bash
# Mutual TLS (cluster start --tls): commits in all four modes; a plaintext client, a client of another CA and a client certificate doing a node's work are refused and logged, nodes stay alive; half a TLS configuration exits 64; bench --tls reports its cost. If this fails, TLS does not protect the cluster's edge or breaks the protocol.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$1"
TLS_HELPER="${2:?usage: tls.sh PCOMMIT TLS_HELPER}"
e2e_init tls

k1=$(key_on tls 1 2)
k2=$(key_on tls 2 2)
for mode in 2pc paxos-classic paxos-direct paxos; do
  step "mode $mode over mutual TLS (1 coordinator, 2 participants, 3 acceptors)"
  start_cluster --dir "$E2E_TMP/$mode" --protocol "$mode" --tls --participants 2 --coordinators 1
  grep -q '^tls-ca = tls/ca.pem' "$CONF" || fail "cluster file without tls-ca: $(grep tls- "$CONF")"
  expect_txn 0 "put:$k1=$mode" "put:$k2=$mode"
  expect_get "$k1" "$mode" 1
  expect_get "$k2" "$mode" 1
  expect_outcome "$TXID" committed
  run_pc cluster status --dir "$DIR"
  ((RC == 0)) || fail "cluster status (admin certificate) failed: $OUT $ERR"
  log_has p1 "TLS: refused" && fail "p1 refused something in a clean run: $(grep 'TLS:' "$DIR/p1.log")"
  info "committed $TXID; get, outcome and status over TLS"
  [[ "$mode" == paxos ]] || run_pc cluster stop --dir "$DIR"
done

step "key files are the owner's only"
for f in ca.key client.key admin.key c1.key p1.key a1.key; do
  perm=$(stat -c %a "$DIR/tls/$f")
  [[ "$perm" == 600 ]] || fail "$DIR/tls/$f has mode $perm, expected 600"
done
[[ "$(stat -c %a "$DIR/tls")" == 700 ]] || fail "$DIR/tls is not mode 700"

step "a plaintext client is refused"
grep -v '^tls-' "$CONF" >"$DIR/plain.conf"
run_pc txn --cluster "$DIR/plain.conf" --timeout-ms 1500 "put:$k1=plain"
((RC == 2)) || fail "plaintext txn: expected exit 2 (unknown), got $RC: $OUT $ERR"
[[ "$OUT" == *"last connection error"* ]] || fail "plaintext txn: no reason given: $OUT"
info "plaintext txn: $OUT"
run_pc get --cluster "$DIR/plain.conf" "$k1"
((RC == 2)) || fail "plaintext get: expected exit 2, got $RC: $OUT $ERR"
info "plaintext get: $ERR"
log_has c1 "TLS: refused a connection from 127.0.0.1 \(plaintext.*wrong version number" ||
  fail "c1 did not log the plaintext connection: $(grep 'TLS' "$DIR/c1.log" | head -n 3)"

step "a client of another CA is refused"
"$TLS_HELPER" foreign "$CONF" "$E2E_TMP/foreign" >/dev/null
run_pc txn --cluster "$E2E_TMP/foreign/cluster.conf" --timeout-ms 1500 "put:$k1=foreign"
((RC == 2)) || fail "foreign-CA txn: expected exit 2 (unknown), got $RC: $OUT $ERR"
[[ "$OUT" == *"certificate"* ]] || fail "foreign-CA txn: reason does not name the certificate: $OUT"
info "foreign-CA txn: $OUT"
run_pc get --cluster "$E2E_TMP/foreign/cluster.conf" "$k1"
((RC == 2)) || fail "foreign-CA get: expected exit 2, got $RC: $OUT $ERR"
expect_get "$k1" paxos 1 # neither write landed

step "a client certificate doing a node's work is refused"
for node in a1 p1 c1; do
  set +e
  out=$("$TLS_HELPER" forbidden "$CONF" "$node" 2>&1)
  rc=$?
  set -e
  ((rc == 0)) || fail "$node accepted a forbidden call from a client certificate (exit $rc): $out"
done
info "$(tr '\n' ';' <<<"$out")"
log_has a1 "TLS: refused 1 node message\(s\).*from client at 127.0.0.1" ||
  fail "a1 did not log the client's Phase2b: $(grep 'TLS' "$DIR/a1.log" | head -n 3)"
n=$(grep -c "TLS: refused 1 node message" "$DIR/a1.log")
((n == 1)) || fail "a1 logged the client's node messages $n times, expected once per peer"

step "half a TLS configuration exits 64, naming the key"
sed '/^tls-ca/d' "$CONF" >"$DIR/half.conf"
run_pc txn --cluster "$DIR/half.conf" "put:$k1=half"
((RC == 64)) && [[ "$ERR" == *"tls-cert without tls-ca"* ]] ||
  fail "txn with tls-cert but no tls-ca: expected 64 naming the key, got $RC: $ERR"
sed '0,/^tls-key = tls\/c1.key/{/^tls-key = tls\/c1.key/d}' "$CONF" >"$DIR/half.conf"
run_pc serve --config "$DIR/half.conf" --node c1
((RC == 64)) && [[ "$ERR" == *"tls-cert without tls-key"* ]] ||
  fail "serve with a node's cert but no key: expected 64 naming tls-key, got $RC: $ERR"
sed 's#^tls-key = tls/c1.key#tls-key = tls/missing.key#' "$CONF" >"$DIR/half.conf"
run_pc serve --config "$DIR/half.conf" --node c1
((RC == 64)) && [[ "$ERR" == *"tls-key = tls/missing.key: cannot read"* ]] ||
  fail "serve with an unreadable key: expected 64 naming it, got $RC: $ERR"
sed 's#^tls-key = tls/client.key#tls-key = tls/p1.key#' "$CONF" >"$DIR/half.conf"
run_pc get --cluster "$DIR/half.conf" "$k1"
((RC == 64)) && [[ "$ERR" == *"tls-cert = tls/client.pem and tls-key = tls/p1.key"* ]] ||
  fail "a key of another certificate: expected 64 naming both, got $RC: $ERR"

step "every node is alive and the cluster still commits"
for n in c1 p1 p2 a1 a2 a3; do node_alive "$n" || fail "$n died"; done
expect_txn 0 "put:$k1=after" "put:$k2=after"
expect_get "$k2" after 2

step "bench --tls reports its cost beside plaintext (short)"
run_pc bench --protocol paxos --clients 2 --duration 1 --warmup 0.2 --no-floor --tls \
  --json "$E2E_TMP/bench.json"
((RC == 0)) || fail "bench --tls failed (exit $RC): $ERR"
line=$(grep -E '^  paxos N=3 C=2: throughput [0-9.]+x' <<<"$OUT") ||
  fail "bench --tls printed no TLS cost line: $OUT"
grep -qE '^paxos\+tls +3 +2 ' <<<"$OUT" || fail "bench --tls printed no paxos+tls row: $OUT"
grep -q '"tls": true' "$E2E_TMP/bench.json" || fail "bench JSON has no TLS run"
info "$line"

e2e_pass
