#!/usr/bin/env bash
# Audited reads and writes per second against the replicated region vs one embedded node, in
# one run, with the same load generator (wrk, the scripts of bench/gateway-writes.sh):
#   1. one embedded node (storage.driver rocksdb), seeded with 1000 subjects: GET (each read
#      decided and logged) and PUT /v1/subjects/{id} (decided, stored, logged durably);
#   2. `clover region up` (3 etcd, 3 Patroni-managed PostgreSQL in strict synchronous mode, a
#      gateway node per EU DC on the multi-host DSN), seeded the same way: the same reads and
#      writes through one gateway node, then through all three at once (wrk per node, summed).
# The embedded node is measured again after the region (same process, still seeded) and the
# ratios use the mean of its two runs. Prints each rate and region / embedded.
#   3. a concurrency sweep (SWEEP, default "16 64 256" connections): at each concurrency the
#      embedded node and one region gateway in turn, reads then writes; prints the peak rate of
#      each over the sweep and the ratio of the peaks. At one fixed concurrency the comparison is
#      unfair either way: the embedded node is CPU-bound already at c=16, the region is bound by
#      the latency of its synchronous commits (Little's law: rate = c / latency) and keeps gaining
#      with concurrency until it is CPU-bound too. Peak against peak is the throughput comparison.
# Usage: bench/region-throughput.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/release}"
secs="${2:-8}"
# shellcheck source=bench/gateway-common.sh
. "$root/bench/gateway-common.sh"
gateway_bench_env "$build"
trap 'kill ${pid:-} 2>/dev/null || true; wait 2>/dev/null || true
  [ -d "$tmp/r" ] && "$clover" region down --remove --data-dir "$tmp/r" >/dev/null 2>&1
  rm -rf "$tmp"' EXIT
chmod 711 "$tmp"  # as root the PostgreSQL members run as postgres and must reach $tmp/r

run() {  # run NAME SCRIPT URL [CONNECTIONS]
  wrk -t2 -c"${4:-64}" -d"${secs}s" --latency -s "$2" "$3" >"$tmp/$1.txt"
  wrk_report "$1 (c=${4:-64})" "$tmp/$1.txt"
}

# Three wrk at once, one per URL (c=22 each); prints the summed rate.
run3() {  # run3 NAME SCRIPT URL1 URL2 URL3
  local name="$1" script="$2" i=0 u pids=()
  shift 2
  for u in "$@"; do
    wrk -t1 -c22 -d"${secs}s" --latency -s "$script" "$u" >"$tmp/$name-$i.txt" &
    pids+=($!)
    i=$((i + 1))
  done
  wait "${pids[@]}"  # not the embedded node, also a child
  local sum=0 errs=0 r e
  for j in 0 1 2; do
    r=$(wrk_rps "$tmp/$name-$j.txt"); e=$(awk '/non-2xx/ {print $2}' "$tmp/$name-$j.txt")
    sum=$(awk -v a="$sum" -v b="$r" 'BEGIN {printf "%.2f", a + b}'); errs=$((errs + ${e:-0}))
  done
  printf '%-34s %10s req/s   (3 nodes, c=22 each)  non-2xx %s\n' "$name" "$sum" "$errs"
  echo "$sum" >"$tmp/$name.sum"
}

echo "== region throughput, ${secs}s per run, wrk on the same 2-core machine"
echo "-- one embedded node (rocksdb)"
gateway_start log.eu.clover.example/bench "$root/examples/policy.yaml"
gateway_seed 1000
gateway_put_lua "$tmp/put.lua"
embedded="http://127.0.0.1:$port"
run embedded-reads "$tmp/read.lua" "$embedded"
run embedded-writes "$tmp/put.lua" "$embedded"
# The embedded node stays up (idle) and is measured again after the region: on a shared
# machine the load of other work moves between the phases, and the ratios use the mean.

echo "-- the replicated region: clover region up (3 etcd, 3 Patroni PostgreSQL, 3 EU gateways)"
"$clover" region up --config "$root/examples/deployment.yaml" --data-dir "$tmp/r" --json \
  >"$tmp/state.json" 2>"$tmp/up.log" || { tail -5 "$tmp/up.log" >&2; exit 1; }
mapfile -t eu < <(python3 -c '
import json, sys
for n in json.load(open(sys.argv[1]))["nodes"]:
    if n["storage"] == "postgres": print(n["endpoint"])' "$tmp/state.json")
port="${eu[0]##*:}"
gateway_seed 1000
run region-reads "$tmp/read.lua" "${eu[0]}"
run region-writes "$tmp/put.lua" "${eu[0]}"
run3 region-reads-3-nodes "$tmp/read.lua" "${eu[@]}"
run3 region-writes-3-nodes "$tmp/put.lua" "${eu[@]}"

echo "-- the embedded node again"
port="${embedded##*:}"
run embedded-reads-again "$tmp/read.lua" "$embedded"
run embedded-writes-again "$tmp/put.lua" "$embedded"

echo "-- concurrency sweep: the embedded node and one region gateway in turn at each concurrency"
sweep="${SWEEP:-16 64 256}"
for c in $sweep; do
  for kind in reads writes; do
    script="$tmp/read.lua"; [ "$kind" = writes ] && script="$tmp/put.lua"
    run "sweep-embedded-$kind-$c" "$script" "$embedded" "$c"
    run "sweep-region-$kind-$c" "$script" "${eu[0]}" "$c"
  done
done
peak() {  # peak NAME-PREFIX: the highest rate over the sweep, and its concurrency
  local c best=0 at=0 r
  for c in $sweep; do
    r=$(wrk_rps "$tmp/$1-$c.txt")
    if awk -v a="$r" -v b="$best" 'BEGIN {exit !(a > b)}'; then best="$r"; at="$c"; fi
  done
  echo "$best $at"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
mean() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (a + b) / 2}'; }
er=$(mean "$(wrk_rps "$tmp/embedded-reads.txt")" "$(wrk_rps "$tmp/embedded-reads-again.txt")")
ew=$(mean "$(wrk_rps "$tmp/embedded-writes.txt")" "$(wrk_rps "$tmp/embedded-writes-again.txt")")
echo "embedded (mean of both runs): reads $er req/s, writes $ew req/s"
echo "region / embedded, reads:  one node $(ratio "$(wrk_rps "$tmp/region-reads.txt")" "$er")," \
  "three nodes $(ratio "$(cat "$tmp/region-reads-3-nodes.sum")" "$er")   (target >= 0.50)"
echo "region / embedded, writes: one node $(ratio "$(wrk_rps "$tmp/region-writes.txt")" "$ew")," \
  "three nodes $(ratio "$(cat "$tmp/region-writes-3-nodes.sum")" "$ew")   (target >= 0.25)"
for kind in reads writes; do
  read -r e ec < <(peak "sweep-embedded-$kind")
  read -r r rc < <(peak "sweep-region-$kind")
  echo "peak over the sweep, $kind: embedded $e req/s (c=$ec), region one node $r req/s (c=$rc)," \
    "region / embedded $(ratio "$r" "$e")"
done
