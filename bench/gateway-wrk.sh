#!/usr/bin/env bash
# Load test of one gateway node with wrk: audited reads (GET /v1/subjects/{id}, 10 fields,
# every read decided, transformed and logged durably before the response) against /healthz
# of the same server in the same run, then the latency of each at 70% of its own measured
# peak: /healthz's is the latency floor of this set-up (wrk sharing the cores with the node),
# measured in the same run as the audited figure. Usage: bench/gateway-wrk.sh [BUILD_DIR] [SECONDS]
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
# Latency at ~70% of a peak: every connection waits 10 ms after each response (wrk's
# delay()), so N connections offer about N / (10 ms + latency) requests/s; N is chosen for
# 70% of the peak and scaled once by the rate the first run reached (latency under load
# exceeds the guess). Prints the second run's line, then its req/s alone.
paced() {  # paced NAME PEAK LUA URL
  local name="$1" peak="$2" lua="$3" url="$4" conns rate
  conns=$(awk -v a="$peak" 'BEGIN {c = int(0.7 * a * 0.0115 + 0.5); if (c < 2) c = 2; print c}')
  rate=$(run "$name" "$conns" -s "$lua" "$url" | tail -1)
  conns=$(awk -v a="$peak" -v p="$rate" -v c="$conns" -v m="$(($(ulimit -n) - 64))" \
    'BEGIN {c = int(c * 0.7 * a / p + 0.5); print (c > m ? m : c)}')  # wrk needs a descriptor each
  run "$name" "$conns" -s "$lua" "$url"
}
sed 's/^local n = 0$/function delay() return 10 end\nlocal n = 0/' "$tmp/read.lua" >"$tmp/paced.lua"
printf 'function delay() return 10 end\n%s\n' "$wrk_done_lua" >"$tmp/healthz-paced.lua"
paced=$(paced audited-read-paced "$audited" "$tmp/paced.lua" "http://127.0.0.1:$port" |
  tee /dev/stderr | tail -1)
health_paced=$(paced healthz-paced "$health" "$tmp/healthz-paced.lua" \
  "http://127.0.0.1:$port/healthz" | tee /dev/stderr | tail -1)
awk -v a="$audited" -v h="$health" -v p="$paced" -v q="$health_paced" 'BEGIN {
  printf "audited reads / healthz = %.2f; paced runs at %.0f%% (audited) and %.0f%% (healthz) of their peaks\n",
    a / h, 100 * p / a, 100 * q / h }'
size=$(curl -s "http://127.0.0.1:$port/readyz")
echo "node after the run: $size"
