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

"$clover" keys generate --type note --name log.eu.clover.example/bench --out "$tmp/note.key" >/dev/null
"$clover" keys generate --type secret --out "$tmp/kek" >/dev/null
"$clover" keys generate --type secret --out "$tmp/pseudonym.key" >/dev/null
cat >"$tmp/node.yaml" <<YAML
node: {id: bench-a, region: eu, dc: ie-dub-1, listen: "127.0.0.1:$port", data_dir: $tmp/data}
jurisdictions: $root/examples/jurisdictions.yaml
regions: $root/examples/regions.yaml
schema: $root/examples/schema.yaml
principals: $root/examples/principals.yaml
storage: {driver: rocksdb}
log: {origin: log.eu.clover.example/bench, key_file: $tmp/note.key, max_batch_entries: 4096, max_batch_wait_ms: 1}
keys: {kek_file: $tmp/kek, pseudonym_key_file: $tmp/pseudonym.key}
policy: {file: $root/examples/policy.yaml}
YAML
"$clover" serve --config "$tmp/node.yaml" 2>"$tmp/serve.log" &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done

subjects=1000
echo "seeding $subjects subjects..."
for i in $(seq 0 $((subjects - 1))); do
  printf 'url = "http://127.0.0.1:%d/v1/subjects/s-%d"\n' "$port" "$i"
  printf 'request = "PUT"\n'
  printf 'header = "Authorization: Bearer clv_example_accounts_eu_f82f9af9e84945f8"\n'
  printf 'header = "X-Clover-Purpose: account_management"\n'
  printf 'header = "Content-Type: application/json"\n'
  printf 'data = "{\\"country\\":\\"IE\\",\\"fields\\":{\\"email\\":\\"p%d@mail.example\\",\\"phone\\":\\"+3538712%05d\\",\\"name\\":\\"Person %d\\",\\"birthdate\\":\\"1990-01-02\\",\\"ip_address\\":\\"192.0.2.7\\",\\"device_id\\":\\"dev-%d\\",\\"watch_history\\":[\\"v1\\",\\"v2\\"],\\"follows\\":[\\"c1\\"],\\"uploaded_videos\\":[\\"u1\\"],\\"payment_country\\":\\"IE\\"}}"\n' "$i" "$i" "$i" "$i"
  printf 'output = "/dev/null"\nnext\n'
done >"$tmp/seed.curl"
curl -s --parallel --parallel-max 16 -K "$tmp/seed.curl" 2>/dev/null || true

cat >"$tmp/read.lua" <<LUA
wrk.headers["Authorization"] = "Bearer clv_example_eu_support_1_ea58181ac18d4441"
wrk.headers["X-Clover-Purpose"] = "customer_support"
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/v1/subjects/s-" .. (n * 7919 % $subjects))
end
done = function(summary, latency, requests)
  io.write(string.format("non-2xx: %d\n", summary.errors.status))
end
LUA

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
