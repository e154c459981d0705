#!/usr/bin/env bash
# The man page (cmake/pcommit_man.cmake, help2man at build time) exists and documents every
# subcommand `pcommit --help` lists, and every subcommand of `pcommit cluster`: if this
# fails, `man pcommit` is missing or lags behind the binary.
# Usage: man_page.sh PCOMMIT MAN_PAGE
set -euo pipefail
PCOMMIT="${1:?usage: $0 PCOMMIT MAN_PAGE}"
MAN="${2:?usage: $0 PCOMMIT MAN_PAGE}"
[[ -s "$MAN" ]] || { echo "FAIL: no man page at $MAN (is help2man installed?)"; exit 1; }
grep -q '^\.TH PCOMMIT "1"' "$MAN" || { echo "FAIL: $MAN is not a section-1 page for pcommit"; exit 1; }
version=$("$PCOMMIT" --version)
grep -qF "pcommit $version" "$MAN" || { echo "FAIL: $MAN does not name version $version"; exit 1; }
block() { awk -v h="$1" '$0 == h { c = 1; next } c && /^  [a-z]/ { print $1 } c && /^$/ { exit }'; }
commands=$("$PCOMMIT" --help | block commands:)
subs=$("$PCOMMIT" cluster --help | block subcommands:)
(($(wc -w <<<"$commands") >= 8)) || { echo "FAIL: pcommit --help lists only: $commands"; exit 1; }
missing=""
for c in $commands; do
  grep -qF ".SS \"pcommit $c\"" "$MAN" || missing+=" $c"
done
for s in $subs; do
  grep -qF ".SS \"pcommit cluster $s\"" "$MAN" || missing+=" cluster-$s"
done
[[ -z "$missing" ]] || { echo "FAIL: $MAN has no section for:$missing"; exit 1; }
# Each section holds that command's options, e.g. resolve's --force.
grep -qE -- '(--|\\-\\-)force' "$MAN" || { echo "FAIL: $MAN lacks resolve's --force"; exit 1; }
echo "ok: $MAN documents $(wc -w <<<"$commands") commands ($(tr '\n' ' ' <<<"$commands")) and cluster's $(tr '\n' ' ' <<<"$subs")"
