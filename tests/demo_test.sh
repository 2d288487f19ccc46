#!/usr/bin/env bash
# `clover demo` end to end, as `make demo` runs it (here on a random base port, exiting after the
# summary): every node's checkpoint verified by the client library, decisions of every effect,
# no restricted field raw to CN-based staff, the auditor's replay and its incidents, every
# checkpoint cosigned by two witnesses.
set -uo pipefail
clover="$1"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
port=$((20000 + RANDOM % 12000))  # below the ephemeral range (32768-), which clients hold
timeout 300 "$clover" demo --config examples/deployment.yaml --duration 0 --json \
  --base-port "$port" >"$out" 2>/dev/null || { echo "FAIL: clover demo exited $?"; exit 1; }
# Its data directory carries the marker that lets the next run empty it (src/core/owned_dir.h).
[ "$(head -n 1 demo-data/.clover-owned 2>/dev/null)" = "clover-owned-directory v1" ] ||
  { echo "FAIL: demo-data has no .clover-owned marker"; exit 1; }
python3 - "$out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
problems = []
def need(ok, what):
    if not ok: problems.append(what)
need(len(d["nodes"]) == 4, "four nodes (ie-dub-1, ie-dub-2, no-ham-1, us-tx-1)")
need(all(n["verified"] and n["log_size"] > 0 for n in d["nodes"]), "every checkpoint verified")
need({n["dc"] for n in d["nodes"]} == {"ie-dub-1", "ie-dub-2", "no-ham-1", "us-tx-1"}, "the DCs")
for effect in ("allow", "deny", "pseudonymize"):
    need(sum(d["decisions"].get(effect, {}).values()) > 0, f"{effect} decisions")
need(d["decisions"].get("deny", {}).get("cn", 0) > 0, "denials for CN-based staff")
need(d["raw_restricted_to_cn"] == 0, "no restricted field raw to CN")
need(d["subjects_written"] > 0, "subjects written")
lm = d.get("legacy_migration", {})
need(sum(lm.get("migrated", {}).values()) == 299 and lm.get("quarantined") == 1,
     "a legacy migration of 300 dump rows: 299 home, one quarantined")
need(d["auditor_entries"] == sum(n["log_size"] for n in d["nodes"]), "auditor replayed every entry")
detectors = {i["detector"] for i in d["incidents"]}
need({"canary_touched", "bulk_access"} <= detectors, "canary and bulk-access incidents")
need(len(d.get("auditor_api", {}).get("admin_token", "")) >= 32, "the auditor API's admin token")
# Two witnesses (the auditor's, a stand-alone one) cosign every node's served checkpoint.
need(all(sorted(n.get("cosigned_by", [])) == ["auditor.clover.example", "witness.clover.example"]
         for n in d["nodes"]), "every checkpoint cosigned by both witnesses")
need(not ({"split_view", "log_stalled"} & detectors), "no false split_view or log_stalled")
# The auditor's desk approves the legal request with its own attestation: the node takes it, the
# grant works, and the auditor's ledger finds the approval its own.
need(any("auditor approval (attested with its key) HTTP 200" in n and
         "read after approval HTTP 200" in n for n in d["notes"]),
     "an attested approval the node accepted and a read under it")
need("forged_approval" not in detectors, "no false forged_approval")
if problems:
    print("FAIL: demo summary lacks: " + "; ".join(problems)); sys.exit(1)
print("demo: %d nodes verified, %d log entries replayed, %d incidents" %
      (len(d["nodes"]), d["auditor_entries"], len(d["incidents"])))
PY
