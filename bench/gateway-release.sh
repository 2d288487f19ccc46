#!/usr/bin/env bash
# Audited reads of one gateway node with external key release against the same node with the
# file KEK, in one run (issue 20: with a warm cache, >= 80% of the file-KEK rate). A
# key-release service (`clover keys serve`, mutual TLS on loopback, its own durable log) runs
# beside the node. Each node is seeded with the same 1,000 subjects, warmed by one wrk pass
# (with release: 1,000 releases, each logged by the service), then measured: req/s and the
# gateway's CPU per request (steadier on a shared machine). Also prints the cold cost: the
# warm-up pass's rate with release (every first read waits for a release).
# Usage: bench/gateway-release.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/release}"
secs="${2:-10}"
# shellcheck source=bench/gateway-common.sh
. "$root/bench/gateway-common.sh"
gateway_bench_env "$build"
trap 'kill ${pid:-} ${kms_pid:-} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

# The partner's service: a throwaway CA, its certificate, the node's client certificate.
kms="$tmp/kms"; mkdir -p "$kms"
kms_port=$((port + 1))
(
  cd "$kms"
  ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
  printf 'extendedKeyUsage=clientAuth\n' >client.ext
  openssl req -x509 $ec -keyout ca.key -out ca.crt -subj '/CN=Partner CA' -days 1
  openssl req $ec -keyout server.key -out server.csr -subj '/CN=kms'
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 \
    -extfile server.ext -out server.crt
  openssl req $ec -keyout node.key -out node.csr -subj '/CN=bench-a'
  openssl x509 -req -in node.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 \
    -extfile client.ext -out node.crt
) >"$tmp/openssl.log" 2>&1 || { cat "$tmp/openssl.log" >&2; exit 1; }
"$clover" keys generate --type secret --out "$kms/eu.release.key" >/dev/null 2>&1
"$clover" keys generate --name release.bench.example/eu --out "$kms/log.key" >/dev/null
cat >"$kms/service.yaml" <<YAML
listen: {host: 127.0.0.1, port: $kms_port}
tls: {cert_file: server.crt, key_file: server.key, client_ca_file: ca.crt}
data_dir: data
log: {origin: release.bench.example/eu, key_file: log.key}
regions:
  eu:
    key_file: eu.release.key
    nodes: [CN=bench-a]
    purposes: [customer_support, write, epoch-key, kek-rotation]
    codes: [read, maintenance]
YAML
"$clover" keys serve --config "$kms/service.yaml" >"$tmp/kms.log" 2>&1 &
kms_pid=$!
for _ in $(seq 100); do [ -s "$kms/data/ports" ] && break; sleep 0.1; done

run() {  # run NAME PORT PID: prints the run's line, then its req/s alone
  local name="$1" p="$2" t0 t1
  pid="$3"; t0=$(cpu_ticks)
  wrk -t2 -c256 -d"${secs}s" --latency -s "$tmp/read.lua" "http://127.0.0.1:$p" >"$tmp/$name.txt"
  t1=$(cpu_ticks)
  wrk_report "$name" "$tmp/$name.txt" $((t1 - t0))
  wrk_rps "$tmp/$name.txt"
}

echo "== audited reads, file KEK vs external key release, ${secs}s per run, same 2-core machine"
gateway_start log.eu.clover.example/bench "$root/examples/policy.yaml"
file_pid=$pid; file_port=$port
gateway_seed 1000
# A second node, the same but for keys.release (released keys cached for the whole run), its
# own port and data.
rel_port=$((port + 2))
release="release: {url: \"https://127.0.0.1:$kms_port\", ca_file: $kms/ca.crt, cert_file: $kms/node.crt, key_file: $kms/node.key, cache_ttl_s: 3600}"
sed -e "s|^keys: {\(.*\)}$|keys: {\1, $release}|" -e "s|127.0.0.1:$port|127.0.0.1:$rel_port|" \
  -e "s|data_dir: $tmp/data|data_dir: $tmp/data-release|" "$tmp/node.yaml" >"$tmp/node-release.yaml"
"$clover" serve --config "$tmp/node-release.yaml" ${SERVE_ARGS:-} 2>"$tmp/serve-release.log" &
rel_pid=$!
trap 'kill ${file_pid:-} ${rel_pid:-} ${kms_pid:-} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$rel_port/readyz" >/dev/null && break; sleep 0.1; done
port=$rel_port gateway_seed 1000
port=$file_port
run file-kek-warmup "$file_port" "$file_pid" >/dev/null
cold=$(run release-first-reads "$rel_port" "$rel_pid" | tee /dev/stderr | tail -1)
# Alternated, so that drift on the shared machine hits both alike.
f1=$(run file-kek "$file_port" "$file_pid" | tee /dev/stderr | tail -1)
w1=$(run release-warm "$rel_port" "$rel_pid" | tee /dev/stderr | tail -1)
w2=$(run release-warm "$rel_port" "$rel_pid" | tee /dev/stderr | tail -1)
f2=$(run file-kek "$file_port" "$file_pid" | tee /dev/stderr | tail -1)
releases=$(curl -s --cacert "$kms/ca.crt" --cert "$kms/node.crt" --key "$kms/node.key" \
  "https://127.0.0.1:$kms_port/log/checkpoint" | sed -n 2p)
awk -v f="$f1" -v g="$f2" -v w="$w1" -v x="$w2" -v c="$cold" -v n="$releases" 'BEGIN {
  printf "audited reads: release (warm) / file KEK = %.2f (target >= 0.80); pass with the 1,000 first releases: %.0f req/s; release log size %s\n",
    (w + x) / (f + g), c, n }'
