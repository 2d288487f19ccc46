#!/usr/bin/env bash
# Runs every benchmark binary in BUILD_DIR/bench. Usage: scripts/run-benchmarks.sh BUILD_DIR
set -euo pipefail
build="$1"
shopt -s nullglob
for bin in "$build"/bench/bench_*; do
  [ -x "$bin" ] || continue
  echo "== $(basename "$bin")"
  "$bin"
done
root="$(cd "$(dirname "$0")/.." && pwd)"
for script in gateway-wrk.sh gateway-writes.sh audit-keepup.sh migrate.sh region-throughput.sh \
  region-failover.sh; do
  echo "== bench/$script"
  "$root/bench/$script" "$build"
done
