#!/usr/bin/env bash
# Load test of one gateway node with wrk: audited reads (GET /v1/subjects/{id}, 10 fields,
# every read decided, transformed and logged durably before the response) against /healthz
# of the same server in the same run, then the latency of audited reads at 70% of the
# measured peak. Usage: bench/gateway-wrk.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/release}"
secs="${2:-10}"
# shellcheck source=bench/gateway-common.sh
. "$root/bench/gateway-common.sh"
gateway_bench_node "$build"

run() {  # run NAME CONNECTIONS ARGS...: prints the run's line, then its req/s alone
  local name="$1" conns="$2"; shift 2
  local t0 t1; t0=$(cpu_ticks)
  wrk -t2 -c"$conns" -d"${secs}s" --latency "$@" >"$tmp/$name.txt"
  t1=$(cpu_ticks)
  wrk_report "$name (c=$conns)" "$tmp/$name.txt" $((t1 - t0))
  wrk_rps "$tmp/$name.txt"
}
echo "== gateway load test, ${secs}s per run, 2 wrk threads, server on the same 2-core machine"
health=$(run healthz 128 "http://127.0.0.1:$port/healthz" | tee /dev/stderr | tail -1)
audited=$(run audited-read 256 -s "$tmp/read.lua" "http://127.0.0.1:$port" | tee /dev/stderr | tail -1)
# Latency at ~70% of the peak: every connection waits 10 ms after each response (wrk's
# delay()), so N connections offer about N / (10 ms + latency) requests/s; N is chosen for
# 70% of the measured peak and the rate actually reached is printed next to it.
sed 's/^local n = 0$/function delay() return 10 end\nlocal n = 0/' "$tmp/read.lua" >"$tmp/paced.lua"
conns=$(awk -v a="$audited" 'BEGIN {c = int(0.7 * a * 0.0115 + 0.5); if (c < 2) c = 2; print c}')
paced=$(run audited-read-paced "$conns" -s "$tmp/paced.lua" "http://127.0.0.1:$port" | tail -1)
# Latency under load exceeds the guess: scale the connections once by what was reached.
conns=$(awk -v a="$audited" -v p="$paced" -v c="$conns" 'BEGIN {print int(c * 0.7 * a / p + 0.5)}')
paced=$(run audited-read-paced "$conns" -s "$tmp/paced.lua" "http://127.0.0.1:$port" | tee /dev/stderr | tail -1)
awk -v a="$audited" -v h="$health" -v p="$paced" 'BEGIN {
  printf "audited reads / healthz = %.2f; paced run at %.0f%% of the audited peak\n", a / h, 100 * p / a }'
size=$(curl -s "http://127.0.0.1:$port/readyz")
echo "node after the run: $size"
