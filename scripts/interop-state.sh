#!/usr/bin/env bash
# scripts/interop-state.sh — state sharing between openclaw-node and the real openclaw@2026.9.6 CLI.
#
# A real 2026.9.6 gateway on loopback; each story in its own throw-away HOME:
#   (a) ts-first   the TS node host (`openclaw node run`) pairs, an allowlist is set through the gateway
#                  (system.execApprovals.set), it stops; openclaw-node starts on the same HOME with no
#                  --host/--port and no gateway token: it must reconnect with the same device id (no new
#                  pairing request), and enforce the allowlist (/usr/bin/uname runs, /usr/bin/id is denied).
#   (b) rust-first openclaw-node pairs in a fresh HOME (which gets the 2026.9.6 state database, no JSON
#                  files) and gets an allowlist; then, with nothing run in between, the TS CLI in that HOME:
#                  `openclaw node identity --json` and `openclaw approvals get --json` must work and agree
#                  with `openclaw-node state show --json` (device id, approvals hash); `openclaw doctor --fix`
#                  must find nothing to migrate; and the TS node host itself must start there with no flags
#                  and no token and come back as the same device.
#   (c) doctor     an earlier openclaw-node's JSON state (OPENCLAW_NODE_STATE_BACKEND=json) with an allowlist;
#                  `openclaw doctor --fix --non-interactive --yes`; openclaw-node starts again with no flags
#                  and no token: same device id, no new pairing, allowlist enforced.
#
# USAGE  scripts/interop-state.sh [--node-bin PATH] [--keep]      (default: target/release/openclaw-node)
# Uses scripts/interop.sh --install-only for the cached Node 24 + openclaw 2026.9.6.
# ENVIRONMENT  INTEROP_PORT_MIN / INTEROP_PORT_MAX: the loopback ports the gateway may use (default: any
#              free port the system picks).
# OUTPUT  PASS/FAIL lines, then "N passed, N failed"; exit 0 only when nothing failed.
set -euo pipefail

HARNESS=interop-state
# shellcheck source=scripts/lib/interop-harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/interop-harness.sh" "$@"

# ---- gateway ------------------------------------------------------------------------------------------
gateway_home
cat >"$GW_HOME/.openclaw/openclaw.json" <<EOF
{ gateway: { mode: "local", bind: "loopback", port: $PORT, auth: { mode: "token", token: "$TOKEN" } } }
EOF
start_gateway

oc_in() { local home=$1; shift; (cd "$home" && HOME="$home" timeout 120 "$OC_BIN" "$@" 2>&1); }

# find_node NAME: "nodeId connectedAtMs commands" of the connected node NAME
find_node() { oc nodes list --json | ih find-node "$1" 0 ""; }
pending_count() { # pending device + node requests from anyone
  local d n
  d=$(oc devices list --json | python3 -c 'import json,sys; t=sys.stdin.read(); d=json.loads(t[min(i for i in (t.find("{"),t.find("[")) if i>=0):]); print(len(d if isinstance(d,list) else d.get("pending") or []))' 2>/dev/null || echo 0)
  n=$(oc nodes pending --json | python3 -c 'import json,sys; t=sys.stdin.read(); d=json.loads(t[min(i for i in (t.find("{"),t.find("[")) if i>=0):]); print(len(d if isinstance(d,list) else d.get("pending") or d.get("requests") or []))' 2>/dev/null || echo 0)
  echo $((d + n))
}
invoke() { node_invoke "$1" "$2" "$3"; } # NODE_ID COMMAND PARAMS_JSON
ALLOWLIST='{"version":1,"defaults":{"security":"allowlist","ask":"off","askFallback":"deny"},"agents":{"*":{"allowlist":[{"pattern":"/usr/bin/uname"}]}}}'
set_allowlist() { # NODE_ID: through the gateway (`openclaw approvals set --node`, exec.approvals.node.set)
  local out
  printf '%s\n' "$ALLOWLIST" >"$RUN/allowlist.json"
  out=$(oc approvals set --node "$1" --file "$RUN/allowlist.json" --json 2>&1 || true)
  echo "$out" >>"$RUN/gw/approvals-set.log"
  out=$(oc approvals get --node "$1" --json 2>&1 || true)
  [[ "$(json_get file.defaults.security <<<"$out" 2>/dev/null)" == allowlist ]]
}
# enforce LABEL NODE_ID: /usr/bin/uname runs, /usr/bin/id is denied
enforce() {
  local label=$1 id=$2 ok denied
  ok=$(invoke "$id" system.run '{"command":["/usr/bin/uname"],"agentId":"main","sessionKey":"agent:main:main"}')
  denied=$(invoke "$id" system.run '{"command":["/usr/bin/id"],"agentId":"main","sessionKey":"agent:main:main"}')
  if [[ "$(json_get payload.exitCode <<<"$ok" 2>/dev/null)" == 0 ]]; then
    pass "$label: allowlisted /usr/bin/uname runs (exitCode 0)"
  else
    fail "$label: allowlisted /usr/bin/uname did not run: $(tr '\n' ' ' <<<"$ok" | cut -c1-300)"
  fi
  if [[ "$denied" == *DENIED* || "$denied" == *allowlist* ]] && [[ "$(json_get payload.exitCode <<<"$denied" 2>/dev/null)" != 0 ]]; then
    pass "$label: /usr/bin/id is denied ($(grep -o 'SYSTEM_RUN_DENIED[^"]*' <<<"$denied" | head -n 1 | cut -c1-80))"
  else
    fail "$label: /usr/bin/id was not denied: $(tr '\n' ' ' <<<"$denied" | cut -c1-300)"
  fi
}
NODE_BACKEND="" # OPENCLAW_NODE_STATE_BACKEND for openclaw-node (empty: the default)
rust_start() { # NAME HOME [ARGS...]: openclaw-node run; with ARGS, also the gateway token
  local name=$1 home=$2
  shift 2
  if [[ $# -gt 0 ]]; then
    start_group "$RUN/$name.log" "$home" OPENCLAW_NODE_STATE_BACKEND="$NODE_BACKEND" OPENCLAW_GATEWAY_TOKEN="$TOKEN" \
      RUST_LOG=info "$NODE_BIN" run "$@"
  else
    start_group "$RUN/$name.log" "$home" OPENCLAW_NODE_STATE_BACKEND="$NODE_BACKEND" RUST_LOG=info "$NODE_BIN" run
  fi
  NODE_PID=$STARTED
}

# ---- (a) TS node first --------------------------------------------------------------------------------
story_a() {
  local home="$RUN/a/home" before after pend0 pend1
  mkdir -p "$home"
  start_group "$RUN/a-ts.log" "$home" OPENCLAW_GATEWAY_TOKEN="$TOKEN" "$OC_BIN" node run --host 127.0.0.1 \
    --port "$PORT" --display-name state-a
  local ts=$STARTED
  connect_and_approve state-a 120 system.run || { fail "a: TS node did not connect with system.run (see $RUN/a-ts.log)"; stop_group "$ts"; return; }
  before=$NODE_ID
  set_allowlist "$before" || { fail "a: allowlist not set through the gateway on the TS node"; }
  stop_group "$ts"
  pend0=$(pending_count)
  rust_start a "$home"
  if ! connect_and_approve state-a 60 system.run; then
    fail "a: openclaw-node did not reconnect on the TS node's HOME (see $RUN/a.log)"; stop_group "$NODE_PID"; return
  fi
  after=$NODE_ID
  pend1=$(pending_count)
  [[ "$before" == "$after" ]] && pass "a: same device id after the swap ($after), no --host/--port/token given" \
    || fail "a: device id changed: TS $before, openclaw-node $after"
  ((pend1 <= pend0)) && pass "a: no new pairing request ($pend1 pending)" || fail "a: new pairing request(s): $pend0 -> $pend1"
  enforce a "$after"
  grep -q "state: SQLite" "$RUN/a.log" && pass "a: openclaw-node used the SQLite backend ($(grep -o 'state: SQLite.*' "$RUN/a.log" | head -n1 | cut -c1-120))" \
    || fail "a: the SQLite backend was not used"
  stop_group "$NODE_PID"
}

# rust_first NAME HOME STORE: openclaw-node pairs in a fresh HOME and gets the allowlist; STORE is the file
# its state must be in (NODE_BACKEND says which backend was asked for); sets RUST_ID
rust_first() {
  local name=$1 home=$2 store=$3
  mkdir -p "$home"
  rust_start "$name" "$home" --host 127.0.0.1 --port "$PORT" --display-name "state-$name"
  connect_and_approve "state-$name" 60 system.run || { fail "$name: openclaw-node did not connect (see $RUN/$name.log)"; stop_group "$NODE_PID"; return 1; }
  RUST_ID=$NODE_ID
  set_allowlist "$RUST_ID" || { fail "$name: allowlist not set through the gateway"; stop_group "$NODE_PID"; return 1; }
  stop_group "$NODE_PID"
  [[ -f "$home/.openclaw/$store" ]] && pass "$name: openclaw-node paired as $RUST_ID, state in $store" \
    || fail "$name: no $store after openclaw-node ran: $(cd "$home/.openclaw" && find . -type f | head -n 20 | tr '\n' ' ')"
}

# ---- (b) openclaw-node first, then the TS CLI ----------------------------------------------------------
story_b() {
  local home="$RUN/b/home" out ts_id ts_hash show rust_hash ts
  NODE_BACKEND="" rust_first b "$home" state/openclaw.sqlite || return
  if (cd "$home/.openclaw" && ls node.json exec-approvals.json identity/device.json identity/device-auth.json 2>/dev/null | grep -q .); then
    fail "b: JSON state files written in a fresh HOME"
  else
    pass "b: no JSON state files in a fresh HOME"
  fi
  show=$(cd "$home" && HOME="$home" "$NODE_BIN" state show --json)
  out=$(oc_in "$home" node identity --json || true)
  ts_id=$(json_get deviceId <<<"$out" 2>/dev/null || true)
  [[ "$ts_id" == "$RUST_ID" && "$(json_get identity.deviceId <<<"$show")" == "$RUST_ID" ]] \
    && pass "b: 'openclaw node identity --json' works and agrees: $ts_id" \
    || fail "b: 'openclaw node identity --json' = $(tr '\n' ' ' <<<"$out" | cut -c1-300) (node: $RUST_ID)"
  out=$(oc_in "$home" approvals get --json || true)
  ts_hash=$(json_get hash <<<"$out" 2>/dev/null || true)
  rust_hash=$(json_get approvals.hash <<<"$show")
  [[ -n "$ts_hash" && "$ts_hash" == "$rust_hash" && "$(json_get file.defaults.security <<<"$out")" == allowlist ]] \
    && pass "b: 'openclaw approvals get --json' works and agrees: hash $ts_hash, security=allowlist" \
    || fail "b: 'openclaw approvals get' = $(tr '\n' ' ' <<<"$out" | cut -c1-300) (node hash $rust_hash)"
  out=$(oc_in "$home" doctor --fix --non-interactive --yes || true)
  echo "$out" >"$RUN/b-doctor.log"
  if grep -E "Migrated|Imported|Removed|Rebuilt|Repaired" <<<"$out" | grep -iv "skill\|plugin" >"$RUN/b-doctor-fixed.log"; then
    fail "b: doctor --fix found node state to fix: $(tr '\n' ' ' <"$RUN/b-doctor-fixed.log" | cut -c1-300)"
  else
    pass "b: 'openclaw doctor --fix' finds no node state to migrate or repair"
  fi
  # The TS node host itself takes over that HOME with no flags and no token: the same device (its larger
  # command surface is approved again, as for any node that declares more commands).
  start_group "$RUN/b-ts.log" "$home" "$OC_BIN" node run
  ts=$STARTED
  if connect_and_approve state-b 120 system.run; then
    [[ "$NODE_ID" == "$RUST_ID" ]] \
      && pass "b: the TS node host starts on openclaw-node's state as the same device ($NODE_ID)" \
      || fail "b: the TS node host came back as $NODE_ID (openclaw-node: $RUST_ID)"
  else
    fail "b: the TS node host did not connect on openclaw-node's state (see $RUN/b-ts.log)"
  fi
  stop_group "$ts"
}

# ---- (c) openclaw doctor --fix after openclaw-node ------------------------------------------------------
story_c() {
  local home="$RUN/c/home" out pend0 pend1
  # what an earlier openclaw-node left: the JSON files
  NODE_BACKEND=json rust_first c "$home" identity/device.json || return
  out=$(oc_in "$home" doctor --fix --non-interactive --yes || true)
  grep -E "Migrated|Imported|Removed" <<<"$out" | sed 's/^/interop-state: c: doctor: /' >&2 || true
  [[ -e "$home/.openclaw/state/openclaw.sqlite" && ! -e "$home/.openclaw/identity/device.json" ]] \
    && pass "c: doctor --fix moved the files into SQLite" || fail "c: doctor --fix did not migrate: $(tail -c 300 <<<"$out")"
  pend0=$(pending_count)
  rust_start c "$home"
  if ! connect_and_approve state-c 60 system.run; then
    fail "c: openclaw-node did not reconnect after doctor --fix (see $RUN/c.log)"; stop_group "$NODE_PID"; return
  fi
  pend1=$(pending_count)
  [[ "$NODE_ID" == "$RUST_ID" ]] && pass "c: same device id after doctor --fix ($NODE_ID), no flags, no token" \
    || fail "c: device id changed after doctor --fix: $RUST_ID -> $NODE_ID"
  ((pend1 <= pend0)) && pass "c: no new pairing request" || fail "c: new pairing request(s): $pend0 -> $pend1"
  enforce c "$NODE_ID"
  stop_group "$NODE_PID"
}

story_a || true
story_b || true
story_c || true
stop_group "$GW_PID"
echo "---- interop-state summary (openclaw $OC_VERSION, $(basename "$NODE_BIN"))"
printf '%s\n' "${SUMMARY[@]}"
echo "$PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]]
