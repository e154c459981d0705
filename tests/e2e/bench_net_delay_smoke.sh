#!/usr/bin/env bash
# pcommit bench --net-delay-us smoke (issue 15; CI, under 30 s): 2pc and paxos-direct, one
# client, 2 s per point, a fresh cluster at each one-way delay D = 0, 2000 and 20000 us.
# From the JSON it checks:
#  1. every run committed, nothing aborted or unknown (one client on its own keys);
#  2. messages and synced writes per transaction equal docs/PROTOCOL.md §7's formulas at
#     D = 0 and 2000 (within 1%): the delay line holds messages, it must not add, drop or
#     repeat any; and the message delays to the client are §7's: 4 for 2pc, 3 for
#     paxos-direct. Exact while no transaction of the run lasted as long as the shortest
#     protocol timer that changes what is sent (bench's clusters tick every 5 ms): for
#     2pc the coordinator's prepare retry, 30 ticks = 150 ms, which resends prepares; for
#     paxos-direct an acceptor's bundle cap, 10 ticks = 50 ms, past which it writes and
#     answers per vote (docs/PROTOCOL.md §6.8). A loaded machine has such slow transactions
#     (the slowest measured up to 170 ms here, at D = 0 too); in a run that had one,
#     messages may be up to 25% over the formula (never under) and synced writes within
#     20% under (group commit) to 25% over it, and the run's counts by kind are printed.
#     Not at D = 20000, where the transactions take 60 ms and more;
#  3. every transaction at D took at least delays x D (its fastest one): each of those
#     message delays is on the critical path and the delay line hands nothing on early
#     (rpc/delay_line.h), so this holds on any machine, however loaded. At D = 20000 a
#     transaction's work outside the delays (a few ms) is far below D, so a hop that skipped
#     its delay would fall under the bound: this is the check that every hop waits;
#  4. p50 at D=2000 exceeds p50 at D=0 by at least 0.8 x delays x D (issue 15). That only
#     holds when the machine has CPU to spare: on this 2-core machine under other builds,
#     the part of the latency outside the delays changes with D (the nodes wait for a CPU
#     at every hop; with 2 ms between hops they find it free more often) and the growth
#     measured anywhere from -0.6 to 2.1 x delays x D. So 4 is enforced only when the
#     CPU pressure during the bench (/proc/pressure/cpu "some": the share of time a
#     runnable task waited for a CPU) stayed at or below PC_SMOKE_MAX_CPU_PRESSURE percent
#     (default 25), or when the kernel does not report it; otherwise the numbers are
#     printed with the reason it was not enforced.
# The delay is emulated inside the processes (a timerfd on each event loop), so the test
# needs neither network namespaces nor the netem qdisc: it runs wherever bench runs.
set -euo pipefail
PCOMMIT="${1:?usage: $0 PATH-TO-pcommit}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/pc-bench-delay-XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
mkdir "$TMP/work"
JSON="$TMP/delay.json"

# Microseconds runnable tasks waited for a CPU since boot ("some" total), or nothing.
cpu_wait_us() { sed -n 's/^some .*total=\([0-9]*\).*/\1/p' /proc/pressure/cpu 2>/dev/null || true; }

start=$SECONDS
wait0="$(cpu_wait_us)" t0="$(date +%s%N)"
TMPDIR="$TMP/work" "$PCOMMIT" bench --protocol 2pc,paxos-direct --participants 3 --clients 1 \
  --net-delay-us 0,2000,20000 --duration 2 --warmup 0.3 --no-floor --json "$JSON"
wait1="$(cpu_wait_us)" t1="$(date +%s%N)"
echo "bench took $((SECONDS - start)) s"
pressure=""
if [[ -n "$wait0" && -n "$wait1" ]]; then
  pressure="$(awk -v a="$wait0" -v b="$wait1" -v s="$t0" -v e="$t1" \
    'BEGIN { printf "%.0f", 100 * (b - a) / ((e - s) / 1000) }')"
fi

python3 - "$JSON" "$pressure" "${PC_SMOKE_MAX_CPU_PRESSURE:-25}" <<'EOF'
import json
import sys

path, pressure, max_pressure = sys.argv[1], sys.argv[2], float(sys.argv[3])
runs = json.load(open(path))["runs"]
delays = {"2pc": 4, "paxos-direct": 3}  # docs/PROTOCOL.md §7, message delays to the client
points = (0, 2000, 20000)
# The shortest timer that changes what a mode sends, at tick-ms 5: 2pc the coordinator's
# prepareRetryTicks = 30, paxos-direct the acceptors' bundleCapTicks = 10.
timer_us = {"2pc": 150000, "paxos-direct": 50000}
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def close(a, b):
    return abs(a - b) <= 0.01 * b


p50 = {}
for r in runs:
    mode, d = r["protocol"], r["net_delay_us"]
    what = f"{mode} D={d}"
    if mode not in delays or d not in points or (mode, d) in p50:
        fail(f"unexpected run {what}")
        continue
    p50[(mode, d)] = r["latency_us"]["p50"]
    fastest = r["latency_cdf_us"][0][1]  # the 0.0 quantile: the fastest transaction
    k = delays[mode]
    if r["committed"] <= 0 or r["aborted"] != 0 or r["unknown"] != 0:
        fail(f"{what}: committed {r['committed']}, aborted {r['aborted']}, "
             f"unknown {r['unknown']} (one client on its own keys: all must commit)")
    m, em = r["messages_per_txn"], r["expected_messages_per_txn"]
    w, ew = r["synced_writes_per_txn"], r["expected_synced_writes_per_txn"]
    slowest = r["latency_us"]["max"]
    exact = close(m, em) and close(w, ew)
    timed = em - 0.01 <= m <= 1.25 * em and 0.8 * ew <= w <= 1.25 * ew
    if d <= 2000 and not exact:
        counts = (f"messages/txn {m} (formula {em}), synced writes/txn {w} (formula {ew}); "
                  f"slowest transaction {slowest} us; sent by kind "
                  f"{ {k: v for k, v in r['sent_by_kind'].items() if v} } in {r['committed']} "
                  f"txns")
        if slowest < timer_us[mode] or not timed:
            fail(f"{what}: {counts}")
        else:
            print(f"note: {what}: off the formula with a transaction past the "
                  f"{timer_us[mode] // 1000} ms timer: {counts}")
    if r["message_delays"] != k:
        fail(f"{what}: message_delays {r['message_delays']}, docs/PROTOCOL.md §7 says {k}")
    if fastest < k * d:
        fail(f"{what}: a transaction took {fastest} us, less than {k} delays x {d} us")
    print(f"{what}: committed {r['committed']}, messages/txn {m} (formula {em}), synced "
          f"writes/txn {w} (formula {ew}), p50 {p50[(mode, d)]} us, fastest {fastest} us "
          f"(>= {k} x D = {k * d} us)")

enforce = not pressure or float(pressure) <= max_pressure
d = 2000
for mode, k in delays.items():
    if any((mode, x) not in p50 for x in points):
        fail(f"{mode}: a run at D in {points} is missing")
        continue
    grew, want = p50[(mode, d)] - p50[(mode, 0)], 0.8 * k * d
    verdict = "met" if grew >= want else "NOT met"
    print(f"{mode}: p50 grew by {grew} us from D=0 to D={d} us; 0.8 x {k} delays x {d} us "
          f"= {want:.0f} us: {verdict}")
    if grew < want and enforce:
        fail(f"{mode}: p50 {p50[(mode, 0)]} us at D=0, {p50[(mode, d)]} us at D={d}: grew "
             f"{grew} us, less than {want:.0f} us (CPU pressure {pressure or 'unknown'}%)")
if not pressure:
    print("p50 growth enforced: the kernel reports no CPU pressure (/proc/pressure/cpu)")
elif enforce:
    print(f"p50 growth enforced: CPU pressure {pressure}% during the bench "
          f"(<= {max_pressure:g}%)")
else:
    print(f"p50 growth not enforced: CPU pressure {pressure}% during the bench "
          f"(> {max_pressure:g}%: runnable tasks waited for a CPU that share of the time, "
          f"so the latency outside the delays is not the same at every D)")
sys.exit(1 if failures else 0)
EOF

[[ -z "$(ls -A "$TMP/work")" ]] || { echo "FAIL: bench left behind: $(ls -A "$TMP/work")" >&2; exit 1; }
echo "PASS bench_net_delay_smoke ($((SECONDS - start)) s)"
