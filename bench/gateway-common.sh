# Shared by the gateway load scripts (sourced, not run). Needs: root, and clover, tmp and port
# (gateway_bench_env sets them).
# Optional environment: BATCH_WAIT_MS (the log's max_batch_wait_ms, default 0) and SERVE_ARGS
# (extra `clover serve` flags, e.g. "--threads 1"), for experiments.

# Sets clover (from BUILD_DIR), tmp (removed at exit, after the node is stopped) and port, and
# checks that wrk is installed.
gateway_bench_env() {  # gateway_bench_env BUILD_DIR
  clover="$1/src/cli/clover"
  command -v wrk >/dev/null || { echo "wrk is missing: run scripts/bootstrap.sh" >&2; exit 1; }
  tmp="$(mktemp -d)"
  port=$((20000 + RANDOM % 12000))  # below the ephemeral range (32768-), which clients hold
  trap 'kill ${pid:-} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
}

# One seeded node for a load script: gateway_bench_env, then gateway_start with the example
# policy, then gateway_seed 1000.
gateway_bench_node() {  # gateway_bench_node BUILD_DIR
  gateway_bench_env "$1"
  gateway_start log.eu.clover.example/bench "$root/examples/policy.yaml"
  gateway_seed 1000
}

# CPU time (user + system, clock ticks) the gateway process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }

# Requests/s of a wrk output file.
wrk_rps() { awk '/Requests\/sec/ {print $2}' "$1"; }

# One line for a wrk run (--latency output in FILE): rate, p50, p99, non-2xx and, given the
# gateway CPU ticks it used, the gateway's own CPU per request (steadier than req/s on a
# shared machine, and free of wrk's share of the cores).
wrk_report() {  # wrk_report NAME FILE [CPU_TICKS]
  local p50 p99 errs us=""
  p50=$(awk '$1=="50%" {print $2}' "$2"); p99=$(awk '$1=="99%" {print $2}' "$2")
  errs=$(awk '/non-2xx/ {print $2}' "$2")
  if [ -n "${3:-}" ]; then
    us=$(awk -v t="$3" -v n="$(awk '/requests in/ {print $1}' "$2")" -v hz="$(getconf CLK_TCK)" \
      'BEGIN {printf "gateway CPU %.1f us/req", t * 1e6 / hz / n}')
  fi
  printf '%-34s %10s req/s   p50 %-8s p99 %-8s non-2xx %-4s %s\n' "$1" "$(wrk_rps "$2")" \
    "$p50" "$p99" "${errs:-0}" "$us"
}

# The wrk done() callback the load scripts end with: prints "non-2xx: N".
wrk_done_lua='done = function(summary, latency, requests)
  io.write(string.format("non-2xx: %d\n", summary.errors.status))
end'

# Writes $tmp/node.yaml for one EU node (ie-dub-1) with fresh keys and the given log origin
# and policy file, starts `clover serve` on it (pid in $pid) and waits until it is ready.
gateway_start() {  # gateway_start ORIGIN POLICY_FILE
  local origin="$1" policy="$2"
  "$clover" keys generate --type note --name "$origin" --out "$tmp/note.key" >"$tmp/note.pub"
  "$clover" keys generate --type secret --out "$tmp/kek" >/dev/null
  "$clover" keys generate --type secret --out "$tmp/pseudonym.key" >/dev/null
  cat >"$tmp/node.yaml" <<YAML
node: {id: bench-a, region: eu, dc: ie-dub-1, listen: "127.0.0.1:$port", data_dir: $tmp/data}
jurisdictions: $root/examples/jurisdictions.yaml
regions: $root/examples/regions.yaml
schema: $root/examples/schema.yaml
principals: $root/examples/principals.yaml
purposes: $root/examples/purposes.yaml
storage: {driver: rocksdb}
log: {origin: $origin, key_file: $tmp/note.key, max_batch_entries: 4096, max_batch_wait_ms: ${BATCH_WAIT_MS:-0}}
keys: {kek_file: $tmp/kek, pseudonym_key_file: $tmp/pseudonym.key}
policy: {file: $policy}
YAML
  "$clover" serve --config "$tmp/node.yaml" ${SERVE_ARGS:-} 2>"$tmp/serve.log" &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return 0; sleep 0.1; done
  echo "gateway did not become ready:" >&2; tail -5 "$tmp/serve.log" >&2; return 1
}

# Stores N subjects s-0 .. s-(N-1) with all ten schema fields, then writes $tmp/read.lua: a wrk
# script reading them in a scattered order as eu-support-1 (every read decided and logged).
gateway_seed() {  # gateway_seed N
  local n="$1" i
  echo "seeding $n subjects..."
  for i in $(seq 0 $((n - 1))); do
    # "next" separates transfers; a trailing one would be an empty transfer,
    # whose error makes curl abort the others still running.
    [ "$i" -eq 0 ] || printf 'next\n'
    printf 'url = "http://127.0.0.1:%d/v1/subjects/s-%d"\nrequest = "PUT"\n' "$port" "$i"
    printf 'header = "Authorization: Bearer clv_example_accounts_eu_f82f9af9e84945f8"\n'
    printf 'header = "X-Clover-Purpose: account_management"\nheader = "Content-Type: application/json"\n'
    printf 'data = "{\\"country\\":\\"IE\\",\\"fields\\":{\\"email\\":\\"p%d@mail.example\\",\\"phone\\":\\"+3538712%05d\\",\\"name\\":\\"Person %d\\",\\"birthdate\\":\\"1990-01-02\\",\\"ip_address\\":\\"192.0.2.7\\",\\"device_id\\":\\"dev-%d\\",\\"watch_history\\":[\\"v1\\",\\"v2\\"],\\"follows\\":[\\"c1\\"],\\"uploaded_videos\\":[\\"u1\\"],\\"payment_country\\":\\"IE\\"}}"\n' "$i" "$i" "$i" "$i"
    printf 'output = "/dev/null"\nwrite-out = "%%{http_code} %%{errormsg}\\n"\n'
  done >"$tmp/seed.curl"
  curl -sS --parallel --parallel-max 8 --retry 3 -K "$tmp/seed.curl" >"$tmp/seed.codes" 2>"$tmp/seed.err" || true
  local ok; ok=$(grep -c '^20[01] ' "$tmp/seed.codes" || true)
  if [ "$ok" -ne "$n" ]; then
    echo "seeding stored $ok of $n subjects; HTTP codes: $(sort "$tmp/seed.codes" | uniq -c | tr '\n' ' ')" >&2
    sort "$tmp/seed.err" | uniq -c | head -3 >&2
    return 1
  fi
  cat >"$tmp/read.lua" <<LUA
wrk.headers["Authorization"] = "Bearer clv_example_eu_support_1_ea58181ac18d4441"
wrk.headers["X-Clover-Purpose"] = "customer_support"
-- The requests are formatted once: wrk's per-request Lua formatting would
-- take CPU from the server it shares the machine with.
local reqs = {}
init = function(args)
  for i = 1, $n do
    reqs[i] = wrk.format("GET", "/v1/subjects/s-" .. (i * 7919 % $n))
  end
end
local n = 0
request = function()
  n = n % $n + 1
  return reqs[n]
end
$wrk_done_lua
LUA
}

gateway_put_lua() {  # gateway_put_lua FILE: wrk script, PUTs of 1000 subjects with four fields
  cat >"$1" <<LUA
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
}
