#!/usr/bin/env bash
# Does the auditor keep up with the gateway? Measured in one run on one machine:
#   1. the gateway's peak decision rate: one node under wrk (audited reads, c=256), counted
#      as log entries sequenced per second (log size before and after, from /readyz);
#   2. the auditor's rate: `clover audit` started on that log, from nothing, until it has
#      verified (signature, consistency, bundle re-hash) and replayed (policy re-evaluation)
#      every entry; counted from its own metrics, time includes its startup.
# The gateway idles while the auditor runs, and the auditor is stopped while the gateway is
# loaded, so each gets the machine as it would in production (separate hosts).
# Target (issue 7): auditor rate >= 1.5 x gateway peak.
# Usage: bench/audit-keepup.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/release}"
secs="${2:-15}"
clover="$build/src/cli/clover"
command -v wrk >/dev/null || { echo "wrk is missing: run scripts/bootstrap.sh" >&2; exit 1; }
tmp="$(mktemp -d)"
port=$((20000 + RANDOM % 12000))  # below the ephemeral range (32768-), which clients hold
aport=$((port + 1))
pid=""; apid=""
trap 'kill $pid $apid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
origin=log.eu.clover.example/keepup

# shellcheck source=bench/gateway-common.sh
. "$root/bench/gateway-common.sh"
"$clover" keys generate --type note --name auditor.bench --out "$tmp/auditor.key" >"$tmp/auditor.pub"
"$clover" keys generate --type cosignature --name auditor.bench --out "$tmp/witness.key" >/dev/null
cp "$root/examples/policy.yaml" "$tmp/policy.yaml"
"$clover" policy sign "$tmp/policy.yaml" --key "$tmp/auditor.key" >/dev/null
# The auditor replays from its signed principal directory (attribute checks on every entry).
cp "$root/examples/principals.yaml" "$tmp/principals.yaml"
"$clover" policy sign --principals "$tmp/principals.yaml" --key "$tmp/auditor.key" >/dev/null
# The auditor's API (and its /metrics) needs a bearer token: a fresh one, stored hashed.
token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
token_sha256=$(printf %s "$token" | sha256sum | cut -d' ' -f1)
cat >"$tmp/audit.yaml" <<YAML
auditor:
  name: auditor.bench
  listen: 127.0.0.1:$aport
  data_dir: $tmp/auditor
  witness_key_file: $tmp/witness.key
  journal_key_file: $tmp/auditor.key
  poll_interval: 100ms
  admin_token_sha256: $token_sha256
logs:
  - origin: $origin
    url: http://127.0.0.1:$port/log
    verifier_key_files: [$tmp/note.pub]
policies:
  bundles: [$tmp/policy.yaml]
  auditor_key_files: [$tmp/auditor.pub]
principals:
  file: $tmp/principals.yaml
  jurisdictions: $root/examples/jurisdictions.yaml
canaries:
  - pseudonym_key_file: $tmp/pseudonym.key
    subjects: [canary-1]
detectors:
  bulk_access: {subjects: 1000000, window: 10m}
  denial_burst: {count: 1000000, window: 1m}
  restricted_transfer: true
  log_stalled_after: 1h
YAML

gateway_start "$origin" "$tmp/policy.yaml"
log_size() { curl -sf "http://127.0.0.1:$port/readyz" | sed -E 's/.*"log_size":([0-9]+).*/\1/'; }
gateway_seed 1000

before=$(log_size)
start=$(date +%s.%N)
wrk -t2 -c256 -d"${secs}s" -s "$tmp/read.lua" "http://127.0.0.1:$port" >"$tmp/wrk.txt"
end=$(date +%s.%N)
sleep 0.2  # the last batch
after=$(log_size)
gw_rate=$(awk -v a="$after" -v b="$before" -v s="$start" -v e="$end" 'BEGIN {printf "%.0f", (a - b) / (e - s)}')
echo "gateway: $((after - before)) decisions logged in $(awk -v s="$start" -v e="$end" 'BEGIN {printf "%.1f", e - s}') s under wrk c=256 = $gw_rate decisions/s (log size $after)"

metric() {  # sum of a counter over its label sets
  { curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$aport/metrics" 2>/dev/null || true; } |
    awk -v m="$1" '$1 == m || index($1, m "{") == 1 {s += $2} END {printf "%d", s}'
}
astart=$(date +%s.%N)
"$clover" audit --config "$tmp/audit.yaml" 2>"$tmp/audit.log" &
apid=$!
verified=0; replayed=0
for _ in $(seq 6000); do
  verified=$(metric clover_audit_entries_verified_total); verified=${verified:-0}
  replayed=$(metric clover_audit_decisions_replayed_total); replayed=${replayed:-0}
  [ "$verified" -ge "$after" ] && [ "$replayed" -ge "$after" ] && break
  kill -0 $apid 2>/dev/null || { echo "auditor exited:"; tail -5 "$tmp/audit.log"; exit 1; }
  sleep 0.02
done
aend=$(date +%s.%N)
[ "$verified" -ge "$after" ] || { echo "auditor did not catch up: $verified of $after" >&2; exit 1; }
au_rate=$(awk -v n="$after" -v s="$astart" -v e="$aend" 'BEGIN {printf "%.0f", n / (e - s)}')
incidents=$(metric clover_audit_incidents_opened_total)
echo "auditor: verified $verified and replayed $replayed entries in $(awk -v s="$astart" -v e="$aend" 'BEGIN {printf "%.2f", e - s}') s from a cold start = $au_rate entries/s (incidents opened: ${incidents:-0})"
awk -v a="$au_rate" -v g="$gw_rate" 'BEGIN {r = a / g; printf "auditor / gateway peak = %.2f (target >= 1.50): %s\n", r, (r >= 1.5 ? "met" : "NOT met")}'
