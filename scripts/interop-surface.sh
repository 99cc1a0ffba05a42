#!/usr/bin/env bash
# scripts/interop-surface.sh — setup codes, a chosen command surface and host stats against the real
# openclaw@2026.9.6 gateway (issue 17). Loopback auto-approval is turned off live, without a restart
# (`openclaw config set gateway.nodes.pairing.autoApproveLocal false`; SSH verification is off in the
# config), so nothing but a setup code can approve a node:
#   (0) off        a plain openclaw-node with the gateway token is held for device approval
#   (a) pair       a code from device.pair.setupCode {bootstrapProfile:"node"}; `run --pair <code>` with
#                  no --host/--port and no token connects with system.run: no `devices approve`, no
#                  `nodes approve`; system.which answers; host stats reach node.describe (hostStats
#                  memoryTotalBytes = this host's MemTotal) and node.list
#   (b) restart    `run --pair-if-needed <the same, used code>` connects with the stored device token
#   (c) used code  `run --pair <the used code>` exits 1 naming `openclaw devices join-code`
#   (d) commands   a second code, `--pair <code> --commands system.which`: node.list shows exactly
#                  [system.which]; system.run to it is refused; system.which answers; no hostStats
#   (e) connect    a join URL (device.pair.setupCode joinUrl:true); `openclaw connect <url>` through
#                  the drop-in name (a symlink `openclaw`) fetches it and connects with system.run
#
# USAGE  scripts/interop-surface.sh [--node-bin PATH] [--keep]   (default: target/release/openclaw-node)
# Uses scripts/interop.sh --install-only for the cached Node 24 + openclaw 2026.9.6. The gateway port
# comes from INTEROP_PORT_MIN..INTEROP_PORT_MAX when set (parallel jobs), else any free port.
# OUTPUT  PASS/FAIL lines, then "N passed, N failed"; exit 0 only when nothing failed.
set -euo pipefail

HARNESS=interop-surface
# shellcheck source=scripts/lib/interop-harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/interop-harness.sh" "$@"


# ---- gateway ------------------------------------------------------------------------------------------
gateway_home
printf '{ gateway: { mode: "local", bind: "loopback", port: %s, auth: { mode: "token", token: "%s" },
  nodes: { pairing: { sshVerify: false } } } }\n' "$PORT" "$TOKEN" >"$GW_HOME/.openclaw/openclaw.json"
start_gateway

call() { oc gateway call "$1" --json --timeout 30000 --params "$2" 2>&1 || true; }
rust_start() { # LOG HOME [VAR=VALUE...] -- ARGS...: openclaw-node run --display-name ${SHOWN:-LOG} ARGS
  local name=$1 home=$2 envs=()
  shift 2
  while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  mkdir -p "$home"
  start_group "$RUN/$name.log" "$home" "${envs[@]}" RUST_LOG=info "$NODE_BIN" run --display-name "${SHOWN:-$name}" "$@"
  NODE_PID=$STARTED
}
# find_node NAME NEED [TIMEOUT]: sets NODE_ID and NODE_CMDS once NAME is connected with NEED
find_node() {
  local name=$1 need=$2 deadline=$(($(date +%s) + ${3:-60})) out
  while (($(date +%s) < deadline)); do
    if out=$(oc nodes list --json | ih find-node "$name" 0 "$need" 2>/dev/null); then
      NODE_ID=${out%% *}
      NODE_CMDS=${out##* }
      return 0
    fi
    kill -0 "$NODE_PID" 2>/dev/null || return 1
    sleep 0.5
  done
  return 1
}
mint_code() { # the setup code of a fresh node-profile bootstrap (node-surface.md §21.1)
  call device.pair.setupCode "{\"bootstrapProfile\":\"node\",\"publicUrl\":\"ws://127.0.0.1:$PORT\",\"includeQr\":false}" \
    | ih get setupCode
}
invoke() { node_invoke "$1" "$2" "$3"; } # NODE_ID COMMAND PARAMS_JSON
count_pending() { # METHOD: how many pending requests device.pair.list / node.pair.list shows
  call "$1" '{}' | python3 -c 'import json,sys; t=sys.stdin.read(); print(len(json.loads(t[t.find("{"):]).get("pending") or []))' \
    2>/dev/null || echo 0
}
host_stats() { # NODE_ID: hostStats on node.describe ("null" when none)
  call node.describe "{\"nodeId\":\"$1\"}" | ih get hostStats 2>/dev/null || echo null
}

# The CLI's own operator device is paired while loopback is still trusted; then auto-approval goes off.
oc nodes list --json >/dev/null || true
oc config set gateway.nodes.pairing.autoApproveLocal false >>"$RUN/gw/cli.log" 2>&1 || true
applied=""
for ((i = 0; i < 60; i++)); do
  out=$(call config.get '{}')
  if [[ "$(ih get runtimeConfig.gateway.nodes.pairing.autoApproveLocal <<<"$out" 2>/dev/null)" == false ]]; then
    applied=1
    break
  fi
  sleep 0.5
done
[[ -n "$applied" ]] && pass "setup: gateway.nodes.pairing.autoApproveLocal=false applied without a restart" \
  || fail "setup: auto-approval still on (config.get: $(tr '\n' ' ' <<<"$out" | cut -c1-200))"

# ---- (0) a plain node is held pending --------------------------------------------------------------------
story_0() {
  rust_start surf-plain "$RUN/plain/home" OPENCLAW_GATEWAY_TOKEN="$TOKEN" -- --host 127.0.0.1 --port "$PORT"
  for ((i = 0; i < 160; i++)); do grep -q "waiting for pairing approval" "$RUN/surf-plain.log" && break; sleep 0.25; done
  grep -q "waiting for pairing approval" "$RUN/surf-plain.log" \
    && pass "0: a node with only the gateway token is held for device approval (auto-approval is off)" \
    || fail "0: the plain node was not held pending (see $RUN/surf-plain.log)"
  stop_group "$NODE_PID"
}

# ---- (a) --pair, (b) --pair-if-needed, (c) a used code ---------------------------------------------------
story_abc() {
  local home="$RUN/a/home" code out mem stats pend0 pend1 rc i
  code=$(mint_code) || { fail "a: device.pair.setupCode gave no code (see $RUN/gw/cli.log)"; return; }
  pend0=$(($(count_pending device.pair.list) + $(count_pending node.pair.list)))
  rust_start surf-a "$home" -- --pair "$code"
  if ! find_node surf-a system.run 90; then
    fail "a: --pair did not connect with system.run without approvals (see $RUN/surf-a.log)"
    stop_group "$NODE_PID"
    return
  fi
  pass "a: --pair <code> (no --host/--port, no token) connected with system.run; no devices/nodes approve ($NODE_ID)"
  grep -q "auth: bootstrap-token" "$RUN/surf-a.log" && pass "a: hello-ok auth method bootstrap-token" \
    || fail "a: hello-ok was not a bootstrap-token auth ($(grep -o 'auth: [a-z-]*' "$RUN/surf-a.log" | head -n1))"
  out=$(invoke "$NODE_ID" system.which '{"bins":["sh"]}')
  ih which-path sh <<<"$out" >/dev/null 2>&1 && pass "a: system.which answers through the gateway" \
    || fail "a: system.which: $(tr '\n' ' ' <<<"$out" | cut -c1-300)"
  mem=$(python3 -c 'print(next(int(l.split()[1]) * 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal:")))')
  for ((i = 0; i < 40; i++)); do
    stats=$(host_stats "$NODE_ID")
    [[ "$stats" != null ]] && break
    sleep 0.5
  done
  if [[ "$(ih get memoryTotalBytes <<<"$stats" 2>/dev/null)" == "$mem" ]] \
    && [[ "$(ih get diskTotalBytes <<<"$stats" 2>/dev/null)" =~ ^[0-9]+$ ]]; then
    pass "a: host stats reached the gateway: node.describe hostStats $(cut -c1-200 <<<"$stats")"
  else
    fail "a: no hostStats with memoryTotalBytes=$mem on node.describe: $(cut -c1-300 <<<"$stats")"
  fi
  call node.list '{}' | python3 -c 'import json,sys; t=sys.stdin.read(); d=json.loads(t[t.find("{"):])
sys.exit(0 if any(n.get("nodeId") == sys.argv[1] and (n.get("hostStats") or {}).get("cpuCount") for n in d.get("nodes") or []) else 1)' \
    "$NODE_ID" && pass "a: node.list shows the hostStats too" || fail "a: node.list has no hostStats for $NODE_ID"
  pend1=$(($(count_pending device.pair.list) + $(count_pending node.pair.list)))
  ((pend1 <= pend0)) && pass "a: no pairing request was created ($pend1 pending)" || fail "a: pending requests $pend0 -> $pend1"
  stop_group "$NODE_PID"

  # The gateway keeps the name the device paired with.
  SHOWN=surf-a rust_start surf-b "$home" -- --pair-if-needed "$code"
  if find_node surf-a system.run 60; then
    grep -q "auth: device-token" "$RUN/surf-b.log" \
      && pass "b: --pair-if-needed <used code> reconnected with the stored device token (same node $NODE_ID)" \
      || fail "b: connected, but not with the device token ($(grep -o 'auth: [a-z-]*' "$RUN/surf-b.log" | head -n1))"
  else
    fail "b: --pair-if-needed did not reconnect (see $RUN/surf-b.log)"
  fi
  stop_group "$NODE_PID"

  rust_start surf-c "$home" -- --pair "$code"
  for ((i = 0; i < 240; i++)); do kill -0 "$NODE_PID" 2>/dev/null || break; sleep 0.25; done
  rc=0
  wait "$NODE_PID" 2>/dev/null || rc=$?
  unset "LIVE[$NODE_PID]"
  if [[ $rc == 1 ]] && grep -q "openclaw devices join-code" "$RUN/surf-c.log" \
    && grep -q "AUTH_BOOTSTRAP_TOKEN_INVALID" "$RUN/surf-c.log"; then
    pass "c: --pair <used code> exits 1 (AUTH_BOOTSTRAP_TOKEN_INVALID), naming 'openclaw devices join-code'"
  else
    fail "c: --pair <used code>: exit $rc, log: $(tail -c 300 "$RUN/surf-c.log" | tr '\n' ' ')"
  fi
}

# ---- (d) --commands system.which ------------------------------------------------------------------------
story_d() {
  local home="$RUN/d/home" code out
  code=$(mint_code) || { fail "d: no second setup code"; return; }
  rust_start surf-d "$home" -- --pair "$code" --commands system.which
  if ! find_node surf-d system.which 90; then
    fail "d: the --commands node did not connect (see $RUN/surf-d.log)"
    stop_group "$NODE_PID"
    return
  fi
  [[ "$NODE_CMDS" == system.which ]] && pass "d: node.list shows exactly [system.which]" \
    || fail "d: node.list commands: $NODE_CMDS"
  out=$(invoke "$NODE_ID" system.run '{"command":["/bin/echo","should-not-run"]}')
  if [[ "$out" != *should-not-run* ]] && grep -qi "not allowed\|not advertised\|allowlist" <<<"$out"; then
    pass "d: system.run to it is refused: $(grep -o 'node command not allowed[^}]*\|command not advertised[^}]*' <<<"$out" | head -n1 | tr -d '\\' | cut -c1-120)"
  else
    fail "d: system.run was not refused: $(tr '\n' ' ' <<<"$out" | cut -c1-300)"
  fi
  out=$(invoke "$NODE_ID" system.which '{"bins":["sh"]}')
  ih which-path sh <<<"$out" >/dev/null 2>&1 && pass "d: system.which answers" \
    || fail "d: system.which: $(tr '\n' ' ' <<<"$out" | cut -c1-300)"
  sleep 2
  out=$(host_stats "$NODE_ID")
  [[ "$out" == null ]] && pass "d: a --commands node publishes no host stats" || fail "d: host stats from a --commands node: $out"
  stop_group "$NODE_PID"
}

# ---- (e) openclaw connect <join URL> ---------------------------------------------------------------------
story_e() {
  local home="$RUN/e/home" url
  url=$(call device.pair.setupCode "{\"bootstrapProfile\":\"node\",\"publicUrl\":\"ws://127.0.0.1:$PORT\",\"includeQr\":false,\"joinUrl\":true}" \
    | ih get joinUrl) || { fail "e: device.pair.setupCode gave no joinUrl"; return; }
  mkdir -p "$RUN/e/bin" "$home"
  ln -sf "$NODE_BIN" "$RUN/e/bin/openclaw"
  start_group "$RUN/surf-e.log" "$home" RUST_LOG=info "$RUN/e/bin/openclaw" connect "$url" --display-name surf-e
  NODE_PID=$STARTED
  if find_node surf-e system.run 90; then
    pass "e: 'openclaw connect <join URL>' (drop-in name) fetched the code and connected with system.run ($url)"
  else
    fail "e: 'openclaw connect $url' did not connect (see $RUN/surf-e.log)"
  fi
  stop_group "$NODE_PID"
}

story_0 || true
story_abc || true
story_d || true
story_e || true
stop_group "$GW_PID"
echo "---- interop-surface summary (openclaw $OC_VERSION, $(basename "$NODE_BIN"))"
printf '%s\n' "${SUMMARY[@]}"
echo "$PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]]
