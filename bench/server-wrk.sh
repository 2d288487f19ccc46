#!/usr/bin/env bash
# Load test of the HTTP server's /healthz with wrk over loopback.
# Usage: bench/server-wrk.sh [BUILD_DIR] [DURATION] [CONNECTIONS]
#   env: SERVER_THREADS (default 2), WRK_THREADS (default 2)
# Starts bench_http_server --serve on an ephemeral port, runs wrk against /healthz, prints
# wrk's report and a one-line summary, and stops the server with SIGTERM (graceful stop).
# The gateway comparison (audited GET /v1/subjects/{id} vs /healthz) extends this script.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/release}"
duration="${2:-10s}"
connections="${3:-64}"
server_threads="${SERVER_THREADS:-2}"
wrk_threads="${WRK_THREADS:-2}"
bin="$build/bench/bench_http_server"

command -v wrk >/dev/null || { echo "server-wrk: wrk not installed (scripts/bootstrap.sh)" >&2; exit 2; }
[ -x "$bin" ] || { echo "server-wrk: $bin not built" >&2; exit 2; }

log="$(mktemp)"
"$bin" --serve --port 0 --threads "$server_threads" >"$log" 2>&1 &
pid=$!
cleanup() { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT

port=""
for _ in $(seq 1 100); do
  port="$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$log")"
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "server-wrk: server did not start:" >&2; cat "$log" >&2; exit 1; }

url="http://127.0.0.1:$port/healthz"
curl -fsS "$url" >/dev/null
wrk -t1 -c4 -d1s "$url" >/dev/null  # warm-up
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
cpu_before="$(cpu_ticks)"
out="$(wrk -t"$wrk_threads" -c"$connections" -d"$duration" --latency "$url")"
cpu_after="$(cpu_ticks)"
echo "$out"
rps="$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')"
p99="$(echo "$out" | awk '$1 == "99%" {print $2}')"
requests="$(echo "$out" | awk '/requests in/ {print $1}')"
# Server CPU per request is steadier than req/s on a shared machine.
cpu_us="$(awk -v t=$((cpu_after - cpu_before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" \
  'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "n/a" }')"
echo "healthz: ${rps} req/s, p99 ${p99}, server CPU ${cpu_us} us/request (server threads ${server_threads}, wrk threads ${wrk_threads}, ${connections} connections, ${duration})"
