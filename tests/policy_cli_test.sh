#!/usr/bin/env bash
# End-to-end test of `clover policy ...` on the example deployment: exit codes, error lines,
# counterexamples, test-case diffs, explanations and signatures.
set -u
CLOVER="$1"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
fail=0

expect() {  # expect NAME WANT_RC PATTERN -- command...
  local name="$1" want="$2" pattern="$3"; shift 4
  local out rc
  out="$("$@" 2>&1)"; rc=$?
  if [[ $rc -ne $want ]] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL $name: rc=$rc (want $want), output:"; echo "$out" | head -20; fail=1
  else
    echo "ok   $name"
  fi
}

expect "check example" 0 "ok: .* invariants proven over the deployment" -- \
  "$CLOVER" policy check examples/policy.yaml --config examples/deployment.yaml
expect "test example cases" 0 " passed, 0 failed" -- \
  "$CLOVER" policy test examples/policy.yaml --cases examples/policy-cases.yaml
expect "explain" 0 "email \(contact, restricted\): deny: decided by rule 'cn-staff-never-see-contact-or-network'" -- \
  "$CLOVER" policy explain examples/policy.yaml --config examples/deployment.yaml \
  --request '{"principal":"cn-engineer-1","purpose":"service_operation","action":"read","subject":{"jurisdiction":"eu"},"fields":["email","name"]}'

# A planted violation: the support grant forgets its destination.
sed '0,/      destination: eu/{/      destination: eu/d}' examples/policy.yaml > "$TMP/bad.yaml"
expect "violation has a counterexample" 2 "invariant '.*' is violated" -- \
  "$CLOVER" policy check "$TMP/bad.yaml" --config examples/deployment.yaml
expect "counterexample printed" 2 "counterexample:" -- \
  "$CLOVER" policy check "$TMP/bad.yaml" --config examples/deployment.yaml

printf 'version: 1\nrules:\n  - id: a\n    effect: permit\n' > "$TMP/syntax.yaml"
expect "parse error names the line" 2 "syntax.yaml:4:13: field 'rules\[0\].effect': unknown effect 'permit'" -- \
  "$CLOVER" policy check "$TMP/syntax.yaml"

sed 's/name: deny}$/name: allow}/' examples/policy-cases.yaml > examples/.policy-cli-test-cases.yaml
expect "failing case prints a diff" 1 "expected allow +got deny" -- \
  "$CLOVER" policy test examples/policy.yaml --cases examples/.policy-cli-test-cases.yaml
rm -f examples/.policy-cli-test-cases.yaml

# Signing: sign, require signatures, tamper.
cp examples/*.yaml "$TMP/"
"$CLOVER" keys generate --type note --name auditor.test --out "$TMP/auditor.key" > "$TMP/vkey" 2>&1
VKEY="$(grep -oE '^auditor\.test\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+' "$TMP/vkey" | head -1)"
if [[ -z "$VKEY" ]]; then
  echo "FAIL keys generate printed no verifier key"; cat "$TMP/vkey"; fail=1
else
  sed -i "s|  require_signed_policy: false|  require_signed_policy: true\n  auditor_keys: [\"$VKEY\"]|" "$TMP/deployment.yaml"
  expect "unsigned bundle refused" 2 "requires a signed policy" -- \
    "$CLOVER" policy check "$TMP/policy.yaml" --config "$TMP/deployment.yaml"
  expect "sign" 0 "signed .* -> .*policy.yaml.sig" -- \
    "$CLOVER" policy sign "$TMP/policy.yaml" --key "$TMP/auditor.key"
  expect "signed bundle accepted" 0 "ok: " -- \
    "$CLOVER" policy check "$TMP/policy.yaml" --config "$TMP/deployment.yaml"
  echo "# edited after signing" >> "$TMP/policy.yaml"
  expect "edited bundle refused" 2 "signature is for another bundle" -- \
    "$CLOVER" policy check "$TMP/policy.yaml" --config "$TMP/deployment.yaml"
fi
# The principal directory: signed with --principals, a node's deployment can require it.
if [[ -n "$VKEY" ]]; then
  expect "sign principals" 0 "signed principal directory .* -> .*principals.yaml.sig" -- \
    "$CLOVER" policy sign "$TMP/principals.yaml" --principals --key "$TMP/auditor.key" \
    --config examples/deployment.yaml
  grep -q '^clover-principals/v1$' "$TMP/principals.yaml.sig" ||
    { echo "FAIL principals signature has no clover-principals/v1 header"; fail=1; }
  sed -i "s|  require_signed_policy: true|  require_signed_policy: true\n  require_signed_principals: true|" "$TMP/deployment.yaml"
  expect "config with signed principals" 0 "Principals" -- \
    "$CLOVER" config check "$TMP/deployment.yaml"
  printf -- '- id: broken\n  kind: robot\n' > "$TMP/bad-principals.yaml"
  expect "sign refuses a broken directory" 2 "unknown kind 'robot'" -- \
    "$CLOVER" policy sign "$TMP/bad-principals.yaml" --principals --key "$TMP/auditor.key" \
    --config examples/deployment.yaml
fi
expect "sign refuses a broken bundle" 2 "is violated" -- \
  "$CLOVER" policy sign "$TMP/bad.yaml" --key "$TMP/auditor.key" --config examples/deployment.yaml

exit $fail
