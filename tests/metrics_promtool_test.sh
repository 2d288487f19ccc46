#!/usr/bin/env bash
# Both /metrics pages (every node of `clover demo` and its auditor) pass
# `promtool check metrics` (Debian's prometheus package, installed by
# scripts/bootstrap.sh): the exposition format, metric names, HELP/TYPE lines
# and counter suffixes as Prometheus's own linter reads them. The pages are
# taken from a serving demo after its traffic, so every metric family has
# samples.
set -uo pipefail
clover="$1"
command -v promtool >/dev/null || { echo "FAIL: promtool missing (scripts/bootstrap.sh installs prometheus)"; exit 1; }
work="$(mktemp -d)"
demo_pid=""
cleanup() {
  if [ -n "$demo_pid" ]; then
    kill -TERM "$demo_pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$demo_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$demo_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT
port=$((20000 + RANDOM % 12000))  # below the ephemeral range (32768-)
"$clover" demo --config examples/deployment.yaml --data-dir "$work/demo" --duration 600 --json \
  --base-port "$port" >"$work/summary.json" 2>"$work/demo.err" &
demo_pid=$!
# The summary is printed once everything is up and the traffic has run.
for _ in $(seq 1 2400); do
  python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$work/summary.json" 2>/dev/null && break
  kill -0 "$demo_pid" 2>/dev/null || { echo "FAIL: clover demo exited"; tail -5 "$work/demo.err"; exit 1; }
  sleep 0.1
done
urls="$(python3 - "$work/summary.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for n in d["nodes"]:
    print(n["endpoint"] + "/metrics")
print(d["auditor_api"]["url"] + "/metrics#auditor")  # needs its credential
PY
)" || { echo "FAIL: no demo summary within 240 s"; tail -5 "$work/demo.err"; exit 1; }
token="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["auditor_api"]["admin_token"])' "$work/summary.json")"
fail=0
checked=0
# The check can fail: promtool refuses a page that breaks the format.
printf '# TYPE bad_metric counter\nbad-metric{a="1"} 1\n' >"$work/bad"
if promtool check metrics <"$work/bad" >/dev/null 2>&1; then
  echo "FAIL: promtool accepted a malformed page"; exit 1
fi
for url in $urls; do
  auth=()
  if [ "${url%#auditor}" != "$url" ]; then
    url="${url%#auditor}"; auth=(-H "Authorization: Bearer $token")
  fi
  if ! curl -sS --fail --max-time 10 "${auth[@]}" "$url" -o "$work/page"; then
    echo "FAIL: GET $url"; fail=1; continue
  fi
  families=$(grep -c '^# TYPE ' "$work/page")
  if [ "$families" -lt 5 ]; then
    echo "FAIL: $url has only $families metric families"; fail=1; continue
  fi
  if ! out=$(promtool check metrics <"$work/page" 2>&1); then
    echo "FAIL: promtool check metrics on $url:"; echo "$out" | head -20; fail=1; continue
  fi
  echo "ok: $url ($families families)"
  checked=$((checked + 1))
done
[ "$checked" -ge 5 ] || { echo "FAIL: $checked pages checked, expected 4 nodes and the auditor"; fail=1; }
exit $fail
