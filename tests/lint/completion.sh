#!/usr/bin/env bash
# The bash completion (deploy/completions/pcommit.bash) completes subcommands and their
# options from the binary's --help: `pcommit cl<TAB>` gives cluster, `pcommit txn --c<TAB>`
# gives --cluster; if this fails, the installed completion completes nothing (or the wrong
# thing).
# Usage: completion.sh PCOMMIT COMPLETION_FILE
set -euo pipefail
PCOMMIT="${1:?usage: $0 PCOMMIT COMPLETION_FILE}"
export PATH="$(cd "$(dirname "$PCOMMIT")" && pwd):$PATH"
# shellcheck source=/dev/null
source "${2:?usage: $0 PCOMMIT COMPLETION_FILE}"
[[ "$(complete -p pcommit)" == *"-F _pcommit"* ]] || { echo "FAIL: no completion for pcommit"; exit 1; }

# expect WANT... -- WORDS...: completing the last of WORDS offers each of WANT.
expect() {
  local want=() words=()
  while [[ "$1" != -- ]]; do want+=("$1") && shift; done
  shift
  words=("$@")
  COMP_WORDS=("${words[@]}")
  COMP_CWORD=$((${#words[@]} - 1))
  _pcommit
  local w
  for w in "${want[@]}"; do
    if [[ " ${COMPREPLY[*]} " != *" $w "* ]]; then
      echo "FAIL: completing '${words[*]}' gave '${COMPREPLY[*]}', without $w"
      exit 1
    fi
  done
  echo "ok: '${words[*]}' -> ${COMPREPLY[*]}"
}

expect cluster -- pcommit cl
expect --cluster -- pcommit txn --c
expect start stop status restart -- pcommit cluster ""
expect --protocol -- pcommit cluster start --pro
expect --force --commit --abort -- pcommit resolve --
expect 2pc paxos -- pcommit cluster start --protocol ""
# Only what the binary offers: `pcommit cl` is cluster alone, not the options.
COMP_WORDS=(pcommit cl) && COMP_CWORD=1 && _pcommit
[[ "${COMPREPLY[*]}" == cluster ]] || { echo "FAIL: 'pcommit cl' gave '${COMPREPLY[*]}'"; exit 1; }
