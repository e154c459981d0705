#!/usr/bin/env bash
# --transport unix: a cluster on Unix domain sockets (DIR/ID.sock) commits; a node killed
# with -9 leaves its socket file and starts again over it; a second process for a running
# node is refused and the node keeps serving; a clean stop removes every socket file; a
# cluster file naming a regular file is refused and the file left alone; TLS works over
# it. If this fails, a crashed node cannot come back, a stray start steals a live node's
# socket, or a typo in the cluster file deletes a user's file.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
e2e_init unix

start_unix() { # start_unix DIR OPTIONS...: no ports, so nothing to retry
  DIR="$1"
  CONF="$DIR/cluster.conf"
  shift
  run_pc cluster start --dir "$DIR" --transport unix \
    --recovery-timeout-ms "$E2E_RECOVERY_MS" --tick-ms "$E2E_TICK_MS" "$@"
  ((RC == 0)) || fail "cluster start --transport unix $* failed (exit $RC): $OUT $ERR"
  info "cluster up on Unix sockets ($*)"
}

step "a paxos cluster on Unix sockets: addresses, socket files, a commit"
start_unix "$E2E_TMP/cluster" --protocol paxos
grep -q '^address = unix:p1.sock' "$CONF" || fail "cluster.conf has no 'address = unix:p1.sock'"
if grep -q '^address = 127' "$CONF"; then fail "cluster.conf still has a TCP address"; fi
for n in $(coordinators) $(participants) $(acceptors); do
  [[ -S "$DIR/$n.sock" ]] || fail "$DIR/$n.sock is not a socket" "$n"
  mode=$(stat -c %a "$DIR/$n.sock")
  [[ "$mode" == 600 ]] || fail "$n.sock has mode $mode, expected 600" "$n"
done
info "every node listens on DIR/ID.sock, mode 0600"
k1=$(key_on ux-a 1 3)
k2=$(key_on ux-b 2 3)
expect_txn 0 "put:$k1=one" "put:$k2=two"
expect_get "$k1" one 1
run_pc status --cluster "$CONF"
((RC == 0)) || fail "status over Unix sockets failed (exit $RC): $OUT $ERR"

step "kill -9 p1: its socket file stays; restart replaces it; commits again"
kill9 p1
[[ -S "$DIR/p1.sock" ]] || fail "p1.sock is gone after kill -9 (expected a stale file)"
restart_node p1
log_has p1 "listening on unix:" || fail "p1's log has no 'listening on unix:'" p1
expect_txn 0 "put:$k1=again" "put:$k2=again"
expect_get "$k1" again 2
expect_get "$k2" again 2

step "a second process on running p2's socket is refused; p2 keeps it and serves"
# A copy of the file in another folder: p2's data resolves there (fresh, so no lock on
# p2's own), its socket is p2's by an absolute path.
sed "s|^address = unix:p2.sock|address = unix:$DIR/p2.sock|" "$CONF" >"$E2E_TMP/twin.conf"
set +e
timeout 20 "$PCOMMIT" serve --config "$E2E_TMP/twin.conf" --node p2 --init \
  >"$E2E_TMP/p2-twice.log" 2>&1
rc=$?
set -e
((rc != 0 && rc != 124)) || fail "a second serve of p2 exited $rc (expected a failure)" p2
grep -q "another process is listening there" "$E2E_TMP/p2-twice.log" ||
  fail "the second p2 did not say why: $(tail -n 3 "$E2E_TMP/p2-twice.log")" p2
node_alive p2 || fail "p2 died" p2
expect_txn 0 "put:$k2=still"
expect_get "$k2" still 3
info "refused: $(grep -m1 -o 'cannot listen on unix:[^ ]* [^)]*' "$E2E_TMP/p2-twice.log")"

step "cluster stop removes every socket file"
run_pc cluster stop --dir "$DIR"
((RC == 0)) || fail "cluster stop failed: $OUT $ERR"
left=$(find "$DIR" -maxdepth 1 -name '*.sock' | wc -l)
((left == 0)) || fail "$left socket files left after a clean stop: $(ls "$DIR"/*.sock)"

step "a cluster file naming a regular file: refused, the file left alone"
echo "precious" >"$DIR/notes.txt"
sed -i 's|^address = unix:p1.sock|address = unix:notes.txt|' "$CONF"
set +e
timeout 20 "$PCOMMIT" serve --config "$CONF" --node p1 >"$E2E_TMP/p1-file.log" 2>&1
rc=$?
set -e
((rc != 0 && rc != 124)) || fail "serve on a regular file exited $rc (expected a failure)" -
grep -q "notes.txt: the path exists and is not a socket (a regular file)" "$E2E_TMP/p1-file.log" ||
  fail "no clear error: $(tail -n 3 "$E2E_TMP/p1-file.log")" -
[[ "$(cat "$DIR/notes.txt")" == precious && -f "$DIR/notes.txt" ]] ||
  fail "notes.txt was changed or removed" -
info "refused with: $(grep -m1 -o 'not a socket (a regular file)' "$E2E_TMP/p1-file.log")"

step "2pc with mutual TLS over Unix sockets"
start_unix "$E2E_TMP/tls" --protocol 2pc --tls
grep -q '^tls-ca' "$CONF" || fail "no tls-ca in the TLS cluster's file"
expect_txn 0 "put:$k1=tls" "put:$k2=tls"
expect_get "$k1" tls 1
run_pc cluster stop --dir "$DIR"
((RC == 0)) || fail "cluster stop (TLS) failed: $OUT $ERR"

e2e_pass
