#!/usr/bin/env bash
# scripts/build-release.sh — build the static release binaries into dist/ and print their sizes.
#
# Targets (the release profile of Cargo.toml: fat LTO, one codegen unit, stripped):
#   x86_64-unknown-linux-musl    always. ring's C and assembly parts are compiled with the host's gcc
#                                (CC_x86_64_unknown_linux_musl=gcc); the result is a static-pie binary.
#   aarch64-unknown-linux-musl   when the cross compiler aarch64-linux-gnu-gcc is installed (Debian:
#                                `apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross`: the
#                                second has the libc headers ring's C code includes, which
#                                --no-install-recommends leaves out); it compiles ring and links.
#   x86_64-pc-windows-gnu        when the mingw-w64 compiler x86_64-w64-mingw32-gcc is installed (Debian:
#                                `apt-get install gcc-mingw-w64-x86-64`), with a static CRT (+crt-static:
#                                libgcc and winpthread linked in), so the .exe needs only system DLLs.
# A missing Rust target is added with `rustup target add` first.
#
# USAGE
#   scripts/build-release.sh [--target TRIPLE]...   default: both targets above (aarch64 only when possible)
#
# OUTPUT: dist/openclaw-node-<version>-<arch>-linux-musl (executable),
# dist/openclaw-node-<version>-x86_64-windows.exe, dist/SHA256SUMS (regenerated
# from every openclaw-node-* binary in dist/, so building one target keeps the other's line),
# dist/INSTALL.txt (copy, verify, run, install as a service), and a table of sizes on stdout.
# dist/ is in .gitignore.
#
# ENVIRONMENT
#   OPENCLAW_NODE_COMMIT   the commit that `--version` names (default: `git rev-parse --short=12 HEAD`,
#                          with -dirty when tracked files differ, as build.rs does)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

die() { echo "build-release: error: $*" >&2; exit 2; }
say() { echo "build-release: $*" >&2; }

targets=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --target) targets+=("${2:?--target TRIPLE}"); shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
if [[ ${#targets[@]} == 0 ]]; then
  targets=(x86_64-unknown-linux-musl)
  if command -v aarch64-linux-gnu-gcc >/dev/null 2>&1; then
    targets+=(aarch64-unknown-linux-musl)
  else
    say "aarch64-linux-gnu-gcc not found: skipping aarch64-unknown-linux-musl (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross)"
  fi
  if command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1; then
    targets+=(x86_64-pc-windows-gnu)
  else
    say "x86_64-w64-mingw32-gcc not found: skipping x86_64-pc-windows-gnu (apt-get install gcc-mingw-w64-x86-64)"
  fi
fi

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
[[ -n "$version" ]] || die "no version in Cargo.toml"
command -v cargo >/dev/null || die "cargo not found"

# The commit that every binary of this run names in `--version` (build.rs reads OPENCLAW_NODE_COMMIT).
if [[ -z "${OPENCLAW_NODE_COMMIT:-}" ]] && commit=$(git rev-parse --short=12 HEAD 2>/dev/null); then
  [[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]] || commit+="-dirty"
  OPENCLAW_NODE_COMMIT=$commit
fi
export OPENCLAW_NODE_COMMIT=${OPENCLAW_NODE_COMMIT:-}

# build_env TRIPLE: the C compiler and linker a target needs, as NAME=VALUE words.
build_env() {
  case $1 in
    x86_64-unknown-linux-musl)
      command -v gcc >/dev/null || die "gcc not found (ring compiles C for musl with it): apt-get install gcc"
      echo "CC_x86_64_unknown_linux_musl=gcc" ;;
    aarch64-unknown-linux-musl)
      command -v aarch64-linux-gnu-gcc >/dev/null || die "aarch64-linux-gnu-gcc not found: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
      # without them ring fails on bits/libc-header-start.h
      [[ -f /usr/aarch64-linux-gnu/include/stdio.h ]] || die "the aarch64 libc headers are missing: apt-get install libc6-dev-arm64-cross"
      echo "CC_aarch64_unknown_linux_musl=aarch64-linux-gnu-gcc"
      echo "AR_aarch64_unknown_linux_musl=aarch64-linux-gnu-ar"
      echo "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=aarch64-linux-gnu-gcc" ;;
    x86_64-pc-windows-gnu)
      command -v x86_64-w64-mingw32-gcc >/dev/null || die "x86_64-w64-mingw32-gcc not found: apt-get install gcc-mingw-w64-x86-64"
      echo "CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUSTFLAGS=-C target-feature=+crt-static" ;;
    *) die "unsupported target $1 (x86_64-unknown-linux-musl, aarch64-unknown-linux-musl, x86_64-pc-windows-gnu)" ;;
  esac
}

# write_install_txt: dist/INSTALL.txt, for whoever receives the files.
write_install_txt() {
  local f name arch list="" example="" commit=${OPENCLAW_NODE_COMMIT:-unknown}
  for f in dist/openclaw-node-*; do
    [[ -f "$f" ]] || continue
    name=${f#dist/}
    if [[ $name == *-windows.exe ]]; then
      list+=$(printf '  %-44s Windows 10+ x86_64 (README "Windows"): no runtime to install' "$name")$'\n'
      continue
    fi
    arch=${name%-linux-musl}
    arch=${arch##*-}
    list+=$(printf '  %-44s Linux %s, static (musl): no shared libraries, no Node.js' "$name" "$arch")$'\n'
    [[ -n "$example" && $arch != x86_64 ]] || example=$name
  done
  cat >dist/INSTALL.txt <<EOF
openclaw-node $version (commit $commit): static Linux binaries

Files
${list}  SHA256SUMS                                   their SHA-256 checksums
  INSTALL.txt                                  this file

1. Copy the binary for the machine's architecture (\`uname -m\`: x86_64, or aarch64 for arm64)
   and SHA256SUMS to the machine.

2. Verify it, in the folder you copied them to:

     sha256sum -c SHA256SUMS                   # all files present: each line says OK
     sha256sum -c --ignore-missing SHA256SUMS  # only one binary copied

3. Install it and check what it is:

     sudo install -m 0755 $example /usr/local/bin/openclaw-node
     openclaw-node --version    # openclaw-node $version (commit $commit)

4. Run it in the foreground against a gateway (logs go to stderr; Ctrl-C stops it):

     OPENCLAW_GATEWAY_TOKEN=<gateway token> openclaw-node run --host <gateway-host> --port 18789

   Then, on the gateway host: \`openclaw devices approve <requestId>\` if the node says it waits
   for device pairing (loopback is approved by itself); \`openclaw nodes pending\` and
   \`openclaw nodes approve <requestId>\` for its commands.

5. Or install it as a service of the user it should run as (a systemd user unit, restarted after
   a failure; the token goes to a 0600 file that the service reads, never into the unit):

     OPENCLAW_GATEWAY_TOKEN=<gateway token> openclaw-node install --host <gateway-host> --port 18789
     openclaw-node status
     journalctl --user -u openclaw-node     # its log
     sudo loginctl enable-linger "\$USER"    # keep it running after logout

   \`install\` refuses root: as root, \`openclaw-node install --print <options>\` prints a system
   unit to save as /etc/systemd/system/openclaw-node.service. Without systemd, \`install --print\`
   prints a start script for your own supervisor. \`openclaw-node stop | start | restart |
   uninstall\` manage the service; README.md, section "Service", says more.
EOF
}

mkdir -p dist
built=()
for triple in "${targets[@]}"; do
  mapfile -t envs < <(build_env "$triple")
  if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$triple"; then
    say "rustup target add $triple"
    rustup target add "$triple" >&2
  fi
  say "cargo build --release --locked --target $triple"
  env "${envs[@]}" cargo build --release --locked --target "$triple" --bin openclaw-node >&2
  arch=${triple%%-*}
  if [[ $triple == *-windows-* ]]; then
    out="dist/openclaw-node-$version-$arch-windows.exe"
    cp "target/$triple/release/openclaw-node.exe" "$out"
  else
    out="dist/openclaw-node-$version-$arch-linux-musl"
    cp "target/$triple/release/openclaw-node" "$out"
  fi
  chmod 0755 "$out"
  built+=("$out")
done

# SHA256SUMS from every binary in dist/, not only this run's: building one target must not drop
# the other's line.
(cd dist && shopt -s nullglob && bins=(openclaw-node-*) && sha256sum "${bins[@]}" >SHA256SUMS.tmp &&
  mv SHA256SUMS.tmp SHA256SUMS)
write_install_txt
printf '\n%-44s %12s %9s  %s\n' "binary" "bytes" "MB" "kind"
for f in "${built[@]}"; do
  bytes=$(stat -c %s "$f")
  kind=$(file -b "$f" 2>/dev/null | cut -d, -f1-2 || echo "?")
  printf '%-44s %12d %9.2f  %s\n' "$f" "$bytes" "$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1e6 }')" "$kind"
done
echo "checksums: dist/SHA256SUMS ($(wc -l <dist/SHA256SUMS) binaries); how to install: dist/INSTALL.txt"
