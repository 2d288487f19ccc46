#!/usr/bin/env bash
# Audited reads and writes of one gateway node per key custody, in one run (issue 20): the file
# KEK (the baseline), the KEK in a SoftHSM2 token (PKCS#11), and external key release
# (`clover keys serve`, mutual TLS on loopback, its own durable log) with the released keys
# cached (warm: cache_ttl_s 3600) and not cached (cold: cache_entries 0, every read and update
# needs a release). Four nodes, each seeded with the same 1,000 subjects and warmed by one wrk
# pass, then measured in ROUNDS (default 3) rounds of alternating order (drift on the shared
# machine hits all alike):
# reads (c=256) and updates of existing subjects (c=64), req/s and the gateway's CPU per request,
# reported as ratios to the file-KEK node. Then the cold-cache cost per release: the mean
# latency of single-connection reads (wrk -c1) of the cold release node minus the file-KEK
# node's, in µs (a mutual-TLS request, a synced log entry at the service, the unwrap).
# Usage: [ROUNDS=N] bench/gateway-release.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/release}"
secs="${2:-10}"
# shellcheck source=bench/gateway-common.sh
. "$root/bench/gateway-common.sh"
gateway_bench_env "$build"
pids=()
trap 'kill ${pids[*]:-} ${kms_pid:-} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
softhsm_lib=""
for f in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so; do
  [ -e "$f" ] && softhsm_lib=$f && break
done
[ -n "$softhsm_lib" ] && command -v softhsm2-util >/dev/null ||
  { echo "softhsm2 is missing: run scripts/bootstrap.sh" >&2; exit 1; }

# The partner's service: a throwaway CA, its certificate, the node's client certificate.
kms="$tmp/kms"; mkdir -p "$kms"
kms_port=$((port + 10))
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
    purposes: [customer_support, account_management, write, epoch-key, kek-rotation]
    codes: [read, write, maintenance]
YAML
"$clover" keys serve --config "$kms/service.yaml" >"$tmp/kms.log" 2>&1 &
kms_pid=$!
for _ in $(seq 100); do [ -s "$kms/data/ports" ] && break; sleep 0.1; done

# A throwaway SoftHSM2 token (as the HSM tests make one); the node's KEK is made in it.
export SOFTHSM2_CONF="$tmp/softhsm2.conf"
mkdir -p "$tmp/softhsm-tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
  "$tmp/softhsm-tokens" >"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label clover-bench --so-pin 4242-so --pin 4242-user >/dev/null
install -m 0600 /dev/null "$tmp/hsm.pin" && echo 4242-user >"$tmp/hsm.pin"

echo "== audited reads and updates by key custody, ${secs}s per run, same 2-core machine"
gateway_start log.eu.clover.example/bench "$root/examples/policy.yaml"
pids+=("$pid")
declare -A node_pid node_port
node_pid[file]=$pid; node_port[file]=$port
base_port=$port
gateway_seed 1000

# start_variant NAME OFFSET KEYS: a node like the file-KEK one but for its keys: line, its own
# port and data directory; seeded with the same subjects.
start_variant() {
  local name="$1" p=$((base_port + $2)) keys="$3"
  sed -e "s|^keys: .*$|keys: $keys|" -e "s|127.0.0.1:$base_port|127.0.0.1:$p|" \
    -e "s|data_dir: $tmp/data|data_dir: $tmp/data-$name|" "$tmp/node.yaml" >"$tmp/node-$name.yaml"
  if [ "$name" = hsm ]; then
    "$clover" keys pkcs11-create --config "$tmp/node-hsm.yaml" >/dev/null
  fi
  "$clover" serve --config "$tmp/node-$name.yaml" ${SERVE_ARGS:-} 2>"$tmp/serve-$name.log" &
  node_pid[$name]=$!; node_port[$name]=$p; pids+=("$!")
  for _ in $(seq 150); do curl -sf "http://127.0.0.1:$p/readyz" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$p/readyz" >/dev/null ||
    { echo "node $name did not become ready:" >&2; tail -5 "$tmp/serve-$name.log" >&2; exit 1; }
  port=$p gateway_seed 1000
}
pseudo="pseudonym_key_file: $tmp/pseudonym.key"
rel="url: \"https://127.0.0.1:$kms_port\", ca_file: $kms/ca.crt, cert_file: $kms/node.crt, key_file: $kms/node.key"
start_variant hsm 2 "{kek: {pkcs11: {module: $softhsm_lib, token: clover-bench, label: bench-kek, pin_file: $tmp/hsm.pin}}, $pseudo}"
start_variant release-warm 4 "{kek_file: $tmp/kek, $pseudo, release: {$rel, cache_ttl_s: 3600}}"
start_variant release-cold 6 "{kek_file: $tmp/kek, $pseudo, release: {$rel, cache_entries: 0}}"
port=$base_port

gateway_put_lua "$tmp/put.lua"

# run NAME KIND SCRIPT CONNS: one wrk run against node KIND; prints its line to stderr and
# appends "KIND OP req/s" to $tmp/rates.
run() {
  local name="$1" kind="$2" t0 t1
  pid=${node_pid[$kind]}; t0=$(cpu_ticks)
  wrk -t2 -c"$4" -d"${secs}s" --latency -s "$3" "http://127.0.0.1:${node_port[$kind]}" \
    >"$tmp/$name-$kind.txt"
  t1=$(cpu_ticks)
  wrk_report "$name $kind" "$tmp/$name-$kind.txt" $((t1 - t0)) >&2
  echo "$kind $name $(wrk_rps "$tmp/$name-$kind.txt")" >>"$tmp/rates"
}
kinds=(file hsm release-warm release-cold)
# The warm-up pass: fills each node's caches (with release-warm: 1,000 releases).
for k in "${kinds[@]}"; do run warmup "$k" "$tmp/read.lua" 256 2>/dev/null; done
: >"$tmp/rates"
for round in $(seq "${ROUNDS:-3}"); do
  order=("${kinds[@]}")
  [ $((round % 2)) = 0 ] && order=(release-cold release-warm hsm file)
  for k in "${order[@]}"; do run reads "$k" "$tmp/read.lua" 256; done
  for k in "${order[@]}"; do run updates "$k" "$tmp/put.lua" 64; done
done
# Cold-cache cost per release: single-connection reads, file-KEK node and cold release node
# alternated; wrk's mean latency in µs.
mean_us() { awk '$1=="Latency" {v=$2; u=v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
  f = (u=="us") ? 1 : (u=="ms") ? 1000 : (u=="s") ? 1e6 : 0; print v * f}' "$1"; }
for k in file release-cold file release-cold; do
  wrk -t1 -c1 -d"${secs}s" -s "$tmp/read.lua" "http://127.0.0.1:${node_port[$k]}" >"$tmp/c1.txt"
  echo "$k $(mean_us "$tmp/c1.txt")" >>"$tmp/latency"
done
releases=$(curl -s --cacert "$kms/ca.crt" --cert "$kms/node.crt" --key "$kms/node.key" \
  "https://127.0.0.1:$kms_port/log/checkpoint" | sed -n 2p)
echo "== ratios to the file-KEK node (mean of the rounds), key custody in one run"
awk -v releases="$releases" -v rounds="${ROUNDS:-3}" '
  FNR == NR { rate[$1, $2] += $3; next }
  { lat[$1] += $2 / 2 }
  END {
    n = split("file hsm release-warm release-cold", k, " ")
    printf "%-14s %12s %8s %12s %8s\n", "node", "reads/s", "ratio", "updates/s", "ratio"
    for (i = 1; i <= n; i++)
      printf "%-14s %12.0f %8.2f %12.0f %8.2f\n", k[i], rate[k[i], "reads"] / rounds,
        rate[k[i], "reads"] / rate["file", "reads"], rate[k[i], "updates"] / rounds,
        rate[k[i], "updates"] / rate["file", "updates"]
    printf "audited reads: release (warm) / file KEK = %.2f (target >= 0.80); SoftHSM / file KEK = %.2f\n",
      rate["release-warm", "reads"] / rate["file", "reads"], rate["hsm", "reads"] / rate["file", "reads"]
    printf "cold-cache cost per release = %.0f us (mean single-connection read: release-cold %.0f us, file KEK %.0f us); release log size %s\n",
      lat["release-cold"] - lat["file"], lat["release-cold"], lat["file"], releases
  }' "$tmp/rates" "$tmp/latency"
