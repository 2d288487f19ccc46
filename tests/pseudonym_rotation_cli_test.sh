#!/usr/bin/env bash
# Pseudonym key rotation as an operator does it, against a real `clover serve` over
# loopback: a siv token issued under the key file reverses; `clover keys rotate-pseudonym`
# is refused while the node holds its embedded store, then rotates with --overlap-s 0;
# after the restart the same read gives a "stk_v2." token that reverses, the old one is
# 410 token_expired; `clover keys pseudonym-versions` lists v1 retired and v2 current;
# keys.pseudonym_overlap_s is accepted and range-checked.
set -uo pipefail
clover="$1"
tmp="$(mktemp -d)"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
port=$((20000 + RANDOM % 12000))  # below the ephemeral range (32768-), which clients hold
root="$(pwd)"
fail() { echo "FAIL: $*"; [ -f "$tmp/serve.log" ] && tail -5 "$tmp/serve.log"; exit 1; }

"$clover" keys generate --type note --name log.eu.clover.example/pseudorot \
  --out "$tmp/note.key" >/dev/null || fail "note key"
for k in kek pseudonym; do
  "$clover" keys generate --type secret --out "$tmp/$k" 2>/dev/null || fail "key $k"
done
config() {  # config EXTRA-KEYS-LINE
  cat >"$tmp/node.yaml" <<YAML
node: {id: rot-a, region: eu, dc: ie-dub-1, listen: "127.0.0.1:$port", data_dir: $tmp/data}
jurisdictions: $root/examples/jurisdictions.yaml
regions: $root/examples/regions.yaml
schema: $root/examples/schema.yaml
principals: $root/examples/principals.yaml
purposes: $root/examples/purposes.yaml
storage: {driver: rocksdb}
log: {origin: log.eu.clover.example/pseudorot, key_file: $tmp/note.key}
policy: {file: $root/examples/policy.yaml}
keys:
  kek_file: $tmp/kek
  pseudonym_key_file: $tmp/pseudonym
$1
YAML
}
start() {
  "$clover" serve --config "$tmp/node.yaml" 2>"$tmp/serve.log" &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return 0; sleep 0.1; done
  fail "node did not become ready"
}
stop() { kill -TERM "$pid"; wait "$pid" || fail "node exited $? on SIGTERM"; pid=""; }
writer=(-H "Authorization: Bearer clv_example_accounts_eu_f82f9af9e84945f8"
  -H "X-Clover-Purpose: account_management" -H "Content-Type: application/json")
tns=(-H "Authorization: Bearer clv_example_eu_tns_1_f4f20bb9bbca28dd"
  -H "X-Clover-Purpose: trust_safety")
support=(-H "Authorization: Bearer clv_example_eu_support_1_ea58181ac18d4441"
  -H "X-Clover-Purpose: customer_support" -H "Content-Type: application/json")
name_token() {  # prints the siv token trust and safety gets for ann's name
  curl -s "${tns[@]}" "http://127.0.0.1:$port/v1/subjects/ann?fields=name" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["fields"]["name"]["value"])'
}
detokenize() {  # detokenize TOKEN: prints "STATUS CODE-or-VALUE"
  curl -s -w '\n%{http_code}' -X POST "${support[@]}" "http://127.0.0.1:$port/v1/detokenize" \
    --data "{\"field\":\"name\",\"token\":\"$1\",\"issued_destination\":\"eu\",\"issued_purpose\":\"trust_safety\"}" |
    python3 -c 'import json,sys; *b, c = sys.stdin.read().split("\n"); d = json.loads(b[0]); print(c, d["value"] if c == "200" else d["error"]["code"])'
}

config "  pseudonym_overlap_s: 999999999"
"$clover" config check "$tmp/node.yaml" >/dev/null 2>&1 &&
  fail "an overlap over 365 days was accepted"
config "  pseudonym_overlap_s: 3600"
"$clover" config check "$tmp/node.yaml" >/dev/null 2>&1 || fail "a valid overlap was refused"
start
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "${writer[@]}" \
  --data '{"country":"IE","fields":{"name":"Ann Example"}}' "http://127.0.0.1:$port/v1/subjects/ann")
[ "$code" = 201 ] || fail "PUT answered $code"
old=$(name_token) || fail "read"
case "$old" in stk_v*) fail "a token before any rotation is tagged: $old" ;; stk_*) ;; *) fail "not a siv token: $old" ;; esac
[ "$(detokenize "$old")" = "200 Ann Example" ] || fail "old token before rotation: $(detokenize "$old")"

"$clover" keys rotate-pseudonym --config "$tmp/node.yaml" >/dev/null 2>&1
[ $? = 1 ] || fail "rotate-pseudonym beside the running node did not exit 1"
stop
out=$("$clover" keys rotate-pseudonym --config "$tmp/node.yaml" --overlap-s 0) ||
  fail "rotate-pseudonym exited $?"
echo "$out" | grep -q "^v2  current" || fail "rotation output: $out"
echo "$out" | grep -q "^v1  retired" || fail "rotation output: $out"
start
new=$(name_token) || fail "read after rotation"
case "$new" in stk_v2.*) ;; *) fail "token after rotation is not version 2: $new" ;; esac
[ "$(detokenize "$new")" = "200 Ann Example" ] || fail "new token: $(detokenize "$new")"
[ "$(detokenize "$old")" = "410 token_expired" ] || fail "old token after its window: $(detokenize "$old")"
stop
list=$("$clover" keys pseudonym-versions --config "$tmp/node.yaml") || fail "pseudonym-versions"
echo "$list" | grep -q "^v1  retired" || fail "versions: $list"
echo "$list" | grep -q "^v2  current" || fail "versions: $list"
echo "PASS"
