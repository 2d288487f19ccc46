#!/usr/bin/env bash
# Checks the clover binary's exit codes (0 ok, 1 runtime failure, 2 bad usage/input) and that
# configuration errors are one line naming file:line:column and the field.
set -uo pipefail
clover="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0

# expect CODE PATTERN -- CMD...: runs CMD, checks its exit code and that stderr matches PATTERN.
expect() {
  local want="$1" pattern="$2"; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL: '$*' exited $got, want $want"; cat "$tmp/err"; failures=$((failures + 1)); return
  fi
  if [ -n "$pattern" ] && ! grep -qE "$pattern" "$tmp/err"; then
    echo "FAIL: '$*' stderr does not match /$pattern/:"; cat "$tmp/err"; failures=$((failures + 1))
  fi
  if [ "$want" = 2 ] && [ -n "$pattern" ] && [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
    echo "FAIL: '$*' should print exactly one error line:"; cat "$tmp/err"; failures=$((failures + 1))
  fi
}

for f in examples/deployment.yaml examples/nodes/*.yaml; do
  expect 0 "" -- "$clover" config check "$f"
done
"$clover" config check examples/nodes/ie-dub-1.yaml | grep -q "ie-dub-2" || {
  echo "FAIL: topology summary lacks ie-dub-2"; failures=$((failures + 1)); }
expect 0 "" -- "$clover" version
expect 0 "" -- "$clover" --help
expect 2 "" -- "$clover"
expect 2 "" -- "$clover" no-such-command
expect 0 "" -- "$clover" bench
expect 2 "unknown benchmark 'nosuch'" -- "$clover" bench nosuch
expect 2 "" -- "$clover" migrate
expect 2 "exactly one of --config and --dir" -- "$clover" migrate vault
expect 2 "cannot read file" -- "$clover" migrate vault --config "$tmp/absent.yaml"
expect 2 "no vault store" -- "$clover" migrate vault --dir "$tmp/no-such-store"
expect 2 "" -- "$clover" keys rewrap
expect 2 "cannot read file" -- "$clover" keys rewrap --config "$tmp/absent.yaml"
mkdir -p "$tmp/rewrap/nodes" && cp examples/*.yaml "$tmp/rewrap/"
sed "s|data_dir: .*|data_dir: $tmp/no-data|" examples/nodes/ie-dub-1.yaml >"$tmp/rewrap/nodes/n.yaml"
expect 2 "no vault store at" -- "$clover" keys rewrap --config "$tmp/rewrap/nodes/n.yaml"
[ ! -e "$tmp/no-data" ] || { echo "FAIL: keys rewrap created a store"; failures=$((failures + 1)); }
# `clover approval attest`: the approver's signed attestation of an approval as GET returns it.
"$clover" keys generate --type note --name desk.test --out "$tmp/desk.key" >/dev/null
printf '{"id":"apr-1","state":"pending","principal":"us-legal-1","request_sha256":"%s"}' \
  "$(printf x | sha256sum | cut -c1-64)" >"$tmp/approval.json"
expect 0 "" -- "$clover" approval attest --approval "$tmp/approval.json" --by auditor \
  --key "$tmp/desk.key" --duration 2h
{ head -n 1 "$tmp/out" | grep -qx "clover-approval/v1" && grep -q "^by auditor$" "$tmp/out" &&
  grep -q "^— desk.test " "$tmp/out"; } ||
  { echo "FAIL: approval attest printed:"; cat "$tmp/out"; failures=$((failures + 1)); }
printf '{"id":"apr-1","principal":"us-legal-1"}' >"$tmp/old-approval.json"
expect 2 "request_sha256" -- "$clover" approval attest --approval "$tmp/old-approval.json" \
  --by a --key "$tmp/desk.key"
expect 2 "duration: not a positive" -- "$clover" approval attest --approval "$tmp/approval.json" --by a \
  --key "$tmp/desk.key" --duration -1h
expect 2 "" -- "$clover" config check
expect 2 "cannot read file" -- "$clover" config check "$tmp/absent.yaml"

# Broken variants of a real node config: each must exit 2 naming file:line:col and the field.
mkdir -p "$tmp/nodes"
cp examples/*.yaml "$tmp/"
broken() {  # broken NAME SED-EXPR FILE-IN-TMP PATTERN
  local name="$1" expr="$2" file="$3" pattern="$4"
  cp examples/nodes/ie-dub-1.yaml "$tmp/nodes/ie-dub-1.yaml"
  cp examples/*.yaml "$tmp/"
  sed -i "$expr" "$tmp/$file"
  expect 2 "$pattern" -- "$clover" config check "$tmp/nodes/ie-dub-1.yaml"
}
broken dc-not-in-region 's/  dc: ie-dub-1/  dc: us-tx-1/' nodes/ie-dub-1.yaml \
  "ie-dub-1.yaml:5:7: field 'node.dc': data centre 'us-tx-1' is not in region 'eu'"
broken unknown-key 's/^storage:/storag:/' nodes/ie-dub-1.yaml "ie-dub-1.yaml:[0-9]+:1: field 'storag': unknown key"
broken bad-category 's/category: network/category: vibes/' schema.yaml \
  "schema.yaml:[0-9]+:[0-9]+: field 'schema.fields.ip_address.category': unknown category"
broken bad-method 's/format: email,     method: hmac/format: email,     method: md5/' schema.yaml \
  "field 'schema.fields.email.method': unknown method"
broken two-jurisdictions 's/countries: \[CH\]/countries: [CH, DE]/' jurisdictions.yaml \
  "jurisdictions.yaml:[0-9]+:[0-9]+: field 'jurisdictions.ch.countries\[1\]': country DE is already"
broken clear-api-key '0,/api_key_sha256: .*/s//api_key: clv_secret_value/' principals.yaml \
  "principals.yaml:[0-9]+:[0-9]+: field 'principals\[eu-support-1\].credentials.api_key': API key given in clear text"
broken duplicate-principal 's/- id: eu-support-2/- id: eu-support-1/' principals.yaml \
  "duplicate principal 'eu-support-1'"
broken region-no-dcs '/us-tx-1: {country/d' regions.yaml "field 'regions.us.dcs': a region needs"
# Residency (issue 19): DCs in the region's jurisdictions, the DSN's hosts declared by its DCs.
broken dc-in-us 's/no-ham-1: {country: NO,/no-ham-1: {country: US,/' regions.yaml \
  "regions.yaml:9:[0-9]+: field 'regions.eu.dcs.no-ham-1.country': country US is in none of the region's jurisdictions"
broken dc-in-sg 's/ie-dub-2: {country: IE,/ie-dub-2: {country: SG,/' regions.yaml \
  "field 'regions.eu.dcs.ie-dub-2.country': country SG is in none"
broken dsn-host-undeclared \
  "s|^  driver: rocksdb|  driver: postgres\\n  postgres_dsn: 'host=pg.us-east.example dbname=clover'|" \
  nodes/ie-dub-1.yaml \
  "ie-dub-1.yaml:[0-9]+:[0-9]+: field 'storage.postgres_dsn': host pg.us-east.example port 5432 is not a declared db_hosts entry"
broken bad-yaml 's/^eu:/eu: [/' regions.yaml "regions.yaml:[0-9]+:[0-9]+: invalid YAML"
if grep -rq clv_secret_value "$tmp/err"; then echo "FAIL: secret echoed"; failures=$((failures + 1)); fi

# `log append --dir` creates the directory with its missing parents, as its help says.
printf 'one\n' | "$clover" log append --dir "$tmp/fresh/data/log" --key "$tmp/desk.key" \
  --origin desk.test >"$tmp/out" 2>"$tmp/err" && [ "$(cat "$tmp/out")" = 1 ] || {
  echo "FAIL: log append into a missing data/ directory"; cat "$tmp/err"; failures=$((failures + 1)); }

if [ "$failures" -ne 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "all CLI checks passed"
