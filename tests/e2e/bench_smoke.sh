#!/usr/bin/env bash
# pcommit bench smoke test: two short runs (paxos, 2pc) with one client, then checks the
# JSON: both runs present, committed > 0, nothing aborted or unknown, and the logical
# messages and synced writes per transaction equal PROTOCOL.md §7's formulas (within 1%),
# as they must with one client and no faults. Also checks that bench removed its temporary
# cluster directories (it runs with TMPDIR set to this test's own directory).
set -euo pipefail
PCOMMIT="${1:?usage: $0 PATH-TO-pcommit}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/pc-bench-smoke-XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
mkdir "$TMP/work"
JSON="$TMP/bench.json"

TMPDIR="$TMP/work" "$PCOMMIT" bench --protocol paxos,2pc --participants 3 --clients 1 \
  --duration 2 --json "$JSON"
cat "$JSON"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# Field $2 of the run line of protocol $1 (the JSON has one run per line).
field() {
  grep "\"protocol\": \"$1\"," "$JSON" | sed -n "s/.*\"$2\": \([0-9.]*\).*/\1/p"
}
close() {  # close A B: |A - B| <= 1% of B
  awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.01 * b) }'
}

for p in paxos 2pc; do
  [[ "$(grep -c "\"protocol\": \"$p\"," "$JSON")" == 1 ]] || fail "no single $p run in the JSON"
  committed="$(field "$p" committed)"
  ((committed > 0)) || fail "$p: committed $committed"
  [[ "$(field "$p" aborted)" == 0 ]] || fail "$p: aborted $(field "$p" aborted) (one client, own keys)"
  [[ "$(field "$p" unknown)" == 0 ]] || fail "$p: unknown $(field "$p" unknown)"
  m="$(field "$p" messages_per_txn)"
  em="$(field "$p" expected_messages_per_txn)"
  close "$m" "$em" || fail "$p: messages_per_txn $m, expected $em"
  w="$(field "$p" synced_writes_per_txn)"
  ew="$(field "$p" expected_synced_writes_per_txn)"
  close "$w" "$ew" || fail "$p: synced_writes_per_txn $w, expected $ew"
  echo "$p: committed $committed, messages/txn $m (expected $em), synced writes/txn $w (expected $ew)"
done
[[ -z "$(ls -A "$TMP/work")" ]] || fail "bench left behind: $(ls -A "$TMP/work")"
echo "PASS bench_smoke"
