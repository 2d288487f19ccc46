#!/usr/bin/env bash
# `clover witness` as a process: it cosigns a log's checkpoint, and after kill -9 and a restart
# it still holds the size it cosigned (a stale old size gets 409 with that size), so a log
# cannot roll it back. A bad configuration exits 2 with one line.
set -uo pipefail
clover="$1"
tmp="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

wkey="$("$clover" keys generate --type cosignature --name witness.test --out "$tmp/w.key")" ||
  fail "witness key"
lkey="$("$clover" keys generate --type note --name log.test --out "$tmp/log.key")" || fail "log key"
printf 'one\ntwo\n' | "$clover" log append --dir "$tmp/log" --key "$tmp/log.key" >/dev/null ||
  fail "log append"
# The signed checkpoint: what `log inspect` prints after "checkpoint:".
"$clover" log inspect "$tmp/log" | sed -n '/^checkpoint:$/,$p' | tail -n +2 >"$tmp/cp" ||
  fail "log inspect"
port=$((20000 + RANDOM % 12000))
cat >"$tmp/w.yaml" <<YAML
witness:
  listen: 127.0.0.1:$port
  data_dir: data
  key_file: w.key
logs:
  - origin: log.test
    verifier_keys: ["$lkey"]
YAML

start() {
  "$clover" witness --config "$tmp/w.yaml" >"$tmp/out" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return 0
    sleep 0.1
  done
  fail "clover witness did not start: $(cat "$tmp/out")"
}
add() {  # old size -> "status body"
  { printf 'old %s\n\n' "$1"; cat "$tmp/cp"; } >"$tmp/req"
  curl -s -o "$tmp/resp" -w '%{http_code}' --data-binary @"$tmp/req" \
    "http://127.0.0.1:$port/add-checkpoint"
}

start
grep -q "witness key $wkey" "$tmp/out" || fail "it does not print its verifier key"
[ "$(add 0)" = 200 ] || fail "first checkpoint not cosigned: $(cat "$tmp/resp")"
grep -q "^— witness.test " "$tmp/resp" || fail "no cosignature line: $(cat "$tmp/resp")"
kill -9 "$pid"; wait "$pid" 2>/dev/null; pid=""
start
# The restarted witness remembers size 2: old 0 is stale now.
[ "$(add 0)" = 409 ] || fail "state lost across kill -9: $(cat "$tmp/resp")"
[ "$(cat "$tmp/resp")" = "2" ] || fail "409 body is not the cosigned size: $(cat "$tmp/resp")"
[ "$(add 2)" = 200 ] || fail "same checkpoint at its size not cosigned: $(cat "$tmp/resp")"
kill "$pid"; wait "$pid" 2>/dev/null; pid=""

printf 'witness:\n  listen: nowhere\n' >"$tmp/bad.yaml"
"$clover" witness --config "$tmp/bad.yaml" >/dev/null 2>"$tmp/err"
code=$?
[ "$code" = 2 ] || fail "bad config exited $code"
[ "$(wc -l <"$tmp/err")" = 1 ] || fail "bad config: not one line: $(cat "$tmp/err")"
echo "witness_cli: cosigned, kept its state across kill -9, refused a bad config"
