#!/usr/bin/env bash
# scripts/interop-mcp.sh — MCP servers and local inference on openclaw-node through the real openclaw@2026.9.6
# gateway (node-surface §9, §10, §21.2).
#
# A real 2026.9.6 gateway on loopback; openclaw-node with one stdio MCP server (`calc`, a few lines of Python
# written by this script) in its openclaw.json, and a fake Ollama on 127.0.0.1:11434 (the address TS fixes).
# Checks:
#   - the gateway lists the MCP tools: `node.describe` -> nodePluginTools holds calc_add with its mcp binding
#   - `node.invoke mcp.tools.call.v1` answers the object `payload` (payloadJSON null): 2 + 3 = 5
#   - `node.invoke ollama.models` lists the fake's local chat model; the fake saw TS's requests
#   - agent-side: the gateway's `tools.invoke` RPC (§21.2 item 1) runs the MCP tool calc_add on the node, and
#     the `node_inference` tool (action run) reaches the local model through ollama.chat
#
# USAGE  scripts/interop-mcp.sh [--node-bin PATH] [--keep]      (default: target/release/openclaw-node)
# Uses scripts/interop.sh --install-only for the cached Node 24 + openclaw 2026.9.6.
# ENVIRONMENT  INTEROP_PORT_MIN / INTEROP_PORT_MAX: loopback ports for the gateway (default: any free port).
#   The fake Ollama takes ${TMPDIR:-/tmp}/openclaw-bars-ollama-11434.lock (flock) while it holds port 11434,
#   as the tests and other tools that fake Ollama do.
# OUTPUT  PASS/FAIL lines, then "N passed, N failed"; exit 0 only when nothing failed.
set -euo pipefail

HARNESS=interop-mcp
# shellcheck source=scripts/lib/interop-harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/interop-harness.sh" "$@"
PYTHON=$(command -v /usr/bin/python3 || command -v python3)


# ---- the MCP server and the fake Ollama ----------------------------------------------------------------
cat >"$RUN/calc-server.py" <<'PY'
import json, sys
TOOLS = [{"name": "add", "description": "Add two numbers",
          "inputSchema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                          "required": ["a", "b"]}}]
for line in sys.stdin:
    msg = json.loads(line)
    rid, method, params = msg.get("id"), msg.get("method"), msg.get("params") or {}
    if rid is None:
        continue
    if method == "initialize":
        result = {"protocolVersion": params.get("protocolVersion"), "capabilities": {"tools": {}},
                  "serverInfo": {"name": "calc", "version": "1"}}
    elif method == "tools/list":
        result = {"tools": TOOLS}
    elif method == "tools/call":
        args = params.get("arguments") or {}
        result = {"content": [{"type": "text", "text": str(args.get("a", 0) + args.get("b", 0))}]}
    else:
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "nope"}}) + "\n")
        sys.stdout.flush()
        continue
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": rid, "result": result}) + "\n")
    sys.stdout.flush()
PY
cat >"$RUN/fake-ollama.py" <<'PY'
import fcntl, json, os, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
lock = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "openclaw-bars-ollama-11434.lock"), "a")
fcntl.flock(lock, fcntl.LOCK_EX)
LOG = sys.argv[1]
MODEL = {"name": "llama3.2:1b", "model": "llama3.2:1b", "modified_at": "2026-09-01T10:00:00Z", "size": 1321098329,
         "details": {"family": "llama", "parameter_size": "1.2B", "quantization_level": "Q8_0"}}
ROUTES = {
    "GET /api/tags": {"models": [MODEL, {"name": "nomic-embed-text:latest", "size": 274302450}]},
    "GET /api/ps": {"models": [{"name": "llama3.2:1b"}]},
    "POST /api/chat": {"model": "llama3.2:1b", "message": {"role": "assistant", "content": "pong from the fake ollama"},
                       "done": True, "done_reason": "stop", "total_duration": 98765432, "load_duration": 1234567,
                       "prompt_eval_count": 12, "eval_count": 5},
}
SHOW = {"llama3.2:1b": {"capabilities": ["completion", "tools"], "model_info": {"llama.context_length": 131072}},
        "nomic-embed-text:latest": {"capabilities": ["embedding"]}}
class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass
    def answer(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
        route = "%s %s" % (self.command, self.path)
        with open(LOG, "a") as f:
            f.write(json.dumps({"route": route, "body": body}) + "\n")
        data = SHOW.get(json.loads(body).get("model")) if route == "POST /api/show" else ROUTES.get(route)
        out = json.dumps(data if data is not None else {"error": "not found"}).encode()
        self.send_response(200 if data is not None else 404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    do_GET = do_POST = answer
for attempt in range(300):
    try:
        server = ThreadingHTTPServer(("127.0.0.1", 11434), Handler)
        break
    except OSError:
        time.sleep(0.2)
else:
    sys.exit("127.0.0.1:11434 stays taken")
print("fake ollama on 127.0.0.1:11434", flush=True)
server.serve_forever()
PY

# ---- gateway ------------------------------------------------------------------------------------------
gateway_home
cat >"$GW_HOME/.openclaw/openclaw.json" <<EOF
{ gateway: { mode: "local", bind: "loopback", port: $PORT, auth: { mode: "token", token: "$TOKEN" } } }
EOF
start_gateway

call() { oc gateway call "$1" --json --timeout 60000 --params "$2" 2>&1 || true; }

invoke() { node_invoke "$1" "$2" "$3" 30000; } # NODE_ID COMMAND PARAMS_JSON

# ---- the node -----------------------------------------------------------------------------------------
HOME_N="$RUN/node/home"
mkdir -p "$HOME_N/.openclaw"
cat >"$HOME_N/.openclaw/openclaw.json" <<EOF
{ nodeHost: { mcp: { servers: { calc: { command: "$PYTHON", args: ["$RUN/calc-server.py"] } } } } }
EOF
start_group "$RUN/ollama.log" "$RUN" "$PYTHON" "$RUN/fake-ollama.py" "$RUN/ollama-requests.jsonl"
OLLAMA_PID=$STARTED
for ((i = 0; i < 600; i++)); do grep -q 'fake ollama on' "$RUN/ollama.log" 2>/dev/null && break; sleep 0.1; done
grep -q 'fake ollama on' "$RUN/ollama.log" || fail "fake Ollama did not start (see $RUN/ollama.log)"
start_group "$RUN/node.log" "$HOME_N" OPENCLAW_GATEWAY_TOKEN="$TOKEN" RUST_LOG=info "$NODE_BIN" run \
  --host 127.0.0.1 --port "$PORT" --display-name mcp-node
NODE_PID=$STARTED

if ! connect_and_approve mcp-node 90 mcp.tools.call.v1; then
  fail "the node did not connect with mcp.tools.call.v1 approved (see $RUN/node.log)"
else
  pass "openclaw-node connected as $NODE_ID; surface approved with mcp.tools.call.v1 and ollama.*"
  # The catalog: published at once, accepted once the surface is approved (node.describe reads it).
  tools=""
  for ((i = 0; i < 60; i++)); do
    tools=$(call node.describe "{\"nodeId\":\"$NODE_ID\"}" | json_get nodePluginTools 2>/dev/null || true)
    [[ "$tools" == *calc_add* ]] && break
    sleep 0.5
  done
  if [[ "$tools" == *'"name": "calc_add"'* && "$tools" == *'"mcp": {"server": "calc", "tool": "add"}'* ]]; then
    pass "node.describe lists nodePluginTools: $(cut -c1-200 <<<"$tools")"
  else
    fail "node.describe has no calc_add in nodePluginTools: $(cut -c1-300 <<<"$tools")"
  fi

  out=$(invoke "$NODE_ID" mcp.tools.call.v1 '{"server":"calc","tool":"add","arguments":{"a":2,"b":3}}')
  if [[ "$(json_get payload.content.0.text <<<"$out" 2>/dev/null)" == 5 && "$(json_get payloadJSON <<<"$out")" == null ]]; then
    pass "node.invoke mcp.tools.call.v1 -> payload object $(json_get payload <<<"$out"), payloadJSON null"
  else
    fail "node.invoke mcp.tools.call.v1: $(tr '\n' ' ' <<<"$out" | cut -c1-400)"
  fi
  out=$(invoke "$NODE_ID" mcp.tools.call.v1 '{"server":"calc","tool":"nope"}')
  [[ "$out" == *MCP_TOOL_UNAVAILABLE* ]] && pass "an unknown tool: $(grep -o 'MCP_TOOL_UNAVAILABLE[^"]*' <<<"$out" | head -n1)" \
    || fail "an unknown tool did not give MCP_TOOL_UNAVAILABLE: $(tr '\n' ' ' <<<"$out" | cut -c1-300)"

  out=$(invoke "$NODE_ID" ollama.models '{}')
  if [[ "$(json_get payload.models.0.name <<<"$out" 2>/dev/null)" == llama3.2:1b && "$(json_get payload.models <<<"$out")" != *nomic* ]]; then
    pass "node.invoke ollama.models -> $(json_get payload.models <<<"$out" | cut -c1-200)"
  else
    fail "node.invoke ollama.models: $(tr '\n' ' ' <<<"$out" | cut -c1-400)"
  fi
  grep -q '"route": "POST /api/show", "body": "{\\"model\\":\\"llama3.2:1b\\"}"' "$RUN/ollama-requests.jsonl" \
    && pass "the fake Ollama saw /api/tags, /api/ps and /api/show {\"model\":\"llama3.2:1b\"}" \
    || fail "the fake Ollama's requests: $(cut -c1-300 "$RUN/ollama-requests.jsonl")"

  # Agent side: the gateway's own tools, run without an LLM.
  out=$(call tools.invoke '{"name":"calc_add","args":{"a":20,"b":22}}')
  if [[ "$(json_get ok <<<"$out" 2>/dev/null)" == true && "$out" == *42* ]]; then
    pass "tools.invoke calc_add (agent tool from the node's MCP catalog) -> 42"
  else
    fail "tools.invoke calc_add: $(tr '\n' ' ' <<<"$out" | cut -c1-400); gw.log: $(grep -o 'tools-invoke.*' "$RUN/gw/log" | tail -n1 | cut -c1-200)"
  fi
  out=$(call tools.invoke '{"name":"node_inference","args":{"action":"run","node":"mcp-node","model":"llama3.2:1b","prompt":"ping","maxTokens":16}}')
  if [[ "$(json_get ok <<<"$out" 2>/dev/null)" == true && "$out" == *"pong from the fake ollama"* ]]; then
    pass "tools.invoke node_inference run -> the node's local model answered"
  else
    fail "tools.invoke node_inference: $(tr '\n' ' ' <<<"$out" | cut -c1-400); gw.log: $(grep -o 'tools-invoke.*' "$RUN/gw/log" | tail -n1 | cut -c1-200)"
  fi
  chat=$(grep '/api/chat' "$RUN/ollama-requests.jsonl" | head -n1 | json_get body 2>/dev/null || true)
  [[ "$chat" == '{"model":"llama3.2:1b","messages":[{"role":"user","content":"ping"}],"stream":false,"think":false,"options":{"num_predict":16}}' ]] \
    && pass "/api/chat body as TS sends it: $chat" || fail "/api/chat body: $chat"
fi
stop_group "$NODE_PID"
stop_group "$OLLAMA_PID"
pgrep -f "$RUN/calc-server.py" >/dev/null && fail "the MCP server outlived the node" || pass "the MCP server stopped with the node"
stop_group "$GW_PID"
echo "---- interop-mcp summary (openclaw $OC_VERSION, $(basename "$NODE_BIN"))"
printf '%s\n' "${SUMMARY[@]}"
echo "$PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]]
