#!/usr/bin/env bash
# Keys land on the participant the documented stable hash names (FNV-1a 64 of the key mod N, client/client.h): if this fails, anyone routing by the documented hash (another client, an operator, a re-shard) finds data on the wrong shard.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
e2e_init routing

N=5
start_cluster --dir "$E2E_TMP/cluster" --protocol paxos --participants "$N"
keys=()
for i in $(seq 1 24); do keys+=("route-$i"); done
ops=()
for k in "${keys[@]}"; do ops+=("put:$k=at-$k"); done
expect_txn 0 "${ops[@]}"
info "one transaction wrote ${#keys[@]} keys over $N participants: $OUT"

step "txn and get route alike"
for k in "${keys[@]}"; do expect_get "$k" "at-$k" 1; done

step "each key is stored on participant (FNV-1a 64 of the key) mod $N + 1"
declare -A stored
for p in $(participants); do
  for k in $(inspect_json "$p" | sed -n 's/^ *{"key": "\(route-[0-9]*\)", "value".*/\1/p'); do
    [[ -z "${stored[$k]:-}" ]] || fail "$k is stored on both ${stored[$k]} and $p"
    stored[$k]=$p
  done
done
wrong=0
wrong_but_client=0
for k in "${keys[@]}"; do
  [[ -n "${stored[$k]:-}" ]] || fail "$k is stored on no participant"
  want="p$(shard_of "$k" "$N")"
  if [[ "${stored[$k]}" != "$want" ]]; then
    wrong=$((wrong + 1))
    [[ "${stored[$k]}" == "p$(shard_of "$k" "$N" "$FNV_OFFSET_CLIENT")" ]] &&
      wrong_but_client=$((wrong_but_client + 1))
    echo "  $k: stored on ${stored[$k]}, FNV-1a 64 says $want"
  fi
done
if ((wrong > 0)); then
  if ((wrong == wrong_but_client)); then
    fail "$wrong of ${#keys[@]} keys are not where FNV-1a 64 puts them; all $wrong are where FNV-1a with offset basis 1469598103934665603 (the standard 14695981039346656037 without its last digit) puts them: client/client.cc's fnv1a64 constant" -
  fi
  fail "$wrong of ${#keys[@]} keys are not where FNV-1a 64 of the key mod $N puts them" -
fi
info "all ${#keys[@]} keys are on the participant the documented hash names"
e2e_pass
