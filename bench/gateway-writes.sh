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
gateway_bench_env "$build"
gateway_start log.eu.clover.example/bench "$root/examples/policy.yaml"
gateway_seed 1000
cat >"$tmp/put.lua" <<LUA
wrk.headers["Authorization"] = "Bearer clv_example_accounts_eu_f82f9af9e84945f8"
wrk.headers["X-Clover-Purpose"] = "account_management"
wrk.headers["Content-Type"] = "application/json"
local reqs = {}
init = function(args)
  for i = 1, 1000 do
    local body = string.format('{"country":"IE","fields":{"email":"p%d@mail.example",' ..
      '"name":"Person %d","birthdate":"1990-01-02","device_id":"dev-%d"}}', i, i, i)
    reqs[i] = wrk.format("PUT", "/v1/subjects/s-" .. ((i * 7919) % 1000), nil, body)
  end
end
local n = 0
request = function()
  n = n % 1000 + 1
  return reqs[n]
end
$wrk_done_lua
LUA

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
report() {  # report NAME FILE [CPU_TICKS]
  local rps p50 p99 errs n us=""
  rps=$(awk '/Requests\/sec/ {print $2}' "$2")
  p50=$(awk '$1=="50%" {print $2}' "$2"); p99=$(awk '$1=="99%" {print $2}' "$2")
  errs=$(awk '/non-2xx/ {print $2}' "$2")
  if [ -n "${3:-}" ]; then
    n=$(awk '/requests in/ {print $1}' "$2")
    us=$(awk -v t="$3" -v n="$n" -v hz="$(getconf CLK_TCK)" \
      'BEGIN {printf "gateway CPU %.1f us/req", t * 1e6 / hz / n}')
  fi
  printf '%-30s %10s req/s   p50 %-8s p99 %-8s non-2xx %-4s %s\n' "$1" "$rps" "$p50" "$p99" \
    "${errs:-0}" "$us"
}
alone() {  # alone NAME SCRIPT
  local t0 t1; t0=$(cpu_ticks)
  wrk -t2 -c64 -d"${secs}s" --latency -s "$2" "http://127.0.0.1:$port" >"$tmp/$1.txt"
  t1=$(cpu_ticks)
  report "$1 (c=64)" "$tmp/$1.txt" $((t1 - t0))
}
echo "== gateway writes, ${secs}s per run, wrk on the same 2-core machine"
alone reads-alone "$tmp/read.lua"
alone writes-alone "$tmp/put.lua"
wrk -t1 -c64 -d"${secs}s" --latency -s "$tmp/put.lua" "http://127.0.0.1:$port" >"$tmp/w.txt" &
writer=$!
wrk -t1 -c64 -d"${secs}s" --latency -s "$tmp/read.lua" "http://127.0.0.1:$port" >"$tmp/r.txt"
wait "$writer"
report "reads beside writes (c=64)" "$tmp/r.txt"
report "writes beside reads (c=64)" "$tmp/w.txt"
awk -v a="$(awk '/Requests\/sec/ {print $2}' "$tmp/reads-alone.txt")" \
    -v m="$(awk '/Requests\/sec/ {print $2}' "$tmp/r.txt")" \
  'BEGIN {printf "reads beside writes / reads alone = %.2f\n", m / a}'
