#!/usr/bin/env bash
# Load test of one gateway node with wrk: audited reads (GET /v1/subjects/{id}, 10 fields,
# every read decided, transformed and logged durably before the response) against /healthz
# of the same server in the same run, then the latency of audited reads at 70% of the
# measured peak. Usage: bench/gateway-wrk.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/release}"
secs="${2:-10}"
clover="$build/src/cli/clover"
command -v wrk >/dev/null || { echo "wrk is missing: run scripts/bootstrap.sh" >&2; exit 1; }
tmp="$(mktemp -d)"
port=$((20000 + RANDOM % 20000))
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

# shellcheck source=bench/gateway-common.sh
. "$root/bench/gateway-common.sh"
gateway_start log.eu.clover.example/bench "$root/examples/policy.yaml"
gateway_seed 1000

run() {  # run NAME CONNECTIONS ARGS...
  local name="$1" conns="$2"; shift 2
  wrk -t2 -c"$conns" -d"${secs}s" --latency "$@" >"$tmp/$name.txt"
  local rps; rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/$name.txt")
  local p50 p99; p50=$(awk '$1=="50%" {print $2}' "$tmp/$name.txt"); p99=$(awk '$1=="99%" {print $2}' "$tmp/$name.txt")
  local errs; errs=$(awk '/non-2xx/ {print $2}' "$tmp/$name.txt")
  printf '%-34s %10s req/s   p50 %-8s p99 %-8s non-2xx %s\n' "$name (c=$conns)" "$rps" "$p50" "$p99" "${errs:-0}"
  echo "$rps"
}
echo "== gateway load test, ${secs}s per run, 2 wrk threads, server on the same 2-core machine"
health=$(run healthz 128 "http://127.0.0.1:$port/healthz" | tee /dev/stderr | tail -1)
audited=$(run audited-read 256 -s "$tmp/read.lua" "http://127.0.0.1:$port" | tee /dev/stderr | tail -1)
# Fewer connections offer less load: the closed-loop equivalent of ~70% of peak.
run audited-read-light 8 -s "$tmp/read.lua" "http://127.0.0.1:$port" >/dev/stderr
awk -v a="$audited" -v h="$health" 'BEGIN {printf "audited reads / healthz = %.2f\n", a / h}'
size=$(curl -s "http://127.0.0.1:$port/readyz")
echo "node after the run: $size"
