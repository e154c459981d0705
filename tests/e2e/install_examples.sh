#!/usr/bin/env bash
# The installed package works as a user would use it: `cmake --install` into a temporary
# prefix, relocatable; every installed header lives under include/pcommit/, includes others
# only as "pcommit/...", and compiles on its own with -I PREFIX/include; nothing internal
# (storage/, rpc/, the node host, LMDB, Cap'n Proto schemas) is installed or included;
# examples/ (copied out of the tree) and the README's client and engine programs configure
# as standalone projects against that prefix only and build, linking the shared libraries;
# the README's client also builds with `pkg-config --cflags --libs pcommit` alone; the man
# page and the bash completion are installed; then, on clusters run by the installed `pcommit`: the README's client commits, the bank's
# totals and versions hold (through a coordinator, as leader, from an address list, with a
# coordinator killed), and the README's engine and the RocksDB participant (if built) each
# serve as p3 in a transaction with an LMDB participant. If this fails, a user's
# find_package(pcommit) build or program fails the same way.
#
# Usage: install_examples.sh PCOMMIT BUILD_DIR SOURCE_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
BUILD="$(cd "${2:?usage: $0 PCOMMIT BUILD_DIR SOURCE_DIR}" && pwd)"
SRC="$(cd "${3:?usage: $0 PCOMMIT BUILD_DIR SOURCE_DIR}" && pwd)"
e2e_init install_examples

cache_value() { sed -n "s/^$1:[A-Z]*=//p" "$BUILD/CMakeCache.txt"; }
if [[ "$(cache_value PC_SANITIZE)" == ON ]]; then
  # The libraries need the sanitizer runtime loaded first; a user's program has none.
  info "sanitizer build: the installed package is tested in the release build; skipped"
  exit 77
fi
CXX="$(cache_value CMAKE_CXX_COMPILER)"
[[ -x "$CXX" ]] || fail "no C++ compiler in $BUILD/CMakeCache.txt" -

step "cmake --install $BUILD --prefix PREFIX"
PREFIX="$E2E_TMP/prefix"
cmake --install "$BUILD" --prefix "$PREFIX" >"$E2E_TMP/install.log" 2>&1 ||
  { cat "$E2E_TMP/install.log" >&2; fail "cmake --install failed (is the build complete?)" -; }
INC="$PREFIX/include"
for f in bin/pcommit include/pcommit/client.h include/pcommit/client/client.h \
  include/pcommit/pcommit_version.h share/bash-completion/completions/pcommit; do
  [[ -e "$PREFIX/$f" ]] || fail "not installed: $f" -
done
if [[ -n "$(cache_value PC_HELP2MAN | grep -v NOTFOUND)" ]]; then
  [[ -s "$PREFIX/share/man/man1/pcommit.1" ]] || fail "not installed: share/man/man1/pcommit.1" -
  grep -qF '.SS "pcommit resolve"' "$PREFIX/share/man/man1/pcommit.1" ||
    fail "the installed man page lacks the resolve command" -
else
  info "help2man was not found at configure time: no man page to check"
fi
LIBDIR="$(dirname "$(find "$PREFIX" -name 'libpcommit_client.so' | head -n 1)")"
[[ -f "$LIBDIR/libpcommit_client.so" ]] || fail "libpcommit_client.so not installed" -
[[ -f "$LIBDIR/cmake/pcommit/pcommitConfig.cmake" &&
  -f "$LIBDIR/cmake/pcommit/pcommitConfigVersion.cmake" ]] || fail "no CMake package in $LIBDIR/cmake/pcommit" -
HAVE_PARTICIPANT=0
[[ -f "$LIBDIR/libpcommit_participant.so" ]] && HAVE_PARTICIPANT=1
if ((HAVE_PARTICIPANT)); then
  [[ -f "$INC/pcommit/participant.h" ]] || fail "not installed: include/pcommit/participant.h" -
fi
[[ -f "$LIBDIR/pkgconfig/pcommit.pc" ]] || fail "not installed: $LIBDIR/pkgconfig/pcommit.pc" -
info "installed: $(cd "$PREFIX" && find . -type f | wc -l) files; libraries: $(cd "$LIBDIR" && ls libpcommit_*.so | tr '\n' ' ')"
# The package is relocatable: no file of it names the build or source tree.
if grep -rlF -e "$BUILD" -e "$SRC" "$PREFIX/include" "$LIBDIR/cmake" "$LIBDIR/pkgconfig" \
  >"$E2E_TMP/abs.txt"; then
  fail "installed files name the build or source tree: $(tr '\n' ' ' <"$E2E_TMP/abs.txt")" -
fi
for f in "$PREFIX/bin/pcommit" "$LIBDIR"/libpcommit_*.so; do
  if readelf -d "$f" | grep -E 'RPATH|RUNPATH' | grep -qF -e "$BUILD" -e "$SRC"; then
    fail "installed $f has a run path into the build tree" -
  fi
done

step "installed headers: all under pcommit/, nothing internal, each compiles on its own"
outside=$(cd "$INC" && find . -type f ! -path './pcommit/*')
[[ -z "$outside" ]] || fail "headers installed outside include/pcommit/: $outside" -
internal=$(cd "$INC/pcommit" && find . -name '*.h' | grep -E '^\./(storage|rpc)/|node_host\.h|\.capnp\.h' || true)
[[ -z "$internal" ]] || fail "internal headers installed: $internal" -
bad_includes=$(grep -rnE '#[[:space:]]*include[[:space:]]*[<"](pcommit/)?(lmdb|capnp/|boost/|rocksdb/|storage/|rpc/|runtime/node_host)' "$INC" || true)
[[ -z "$bad_includes" ]] || fail "an installed header includes an internal one: $bad_includes" -
# A generic path ("client/client.h") would need -I PREFIX/include/pcommit and collide with
# a user's own folders: every quoted include names pcommit/.
generic=$(grep -rnE '#[[:space:]]*include[[:space:]]*"' "$INC" | grep -vE '#[[:space:]]*include[[:space:]]*"pcommit/' || true)
[[ -z "$generic" ]] || fail "an installed header includes a path outside pcommit/: $generic" -
# One translation unit per header, two compilers at a time.
headers=$(cd "$INC" && find pcommit -name '*.h' | sort)
nheaders=$(wc -l <<<"$headers")
export CXX INC E2E_TMP
if ! xargs -P 2 -I{} bash -c 'tu="$E2E_TMP/hdr-$(tr / _ <<<"{}").cc"
      echo "#include \"{}\"" >"$tu"
      "$CXX" -std=c++20 -fsyntax-only -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror \
        -I "$INC" "$tu" 2>"$tu.err" ||
        { echo "{} does not compile on its own:"; cat "$tu.err"; exit 255; }' <<<"$headers" >&2; then
  fail "an installed header does not compile on its own" -
fi
((nheaders >= 5)) || fail "only $nheaders headers installed" -
# The check bites: an internal header is not there to be included.
for h in storage/env.h pcommit/storage/env.h; do
  echo "#include \"$h\"" >"$E2E_TMP/one_header.cc"
  if "$CXX" -std=c++20 -fsyntax-only -I "$INC" "$E2E_TMP/one_header.cc" 2>/dev/null; then
    fail "$h compiles against the installed headers: internal headers leaked" -
  fi
done
info "$nheaders headers under pcommit/ compile alone with -I PREFIX/include (-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror); storage/env.h is not there"

step "examples/: a standalone project against the prefix (copied out of the source tree)"
cp -r "$SRC/examples" "$E2E_TMP/examples-src"
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
cmake -S "$E2E_TMP/examples-src" -B "$E2E_TMP/examples-build" "${GEN[@]}" \
  -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_PREFIX_PATH="$PREFIX" >"$E2E_TMP/configure.log" 2>&1 ||
  { cat "$E2E_TMP/configure.log" >&2; fail "configuring examples/ against the prefix failed" -; }
# Neither pcommit's source nor its build tree is on any include path or link line.
if grep -rF -e "$SRC" -e "$BUILD/" "$E2E_TMP/examples-build" --include='*.ninja' --include='*.make' \
  --include='flags.make' --include='link.txt' -l >"$E2E_TMP/leak.txt"; then
  fail "the examples' build refers to pcommit's tree: $(tr '\n' ' ' <"$E2E_TMP/leak.txt")" -
fi
cmake --build "$E2E_TMP/examples-build" -j2 >"$E2E_TMP/build.log" 2>&1 ||
  { tail -n 40 "$E2E_TMP/build.log" >&2; fail "building examples/ against the prefix failed" -; }
# The README's smallest client program and its CMakeLists.txt, as printed there.
mkdir -p "$E2E_TMP/hello"
awk '/^## Use it as a library/ { s = 1 } s && /^```cmake$/ { c = 1; next } c && /^```$/ { exit }
     c { print }' "$SRC/README.md" >"$E2E_TMP/hello/CMakeLists.txt"
awk '/^### The smallest client program/ { s = 1 } s && /^```cpp$/ { c = 1; next } c && /^```$/ { exit }
     c { print }' "$SRC/README.md" >"$E2E_TMP/hello/hello.cc"
grep -q 'find_package(pcommit' "$E2E_TMP/hello/CMakeLists.txt" &&
  grep -q 'int main' "$E2E_TMP/hello/hello.cc" || fail "README: no client program or CMake block found" -
cmake -S "$E2E_TMP/hello" -B "$E2E_TMP/hello-build" "${GEN[@]}" -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_PREFIX_PATH="$PREFIX" >"$E2E_TMP/hello.log" 2>&1 &&
  cmake --build "$E2E_TMP/hello-build" >>"$E2E_TMP/hello.log" 2>&1 ||
  { tail -n 30 "$E2E_TMP/hello.log" >&2; fail "the README's client program does not build" -; }
HELLO="$E2E_TMP/hello-build/hello"
grep -q '#include <pcommit/client.h>' "$E2E_TMP/hello/hello.cc" ||
  fail "README: the client program does not include <pcommit/client.h>" -
# The same program with pkg-config alone (no CMake), as the README shows.
PC_FLAGS=$(PKG_CONFIG_PATH="$LIBDIR/pkgconfig" pkg-config --cflags --libs pcommit) ||
  fail "pkg-config --cflags --libs pcommit failed" -
[[ "$PC_FLAGS" == *"-I"*/include* && "$PC_FLAGS" == *-lpcommit_client* ]] ||
  fail "pkg-config pcommit: no include directory or library in '$PC_FLAGS'" -
# shellcheck disable=SC2086 # the flags are words
"$CXX" "$E2E_TMP/hello/hello.cc" $PC_FLAGS -o "$E2E_TMP/hello-pc" >"$E2E_TMP/hello-pc.log" 2>&1 ||
  { cat "$E2E_TMP/hello-pc.log" >&2; fail "the README's client does not build with pkg-config pcommit" -; }
info "pkg-config pcommit: $PC_FLAGS"
# The README's smallest engine, with its cluster file pointed at this test's cluster.
ENGINE=""
if ((HAVE_PARTICIPANT)) && grep -q '^### Embedding a storage engine' "$SRC/README.md"; then
  mkdir -p "$E2E_TMP/engine"
  awk '/^### Embedding a storage engine/ { s = 1 } s && /^```cpp$/ { c = 1; next }
       c && /^```$/ { exit } c { print }' "$SRC/README.md" >"$E2E_TMP/engine/engine.cc"
  grep -q 'o.clusterFile = "/tmp/pc1/cluster.conf";' "$E2E_TMP/engine/engine.cc" ||
    fail "README: the engine program does not read /tmp/pc1/cluster.conf (update this test)" -
  sed -i "s|\"/tmp/pc1/cluster.conf\"|\"$E2E_TMP/ecluster/cluster.conf\"|" "$E2E_TMP/engine/engine.cc"
  printf '%s\n' 'cmake_minimum_required(VERSION 3.20)' 'project(engine CXX)' \
    'find_package(pcommit 0.1 REQUIRED COMPONENTS participant)' 'add_executable(engine engine.cc)' \
    'target_link_libraries(engine PRIVATE pcommit::participant)' >"$E2E_TMP/engine/CMakeLists.txt"
  cmake -S "$E2E_TMP/engine" -B "$E2E_TMP/engine-build" "${GEN[@]}" -DCMAKE_CXX_COMPILER="$CXX" \
    -DCMAKE_PREFIX_PATH="$PREFIX" >"$E2E_TMP/engine.log" 2>&1 &&
    cmake --build "$E2E_TMP/engine-build" >>"$E2E_TMP/engine.log" 2>&1 ||
    { tail -n 30 "$E2E_TMP/engine.log" >&2; fail "the README's engine program does not build" -; }
  ENGINE="$E2E_TMP/engine-build/engine"
fi
BANK="$(find "$E2E_TMP/examples-build" -type f -name bank -perm -u+x | head -n 1)"
[[ -x "$BANK" ]] || fail "the bank example was not built" -
ROCKS="$(find "$E2E_TMP/examples-build" -type f -name rocksdb_participant -perm -u+x | head -n 1)"
# The application links the installed shared library, and LMDB only through it.
needed=$(readelf -d "$BANK" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p' | tr '\n' ' ')
[[ "$needed" == *libpcommit_client.so* ]] || fail "bank does not link libpcommit_client.so: $needed" -
[[ "$needed" != *liblmdb* && "$needed" != *boost* ]] || fail "bank links LMDB or Boost itself: $needed" -
resolved=$(ldd "$BANK" | sed -n 's/.*libpcommit_client.so[^ ]* => \([^ ]*\).*/\1/p')
[[ "$resolved" == "$PREFIX"/* ]] || fail "bank loads libpcommit_client from '$resolved', not the prefix" -
if [[ -n "$ROCKS" ]]; then
  rneeded=$(readelf -d "$ROCKS" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p' | tr '\n' ' ')
  [[ "$rneeded" == *libpcommit_participant.so* && "$rneeded" != *liblmdb* ]] ||
    fail "rocksdb_participant should link libpcommit_participant.so and not LMDB: $rneeded" -
elif [[ -x "$BUILD/examples/rocksdb_participant/rocksdb_participant" ]]; then
  # What the tree built, the installed package must build too.
  grep -i rocksdb "$E2E_TMP/configure.log" >&2 || true
  fail "rocksdb_participant was built in the tree but not against the installed package" -
fi
info "built bank${ROCKS:+, rocksdb_participant}, the README's hello${ENGINE:+ and engine}; bank needs: $needed"

# From here on every pcommit command is the installed one.
PCOMMIT="$PREFIX/bin/pcommit"

# expect_bank ARGS...: runs the bank; it must exit 0 with both checks ok and commits.
expect_bank() {
  set +e
  OUT=$("$BANK" "$@" 2>"$E2E_TMP/bank.err")
  RC=$?
  set -e
  echo "$OUT" | sed 's/^/      /'
  ((RC == 0)) || fail "bank $* exited $RC: $(cat "$E2E_TMP/bank.err")"
  grep -qE '^bank: total [0-9]+ \(expected [0-9]+\): ok$' <<<"$OUT" || fail "bank: total not ok"
  grep -qE '^bank: versions [0-9]+ \(expected .*\): ok$' <<<"$OUT" || fail "bank: versions not ok"
  COMMITTED=$(sed -n 's/^bank: .* in flight: \([0-9]*\) committed, .*/\1/p' <<<"$OUT")
  ((COMMITTED > 0)) || fail "bank: no transfer committed"
  PREFIX_KEY=$(sed -n 's/^bank: accounts \(.*-\)0\.\.[0-9]*, .*/\1/p' <<<"$OUT")
  [[ -n "$PREFIX_KEY" ]] || fail "bank: no 'accounts' line"
}

step "the bank against a paxos cluster of the installed pcommit"
start_cluster --dir "$E2E_TMP/cluster" --protocol paxos
set +e
OUT=$("$HELLO" "$CONF" 2>&1)
RC=$?
set -e
[[ $RC == 0 && "$OUT" =~ ^committed\ [0-9a-f]{32}\ $ ]] || fail "README's hello: exit $RC '$OUT'"
hello_out="$OUT"
expect_get alice 90 1
expect_get bob 110 1
set +e
OUT=$(LD_LIBRARY_PATH="$LIBDIR" "$E2E_TMP/hello-pc" "$CONF" 2>&1)
RC=$?
set -e
[[ $RC == 0 && "$OUT" =~ ^committed\ [0-9a-f]{32}\ $ ]] || fail "README's hello built by pkg-config: exit $RC '$OUT'"
expect_get alice 90 2
info "README's client program: $hello_out; alice 90, bob 110"
expect_bank --cluster "$CONF" --accounts 8 --transfers 120 --in-flight 4 --balance 100
info "bank: $COMMITTED transfers committed"
# From outside the bank: its accounts' balances in the participants' durable state (the
# bank names each account's participant explicitly, so `pcommit get`, which routes by
# hash, would look elsewhere).
total=0
for p in $(participants); do
  for v in $(inspect_json "$p" | sed -n "s/^ *{\"key\": \"${PREFIX_KEY}[0-9]*\", \"value\": \"\([0-9]*\)\".*/\1/p"); do
    total=$((total + v))
  done
done
((total == 800)) || fail "the accounts' durable balances sum to $total, not 800"
info "durable balances on the participants (pcommit inspect) sum to 800"

step "the bank with the client as leader (mode direct) and from a list of addresses"
expect_bank --cluster "$CONF" --mode direct --accounts 6 --transfers 60 --in-flight 3
grep -q 'mode direct' <<<"$OUT" || fail "bank did not run in mode direct"
nodes=$(awk '/^\[node\./ { name = substr($0, 7, length($0) - 7) }
             /^address = / { printf "%s%s=%s", sep, name, $3; sep = "," }' "$CONF")
expect_bank --nodes "$nodes" --protocol paxos --accounts 4 --transfers 30 --in-flight 2
info "--nodes $nodes"
set +e
"$BANK" --nodes "$nodes" --protocol 2pc --mode direct >/dev/null 2>"$E2E_TMP/bank.err"
RC=$?
set -e
((RC == 64)) && grep -q 'direct needs a Paxos protocol' "$E2E_TMP/bank.err" ||
  fail "bank --mode direct on 2pc: expected exit 64 naming the problem, got $RC: $(cat "$E2E_TMP/bank.err")"

step "failover: c1 killed; the client moves to c2 once, not once per transaction"
kill9 c1
t0=$SECONDS
expect_bank --cluster "$CONF" --accounts 4 --transfers 40 --in-flight 2
# Each transaction sent to a dead c1 waits retryMs (2 s) before going to c2: 40 of them
# two at a time would take 40 s; sticking to the coordinator that answered takes ~2.
((SECONDS - t0 <= 15)) || fail "40 transfers with c1 down took $((SECONDS - t0)) s"
info "40 transfers with c1 down in $((SECONDS - t0)) s"

# start_external NODE PROGRAM [ARGS...]: runs PROGRAM as NODE of the cluster in DIR (left
# to us by `cluster start --external NODE`) and waits until it answers status.
start_external() {
  local node="$1" i
  shift
  "$@" >"$DIR/$node.log" 2>&1 &
  EXT_PID=$!
  for ((i = 0; i < 100; i++)); do
    [[ "$(in_doubt_count "$node")" != down ]] && break
    kill -0 "$EXT_PID" 2>/dev/null || fail "$* exited" "$node"
    sleep 0.1
  done
  [[ "$(in_doubt_count "$node")" == 0 ]] || fail "$* is not healthy as $node" "$node"
  info "$(basename "$1") up as $node (pid $EXT_PID)"
}

if [[ -n "$ENGINE" ]]; then
  step "the README's engine program as p3 (pcommit cluster start --external p3)"
  "$PCOMMIT" cluster stop --dir "$DIR" >/dev/null 2>&1 || true
  start_cluster --dir "$E2E_TMP/ecluster" --protocol paxos --external p3
  start_external p3 "$ENGINE"
  k3=$(key_on mem 3 3)
  k1=$(key_on mem 1 3)
  expect_txn 0 "put:$k3=in-memory" "put:$k1=in-lmdb"
  expect_get "$k3" in-memory 1
  expect_txn 1 "expect:$k3=0" "put:$k1=never"
  expect_get "$k1" in-lmdb 1
  info "one transaction over LMDB p1 and the README's engine p3 committed; a failed expect on p3 aborted both"
  kill "$EXT_PID" 2>/dev/null || true
  wait "$EXT_PID" 2>/dev/null || true
fi

if [[ -z "$ROCKS" ]]; then
  if [[ -d "$SRC/examples/rocksdb_participant" ]]; then
    info "rocksdb_participant was not built (RocksDB not found by its CMakeLists?): skipped"
  else
    info "no examples/rocksdb_participant in this tree: skipped"
  fi
  e2e_pass
fi

step "the RocksDB participant example as p3 of a cluster (pcommit cluster start --external p3)"
"$PCOMMIT" cluster stop --dir "$DIR" >/dev/null 2>&1 || true
start_cluster --dir "$E2E_TMP/rcluster" --protocol paxos --external p3
start_external p3 "$ROCKS" --config "$CONF" --node p3 --data "$DIR/p3"
k3=$(key_on rocks 3 3)
k1=$(key_on rocks 1 3)
expect_txn 0 "put:$k3=in-rocksdb" "put:$k1=in-lmdb"
expect_get "$k3" in-rocksdb 1
expect_txn 1 "expect:$k3=0" "put:$k1=never"
expect_get "$k1" in-lmdb 1
info "one transaction over LMDB p1 and RocksDB p3 committed; a failed expect on p3 aborted both"
expect_bank --cluster "$CONF" --accounts 6 --transfers 60 --in-flight 3
info "bank over a cluster with the RocksDB participant: $COMMITTED committed"
kill "$EXT_PID" 2>/dev/null || true
wait "$EXT_PID" 2>/dev/null || true
e2e_pass
