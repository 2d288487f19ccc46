#!/usr/bin/env bash
# Runs every libFuzzer binary in BUILD_DIR/fuzz on a copy of its seed corpus for SECONDS.
# Usage: scripts/run-fuzzers.sh BUILD_DIR SECONDS
set -euo pipefail
build="$(cd "$1" && pwd)"; secs="${2:-20}"
root="$(cd "$(dirname "$0")/.." && pwd)"
shopt -s nullglob
status=0
for bin in "$build"/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name="$(basename "$bin")"
  seeds="$root/fuzz/corpus/${name#fuzz_}"
  work="$(mktemp -d)"
  if [ -d "$seeds" ]; then cp -r "$seeds"/. "$work"/; fi
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
    status=1
  else
    grep -E 'stat::number_of_executed_units' "$work/log.txt" || true
  fi
  rm -rf "$work"
done
exit $status
