#!/usr/bin/env bash
# The test suite of the Windows build, under Wine: `cargo test --target x86_64-pc-windows-gnu`
# with Wine as the target's runner, so every unit and integration test that is not Unix-only
# (README "Windows": what Wine cannot run, and why) runs as a Windows program.
#
# Usage: scripts/wine-test.sh [cargo test args...]   e.g. scripts/wine-test.sh --test windows
# Needs what scripts/wine-env.sh lists. Exit status: cargo's (101 when a test failed).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/wine-env.sh
echo "wine-test: $(wine --version), prefix $WINEPREFIX"
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine
rc=0
cargo test --target x86_64-pc-windows-gnu "$@" || rc=$?
# Only this prefix's wineserver (and the Wine services it started) is ended.
wineserver -k || true
exit "$rc"
