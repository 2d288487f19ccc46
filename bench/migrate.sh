#!/usr/bin/env bash
# `clover migrate legacy` end to end (issue 23): ROWS legacy rows (5/8 EU or US, 3/8 with no
# home region) in a throwaway PostgreSQL table, migrated into an embedded EU node (ie-dub-1)
# and US node (us-tx-1) with read-back verification, source deletion and one attestation per
# batch; the rate is printed beside the plain PUT /v1/subjects/{id} rate of the same EU node
# in the same run (wrk, c=64, before the migration). Target >= 10,000 records/s (issue 23);
# measured 16,295 records/s beside 8,964 PUT/s on the 2-core VM at load 15 (docs/operations.md
# "Legacy migration", Rate): each batch's records are decided and logged one by one, then
# stored by one durable vault write (Vault::PutBatch), and each attestation reads the log's
# entry bundles once.
# Usage: bench/migrate.sh [BUILD_DIR] [ROWS] [PUT_SECONDS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/release}"
rows="${2:-1000000}"
secs="${3:-8}"
clover="$build/src/cli/clover"
pgbin="${CLOVER_POSTGRES_BIN:-/usr/lib/postgresql/15/bin}"
command -v wrk >/dev/null || { echo "wrk is missing: run scripts/bootstrap.sh" >&2; exit 1; }
[ -x "$pgbin/initdb" ] || { echo "PostgreSQL 15 is missing ($pgbin): run scripts/bootstrap.sh" >&2; exit 1; }
tmp="$(mktemp -d)"
chmod 755 "$tmp"
pids=()
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  as_pg "$pgbin/pg_ctl" -D "$tmp/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# The legacy database: a unix socket only.
mkdir -p "$tmp/pg" "$tmp/sock"
[ "$(id -u)" -ne 0 ] || chown postgres "$tmp/pg" "$tmp/sock"
as_pg "$pgbin/initdb" -D "$tmp/pg" -A trust -U postgres >/dev/null
as_pg "$pgbin/pg_ctl" -D "$tmp/pg" -l "$tmp/sock/pg.log" -w \
  -o "-k $tmp/sock -c listen_addresses='' -c fsync=on -c shared_buffers=256MB" start >/dev/null
dsn="host=$tmp/sock user=postgres dbname=postgres"
echo "creating $rows legacy rows..."
psql -q "$dsn" <<SQL
CREATE TABLE legacy_users (user_id bigint PRIMARY KEY, country text, email text,
                           full_name text, follows text);
INSERT INTO legacy_users SELECT i, (ARRAY['IE','DE','US','CN',NULL,'FR','us','ZZ'])[1 + i % 8],
  'u' || i || '@mail.example', 'User ' || i, 'a' || (i % 5) || ';b'
  FROM generate_series(1, $rows) i;
SQL

# Two embedded nodes: EU (ie-dub-1) and US (us-tx-1).
eu_port=$((20000 + RANDOM % 6000)); us_port=$((eu_port + 1))
cat >"$tmp/regions.yaml" <<YAML
eu:
  jurisdictions: [eu, uk, ch]
  dcs:
    ie-dub-1: {country: IE, endpoint: "http://127.0.0.1:$eu_port"}
us:
  jurisdictions: [us]
  dcs:
    us-tx-1: {country: US, endpoint: "http://127.0.0.1:$us_port"}
YAML
for r in eu us; do
  "$clover" keys generate --type secret --out "$tmp/$r.kek" >/dev/null 2>&1
  "$clover" keys generate --type secret --out "$tmp/$r.pseudonym.key" >/dev/null 2>&1
done
start_node() {  # start_node REGION DC PORT
  "$clover" keys generate --type note --name "log.$1.clover.example/$2" --out "$tmp/$2.note.key" >/dev/null
  cat >"$tmp/$2.yaml" <<YAML
node: {id: $2-a, region: $1, dc: $2, listen: "127.0.0.1:$3", data_dir: $tmp/$2}
jurisdictions: $root/examples/jurisdictions.yaml
regions: $tmp/regions.yaml
schema: $root/examples/schema.yaml
principals: $root/examples/principals.yaml
purposes: $root/examples/purposes.yaml
storage: {driver: rocksdb}
log: {origin: log.$1.clover.example/$2, key_file: $tmp/$2.note.key, max_batch_entries: 4096, max_batch_wait_ms: 0}
keys: {kek_file: $tmp/$1.kek, pseudonym_key_file: $tmp/$1.pseudonym.key}
policy: {file: $root/examples/policy.yaml}
YAML
  "$clover" serve --config "$tmp/$2.yaml" 2>"$tmp/$2.log" &
  pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$3/readyz" >/dev/null && return 0; sleep 0.1; done
  echo "node $2 did not become ready:" >&2; tail -5 "$tmp/$2.log" >&2; return 1
}
start_node eu ie-dub-1 "$eu_port"
start_node us us-tx-1 "$us_port"

# The plain write rate of the EU node, for comparison (same run, same machine).
# shellcheck source=bench/gateway-common.sh
. "$root/bench/gateway-common.sh"
gateway_put_lua "$tmp/put.lua"
wrk -t2 -c64 -d"${secs}s" --latency -s "$tmp/put.lua" "http://127.0.0.1:$eu_port" >"$tmp/put.txt"
put_rate=$(wrk_rps "$tmp/put.txt")

cat >"$tmp/mapping.yaml" <<YAML
migration: bench-legacy
table: legacy_users
key: user_id
subject_prefix: "legacy-"
country: country
batch_size: 500
fields:
  email: {column: email, format: email}
  name: {column: full_name, format: text}
  follows: {column: follows, list_separator: ";"}
YAML
printf '%s' clv_example_legacy_migration_5e0c2a9d7b41f386 >"$tmp/key"
echo "migrating..."
"$clover" migrate legacy --source "$dsn" --mapping "$tmp/mapping.yaml" \
  --deployment "$tmp/ie-dub-1.yaml" --api-key-file "$tmp/key" --journal "$tmp/journal" \
  --progress-seconds 30 --json >"$tmp/summary.json"
left=$(psql -tA "$dsn" -c "SELECT count(*) FROM legacy_users")
python3 - "$tmp/summary.json" "$put_rate" "$left" "$rows" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
put, left, rows = float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
migrated = sum(s["records"].values())
print(f"legacy rows {rows}: migrated {migrated} (eu {s['records'].get('eu', 0)}, "
      f"us {s['records'].get('us', 0)}), deleted {s['deleted']}, "
      f"attestations {len(s['attestations'])}, left at the source {left} (quarantined)")
print(f"migrate legacy end to end   {s['records_per_second']:10.0f} records/s "
      f"({s['seconds']:.1f} s; written, read back, deleted, attested)")
print(f"plain PUT /v1/subjects      {put:10.0f} req/s   (wrk c=64, EU node, same run)")
if migrated != 5 * rows // 8 or left != rows - migrated:
    sys.exit("FAIL: rows migrated or left at the source are not as expected")
PY
