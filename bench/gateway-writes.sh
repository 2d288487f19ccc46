#!/usr/bin/env bash
# Writes against one gateway node with wrk: audited reads alone (the baseline of the same
# run), PUT /v1/subjects/{id} alone (each write decided, stored with a synced vault WAL and
# logged durably before the response), then reads and writes at once, which shows whether
# writes waiting for the disk hold up the reads beside them.
# Usage: bench/gateway-writes.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/release}"
secs="${2:-8}"
# shellcheck source=bench/gateway-common.sh
. "$root/bench/gateway-common.sh"
gateway_bench_node "$build"
gateway_put_lua "$tmp/put.lua"

alone() {  # alone NAME SCRIPT
  local t0 t1; t0=$(cpu_ticks)
  wrk -t2 -c64 -d"${secs}s" --latency -s "$2" "http://127.0.0.1:$port" >"$tmp/$1.txt"
  t1=$(cpu_ticks)
  wrk_report "$1 (c=64)" "$tmp/$1.txt" $((t1 - t0))
}
echo "== gateway writes, ${secs}s per run, wrk on the same 2-core machine"
alone reads-alone "$tmp/read.lua"
alone writes-alone "$tmp/put.lua"
wrk -t1 -c64 -d"${secs}s" --latency -s "$tmp/put.lua" "http://127.0.0.1:$port" >"$tmp/w.txt" &
writer=$!
wrk -t1 -c64 -d"${secs}s" --latency -s "$tmp/read.lua" "http://127.0.0.1:$port" >"$tmp/r.txt"
wait "$writer"
wrk_report "reads beside writes (c=64)" "$tmp/r.txt"
wrk_report "writes beside reads (c=64)" "$tmp/w.txt"
awk -v a="$(wrk_rps "$tmp/reads-alone.txt")" -v m="$(wrk_rps "$tmp/r.txt")" \
  'BEGIN {printf "reads beside writes / reads alone = %.2f\n", m / a}'
