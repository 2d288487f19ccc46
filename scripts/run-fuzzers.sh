#!/usr/bin/env bash
# Runs every libFuzzer binary in BUILD_DIR/fuzz on a copy of its seed corpus for SECONDS.
# Usage: scripts/run-fuzzers.sh BUILD_DIR SECONDS
# FUZZ_JOBS fuzzers run at once (default: the number of cores): a libFuzzer run uses one
# core for its whole -max_total_time, so one at a time left the other core of CI's two
# idle for the whole stage (26 fuzzers x 5 s: 130 s, 65 s two at a time). Each one still
# runs SECONDS on its own corpus copy.
set -euo pipefail
build="$(cd "$1" && pwd)"; secs="${2:-20}"
jobs="${FUZZ_JOBS:-$(nproc)}"
root="$(cd "$(dirname "$0")/.." && pwd)"
shopt -s nullglob
results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT

# run_one BIN: its report goes to $results/NAME.out, its failure to $results/NAME.failed.
run_one() {
  local bin="$1" name seeds work
  name="$(basename "$bin")"
  seeds="$root/fuzz/corpus/${name#fuzz_}"
  work="$(mktemp -d)"
  if [ -d "$seeds" ]; then cp -r "$seeds"/. "$work"/; fi
  {
    echo "fuzz: $name for ${secs}s"
    if ! (cd "$work" && ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$secs" -rss_limit_mb=2048 \
          -print_final_stats=1 "$work" 2>"$work/log.txt"); then
      # On stdout too: CI shows stdout. The reproducer is kept under build/.
      mkdir -p "$build/fuzz-failures"
      cp "$work"/crash-* "$work"/leak-* "$work"/oom-* "$work"/timeout-* "$build/fuzz-failures/" 2>/dev/null || true
      echo "fuzz: $name FAILED (reproducers in $build/fuzz-failures)"; tail -40 "$work/log.txt"
      for f in "$work"/crash-* "$work"/leak-* "$work"/oom-* "$work"/timeout-*; do
        [ -f "$f" ] && { echo "input $(basename "$f") (base64):"; head -c 4096 "$f" | base64; }
      done
      touch "$results/$name.failed"
    else
      grep -E 'stat::number_of_executed_units' "$work/log.txt" || true
    fi
  } >"$results/$name.out" 2>&1
  rm -rf "$work"
}

names=()
for bin in "$build"/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run_one "$bin" &
  names+=("$(basename "$bin")")
done
wait

status=0
for name in "${names[@]}"; do
  if [ -f "$results/$name.out" ]; then cat "$results/$name.out"; else echo "fuzz: $name produced no report"; status=1; fi
  if [ -f "$results/$name.failed" ]; then status=1; fi
done
exit $status
