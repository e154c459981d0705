#!/usr/bin/env bash
# pcommit bench smoke test (CI, about 40 s), five short invocations:
#  1. paxos and 2pc, one client: both runs in the JSON, committed > 0, nothing aborted or
#     unknown, and the logical messages and synced writes per transaction equal docs/PROTOCOL.md
#     §7's formulas (within 1%; see below for the two timing effects allowed), as they must
#     with one client and no faults; the physical floor was measured and each run carries
#     its multiple of it, and the floor of 3 LMDB environments committing at once (at least
#     half the smallest single-commit p50 of the run: a concurrent commit cannot be much
#     faster than a lone one, and load only inflates a p50); CPU per committed txn was
#     measured for the nodes (> 0, the roles summing to the total) and the client (> 0),
#     with a ceiling = cpus x 1e6 / (nodes + client).
#  2. a sweep of two points (participants 1,2) with --svg: two rows, and every plot file is
#     a complete SVG document with a drawn line.
#  3. --recovery for paxos with one client: c1 crashes after sending its 20th transaction's
#     prepares; every in-doubt transaction must be resolved, with c1 still dead, within the
#     recovery timeout + 200 ms. With one client the only transaction in flight is the
#     crashing one, whose prepares all arrived, so in faster Paxos Commit the participants
#     learn its outcome from the acceptors in a few milliseconds: the bound holds on a
#     loaded machine too. (With more clients, a transaction whose prepare reached only some
#     participants waits for their recovery timeout plus a jitter of up to a tenth of it, which
#     is the bound `pcommit bench --recovery` reports.)
#  4. paxos with --fanout quorum, one participant, 8 clients on their own keys: nothing
#     aborted (a participant that learns outcomes late aborts the client's later
#     transactions on its still-locked keys).
#  5. --rounds 2: the runs in round order, each mode once per round, and the target line
#     judged on the rounds' median with each round's ratio.
# Also checks that bench removed its temporary cluster directories (TMPDIR is this test's).
set -euo pipefail
PCOMMIT="${1:?usage: $0 PATH-TO-pcommit}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/pc-bench-smoke-XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
mkdir "$TMP/work"
JSON="$TMP/bench.json"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# Field $3 of the run line of protocol $2 in JSON file $1 (one run per line).
field_in() {
  grep "\"protocol\": \"$2\"," "$1" | head -1 | sed -n "s/.*\"$3\": \([0-9.a-z]*\).*/\1/p"
}
field() { field_in "$JSON" "$@"; }
close() {  # close A B: |A - B| <= 1% of B
  awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.01 * b) }'
}

echo "== 1. formulas at one client"
TMPDIR="$TMP/work" "$PCOMMIT" bench --protocol paxos,2pc,2pc-replicated --participants 3 \
  --clients 1 --duration 2 --json "$JSON"
cat "$JSON"
python3 -m json.tool "$JSON" >/dev/null || fail "the bench JSON does not parse"
# The machine line names the CPUs and, where the kernel says, the idle driver (halt
# polling moves every wake-up's latency on a VM: docs/perf/HISTORY.md, session 16).
machine="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["machine"])' "$JSON")"
[[ "$machine" == *" cpus"* ]] || fail "the JSON's machine line names no cpus: $machine"
if idle="$(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null)" && [[ -n "$idle" ]]; then
  [[ "$machine" == *"cpuidle $idle"* ]] || fail "the machine line does not name the idle driver $idle: $machine"
fi
# The single-commit floor is measured once per cluster; a busy disk (the other CI tests)
# only ever inflates a p50, so the concurrent floor is held against the smallest of them.
fwmin="$(for p in paxos 2pc 2pc-replicated; do field "$p" floor_synced_write_us; done | sort -g | head -1)"
for p in paxos 2pc 2pc-replicated; do
  [[ "$(grep -c "\"protocol\": \"$p\"," "$JSON")" == 1 ]] || fail "no single $p run in the JSON"
  committed="$(field "$p" committed)"
  ((committed > 0)) || fail "$p: committed $committed"
  [[ "$(field "$p" aborted)" == 0 ]] || fail "$p: aborted $(field "$p" aborted) (one client, own keys)"
  [[ "$(field "$p" unknown)" == 0 ]] || fail "$p: unknown $(field "$p" unknown)"
  m="$(field "$p" messages_per_txn)"
  em="$(field "$p" expected_messages_per_txn)"
  w="$(field "$p" synced_writes_per_txn)"
  ew="$(field "$p" expected_synced_writes_per_txn)"
  if ! close "$m" "$em" || ! close "$w" "$ew"; then
    # Two timing effects, both seen on a loaded 2-core machine, move paxos off the formula
    # with one client, and nothing else may:
    #  - an acceptor holds a transaction's votes at most bundleCapTicks (10 ms) waiting for
    #    the other participants' (docs/PROTOCOL.md §6.8); when the participants' synced prepares
    #    finish further apart it writes and answers per vote: more Phase2b and synced
    #    writes, never other messages;
    #  - the coordinator decides on F+1 acceptors' 2b, so the client's next transaction can
    #    start while the last acceptor still writes; its next write then carries both
    #    transactions' votes (group commit): fewer synced writes, at least N + F + 1.
    # So: every message but Phase2b exactly as the formula; Phase2b between the formula's
    # 12 and 25% over; synced writes between N + F + 1 = 5 and 25% over the formula.
    [[ "$p" == paxos ]] || fail "$p: messages_per_txn $m (expected $em), synced_writes_per_txn $w (expected $ew)"
    kinds="$(grep '"protocol": "paxos",' "$JSON" | sed -n 's/.*"sent_by_kind": {\([^}]*\)}.*/\1/p')"
    b2="$(sed -n 's/.*"Phase2b": \([0-9]*\).*/\1/p' <<<"$kinds")"
    txns=$((committed))
    # N=3, F=1, fan-out all: 3 acceptors x (3 participants + the coordinator) = 12 2b per txn.
    awk -v m="$m" -v b="$b2" -v t="$txns" -v em="$em" -v w="$w" -v ew="$ew" 'BEGIN {
      other = m - b / t; b2 = b / t
      ok = (other > em - 12 - 0.01 && other < em - 12 + 0.01 && b2 >= 12 - 0.01 && b2 <= 12 * 1.25 \
            && w >= 5 - 0.01 && w <= ew * 1.25)
      exit !ok }' ||
      fail "$p: messages_per_txn $m (expected $em; Phase2b $b2 in $txns txns), synced_writes_per_txn $w (expected $ew)"
    echo "note: $p: timing on a loaded machine: Phase2b $(awk -v b="$b2" -v t="$txns" 'BEGIN{printf "%.2f", b/t}')/txn (formula 12), synced writes $w/txn (formula $ew); every other message as the formula says"
  fi
  x="$(field "$p" p50_over_floor)"
  fw="$(field "$p" floor_synced_write_us)"
  fr="$(field "$p" floor_rtt_us)"
  awk -v x="$x" -v w="$fw" -v r="$fr" 'BEGIN { exit !(x > 0 && w > 0 && r > 0) }' ||
    fail "$p: no floor measured (p50_over_floor $x, synced write $fw us, round trip $fr us)"
  # The floor's synced write is the one the nodes make: a record-log append by default.
  grep "\"protocol\": \"$p\"," "$JSON" | head -1 | grep -q '"floor_synced_write_kind": "record-log append"' ||
    fail "$p: the floor's synced write is not the nodes' record-log append (floor_synced_write_kind)"
  fc="$(field "$p" floor_synced_write_concurrent_us)"
  [[ "$(field "$p" floor_concurrent_writers)" == 3 ]] ||
    fail "$p: floor_concurrent_writers $(field "$p" floor_concurrent_writers), expected 3 (N)"
  # A tenth: an unsynced commit is ~50x faster than a synced one, while a disk shared with
  # other tests moves the two p50s apart by up to 5x either way (seen: single 3-5 ms, three
  # at once 0.8-1.1 ms, under four parallel builds).
  awk -v c="$fc" -v w="$fwmin" 'BEGIN { exit !(c >= 0.1 * w) }' ||
    fail "$p: 3 synced commits at once p50 $fc us, below a tenth of the smallest single commit p50 $fwmin us"
  # "cpu_us_per_txn": {"nodes": X, "client": Y, "by_role": {"participant": P, "acceptor": A,
  # "coordinator": C}, "ceiling_tps": T, "cpus": K, ...}
  cpu="$(grep "\"protocol\": \"$p\"," "$JSON" | sed -n 's/.*"cpu_us_per_txn": {\([^}]*}[^}]*\)}.*/\1/p')"
  [[ -n "$cpu" ]] || fail "$p: no measured cpu_us_per_txn (with by_role) in the JSON"
  cpuf() { sed -n "s/.*\"$1\": \([0-9.a-z]*\).*/\1/p" <<<"$cpu"; }
  cn="$(cpuf nodes)" cc="$(cpuf client)" cp="$(cpuf participant)" ca="$(cpuf acceptor)"
  co="$(cpuf coordinator)" ct="$(cpuf ceiling_tps)" ck="$(cpuf cpus)"
  awk -v n="$cn" -v c="$cc" -v p="$cp" -v a="$ca" -v o="$co" -v t="$ct" -v k="$ck" 'BEGIN {
    roles = p + a + o; d = roles - n; if (d < 0) d = -d
    want = k * 1e6 / (n + c); e = t - want; if (e < 0) e = -e
    exit !(n > 0 && c > 0 && p > 0 && d <= 0.5 && k >= 1 && t > 0 && e <= 0.01 * want) }' ||
    fail "$p: cpu_us_per_txn not sane: {$cpu}"
  # The machine's steal over the phase: a percentage wherever /proc/stat is readable.
  cs="$(cpuf steal_pct)"
  awk -v s="$cs" 'BEGIN { exit !(s != "" && s != "null" && s >= 0 && s <= 100) }' ||
    fail "$p: steal_pct '$cs' is not a percentage: {$cpu}"
  # "synced_commits_by_role": {"participant": {"mean_us": M, "per_txn": K}, ...}: the
  # participants wrote (every mode has them), for some time each.
  pw="$(grep "\"protocol\": \"$p\"," "$JSON" | sed -n 's/.*"synced_commits_by_role": {"participant": {"mean_us": \([0-9.]*\), "per_txn": \([0-9.]*\)}.*/\1 \2/p')"
  awk -v w="$pw" 'BEGIN { split(w, a, " "); exit !(a[1] > 0 && a[2] > 0) }' ||
    fail "$p: no participant synced commits in synced_commits_by_role ('$pw')"
  echo "$p: committed $committed, messages/txn $m (expected $em), synced writes/txn $w (expected $ew), p50 = $x x floor; 3 commits at once p50 $fc us (single $fw); cpu/txn nodes $cn us (participants $cp, acceptors $ca, coordinators $co), client $cc us, ceiling $ct txn/s, steal $cs%; participant synced commit mean us, per txn: $pw"
done

echo "== 2. a two-point sweep with plots"
SWEEP="$TMP/sweep.json"
TMPDIR="$TMP/work" "$PCOMMIT" bench --protocol paxos-direct --participants 1,2 --clients 1 \
  --duration 1 --warmup 0.3 --no-floor --json "$SWEEP" --svg "$TMP/svg"
python3 -m json.tool "$SWEEP" >/dev/null || fail "the sweep's JSON does not parse"
[[ "$(grep -c '"protocol": "paxos-direct",' "$SWEEP")" == 2 ]] || fail "the sweep has not 2 rows"
grep -q '"participants": 1,' "$SWEEP" && grep -q '"participants": 2,' "$SWEEP" ||
  fail "the sweep lacks N=1 or N=2"
for f in latency-cdf-n1-c1 latency-cdf-n2-c1 latency-vs-participants; do
  svg="$TMP/svg/$f.svg"
  [[ -s "$svg" ]] || fail "no plot $f.svg (have: $(ls "$TMP/svg" 2>/dev/null))"
  head -c 100 "$svg" | grep -q '<?xml' || fail "$f.svg: no XML declaration"
  grep -q '<svg xmlns="http://www.w3.org/2000/svg"' "$svg" || fail "$f.svg: no svg element"
  tail -n 1 "$svg" | grep -q '</svg>' || fail "$f.svg: not closed"
  grep -q '<polyline' "$svg" || fail "$f.svg: no line drawn"
  if command -v xmllint >/dev/null; then xmllint --noout "$svg" || fail "$f.svg: not well-formed"; fi
done
echo "plots: $(ls "$TMP/svg" | tr '\n' ' ')"

echo "== 3. recovery: paxos, coordinator crash, no restart"
REC="$TMP/recovery.json"
TMPDIR="$TMP/work" "$PCOMMIT" bench --recovery --protocol paxos --clients 1 --crash-after 20 \
  --recovery-timeout-ms 500 --no-floor --json "$REC"
python3 -m json.tool "$REC" >/dev/null || fail "the recovery JSON does not parse"
line="$(grep '"crashed": "c1"' "$REC")" || fail "no recovery result in the JSON"
[[ "$line" == *'"resolved": true'* ]] || fail "recovery: not resolved: $line"
after="$(sed -n 's/.*"resolved_after_ms": \([0-9.]*\).*/\1/p' <<<"$line")"
timeout="$(sed -n 's/.*"recovery_timeout_ms": \([0-9.]*\).*/\1/p' <<<"$line")"
awk -v a="$after" -v t="$timeout" 'BEGIN { exit !(a <= t + 200) }' ||
  fail "recovery: resolved after $after ms, more than the recovery timeout $timeout + 200 ms"
echo "recovery: resolved $after ms after the crash (timeout $timeout ms)"

echo "== 4. quorum fan-out, 8 clients: participants learn outcomes in time"
# Each client writes its own 8 keys in turn, so an abort here ("conflict: key ... is
# locked") means the participant still held the lock of that client's transaction from 8
# transactions earlier: it learned the outcome long after the client had its answer. That
# happened when the participant's event loop, always busy with the leader's next prepare
# (one synced write each), never polled its other sockets, so the acceptors' 2b waited
# there for tens of ms (hundreds to thousands of aborts in this run; NodeHost::run).
Q="$TMP/quorum.json"
TMPDIR="$TMP/work" "$PCOMMIT" bench --protocol paxos --fanout quorum --participants 1 \
  --clients 8 --duration 2 --warmup 0.5 --no-floor --json "$Q"
qc="$(field_in "$Q" paxos committed)" qa="$(field_in "$Q" paxos aborted)"
((qc > 0)) || fail "quorum fan-out: committed $qc"
[[ "$qa" == 0 ]] || fail "quorum fan-out, 8 clients on their own keys: aborted $qa (participants learn late)"
echo "quorum fan-out: committed $qc, aborted 0"

echo "== 5. --rounds 2: every mode once per round, the targets over the rounds"
R="$TMP/rounds.json"
TMPDIR="$TMP/work" "$PCOMMIT" bench --protocol 2pc,paxos --participants 1 --clients 1 \
  --duration 0.5 --warmup 0.2 --no-floor --rounds 2 --json "$R" >"$TMP/rounds.out"
order="$(python3 -c 'import json,sys
print(" ".join("%s/%d" % (r["protocol"], r["round"]) for r in json.load(open(sys.argv[1]))["runs"]))' "$R")"
[[ "$order" == "2pc/1 paxos/1 2pc/2 paxos/2" ]] || fail "--rounds 2: runs in the order $order"
grep -q "judged within each of the 2 rounds" "$TMP/rounds.out" || fail "--rounds 2: no rounds verdict"
grep -qE "paxos p50 <= 1.3 x 2pc p50: median [0-9.]+ x \(round 1 [0-9.]+; round 2 [0-9.]+; met in [0-2] of 2 rounds\)" \
  "$TMP/rounds.out" || fail "--rounds 2: the one-client target line: $(grep 'x 2pc p50' "$TMP/rounds.out")"
# The JSON carries the same verdict: the median of the rounds' ratios, each round listed.
python3 - "$R" <<'PY' || fail "--rounds 2: the JSON's targets"
import json, sys
t = [x for x in json.load(open(sys.argv[1]))["targets"] if x["target"] == "paxos p50 <= 1.3 x 2pc p50"]
assert len(t) == 1, t
r = [x["ratio"] for x in t[0]["rounds"]]
assert [x["round"] for x in t[0]["rounds"]] == [1, 2], t
assert abs(t[0]["ratio"] - (r[0] + r[1]) / 2) < 0.002, t
assert t[0]["met"] == (t[0]["ratio"] <= 1.3), t
PY
echo "rounds: $order"

[[ -z "$(ls -A "$TMP/work")" ]] || fail "bench left behind: $(ls -A "$TMP/work")"
echo "PASS bench_smoke"
