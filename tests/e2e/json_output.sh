#!/usr/bin/env bash
# The JSON of every --json command parses, and byte strings come back exactly: UTF-8 as text ("café" stays "café"), other bytes as "<field>_base64"; `pcommit --version` prints the library's version. If this fails, scripts that read pcommit's JSON get broken or mangled data.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
e2e_init json_output

# json_get FILE EXPR: python3 evaluates EXPR on the parsed JSON (j) of FILE and prints it.
json_get() {
  python3 -c 'import json, sys; j = json.load(open(sys.argv[1], encoding="utf-8")); print(eval(sys.argv[2]))' "$1" "$2"
}

step "pcommit --version and pcommit version"
run_pc --version
((RC == 0)) || fail "pcommit --version: exit $RC ($ERR)"
[[ "$OUT" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "pcommit --version printed '$OUT', not MAJOR.MINOR.PATCH"
version="$OUT"
run_pc version
((RC == 0)) && [[ "$OUT" == "$version" ]] || fail "pcommit version: exit $RC, '$OUT' (--version said '$version')"
# The string the libraries report: the project's version in the top-level CMakeLists.txt.
src="$(cd "$(dirname "$0")/../.." && pwd)"
want=$(sed -n 's/^project(pcommit VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[[ -z "$want" || "$want" == "$version" ]] || fail "pcommit --version says $version, CMakeLists.txt $want"
info "pcommit --version: $version"

start_cluster --dir "$E2E_TMP/c" --protocol paxos

step "get --json: UTF-8 kept, other bytes as value_base64"
expect_txn 0 "put:menu=café" "put:bin=$(printf 'a\xffb')"
run_pc get --cluster "$CONF" --json menu
((RC == 0)) || fail "get --json menu: exit $RC: $OUT $ERR"
printf '%s\n' "$OUT" >"$E2E_TMP/menu.json"
python3 -m json.tool "$E2E_TMP/menu.json" >/dev/null || fail "get --json output does not parse: $OUT"
[[ "$(json_get "$E2E_TMP/menu.json" 'j["value"]')" == "café" ]] ||
  fail "get --json of 'café' reads back '$(json_get "$E2E_TMP/menu.json" 'j["value"]')': $OUT"
[[ "$OUT" == *'"value": "café"'* ]] || fail "get --json does not write café as UTF-8 text: $OUT"
info "get --json menu: $OUT"
run_pc get --cluster "$CONF" --json bin
printf '%s\n' "$OUT" >"$E2E_TMP/bin.json"
python3 -m json.tool "$E2E_TMP/bin.json" >/dev/null || fail "get --json of a binary value does not parse: $OUT"
[[ "$(json_get "$E2E_TMP/bin.json" 'j["value"]')" == None ]] || fail "binary value: 'value' is not null: $OUT"
[[ "$(json_get "$E2E_TMP/bin.json" '__import__("base64").b64decode(j["value_base64"]).hex()')" == 61ff62 ]] ||
  fail "binary value: value_base64 does not decode to the bytes 61 ff 62: $OUT"
info "get --json bin: $OUT"
run_pc get --cluster "$CONF" --json nothing-here
((RC == 1)) || fail "get --json of a missing key: exit $RC, expected 1"
printf '%s\n' "$OUT" >"$E2E_TMP/missing.json"
[[ "$(json_get "$E2E_TMP/missing.json" '(j["found"], j["value"], j["version"])')" == "(False, None, 0)" ]] ||
  fail "get --json of a missing key: $OUT"

step "txn --json and outcome --json parse, same fields as before"
run_pc txn --cluster "$CONF" --json "put:menu=crème brûlée"
((RC == 0)) || fail "txn --json: exit $RC: $OUT $ERR"
printf '%s\n' "$OUT" >"$E2E_TMP/txn.json"
[[ "$(json_get "$E2E_TMP/txn.json" 'sorted(j)')" == "['latency_us', 'participants', 'reason', 'status', 'txid']" ]] ||
  fail "txn --json fields changed: $OUT"
[[ "$(json_get "$E2E_TMP/txn.json" 'j["status"]')" == committed ]] || fail "txn --json: $OUT"
txid=$(json_get "$E2E_TMP/txn.json" 'j["txid"]')
run_pc outcome --cluster "$CONF" --json "$txid"
printf '%s\n' "$OUT" >"$E2E_TMP/outcome.json"
[[ "$(json_get "$E2E_TMP/outcome.json" '(j["txid"], j["status"])')" == "('$txid', 'committed')" ]] ||
  fail "outcome --json: $OUT"
expect_get menu "crème brûlée" 2

step "cluster status --json parses; one node per line"
run_pc cluster status --dir "$DIR" --json
((RC == 0)) || fail "cluster status --json: exit $RC: $ERR"
printf '%s\n' "$OUT" >"$E2E_TMP/status.json"
python3 -m json.tool "$E2E_TMP/status.json" >/dev/null || fail "status --json does not parse: $OUT"
[[ "$(json_get "$E2E_TMP/status.json" '[n["name"] for n in j["nodes"] if n["healthy"]]')" == "['c1', 'c2', 'p1', 'p2', 'p3', 'a1', 'a2', 'a3']" ]] ||
  fail "status --json: not every node healthy in cluster-file order: $OUT"
[[ "$(json_get "$E2E_TMP/status.json" 'sorted(j["nodes"][2])')" == "['address', 'alive', 'colocated_with', 'counters', 'error', 'external', 'healthy', 'id', 'in_doubt', 'name', 'pid', 'role', 'uptime_ms', 'version']" ]] ||
  fail "status --json node fields changed: $(json_get "$E2E_TMP/status.json" 'sorted(j["nodes"][2])')"
for n in c1 p1 a3; do
  [[ "$(status_line "$n" | grep -c '"name"')" == 1 ]] || fail "status --json: $n is not on a line of its own"
done

step "inspect --json parses and keeps UTF-8"
for n in p1 p2 p3; do
  inspect_json "$n" >"$E2E_TMP/inspect-$n.json"
  python3 -m json.tool "$E2E_TMP/inspect-$n.json" >/dev/null || fail "inspect --json of $n does not parse"
done
grep -qF '"value": "crème brûlée"' "$E2E_TMP"/inspect-p*.json || fail "inspect --json: no participant holds 'crème brûlée' as text"

e2e_pass
