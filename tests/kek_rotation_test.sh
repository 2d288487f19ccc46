#!/usr/bin/env bash
# KEK rotation as an operator does it, against a real `clover serve` over loopback: subjects
# written under KEK 1; the node restarted with KEK 2 current and KEK 1 retired reads them,
# re-wraps what it writes and re-wraps the rest in the background; a second rotation (KEK 3)
# done offline with `clover keys rewrap` (refused while the node runs, and while a needed KEK
# is missing); then KEKs 1 and 2 are deleted and every live subject still reads, the erased
# one stays gone.
set -uo pipefail
clover="$1"
tmp="$(mktemp -d)"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
port=$((20000 + RANDOM % 12000))  # below the ephemeral range (32768-), which clients hold
root="$(pwd)"
fail() { echo "FAIL: $*"; [ -f "$tmp/serve.log" ] && tail -5 "$tmp/serve.log"; exit 1; }

"$clover" keys generate --type note --name log.eu.clover.example/rotation \
  --out "$tmp/note.key" >/dev/null || fail "note key"
for k in kek1 kek2 kek3 pseudonym; do
  "$clover" keys generate --type secret --out "$tmp/$k" 2>/dev/null || fail "key $k"
done
config() {  # config KEYS-LINES
  cat >"$tmp/node.yaml" <<YAML
node: {id: rot-a, region: eu, dc: ie-dub-1, listen: "127.0.0.1:$port", data_dir: $tmp/data}
jurisdictions: $root/examples/jurisdictions.yaml
regions: $root/examples/regions.yaml
schema: $root/examples/schema.yaml
principals: $root/examples/principals.yaml
purposes: $root/examples/purposes.yaml
storage: {driver: rocksdb}
log: {origin: log.eu.clover.example/rotation, key_file: $tmp/note.key}
policy: {file: $root/examples/policy.yaml}
keys:
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
reader=(-H "Authorization: Bearer clv_example_eu_support_1_ea58181ac18d4441"
  -H "X-Clover-Purpose: customer_support")
put() {  # put ID NAME
  local code; code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "${writer[@]}" \
    --data "{\"country\":\"IE\",\"fields\":{\"name\":\"$2\"}}" "http://127.0.0.1:$port/v1/subjects/$1")
  [ "$code" = 200 ] || [ "$code" = 201 ] || fail "PUT $1 answered $code"
}
get_name() {  # get_name ID: prints the name field's value, or the HTTP status
  curl -s -w '\n%{http_code}' "${reader[@]}" "http://127.0.0.1:$port/v1/subjects/$1?fields=name" |
    python3 -c 'import json,sys; *b, c = sys.stdin.read().split("\n"); print(json.loads(b[0])["fields"]["name"]["value"] if c == "200" else c)'
}

config "  kek_file: $tmp/kek1"
start
for i in 1 2 3 4 5; do put "r-$i" "Name $i"; done
curl -sf -X DELETE "${reader[@]}" "http://127.0.0.1:$port/v1/subjects/r-5" >/dev/null || fail "DELETE r-5"
[ "$(get_name r-1)" = "Name 1" ] || fail "r-1 unreadable before rotation"
# The embedded store is locked while the node runs: exit 1, not bad input.
"$clover" keys rewrap --config "$tmp/node.yaml" >"$tmp/out" 2>"$tmp/err"
[ $? = 1 ] && grep -q "still running" "$tmp/err" || fail "rewrap beside a running node: $(cat "$tmp/err")"
stop

# Rotation with KEK 1 forgotten: the vault's erasure-epoch key (which every data key is
# sealed under) cannot be unwrapped, and rewrap says which key and KEK.
config "  kek_file: $tmp/kek2"
"$clover" keys rewrap --config "$tmp/node.yaml" >"$tmp/out" 2>"$tmp/err"
[ $? = 1 ] && grep -q "epoch key epoch:[0-9a-f]*: wrapped data key belongs to KEK file:" "$tmp/err" || fail "rewrap without KEK 1: $(cat "$tmp/err")"

config "  kek_file: $tmp/kek2
  retired_kek_files: [$tmp/kek1]"
start
[ "$(get_name r-1)" = "Name 1" ] || fail "r-1 unreadable with KEK 1 retired"
put r-2 "Name 2b"  # re-wrapped under KEK 2 by the write, if the node has not done so yet
for _ in $(seq 100); do grep -q "KEK rotation: re-wrapped" "$tmp/serve.log" && break; sleep 0.1; done
grep -q "KEK rotation: re-wrapped [0-4] data keys under file:[0-9a-f]*" "$tmp/serve.log" ||
  fail "the node did not re-wrap in the background"
stop
"$clover" keys rewrap --config "$tmp/node.yaml" >"$tmp/out" 2>"$tmp/err" || fail "rewrap: $(cat "$tmp/err")"
grep -q "re-wrapped 0 data keys under KEK file:[0-9a-f]*; 4 were already under it, 1 subjects are erased" \
  "$tmp/out" || fail "rewrap after the node's: $(cat "$tmp/out")"

# Second rotation, offline.
config "  kek_file: $tmp/kek3
  retired_kek_files: [$tmp/kek2]"
"$clover" keys rewrap --config "$tmp/node.yaml" >"$tmp/out" 2>"$tmp/err" || fail "rewrap: $(cat "$tmp/err")"
grep -q "re-wrapped 4 data keys under KEK file:[0-9a-f]*; 0 were already under it, 1 subjects are erased" \
  "$tmp/out" || fail "offline rewrap report: $(cat "$tmp/out")"

# KEKs 1 and 2 destroyed: everything live still reads under KEK 3 alone.
rm -f "$tmp/kek1" "$tmp/kek2"
config "  kek_file: $tmp/kek3"
start
for i in 1 3 4; do [ "$(get_name "r-$i")" = "Name $i" ] || fail "r-$i after rotation: $(get_name "r-$i")"; done
[ "$(get_name r-2)" = "Name 2b" ] || fail "r-2 after rotation"
[ "$(get_name r-5)" = 410 ] || fail "erased r-5 answered $(get_name r-5)"
stop
echo "KEK rotation: all checks passed"
