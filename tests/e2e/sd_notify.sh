#!/usr/bin/env bash
# systemd readiness: `pcommit serve` under Type=notify sends READY=1 to $NOTIFY_SOCKET once
# its node recovered and listens; if this fails, a systemd unit (deploy/systemd/) would
# never leave "activating" (or would be "started" before the node accepts connections).
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
e2e_init sd_notify

start_cluster --dir "$E2E_TMP/c" --protocol paxos
run_pc cluster stop --dir "$DIR"
((RC == 0)) || fail "cluster stop: $OUT $ERR"

step "serve a1 with NOTIFY_SOCKET: READY=1 arrives after the node listens"
sock="$E2E_TMP/notify.sock"
python3 - "$sock" "$PCOMMIT" "$CONF" "$DIR/a1.log" <<'PY'
import os, socket, subprocess, sys, time
path, pcommit, conf, log = sys.argv[1:5]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(20)
env = dict(os.environ, NOTIFY_SOCKET=path)
with open(log, "ab") as out:
    p = subprocess.Popen([pcommit, "serve", "--config", conf, "--node", "a1"], env=env,
                         stdout=out, stderr=out)
try:
    msg = s.recv(256).decode()
    if msg != "READY=1":
        sys.exit(f"FAIL: expected READY=1, got {msg!r}")
    # The node must accept connections by the time it said READY.
    lines = open(conf).read().split("[node.a1]")[1]
    host, port = lines.split("address = ")[1].split()[0].rsplit(":", 1)
    socket.create_connection((host, int(port)), timeout=2).close()
    print("READY=1 received; a1 accepts connections")
finally:
    p.terminate()
    p.wait(timeout=20)
PY
log_has a1 "ready: a1" || fail "a1 never logged ready" a1
e2e_pass
