#!/usr/bin/env bash
# A short run of every fuzz target over its kept corpus (fuzz/corpus/<target>), failing on any
# crash. Installs cargo-fuzz when missing; needs the nightly toolchain (`rustup toolchain list`).
#
#   scripts/fuzz-smoke.sh                 # every target, 20 s each
#   FUZZ_SECONDS=60 scripts/fuzz-smoke.sh inbound_frame node_json
#
# New inputs found during the run go to a scratch copy of the corpus, so the kept corpus in
# the repository only changes when someone minimises and commits it (see fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${FUZZ_SECONDS:-20}"
toolchain="${FUZZ_TOOLCHAIN:-nightly}"

if ! cargo "+$toolchain" --version >/dev/null 2>&1; then
  echo "fuzz-smoke: the $toolchain toolchain is not installed (rustup toolchain install $toolchain)" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz-smoke: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

if (($#)); then
  targets=("$@")
else
  mapfile -t targets < <(cargo "+$toolchain" fuzz list)
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
# Files the targets write (state files, approvals documents) go here, not to /dev/shm.
export OPENCLAW_FUZZ_SCRATCH="$scratch/files"
mkdir -p "$OPENCLAW_FUZZ_SCRATCH"

echo "fuzz-smoke: building ${#targets[@]} targets"
cargo "+$toolchain" fuzz build

passed=0
failed=()
for target in "${targets[@]}"; do
  corpus="$scratch/corpus/$target"
  mkdir -p "$corpus"
  if [[ -d "corpus/$target" ]]; then
    cp -R "corpus/$target/." "$corpus/"
  fi
  log="$scratch/$target.log"
  printf 'fuzz-smoke: %-20s %3ss over %s inputs ... ' "$target" "$seconds" "$(ls "$corpus" | wc -l)"
  if cargo "+$toolchain" fuzz run "$target" "$corpus" -- \
      -max_total_time="$seconds" -dict=json.dict -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 -artifact_prefix="$scratch/" >"$log" 2>&1; then
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    echo "ok (${execs:-?} execs)"
    passed=$((passed + 1))
  else
    echo "FAILED"
    failed+=("$target")
    # The panic message and the reproducer, then the input itself (hex) for a regression test.
    grep -E -A12 "panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer|SUMMARY" "$log" | head -60 >&2 || tail -40 "$log" >&2
    for artifact in "$scratch"/crash-* "$scratch"/oom-* "$scratch"/timeout-*; do
      [[ -e "$artifact" ]] || continue
      mkdir -p artifacts/"$target"
      cp "$artifact" artifacts/"$target"/
      echo "fuzz-smoke: input kept as fuzz/artifacts/$target/$(basename "$artifact"):" >&2
      od -A d -c "$artifact" | head -20 >&2
      rm -f "$artifact"
    done
  fi
done

echo "fuzz-smoke: ${passed} passed, ${#failed[@]} failed"
if ((${#failed[@]})); then
  echo "fuzz-smoke: crashing targets: ${failed[*]}" >&2
  exit 1
fi
