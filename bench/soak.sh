#!/usr/bin/env bash
# Sustained load on a local cluster with a small gc-cap, sampling every node's RSS and LMDB
# file size: with garbage collection working both level off.
#   bench/soak.sh [PROTOCOL] [SECONDS] [GC_CAP]        (defaults: paxos 60 300)
# Load: 4 closed-loop `pcommit txn` processes, each writing 3 keys of a 150-key space.
set -uo pipefail
B="${PCOMMIT:-$(dirname "$0")/../build/release/cli/pcommit}"
proto="${1:-paxos}" secs="${2:-60}" cap="${3:-300}"
D=$(mktemp -d /tmp/pcommit-soak-XXXX)
trap '"$B" cluster stop --dir "$D" >/dev/null 2>&1; rm -rf "$D"' EXIT
"$B" cluster start --dir "$D" --protocol "$proto" --gc-cap "$cap" >/dev/null || exit 1
C=$D/cluster.conf
end=$((SECONDS + secs))
load() {
  local n=0
  while [ $SECONDS -lt $end ]; do
    "$B" txn --cluster "$C" --timeout-ms 3000 put:k$((RANDOM % 50))=v$n \
      put:j$((RANDOM % 50))=w$n put:m$((RANDOM % 50))=x >/dev/null 2>&1
    n=$((n + 1))
  done
  echo $n > "$D/load.$1"
}
for i in 1 2 3 4; do load $i & done
sample() {
  printf "t=%3ss " "$1"
  for n in p1 a1 c1; do
    pid=$(cat "$D/$n.pid")
    rss=$(awk '/VmRSS/{print $2}' /proc/"$pid"/status)
    sz=$(du -k "$D/$n/data.mdb" | cut -f1)
    printf "%s rss=%sKiB mdb=%sKiB  " "$n" "$rss" "$sz"
  done
  echo
}
start=$SECONDS
while [ $SECONDS -lt $end ]; do sample $((SECONDS - start)); sleep 10; done
wait
sample $((SECONDS - start))
echo "transactions: $(cat "$D"/load.* | awk '{s += $1} END {print s}') in ${secs}s ($proto, gc-cap $cap)"
for n in a1 p1 c1; do "$B" inspect --data "$D/$n" | sed -n 3p; done
