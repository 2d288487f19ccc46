#!/usr/bin/env bash
# `clover config check` accepts every kind of file examples/README.md and docs/configuration.md
# say it checks (each example file, an auditor, witness and key-release configuration), and
# refuses an unknown key in each kind with exit 2 and one line naming file:line:col and the field.
set -uo pipefail
clover="$(realpath "$1")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0

# expect CODE PATTERN -- CMD...: runs CMD, checks its exit code and that stdout+stderr match.
expect() {
  local want="$1" pattern="$2"; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL: '$*' exited $got, want $want"; cat "$tmp/out" "$tmp/err"
    failures=$((failures + 1)); return
  fi
  if [ -n "$pattern" ] && ! grep -qE "$pattern" "$tmp/out" "$tmp/err"; then
    echo "FAIL: '$*' output does not match /$pattern/:"; cat "$tmp/out" "$tmp/err"
    failures=$((failures + 1))
  fi
  if [ "$want" = 2 ] && [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
    echo "FAIL: '$*' should print exactly one error line:"; cat "$tmp/err"
    failures=$((failures + 1))
  fi
}

# Every file the examples README's table names (nodes/<dc>.yaml: each node).
files=$(grep -E '^\| `' examples/README.md | cut -d'|' -f2 | grep -oE '[a-z/<>.-]+\.yaml')
[ -n "$files" ] || { echo "FAIL: no files found in examples/README.md"; exit 1; }
for f in $files; do
  if [ "$f" = "audit.yaml" ] || [ "$f" = "witness.yaml" ]; then
    continue  # they name the key files `make demo` writes: checked below with such keys
  elif [ "$f" = "nodes/<dc>.yaml" ]; then
    for n in examples/nodes/*.yaml; do expect 0 "This node" -- "$clover" config check "$n"; done
  else
    expect 0 "" -- "$clover" config check "examples/$f"
  fi
done
expect 0 "the \`regions\` section of examples/deployment.yaml" -- \
  "$clover" config check examples/regions.yaml
expect 0 "policy bundle" -- "$clover" config check examples/policy.yaml
expect 0 "policy test cases" -- "$clover" config check examples/policy-cases.yaml
expect 0 "" -- "$clover" config check examples/purposes.yaml

# The auditor and witness examples after `make demo` (its key files, signed bundle and
# directory under demo-data/, beside examples/): checked, and the auditor runs.
cp -r examples "$tmp/examples"
port=$((20000 + RANDOM % 20000))
(cd "$tmp" && "$clover" demo --config examples/deployment.yaml --data-dir demo-data \
  --base-port "$port" --duration 0 --json) >"$tmp/demo.json" 2>"$tmp/demo.err" || {
  echo "FAIL: clover demo"; tail -5 "$tmp/demo.err"; exit 1; }
expect 0 "valid auditor configuration" -- "$clover" config check "$tmp/examples/audit.yaml"
expect 0 "valid witness configuration" -- "$clover" config check "$tmp/examples/witness.yaml"
sed -i 's/^  listen: 127.0.0.1:8460/  listen: 127.0.0.1:0/' "$tmp/examples/audit.yaml"
expect 0 "clover audit: stopped" -- "$clover" audit --config "$tmp/examples/audit.yaml" --duration 1s
sed -i 's/^  listen: 127.0.0.1:0/  listen: 127.0.0.1:8460/' "$tmp/examples/audit.yaml"

# A key-release service configuration (docs/operations.md's example).
cat >"$tmp/service.yaml" <<'EOF'
listen: {host: 127.0.0.1, port: 0}
public_listen: {host: 127.0.0.1, port: 0}
tls: {cert_file: kms.crt, key_file: kms.key, client_ca_file: partner-ca.crt}
data_dir: kms-data
log: {origin: release.partner.example/eu, key_file: release-log.key}
admins: ["CN=partner-admin"]
regions:
  eu:
    key_file: eu.release.key
    nodes: ["CN=eu-node-1"]
    purposes: [customer_support]
    codes: [read]
    require_decision_index: false
EOF
expect 0 "valid key-release service configuration" -- "$clover" config check "$tmp/service.yaml"

# An unknown key, nested, in each kind: exit 2, one line, file:line:col and the field.
sed -i 's/^  key_file: \.\.\/demo-data\/keys\/witness.key.*/  key_file: ..\/demo-data\/keys\/witness.key\n  backlog: 5/' \
  "$tmp/examples/witness.yaml"
expect 2 "witness.yaml:[0-9]+:3: field 'witness.backlog': unknown key" -- \
  "$clover" config check "$tmp/examples/witness.yaml"
sed -i 's/^  poll_interval: 1s/  poll_interval: 1s\n  poll_jitter: 1s/' "$tmp/examples/audit.yaml"
expect 2 "audit.yaml:[0-9]+:3: field 'auditor.poll_jitter': unknown key" -- \
  "$clover" config check "$tmp/examples/audit.yaml"
sed -i 's/client_ca_file: partner-ca.crt}/client_ca_file: partner-ca.crt, min_version: "1.3"}/' \
  "$tmp/service.yaml"
expect 2 "service.yaml:3:[0-9]+: field 'tls.min_version': unknown field" -- \
  "$clover" config check "$tmp/service.yaml"
sed -i '0,/^  - name: /s//  - severity: high\n    name: /' "$tmp/examples/policy-cases.yaml"
expect 2 "policy-cases.yaml:[0-9]+:[0-9]+: field 'cases\[0\].severity': unknown key" -- \
  "$clover" config check "$tmp/examples/policy-cases.yaml"
sed -i '0,/^    effect: allow/s//    effect: allow\n    priority: 1/' "$tmp/examples/policy.yaml"
expect 2 "policy.yaml:[0-9]+:[0-9]+: field 'rules\[0\].priority': unknown key" -- \
  "$clover" config check "$tmp/examples/policy.yaml"
sed -i 's/^    no-ham-1: {country: NO, /    no-ham-1: {zone: a, country: NO, /' "$tmp/examples/regions.yaml"
expect 2 "regions.yaml:[0-9]+:[0-9]+: field 'regions.eu.dcs.no-ham-1.zone': unknown key" -- \
  "$clover" config check "$tmp/examples/regions.yaml"
# Not a configuration at all.
echo "- just a list" >"$tmp/other.yaml"
expect 2 "not a configuration Clover reads" -- "$clover" config check "$tmp/other.yaml"

# The help text names the kinds it checks.
"$clover" config check --help >"$tmp/help" 2>&1
for kind in deployment auditor witness key-release "policy bundle" "policy cases"; do
  grep -q "$kind" "$tmp/help" || { echo "FAIL: help lacks '$kind'"; failures=$((failures + 1)); }
done

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"; exit 1
fi
echo "config check examples: all passed"
