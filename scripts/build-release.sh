#!/usr/bin/env bash
# scripts/build-release.sh — build the static release binaries into dist/ and print their sizes.
#
# Targets (the release profile of Cargo.toml: fat LTO, one codegen unit, stripped):
#   x86_64-unknown-linux-musl    always. ring's C and assembly parts are compiled with the host's gcc
#                                (CC_x86_64_unknown_linux_musl=gcc); the result is a static-pie binary.
#   aarch64-unknown-linux-musl   when the cross compiler aarch64-linux-gnu-gcc is installed (Debian:
#                                `apt-get install gcc-aarch64-linux-gnu`); it compiles ring and links.
# A missing Rust target is added with `rustup target add` first.
#
# USAGE
#   scripts/build-release.sh [--target TRIPLE]...   default: both targets above (aarch64 only when possible)
#
# OUTPUT: dist/openclaw-node-<version>-<arch>-linux-musl (executable), dist/SHA256SUMS, and a table of
# sizes on stdout. dist/ is in .gitignore.
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
    say "aarch64-linux-gnu-gcc not found: skipping aarch64-unknown-linux-musl (apt-get install gcc-aarch64-linux-gnu)"
  fi
fi

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
[[ -n "$version" ]] || die "no version in Cargo.toml"
command -v cargo >/dev/null || die "cargo not found"

# build_env TRIPLE: the C compiler and linker a target needs, as NAME=VALUE words.
build_env() {
  case $1 in
    x86_64-unknown-linux-musl)
      command -v gcc >/dev/null || die "gcc not found (ring compiles C for musl with it): apt-get install gcc"
      echo "CC_x86_64_unknown_linux_musl=gcc" ;;
    aarch64-unknown-linux-musl)
      command -v aarch64-linux-gnu-gcc >/dev/null || die "aarch64-linux-gnu-gcc not found: apt-get install gcc-aarch64-linux-gnu"
      echo "CC_aarch64_unknown_linux_musl=aarch64-linux-gnu-gcc"
      echo "AR_aarch64_unknown_linux_musl=aarch64-linux-gnu-ar"
      echo "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=aarch64-linux-gnu-gcc" ;;
    *) die "unsupported target $1 (x86_64-unknown-linux-musl, aarch64-unknown-linux-musl)" ;;
  esac
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
  out="dist/openclaw-node-$version-$arch-linux-musl"
  cp "target/$triple/release/openclaw-node" "$out"
  chmod 0755 "$out"
  built+=("$out")
done

(cd dist && sha256sum "${built[@]#dist/}" >SHA256SUMS)
printf '\n%-44s %12s %9s  %s\n' "binary" "bytes" "MB" "kind"
for f in "${built[@]}"; do
  bytes=$(stat -c %s "$f")
  kind=$(file -b "$f" 2>/dev/null | cut -d, -f1-2 || echo "?")
  printf '%-44s %12d %9.2f  %s\n' "$f" "$bytes" "$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1e6 }')" "$kind"
done
echo "checksums: dist/SHA256SUMS"
