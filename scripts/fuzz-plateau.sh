#!/usr/bin/env bash
# Runs fuzz targets one at a time until their coverage stops growing, then prints one table row
# per target: how long it ran, how many inputs it executed, libFuzzer's final cov/ft, and how long
# before the end coverage last grew. Developer tooling for "fuzz until it plateaus"; CI runs the
# short scripts/fuzz-smoke.sh instead. Needs the nightly toolchain and cargo-fuzz.
#
#   scripts/fuzz-plateau.sh                          # every target
#   PLATEAU_SECONDS=90 MAX_SECONDS=360 scripts/fuzz-plateau.sh inbound_frame node_json
#
# A target stops when `cov:` in libFuzzer's status lines has not grown for PLATEAU_SECONDS
# (default 120; the end of loading the corpus counts as growth) or after MAX_SECONDS (default
# 600). It is stopped with SIGINT, so libFuzzer prints its final stats. Coverage is polled every
# POLL_SECONDS (default 5), which is the resolution of the "since growth" column.
#
# Unlike fuzz-smoke.sh this fuzzes fuzz/corpus/<target> IN PLACE: new inputs land in the kept
# corpus, which should be minimised before committing (see fuzz/README.md). One fuzzing job at a
# time, no -jobs/-workers. Exits non-zero on any crash, printing the panic and the input's path
# (copied to fuzz/artifacts/<target>/).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

plateau_seconds="${PLATEAU_SECONDS:-120}"
max_seconds="${MAX_SECONDS:-600}"
poll_seconds="${POLL_SECONDS:-5}"
toolchain="${FUZZ_TOOLCHAIN:-nightly}"

if (($#)); then
  targets=("$@")
else
  mapfile -t targets < <(cargo "+$toolchain" fuzz list)
fi

scratch="$(mktemp -d)"
fuzzer_pid=""
cleanup() {
  # Interrupting the script also stops the fuzzer's process group (cargo-fuzz and the target).
  if [[ -n "$fuzzer_pid" ]]; then kill -INT -- "-$fuzzer_pid" 2>/dev/null || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT
# Files the targets write (state files, approvals documents) go here, not to /dev/shm.
export OPENCLAW_FUZZ_SCRATCH="$scratch/files"
mkdir -p "$OPENCLAW_FUZZ_SCRATCH"

echo "fuzz-plateau: building ${#targets[@]} targets (plateau ${plateau_seconds}s, max ${max_seconds}s)" >&2
cargo "+$toolchain" fuzz build

# The last value of a field ("cov:", "ft:", "corp:") in libFuzzer's status lines.
last_field() { { grep -o "$1 [^ ]*" "$2" || true; } | tail -1 | cut -d' ' -f2; }

crashed=()
printf '%-20s %7s %11s %6s %7s %-12s %7s  %s\n' \
  target seconds execs cov ft corpus growth result
for target in "${targets[@]}"; do
  corpus="corpus/$target"
  log="$scratch/$target.log"
  mkdir -p "$corpus"
  # setsid: the run gets its own process group, so SIGINT reaches cargo-fuzz and the target alike.
  setsid cargo "+$toolchain" fuzz run "$target" "$corpus" -- \
    -dict=json.dict -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$scratch/" >"$log" 2>&1 &
  fuzzer_pid=$!
  start=$SECONDS
  last_growth=$start
  cov=0
  result=""
  while kill -0 "$fuzzer_pid" 2>/dev/null; do
    sleep "$poll_seconds"
    now_cov="$(last_field cov: "$log")"
    if [[ -n "$now_cov" ]] && ((now_cov > cov)); then
      cov=$now_cov
      last_growth=$SECONDS
    fi
    if ! grep -q INITED "$log"; then
      last_growth=$SECONDS # still loading the corpus
      continue
    fi
    if ((SECONDS - last_growth >= plateau_seconds)); then
      result=plateau
    elif ((SECONDS - start >= max_seconds)); then
      result="cut at max"
    else
      continue
    fi
    kill -INT -- "-$fuzzer_pid" 2>/dev/null || true
    break
  done
  wait "$fuzzer_pid" || true # cargo-fuzz reports the interrupt (libFuzzer exits 72) as an error
  fuzzer_pid=""
  end=$SECONDS

  shopt -s nullglob
  artifacts=("$scratch"/crash-* "$scratch"/oom-* "$scratch"/timeout-* "$scratch"/leak-*)
  shopt -u nullglob
  if [[ -z "$result" ]] || ! grep -q "run interrupted" "$log" || ((${#artifacts[@]})); then
    echo "fuzz-plateau: $target FAILED (a crash, or libFuzzer stopped on its own) after $((end - start))s" >&2
    grep -E -A12 "panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer|SUMMARY" "$log" | head -60 >&2 ||
      tail -40 "$log" >&2
    for artifact in "${artifacts[@]}"; do
      mkdir -p "artifacts/$target"
      mv "$artifact" "artifacts/$target/"
      echo "fuzz-plateau: input kept as fuzz/artifacts/$target/$(basename "$artifact")" >&2
    done
    crashed+=("$target")
    continue
  fi

  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  printf '%-20s %7s %11s %6s %7s %-12s %7s  %s\n' "$target" "$((end - start))" "${execs:-?}" \
    "$cov" "$(last_field ft: "$log")" "$(last_field corp: "$log")" "$((end - last_growth))" "$result"
done

if ((${#crashed[@]})); then
  echo "fuzz-plateau: crashing targets: ${crashed[*]}" >&2
  exit 1
fi
